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
