"""A household's place in the village: its village group (村民小组) and house number (门牌号) (issue 13).

The township console searches the register by them, as clerks find a household on the village's own
lists; shops receive them with the household. Existing households get empty values.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


sql = sa.text  # not "text(...)": the message extractor would read the SQL as a message key


def upgrade() -> None:
    # NOT NULL with a server default: SQLite adds such a column in place, PostgreSQL fills it at once.
    op.add_column("household", sa.Column("village_group", sa.String(32), nullable=False, server_default=sql("''")))
    op.add_column("household", sa.Column("house_no", sa.String(32), nullable=False, server_default=sql("''")))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
