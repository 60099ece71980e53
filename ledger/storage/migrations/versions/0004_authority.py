"""Held transactions and the places they leave in a device's chain (issue 11, docs/sync.md "Authority").

A transaction a shop device had no right to make is *held* by the central record: its place in the
device's hash chain is kept (``chain_link``: device, number, hash), so the device's later transactions
still chain, but it is not in the journal, so it moves no balance, stock or total anywhere. The
central record keeps what was pushed, why it was held and what the township decided (``held_txn``).
Shops receive only the link (other shops) or a correction (the shop that made it).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_link",
        sa.Column("device_id", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        # Known at the central record only: a resend of a held transaction is recognised by its id.
        sa.Column("txn_id", sa.String(36), nullable=True, unique=True),
    )
    op.create_table(
        "held_txn",
        sa.Column("txn_id", sa.String(36), primary_key=True),
        sa.Column("device_id", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("household_id", sa.String(16), nullable=True),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("correction_txn_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("release_txn_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_held_txn_status", "held_txn", ["status"])


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
