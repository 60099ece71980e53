"""Print jobs keep the figures of the moment they were made.

A receipt reprinted next month must show the redeemable points before and after *that*
redemption, which depend on policy and visitor rules at the time and cannot be recomputed from
the journal alone. They are not ledger facts (nothing sums them), so they live with the print job.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("print_job", sa.Column("facts", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("print_job") as batch:
        batch.drop_column("facts")
