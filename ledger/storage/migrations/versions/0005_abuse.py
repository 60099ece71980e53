"""Exceptions that cannot be drowned, and devices that keep being refused (issue 11, docs/sync.md "Abuse").

- ``sync_exception`` gains ``shop_id`` and ``device_id`` (so the township can page through one shop's
  exceptions), ``count`` and ``last_seen_at``: the same refusal repeated by one device is one open
  exception that counts, instead of a thousand rows that hide the next real alert.
- ``device_refusal`` keeps each device's refusals in the current window and until when it is slowed
  down; it lives in the database so every server process of the township agrees (DESIGN §11).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_exception", sa.Column("shop_id", sa.String(16), nullable=True))
    op.add_column("sync_exception", sa.Column("device_id", sa.String(16), nullable=True))
    op.add_column("sync_exception", sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("sync_exception", sa.Column("last_seen_at", sa.String(32), nullable=True))
    op.create_index("ix_sync_exception_shop", "sync_exception", ["shop_id"])
    op.create_table(
        "device_refusal",
        sa.Column("device_id", sa.String(16), primary_key=True),
        sa.Column("window_start", sa.String(32), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
