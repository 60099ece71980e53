"""The first shop ledger: journal, caches, master data, print queue, append-only triggers.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.storage.triggers import PG_FUNCTION, append_only

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JOURNAL = ("txn", "posting", "line")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "township",
        sa.Column("township_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("passbook_key", sa.String(128), nullable=False),
    )
    op.create_table(
        "policy",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("base_points", sa.Integer(), nullable=False),
        sa.Column("redeemable_floor", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.String(16), nullable=False),
        sa.Column("fen_per_point", sa.Integer(), nullable=False),
        sa.Column("visitor_limit", sa.Integer(), nullable=False),
        sa.Column("max_offline_days", sa.Integer(), nullable=False),
        sa.Column("max_quantity", sa.Integer(), nullable=False),
        sa.Column("max_points_per_award", sa.Integer(), nullable=False),
    )
    op.create_table(
        "village",
        sa.Column("village_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "shop",
        sa.Column("shop_id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("village_id", sa.String(32), sa.ForeignKey("village.village_id"), nullable=False),
    )
    op.create_table(
        "device",
        sa.Column("device_id", sa.String(16), primary_key=True),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "household",
        sa.Column("household_id", sa.String(16), primary_key=True),
        sa.Column("village_id", sa.String(32), sa.ForeignKey("village.village_id"), nullable=False),
        sa.Column("head_name", sa.String(100), nullable=False),
        sa.Column("home_shop_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("members", sa.Text(), nullable=False),
    )
    op.create_table(
        "passbook_card",
        sa.Column("household_id", sa.String(16), sa.ForeignKey("household.household_id"), primary_key=True),
        sa.Column("card_no", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "item",
        sa.Column("sku", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(64), nullable=True, unique=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "operator",
        sa.Column("operator_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pin_salt", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(128), nullable=False),
    )
    op.create_table(
        "household_balance",
        sa.Column("household_id", sa.String(16), primary_key=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("earned_cycle", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "stock_level",
        sa.Column("sku", sa.String(32), primary_key=True),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "txn",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("txn_id", sa.String(36), nullable=False, unique=True),
        sa.Column("device_id", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("shop_id", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("household_id", sa.String(16), nullable=True),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("ref_txn_id", sa.String(36), nullable=True),
        sa.Column("party", sa.String(200), nullable=True),
        sa.Column("pull_cursor", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("device_id", "seq", name="uq_txn_device_seq"),
    )
    op.create_index("ix_txn_household", "txn", ["household_id"])
    op.create_index("ix_txn_ref", "txn", ["ref_txn_id"])
    op.create_index("ix_txn_created", "txn", ["created_at"])
    op.create_table(
        "posting",
        sa.Column("txn_pk", sa.Integer(), sa.ForeignKey("txn.id"), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_posting_account", "posting", ["account"])
    op.create_table(
        "line",
        sa.Column("txn_pk", sa.Integer(), sa.ForeignKey("txn.id"), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("points_each", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "print_job",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("txn_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("printed_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_print_job_txn_id", "print_job", ["txn_id"])
    op.create_table(
        "import_record",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
    )
    create_append_only_triggers()


def create_append_only_triggers() -> None:
    """The journal refuses UPDATE and DELETE at the database, whoever connects to it."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
    for table in JOURNAL:
        for statement in append_only(table, dialect):
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
