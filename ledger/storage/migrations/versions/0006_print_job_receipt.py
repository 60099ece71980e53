"""Print jobs keep the receipt itself, as it was at the commit (issue 12 §3).

The receipt used to be rebuilt from the database each time it printed: a reprint next month showed
today's household and item names and had to be fed the figures of the moment (``facts``, 0002). Now the
service that commits a transaction stores its whole receipt document (``ReceiptContent.to_json``) with
the print job, in the same database transaction, and printing lays out what was stored.

Jobs written before this migration keep ``receipt`` NULL and are rebuilt as before: a backfill would have
to run today's receipt code inside the migration and would print today's names all the same.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column with no default: SQLite adds it in place (no batch copy of the table).
    op.add_column("print_job", sa.Column("receipt", sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
