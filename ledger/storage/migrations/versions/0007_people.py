"""People of the township console (issue 13): users, their roles, sessions, personal API tokens, sign-in
failures and the append-only activity log.

The one shared admin token goes: each token made by ``central init`` so far becomes a personal API token
of a user named ``admin`` with the administrator's role (no password: they set one with
``lovemart central user password admin``), so scripts keep working and what they do is now someone's.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from ledger.storage.triggers import append_only

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

sql = sa.text  # not called "text": the message extractor takes text("...") for a message key
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("user_id", SERIAL, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("full_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "console_grant",
        sa.Column("user_id", SERIAL, sa.ForeignKey("console_user.user_id"), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("village_id", sa.String(32), primary_key=True),
        sa.Column("shop_id", sa.String(16), primary_key=True),
    )
    op.create_table(
        "console_session",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", SERIAL, sa.ForeignKey("console_user.user_id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("seen_s", sa.BigInteger(), nullable=False),
        sa.Column("expires_s", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
    )
    op.create_index("ix_console_session_user", "console_session", ["user_id"])
    op.create_table(
        "api_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.String(16), nullable=False, unique=True),
        sa.Column("user_id", SERIAL, sa.ForeignKey("console_user.user_id"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_used_at", sa.String(32), nullable=True),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_api_token_user", "api_token", ["user_id"])
    op.create_table(
        "sign_in_failure",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until_s", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "activity_log",
        sa.Column("activity_id", SERIAL, primary_key=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    )
    op.create_index("ix_activity_log_user", "activity_log", ["user_name"])
    op.create_index("ix_activity_log_action", "activity_log", ["action"])
    _append_only("activity_log")
    _admin_tokens_to_a_person()


def _append_only(table: str) -> None:
    """UPDATE and DELETE refused at the database, as for the journal (0001)."""
    for statement in append_only(table, op.get_bind().dialect.name):
        op.execute(statement)


def _admin_tokens_to_a_person() -> None:
    bind = op.get_bind()
    tokens = bind.execute(sql("SELECT token_hash, created_at FROM admin_token")).all()
    if not tokens:
        return
    when = min(t.created_at for t in tokens)
    bind.execute(
        sql(
            "INSERT INTO console_user (name, full_name, password_hash, active, created_at, changed_at) "
            "VALUES ('admin', '管理员', NULL, :yes, :when, :when)"
        ),
        {"when": when, "yes": True},
    )
    user_id = bind.execute(sql("SELECT user_id FROM console_user WHERE name = 'admin'")).scalar_one()
    bind.execute(
        sql("INSERT INTO console_grant (user_id, role, village_id, shop_id) VALUES (:u, 'admin', '', '')"),
        {"u": user_id},
    )
    for token in tokens:
        bind.execute(
            sql(
                "INSERT INTO api_token (token_hash, token_id, user_id, label, created_at) "
                "VALUES (:h, :i, :u, 'central init', :at)"
            ),
            {
                "h": token.token_hash,
                "i": hashlib.sha256(token.token_hash.encode()).hexdigest()[:8],
                "u": user_id,
                "at": token.created_at,
            },
        )
    bind.execute(sql("DELETE FROM admin_token"))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
