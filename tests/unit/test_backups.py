"""Which backups a shop keeps and when one is due (``ledger.backups``): pure rules, checked for any history."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.backups import (
    KEEP_DAILY,
    KEEP_MONTHLY,
    KEEP_WEEKLY,
    Backup,
    backup_name,
    due,
    newest,
    parse_backup,
    to_keep,
)

START = datetime(2025, 1, 1, 0, 0)


def backup_at(when: datetime) -> Backup:
    return Backup(backup_name(when), when)


def test_a_name_says_when_and_other_files_are_not_backups() -> None:
    when = datetime(2026, 12, 7, 21, 30, 5)
    assert backup_name(when) == "ledger-20261207-213005.sqlite3"
    assert parse_backup(backup_name(when)) == Backup("ledger-20261207-213005.sqlite3", when)
    for other in ("ledger-20261207-213005.sqlite3.partial", "replaced-20261207-213005.sqlite3", "notes.txt"):
        assert parse_backup(other) is None
    assert parse_backup("ledger-20261399-213005.sqlite3") is None  # month 13: not a time


def test_a_daily_shop_keeps_a_week_of_days_a_month_of_weeks_and_a_year_of_months() -> None:
    every_evening = [backup_at(START + timedelta(days=d, hours=20)) for d in range(400)]
    kept = sorted(b.taken_at for b in every_evening if b.name in to_keep(every_evening))
    last = every_evening[-1].taken_at
    assert kept[-KEEP_DAILY:] == [last - timedelta(days=d) for d in range(KEEP_DAILY - 1, -1, -1)]
    assert len(kept) <= KEEP_DAILY + KEEP_WEEKLY + KEEP_MONTHLY
    assert last - kept[0] > timedelta(days=300)  # a mistake found ten months later can still be undone


hours = st.lists(st.integers(0, 24 * 500), min_size=1, max_size=60, unique=True)


@given(hours)
def test_the_newest_is_always_kept_each_kept_copy_is_the_newest_of_its_day_and_keeping_is_stable(
    offsets: list[int],
) -> None:
    backups = [backup_at(START + timedelta(hours=h)) for h in offsets]
    kept = to_keep(backups)
    latest = newest(backups)
    assert latest is not None and latest.name in kept
    assert len(kept) <= KEEP_DAILY + KEEP_WEEKLY + KEEP_MONTHLY
    for backup in backups:
        if backup.name in kept:
            same_day = [b for b in backups if b.taken_at.date() == backup.taken_at.date()]
            assert backup.taken_at == max(b.taken_at for b in same_day)
    survivors = [b for b in backups if b.name in kept]
    assert to_keep(survivors) == kept  # rotating again deletes nothing more


def test_a_backup_is_due_after_a_day_or_when_there_is_none() -> None:
    now = datetime(2026, 12, 7, 12, 0)
    assert due([], now)
    assert not due([backup_at(now - timedelta(hours=23))], now)
    assert due([backup_at(now - timedelta(hours=24))], now)
