"""What every scanner has in common: the scan event, the repeat filter, the status and the fake.

A camera sees a card held in front of it thirty times a second, and a shopkeeper waves the same
passbook twice when the till is slow: the ledger must see one scan, not thirty. The apps talk to
any scanner (camera, keyboard wedge, fake) through the small ``Scanner`` protocol so the POS and
the kiosk run the same code in the shop, in tests and in the demo.

Threads: a real scanner calls ``on_scan`` and ``on_status`` on its own threads (see each class).
The apps must hop to the UI thread (Kivy's ``Clock.schedule_once``) before touching widgets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from hardware.errors import HardwareError

ScanSource = Literal["camera", "wedge", "fake", "manual"]
ScannerState = Literal["starting", "ready", "lost", "absent", "stopped"]
Clock = Callable[[], float]


@dataclass(frozen=True)
class ScanEvent:
    """One code read by a scanner (or typed by hand), stamped with ``time.monotonic`` seconds.

    ``at`` is monotonic so a clock change on the till (NTP, a shopkeeper fixing the date) cannot
    reorder scans or defeat the repeat filter; wall-clock time belongs in the ledger, not here.
    ``format`` is the symbology when the scanner knows it ("QRCode", "EAN13"); a wedge does not.
    """

    text: str
    source: ScanSource
    at: float
    format: str = ""


@dataclass(frozen=True)
class ScannerStatus:
    """Where a scanner is: ``starting`` → ``ready``; ``absent`` (never found) or ``lost`` (unplugged) → ``ready``.

    ``error`` carries the message to show for ``absent`` and ``lost`` so the app need not invent one.
    """

    state: ScannerState
    error: HardwareError | None = None

    @property
    def code(self) -> str | None:
        """The error code, for apps and tests that match on codes rather than text."""
        return self.error.code if self.error is not None else None

    def message(self, lang: str = "zh") -> str:
        """The text to show the shopkeeper, empty when all is well."""
        return self.error.message(lang) if self.error is not None else ""


OnScan = Callable[[ScanEvent], None]
OnStatus = Callable[[ScannerStatus], None]


class Scanner(Protocol):
    """Anything that delivers scans: the camera, the fake. Start once per screen, stop when leaving it."""

    def start(self, on_scan: OnScan, on_status: OnStatus | None = None) -> None: ...

    def stop(self) -> None: ...


class RepeatFilter:
    """Drops a code seen again within ``window_s`` of the last time it was seen.

    The window slides: every sighting, kept or dropped, restarts it. A card held up for ten seconds
    is seen continuously and so counts once; the same card taken away and shown again after the
    window is a new scan (a second household visit, or the shopkeeper scanning again on purpose).
    Each code has its own window, so a passbook and a product seen in turn are both kept.

    Thread-safe, because the camera's decode thread and a test's thread may both use one.
    """

    def __init__(self, window_s: float = 2.0, clock: Clock = time.monotonic) -> None:
        if window_s < 0:
            raise ValueError("window_s must not be negative")
        self.window_s = window_s
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, text: str, at: float | None = None) -> bool:
        """True when ``text`` is a new scan; records the sighting either way."""
        now = self._clock() if at is None else at
        with self._lock:
            last = self._last_seen.get(text)
            self._last_seen[text] = now
            self._forget_older_than(now)
            return last is None or now - last > self.window_s

    def reset(self) -> None:
        """Forget every code, e.g. after a sale so the next household's first scan always counts."""
        with self._lock:
            self._last_seen.clear()

    def _forget_older_than(self, now: float) -> None:
        # Bounded memory: a kiosk runs for months and sees thousands of different codes.
        if len(self._last_seen) > 64:
            stale = [t for t, seen in self._last_seen.items() if now - seen > self.window_s]
            for t in stale:
                del self._last_seen[t]


class FakeScanner:
    """A scanner driven by code, for tests and the demo: ``scan(text)`` is a card shown to it.

    Delivery is synchronous on the caller's thread, so a test can assert right after ``scan``.
    Scans pass the same ``RepeatFilter`` as the camera's (with an injectable clock), so tests see
    the repeat behaviour the shop will see. ``report`` plays a camera being unplugged or found.
    """

    def __init__(self, clock: Clock = time.monotonic, window_s: float = 2.0, source: ScanSource = "fake") -> None:
        self._clock = clock
        self.source: ScanSource = source
        self.filter = RepeatFilter(window_s, clock)
        self._on_scan: OnScan | None = None
        self._on_status: OnStatus | None = None
        self.status = ScannerStatus("stopped")

    @property
    def running(self) -> bool:
        return self._on_scan is not None

    def start(self, on_scan: OnScan, on_status: OnStatus | None = None) -> None:
        self._on_scan = on_scan
        self._on_status = on_status
        self.report(ScannerStatus("ready"))

    def stop(self) -> None:
        if self._on_scan is None:
            return
        self.report(ScannerStatus("stopped"))
        self._on_scan = None
        self._on_status = None

    def scan(self, text: str, format: str = "") -> bool:
        """Show ``text`` to the scanner; True when an event was delivered.

        False when the scanner is stopped (like a real one nobody listens to) or the text is a repeat.
        """
        on_scan = self._on_scan
        if on_scan is None:
            return False
        now = self._clock()
        if not self.filter.accept(text, now):
            return False
        on_scan(ScanEvent(text, self.source, now, format))
        return True

    def report(self, status: ScannerStatus) -> None:
        """Deliver a status as a real scanner would (e.g. ``ScannerStatus("lost", HardwareError("camera_lost"))``)."""
        self.status = status
        if self._on_status is not None:
            self._on_status(status)
