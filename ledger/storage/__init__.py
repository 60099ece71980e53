"""Storage of the ledger: SQLAlchemy models, migrations and the SQL adapter of ``ledger.ports``.

This package's top level (and ``ledger.storage.central`` for the central record) is the storage port: the
rest of the program opens stores, catches ``DatabaseFailure`` and asks what it means (``database_failure``,
``translate_db_error``, ``driver_message``) through it, and never imports SQLAlchemy, Alembic or the modules
behind it (``engine``, ``store``, ``tables``, ``migrations``); import-linter contracts in pyproject.toml keep it so.
"""

from __future__ import annotations

from pathlib import Path

from ledger.storage.engine import make_engine, redacted_url, schema_revision, sqlite_url, upgrade
from ledger.storage.store import (
    DatabaseFailure,
    SqlLedgerStore,
    SqlUnit,
    StatementCount,
    counting_statements,
    database_failure,
    driver_message,
    translate_db_error,
)

__all__ = [
    "DatabaseFailure",
    "SqlLedgerStore",
    "SqlUnit",
    "StatementCount",
    "counting_statements",
    "database_failure",
    "driver_message",
    "open_ledger",
    "open_url",
    "redacted_url",
    "schema_revision",
    "sqlite_url",
    "translate_db_error",
]


def open_url(url: str, *, durable: bool = True, migrate: bool = True) -> SqlLedgerStore:
    engine = make_engine(url, durable=durable)
    if migrate:
        upgrade(engine)
    return SqlLedgerStore(engine)


def open_ledger(path: Path | str, *, durable: bool = True, migrate: bool = True) -> SqlLedgerStore:
    """Open (creating or upgrading) the SQLite ledger at ``path``."""
    return open_url(sqlite_url(path), durable=durable, migrate=migrate)
