"""Backups of a shop's ledger: what they are called, which to keep, when one is due. Pure rules, no files.

A village shop is often one PC in a back room; its disk dies, a child spills tea on it, a virus encrypts it.
The township holds what was synced, not what was sold since, and a standalone shop has no township at
all. So the shop keeps its own copies: after every day close and at least once a day, an online copy of
the ledger into ``backups/`` in its folder (``ledger.storage.backup`` makes it), and onto a USB stick
when one with a ``lovemart-backup`` folder is plugged in.

Copies are rotated grandfather-father-son, so a week-old mistake found late can still be undone without
the folder growing for ever: the newest copy of each of the last 7 days that have one, of each of the last
4 weeks, and of each of the last 12 months (``to_keep``). The newest copy is always kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

BACKUP_DIR = "backups"
USB_FOLDER = "lovemart-backup"  # a stick with this folder at its top receives a copy too
KEEP_DAILY = 7
KEEP_WEEKLY = 4
KEEP_MONTHLY = 12
DUE_AFTER = timedelta(days=1)  # "at least daily"
WARN_AFTER = timedelta(days=2)  # doctor warns when the newest copy is older
_NAME = re.compile(r"^ledger-(\d{8})-(\d{6})\.sqlite3$")


@dataclass(frozen=True)
class Backup:
    """One copy: its file name and when it was taken (local time, from the name)."""

    name: str
    taken_at: datetime


def backup_name(when: datetime) -> str:
    """``ledger-20261207-213005.sqlite3``: sorts by time, and says when without opening it."""
    return f"ledger-{when:%Y%m%d-%H%M%S}.sqlite3"


def parse_backup(name: str) -> Backup | None:
    """The backup a file name stands for; None for anything else in the folder (a ``.partial``, a note)."""
    found = _NAME.match(name)
    if found is None:
        return None
    try:
        return Backup(name, datetime.strptime(found.group(1) + found.group(2), "%Y%m%d%H%M%S"))
    except ValueError:
        return None


def newest(backups: Iterable[Backup]) -> Backup | None:
    return max(backups, key=lambda b: b.taken_at, default=None)


def due(backups: Iterable[Backup], now: datetime) -> bool:
    """A copy is due when there is none, or the newest is a day old (a naive ``now``, like the names)."""
    last = newest(backups)
    return last is None or now - last.taken_at >= DUE_AFTER


def to_keep(backups: Iterable[Backup]) -> set[str]:
    """The names to keep: the newest copy of each of the last 7 days, 4 ISO weeks and 12 months that have
    one (a day, a week and a month may be kept by the same copy), and always the newest copy."""
    ordered = sorted(backups, key=lambda b: b.taken_at, reverse=True)
    keep: set[str] = set()
    for period, count in (
        (lambda b: b.taken_at.date(), KEEP_DAILY),
        (lambda b: b.taken_at.isocalendar()[:2], KEEP_WEEKLY),
        (lambda b: (b.taken_at.year, b.taken_at.month), KEEP_MONTHLY),
    ):
        seen: list[object] = []
        for backup in ordered:  # newest first: the first of a period is its newest copy
            key = period(backup)
            if key in seen:
                continue
            if len(seen) == count:
                break
            seen.append(key)
            keep.add(backup.name)
    if ordered:
        keep.add(ordered[0].name)
    return keep
