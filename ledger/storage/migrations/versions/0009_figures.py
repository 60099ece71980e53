"""Running figures for the township console: per day, village, shop and kind; each shop's stock; and the
households' search keys (issue 13).

The overview and the reports must not scan a month of a 10-million-transaction journal per request.
These two tables are kept up to date as transactions are stored at the central record
(``CentralUnit.count_figures``); here they are made, and filled from the journal of a central record
that already has one. A shop ledger gets the empty tables and never fills them.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from ledger.model import Household, Member
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
    # Households found by the start of any of their words (``Household.search_keys``), in byte order.
    op.create_table(
        "household_key",
        sa.Column("key", sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql"), nullable=False),
        sa.Column("household_id", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("key", "household_id", name=op.f("pk_household_key")),
    )
    op.create_index("ix_household_key_household", "household_key", ["household_id"])
    op.create_index("ix_household_village", "household", ["village_id"])
    connection = op.get_bind()
    rows = []
    query = "SELECT household_id, head_name, members, house_no, village_group FROM household"
    for r in connection.execute(sql(query)):
        members = tuple(Member(name, relation) for name, relation in json.loads(r.members or "[]"))
        household = Household(
            r.household_id, "", r.head_name, "", members=members, village_group=r.village_group, house_no=r.house_no
        )
        rows += [{"k": key, "h": r.household_id} for key in household.search_keys()]
    unique = list({(row["k"], row["h"]): row for row in rows}.values())
    for start in range(0, len(unique), 5000):
        connection.execute(
            sql("INSERT INTO household_key (key, household_id) VALUES (:k, :h)"), unique[start : start + 5000]
        )
    role = connection.execute(sql("SELECT value FROM meta WHERE key = 'role'")).scalar()
    if role == "central":
        # The same statements as ``CentralUnit.rebuild_figures``: one definition of the figures.
        for statement in REBUILD_FIGURES:
            connection.execute(sql(statement))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
