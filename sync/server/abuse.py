"""Slowing down a device the central record keeps refusing (docs/sync.md, "Abuse of the server").

A shop client stops at a 409 and waits for the township, so an honest device is refused a few times at
most. A device that is refused again and again (a thousand sequence gaps in a few seconds) is broken or
hostile: after ``REFUSALS_PER_WINDOW`` refusals within ``WINDOW_S`` seconds, its pushes are answered
429 with ``Retry-After`` for ``BLOCK_S`` seconds, before their bodies are read. The counters live in
the database (``device_refusal``), not in a server process's memory, so every process of the township
applies the same limit (DESIGN §11).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ledger.storage.central import CentralDevice, CentralUnit, RefusalWindow
from sync.errors import SyncError

if TYPE_CHECKING:
    from sync.server.record import CentralRecord

REFUSALS_PER_WINDOW = 20
WINDOW_S = 60
BLOCK_S = 60


class Throttled(SyncError):
    """429: this device was refused too often lately; ``retry_after`` seconds until it may push again."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__("too_many_refusals", seconds=self.retry_after)


def _parse(when: str) -> datetime:
    return datetime.fromisoformat(when)


def check_throttle(record: CentralRecord, device: CentralDevice) -> None:
    """Raise ``Throttled`` while ``device`` is slowed down."""
    with record.store.read() as unit:
        window = unit.refusal_window(device.device_id)
    if window is None or window.blocked_until is None:
        return
    left = (_parse(window.blocked_until) - record.clock()).total_seconds()
    if left > 0:
        raise Throttled(math.ceil(left))


def count_refusal(unit: CentralUnit, device_id: str, now: datetime) -> None:
    """One more refusal of ``device_id`` (in the caller's write unit); past the limit, block it a while."""
    stamp = now.isoformat(timespec="seconds")
    window = unit.refusal_window(device_id, for_update=True)
    if window is None or (now - _parse(window.window_start)).total_seconds() > WINDOW_S:
        window = RefusalWindow(device_id, stamp, 0, window.blocked_until if window else None)
    refusals = window.refusals + 1
    blocked = window.blocked_until
    if refusals >= REFUSALS_PER_WINDOW:
        blocked = (now + timedelta(seconds=BLOCK_S)).isoformat(timespec="seconds")
        refusals = 0  # a new window starts with the block
        stamp_start = stamp
    else:
        stamp_start = window.window_start
    unit.put_refusal_window(RefusalWindow(device_id, stamp_start, refusals, blocked))
