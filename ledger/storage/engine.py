"""Engines with the durability the ledger needs, and schema migrations.

SQLite: WAL so the kiosk and the sync job can read while the POS writes; ``synchronous=FULL``
because ``NORMAL`` in WAL mode can lose the last commits on power loss; foreign keys on; and we
take control of BEGIN (pysqlite starts transactions lazily, so a read-then-write could fail with
"database is locked" at once): writes use ``BEGIN IMMEDIATE`` so the read that computes the next
sequence number and the write that uses it cannot interleave with another writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
# Checkpoint the WAL into the database every 10,000 pages (40 MB) instead of SQLite's 1,000: a
# checkpoint runs inside the commit that crosses the mark and costs a random write and fsync of the
# database file, which at 1,000 pages lands on one sale in seventy.
WAL_AUTOCHECKPOINT_PAGES = 10_000


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def redacted_url(url: str) -> str:
    """A database URL as it may be shown (messages, logs): without its password; "(database)" when it does
    not even parse, rather than show something that may hold one."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(database)"


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """An engine for ``url``. ``durable=False`` (tests and benchmarks seeding only) skips fsync."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, durable)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, durable: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver so that we, not pysqlite, decide when and how a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions begin with ``BEGIN IMMEDIATE`` on SQLite."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    with writer(engine).begin() as connection:
        command.upgrade(_alembic_config(connection), "head")


def schema_revision(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the newest revision this code knows)."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return current, head or ""
