"""The award workflow and the rules catalogue (issue 14): rule versions, points records and their steps,
review batches, objections and photos.

Points are made by record → check → review → public notice → issue (``ledger.workflow``), scored against
the rules in force on the day of the event (``ledger.rulebook``). Each record's current state is a row of
``points_record``; what happened to it is ``record_step``, which like the rules' versions and the photos
refuses UPDATE and DELETE at the database.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.storage.triggers import append_only

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rule_version",
        sa.Column("village_id", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("effective_from", sa.String(10), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("made_by", sa.String(64), nullable=False),
        sa.Column("made_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "points_record",
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("village_id", sa.String(32), nullable=False),
        sa.Column("household_id", sa.String(16), nullable=False),
        sa.Column("item_code", sa.String(16), nullable=False),
        sa.Column("item_name", sa.String(100), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("zero_tolerance", sa.Boolean(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("checked_by", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("notice_until", sa.String(10), nullable=True),
        sa.Column("approved_by_township", sa.BigInteger(), nullable=True),
        sa.Column("issued_txn_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_points_record_village_stage", "points_record", ["village_id", "stage"])
    op.create_index("ix_points_record_household", "points_record", ["household_id"])
    op.create_index("ix_points_record_batch", "points_record", ["batch_id"])
    op.create_index("ix_points_record_issued", "points_record", ["issued_txn_id"])
    op.create_table(
        "record_step",
        sa.Column("step_id", SERIAL, primary_key=True),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("points_before", sa.BigInteger(), nullable=True),
        sa.Column("points_after", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_record_step_record", "record_step", ["record_id"])
    op.create_table(
        "review_batch",
        sa.Column("batch_id", SERIAL, primary_key=True),
        sa.Column("village_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("meeting_day", sa.String(10), nullable=False),
        sa.Column("attendees", sa.String(500), nullable=False),
        sa.Column("made_by", sa.BigInteger(), nullable=False),
        sa.Column("made_at", sa.String(32), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=True),
        sa.Column("window_from", sa.String(10), nullable=True),
        sa.Column("window_until", sa.String(10), nullable=True),
        sa.UniqueConstraint("village_id", "number", name="uq_review_batch_village_number"),
    )
    op.create_table(
        "objection",
        sa.Column("objection_id", SERIAL, primary_key=True),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("raised_by", sa.String(100), nullable=False),
        sa.Column("says", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.String(200), nullable=False),
    )
    op.create_index("ix_objection_record", "objection", ["record_id"])
    op.create_table(
        "record_photo",
        sa.Column("photo_id", SERIAL, primary_key=True),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_record_photo_record", "record_photo", ["record_id"])
    for table in ("rule_version", "record_step", "record_photo"):
        _append_only(table)


def _append_only(table: str) -> None:
    """UPDATE and DELETE refused at the database, as for the journal (0001)."""
    for statement in append_only(table, op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
