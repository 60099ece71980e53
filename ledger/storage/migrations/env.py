"""Alembic environment: migrations run on a connection handed in by ``ledger.storage.migrate``."""

from __future__ import annotations

from alembic import context

from ledger.storage.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic from its own command line
    raise RuntimeError("run migrations through ledger.storage.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
