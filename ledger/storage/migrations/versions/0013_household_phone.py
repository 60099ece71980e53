"""A household's phone number (联系电话), optional.

A standalone shop's register and the township's hold it so the shopkeeper can call a household when the
goods it asked for arrive; shops receive it with the household. Kiosks and receipts never show it.
Existing households get an empty value.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


sql = sa.text  # not "text(...)": the message extractor would read the SQL as a message key


def upgrade() -> None:
    # NOT NULL with a server default: SQLite adds such a column in place, PostgreSQL fills it at once.
    op.add_column("household", sa.Column("phone", sa.String(20), nullable=False, server_default=sql("''")))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
