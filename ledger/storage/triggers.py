"""The append-only rule at the database: triggers that refuse UPDATE and DELETE on a table, whoever connects.

The migrations that make append-only tables (0001 the journal, 0007 the activity log, 0011 the rules'
versions and the points records' steps and photos) all make them here, so each table refuses changes the
same way. On PostgreSQL the trigger calls ``ledger_append_only()``, which migration 0001 makes.
"""

from __future__ import annotations

PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME; END $$ "
    "LANGUAGE plpgsql"
)


def append_only(table: str, dialect: str) -> list[str]:
    """The statements that make ``table`` refuse UPDATE and DELETE on ``dialect`` (others: none)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'ledger is append-only: {action} on {table} refused'); END"
            for action in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        ]
    return []
