"""The township's own rows in the running figures (issue 13).

The township's overview of a month summed the rows of every village and shop: some 120,000 rows for
2,000 villages, on every request. Each day and kind now also has one township row (village and shop
``TOWNSHIP_ROW``), counted as transactions are stored (``ledger.storage.figures``); here they are added
up once from the villages' rows of a central record that has them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.storage.figures import TOWNSHIP_FROM_VILLAGES, TOWNSHIP_ROW

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

sql = sa.text  # not "text(...)": the message extractor would read the SQL as a message key


def upgrade() -> None:
    connection = op.get_bind()
    # Migration 0009 may already have made them (it rebuilds with today's statements): make them once.
    connection.execute(sql("DELETE FROM daily_figure WHERE village_id = :t"), {"t": TOWNSHIP_ROW})
    connection.execute(sql(TOWNSHIP_FROM_VILLAGES))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
