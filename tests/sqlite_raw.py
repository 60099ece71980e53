"""Tampering with a shop's ledger file as someone with the ``sqlite3`` shell would (tamper and integrity tests)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection in autocommit mode, as the sqlite3 shell would use."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


@contextmanager
def triggers_off(connection: sqlite3.Connection, *names: str) -> Iterator[None]:
    """Drop triggers, let the caller tamper, and put the very same triggers back."""
    sql = {
        name: connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        ).fetchone()[0]
        for name in names
    }
    for name in names:
        connection.execute(f"DROP TRIGGER {name}")
    yield
    for text in sql.values():
        connection.execute(text)


# What each migration after 0005 made, undone: a ledger file "from before" that revision, for upgrade tests.
UNDO = {
    "0013": ("ALTER TABLE household DROP COLUMN phone",),
    "0012": ("ALTER TABLE operator DROP COLUMN active",),
    "0011": tuple(
        f"DROP TABLE {t}"
        for t in ("rule_version", "points_record", "record_step", "review_batch", "objection", "record_photo")
    ),
    "0010": ("DELETE FROM daily_figure WHERE village_id = '*'",),
    "0009": (
        "DROP TABLE daily_figure",
        "DROP TABLE shop_stock",
        "DROP TABLE household_key",
        "DROP INDEX ix_txn_shop_created",
        "DROP INDEX ix_household_village",
    ),
    "0008": ("ALTER TABLE household DROP COLUMN village_group", "ALTER TABLE household DROP COLUMN house_no"),
    "0007": tuple(
        f"DROP TABLE {t}"
        for t in ("activity_log", "sign_in_failure", "api_token", "console_session", "console_grant", "console_user")
    ),
    "0006": ("ALTER TABLE print_job DROP COLUMN receipt",),
}


def rewind(connection: sqlite3.Connection, to: str) -> None:
    """Undo every migration after revision ``to`` (newest first) and mark the file as at ``to``."""
    for revision in sorted(UNDO, reverse=True):
        if revision > to:
            for statement in UNDO[revision]:
                connection.execute(statement)
    connection.execute("UPDATE alembic_version SET version_num = ?", (to,))
