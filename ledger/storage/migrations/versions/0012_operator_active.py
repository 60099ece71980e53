"""An operator can be disabled (issue 15): a shopkeeper who left keeps their name on past receipts, but their
PIN no longer opens the till. Existing operators stay active.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOT NULL with a server default: SQLite adds such a column in place, PostgreSQL fills it at once.
    op.add_column("operator", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
