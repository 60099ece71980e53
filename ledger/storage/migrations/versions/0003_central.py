"""The central record's own tables: devices and tokens, the change log shops pull, exceptions.

A shop ledger gets them too and leaves them empty: one schema and one chain of migrations serve both
sides (docs/sync.md), so a central record is a ledger that anyone's audit can read.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "central_device",
        sa.Column("device_id", sa.String(16), primary_key=True),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("bundle_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.Column("acked_through", sa.BigInteger(), nullable=False),
        sa.Column("last_push_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_central_device_shop_id", "central_device", ["shop_id"])
    op.create_table(
        "enrol_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("used_at", sa.String(32), nullable=True),
        sa.Column("device_id", sa.String(16), nullable=True),
    )
    op.create_table(
        "admin_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "kiosk_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "change_log",
        # The rowid on SQLite, a BIGSERIAL on PostgreSQL: the global order of accepted records.
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("origin_device", sa.String(16), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_change_log_key", "change_log", ["key"])
    op.create_table(
        "sync_exception",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("household_id", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("txn_ids", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("resolved_at", sa.String(32), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )
    op.create_index("ix_sync_exception_status", "sync_exception", ["status"])


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
