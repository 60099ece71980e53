"""Running figures for the township console: per day, village, shop and kind; and each shop's stock (issue 13).

The overview and the reports must not scan a month of a 10-million-transaction journal per request.
These two tables are kept up to date as transactions are stored at the central record
(``CentralUnit.count_figures``); here they are made, and filled from the journal of a central record
that already has one. A shop ledger gets the empty tables and never fills them.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.storage.figures import REBUILD_FIGURES

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

sql = sa.text  # not "text(...)": the message extractor would read the SQL as a message key


def upgrade() -> None:
    op.create_table(
        "daily_figure",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("village_id", sa.String(32), nullable=False),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("txns", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "village_id", "shop_id", "kind", name=op.f("pk_daily_figure")),
    )
    op.create_index("ix_daily_figure_village_day", "daily_figure", ["village_id", "day"])
    op.create_table(
        "shop_stock",
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "sku", name=op.f("pk_shop_stock")),
    )
    # A shop's transactions of a period (a village's or a shop's 台账) without walking the township's.
    op.create_index("ix_txn_shop_created", "txn", ["shop_id", "created_at"])
    connection = op.get_bind()
    role = connection.execute(sql("SELECT value FROM meta WHERE key = 'role'")).scalar()
    if role == "central":
        # The same statements as ``CentralUnit.rebuild_figures``: one definition of the figures.
        for statement in REBUILD_FIGURES:
            connection.execute(sql(statement))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
