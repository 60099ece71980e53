"""The hidden maintenance gesture: several quick taps in one corner. Plain Python, so it is tested without Kivy.

A kiosk has no exit button (a villager must not close it by accident, a child not on purpose), yet the
shopkeeper must be able to leave it to restart or update the PC. Five taps in the top-left corner within
three seconds is something nobody does by chance and anybody can be told; the manager PIN behind it is
the real lock. Touch panels sometimes deliver one tap twice a few milliseconds apart, so taps closer than
``min_gap_s`` count once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

TAPS = 5
WINDOW_S = 3.0
MIN_GAP_S = 0.08


class TapGesture:
    """Counts taps; ``tap()`` returns True on the tap that completes ``taps`` taps within ``window_s``."""

    def __init__(
        self,
        taps: int = TAPS,
        window_s: float = WINDOW_S,
        min_gap_s: float = MIN_GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if taps < 1:
            raise ValueError("taps must be at least 1")
        self.taps = taps
        self.window_s = window_s
        self.min_gap_s = min_gap_s
        self.clock = clock
        self._times: deque[float] = deque(maxlen=taps)

    def tap(self, at: float | None = None) -> bool:
        now = self.clock() if at is None else at
        if self._times and 0 <= now - self._times[-1] < self.min_gap_s:
            return False  # the panel bounced: one finger, one tap
        self._times.append(now)
        if len(self._times) == self.taps and now - self._times[0] <= self.window_s:
            self._times.clear()
            return True
        return False

    def reset(self) -> None:
        self._times.clear()


def in_corner(x: float, y: float, width: float, height: float, fraction: float = 0.12, minimum: float = 64) -> bool:
    """True for a point (Kivy coordinates: y grows upwards) in the top-left corner square of the window."""
    side = max(minimum, fraction * min(width, height))
    return x <= side and y >= height - side
