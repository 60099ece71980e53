"""Storage of the ledger: SQLAlchemy models, migrations and the SQL adapter of ``ledger.ports``."""

from __future__ import annotations

from pathlib import Path

from ledger.storage.engine import make_engine, schema_revision, sqlite_url, upgrade
from ledger.storage.store import DatabaseFailure, SqlLedgerStore, SqlUnit, database_failure

__all__ = [
    "DatabaseFailure",
    "SqlLedgerStore",
    "SqlUnit",
    "database_failure",
    "open_ledger",
    "open_url",
    "schema_revision",
    "sqlite_url",
]


def open_url(url: str, *, durable: bool = True, migrate: bool = True) -> SqlLedgerStore:
    engine = make_engine(url, durable=durable)
    if migrate:
        upgrade(engine)
    return SqlLedgerStore(engine)


def open_ledger(path: Path | str, *, durable: bool = True, migrate: bool = True) -> SqlLedgerStore:
    """Open (creating or upgrading) the SQLite ledger at ``path``."""
    return open_url(sqlite_url(path), durable=durable, migrate=migrate)
