"""Tampering with a ledger file behind the triggers' back, with plain sqlite3, is caught by the audit.

Each test builds a small real ledger, closes it, edits the file the way someone with the file and
the sqlite3 shell could, reopens it and checks that ``services.audit`` names what was done.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy.exc

from ledger import services
from ledger.audit import Problem, as_draft
from ledger.chain import chain_hash
from ledger.model import Posting
from ledger.services import Context
from ledger.storage import open_ledger
from ledger.storage.tables import JOURNAL_TABLES
from tests.conftest import ADMIN_CTX, ShopFixture
from tests.sqlite_raw import raw, triggers_off

TRIGGERS = [f"{table}_append_only_{action}" for table in JOURNAL_TABLES for action in ("update", "delete")]


@dataclass
class Ledger:
    path: Path
    receipts: dict[str, str]  # name -> receipt number
    txn_ids: dict[str, str]


@pytest.fixture
def ledger(shop: ShopFixture) -> Ledger:
    """Six transactions: two awards, a stock intake, two redemptions, an award; then the store is closed."""
    store = shop.store
    h1 = shop.household("H1", points=300)  # seq 1
    h2 = shop.household("H2", points=200)  # seq 2
    shop.item("RICE", 30, stock=20)  # seq 3
    r1 = services.redeem(store, h1, [("RICE", 2)], ctx=ADMIN_CTX).transaction  # seq 4
    r2 = services.redeem(store, h2, [("RICE", 1)], ctx=ADMIN_CTX).transaction  # seq 5
    a = services.award(store, "H1", 10, "清洁", ctx=ADMIN_CTX)  # seq 6
    assert (r1.seq, r2.seq, a.seq) == (4, 5, 6)
    assert services.audit(store).ok
    store.close()
    assert shop.path is not None
    return Ledger(
        shop.path,
        {"r1": r1.receipt_no, "r2": r2.receipt_no, "award": a.receipt_no},
        {"r1": r1.txn_id, "r2": r2.txn_id, "award": a.txn_id},
    )


def audit(path: Path) -> list[Problem]:
    store = open_ledger(path)
    try:
        return services.audit(store).problems
    finally:
        store.close()


def kinds(problems: list[Problem]) -> set[str]:
    return {p.kind for p in problems}


def of_kind(problems: list[Problem], kind: str) -> list[Problem]:
    found = [p for p in problems if p.kind == kind]
    assert found, f"no {kind} in {problems}"
    return found


def txn_pk(connection: sqlite3.Connection, seq: int) -> int:
    return connection.execute("SELECT id FROM txn WHERE seq = ?", (seq,)).fetchone()[0]


# ----- the untouched ledger ---------------------------------------------------------------------


def test_untouched_ledger_is_clean(ledger):
    assert audit(ledger.path) == []


# ----- (a) a changed posting amount ----------------------------------------------------------------


def test_updated_posting_amount(ledger):
    with raw(ledger.path) as c, triggers_off(c, "posting_append_only_update"):
        pk = txn_pk(c, 4)
        c.execute("UPDATE posting SET amount = -30 WHERE txn_pk = ? AND account = 'household:H1'", (pk,))
    problems = audit(ledger.path)
    assert {"hash_mismatch", "unbalanced", "balance_mismatch"} <= kinds(problems)
    assert "append_only_guard" not in kinds(problems)  # the trigger is back
    r1 = ledger.receipts["r1"]
    assert [p.detail for p in of_kind(problems, "hash_mismatch")] == [f"{r1}: content differs from its hash"]
    assert all(r1 in p.detail for p in of_kind(problems, "unbalanced"))
    assert all("H1" in p.detail for p in of_kind(problems, "balance_mismatch"))
    assert all(r1 in p.detail or "H1" in p.detail for p in problems), problems


def test_balanced_rewrite_of_a_redemption_with_caches_fixed(ledger):
    """Both postings and the balance cache changed consistently: only the hash chain can tell."""
    with raw(ledger.path) as c, triggers_off(c, "posting_append_only_update"):
        pk = txn_pk(c, 4)
        c.execute("UPDATE posting SET amount = -30 WHERE txn_pk = ? AND account = 'household:H1'", (pk,))
        c.execute("UPDATE posting SET amount = 30 WHERE txn_pk = ? AND account = 'shop:S1:redeemed'", (pk,))
        c.execute("UPDATE household_balance SET balance = balance + 30 WHERE household_id = 'H1'")
    problems = audit(ledger.path)
    assert "hash_mismatch" in kinds(problems)
    assert not {"unbalanced", "balance_mismatch"} & kinds(problems)
    assert all(ledger.receipts["r1"] in p.detail for p in problems), problems


def test_rewrite_with_a_recomputed_hash_breaks_the_chain(ledger):
    """Someone who knows the hash recipe rewrites a transaction and its hash: the next link breaks."""
    with raw(ledger.path) as c, triggers_off(c, "posting_append_only_update", "txn_append_only_update"):
        pk = txn_pk(c, 4)
        c.execute("UPDATE posting SET amount = -30 WHERE txn_pk = ? AND account = 'household:H1'", (pk,))
        c.execute("UPDATE posting SET amount = 30 WHERE txn_pk = ? AND account = 'shop:S1:redeemed'", (pk,))
        c.execute("UPDATE household_balance SET balance = balance + 30 WHERE household_id = 'H1'")
        store = open_ledger(ledger.path)
        with store.read() as unit:
            rewritten = unit.transaction(ledger.txn_ids["r1"])
        store.close()
        assert rewritten is not None and rewritten.postings[0] == Posting("household:H1", -30)
        forged = chain_hash(rewritten.prev_hash, as_draft(rewritten), "P1", 4)
        c.execute("UPDATE txn SET hash = ? WHERE id = ?", (forged, pk))
    problems = audit(ledger.path)
    assert "hash_mismatch" not in kinds(problems)  # the rewritten transaction matches its new hash...
    assert [p.detail for p in of_kind(problems, "chain_break")] == [
        f"{ledger.receipts['r2']}: previous hash does not match"
    ]  # ...but the next one still points at the old hash
    assert kinds(problems) == {"chain_break", "redeem_mismatch"}  # its lines still price 60 points


def test_updated_line_quantity(ledger):
    with raw(ledger.path) as c, triggers_off(c, "line_append_only_update"):
        c.execute("UPDATE line SET qty = -1 WHERE txn_pk = ?", (txn_pk(c, 4),))
    problems = audit(ledger.path)
    assert {"hash_mismatch", "stock_mismatch", "redeem_mismatch"} <= kinds(problems)
    assert all("RICE" in p.detail for p in of_kind(problems, "stock_mismatch"))
    assert all(ledger.receipts["r1"] in p.detail for p in of_kind(problems, "redeem_mismatch"))


def test_updated_memo_or_household(ledger):
    with raw(ledger.path) as c, triggers_off(c, "txn_append_only_update"):
        c.execute("UPDATE txn SET memo = '奖励' WHERE seq = 6")
        c.execute("UPDATE txn SET household_id = 'H2' WHERE seq = 4")
    problems = audit(ledger.path)
    assert sorted(p.detail for p in of_kind(problems, "hash_mismatch")) == sorted(
        [
            f"{ledger.receipts['award']}: content differs from its hash",
            f"{ledger.receipts['r1']}: content differs from its hash",
        ]
    )


# ----- (b) a deleted transaction ---------------------------------------------------------------------


def delete_transaction(c: sqlite3.Connection, seq: int) -> None:
    pk = txn_pk(c, seq)
    c.execute("DELETE FROM line WHERE txn_pk = ?", (pk,))
    c.execute("DELETE FROM posting WHERE txn_pk = ?", (pk,))
    c.execute("DELETE FROM txn WHERE id = ?", (pk,))


def test_deleted_transaction_leaves_a_gap_and_a_broken_chain(ledger):
    with raw(ledger.path) as c:
        with triggers_off(c, "txn_append_only_delete", "posting_append_only_delete", "line_append_only_delete"):
            delete_transaction(c, 4)
        assert c.execute("SELECT count(*) FROM txn").fetchone()[0] == 5
    problems = audit(ledger.path)
    assert {"sequence_gap", "chain_break", "balance_mismatch", "stock_mismatch"} <= kinds(problems)
    assert "append_only_guard" not in kinds(problems)
    [gap] = of_kind(problems, "sequence_gap")
    assert "S1-P1-000005 follows S1-P1-000003 on device P1" in gap.detail
    [chain] = of_kind(problems, "chain_break")
    assert ledger.receipts["r2"] in chain.detail
    assert all("H1" in p.detail for p in of_kind(problems, "balance_mismatch"))
    assert all("RICE" in p.detail for p in of_kind(problems, "stock_mismatch"))


def test_gap_names_the_receipts_around_it(ledger):
    with raw(ledger.path) as c:
        with triggers_off(c, "txn_append_only_delete", "posting_append_only_delete", "line_append_only_delete"):
            delete_transaction(c, 4)
    [gap] = of_kind(audit(ledger.path), "sequence_gap")
    assert ledger.receipts["r2"] in gap.detail


def test_deleted_last_transaction_is_caught_by_the_device_head(ledger):
    with raw(ledger.path) as c:
        with triggers_off(c, "txn_append_only_delete", "posting_append_only_delete", "line_append_only_delete"):
            delete_transaction(c, 6)
    problems = audit(ledger.path)
    assert {"device_head", "balance_mismatch"} <= kinds(problems)
    assert "P1" in of_kind(problems, "device_head")[0].detail


def test_deleted_postings_only(ledger):
    with raw(ledger.path) as c, triggers_off(c, "posting_append_only_delete"):
        c.execute("DELETE FROM posting WHERE txn_pk = ?", (txn_pk(c, 5),))
    problems = audit(ledger.path)
    assert {"hash_mismatch", "redeem_mismatch", "balance_mismatch"} <= kinds(problems)
    assert all(ledger.receipts["r2"] in p.detail for p in of_kind(problems, "hash_mismatch"))
    assert all("H2" in p.detail for p in of_kind(problems, "balance_mismatch"))


# ----- (c) a reordered chain -----------------------------------------------------------------


def test_swapped_sequence_numbers(ledger):
    with raw(ledger.path) as c, triggers_off(c, "txn_append_only_update"):
        c.execute("UPDATE txn SET seq = -4 WHERE seq = 4")
        c.execute("UPDATE txn SET seq = 4 WHERE seq = 5")
        c.execute("UPDATE txn SET seq = 5 WHERE seq = -4")
    problems = audit(ledger.path)
    assert {"sequence_order", "hash_mismatch"} <= kinds(problems)
    assert any("S1-P1-000004 follows S1-P1-000005" in p.detail for p in of_kind(problems, "sequence_order"))
    assert len(of_kind(problems, "hash_mismatch")) == 2
    assert "append_only_guard" not in kinds(problems)


def test_swapped_rows_keep_seq_but_break_the_chain(ledger):
    """Two transactions swapped wholesale (the rows' storage order changed, each keeps its seq and hash)."""
    with raw(ledger.path) as c:
        with triggers_off(c, *TRIGGERS):
            pk4, pk5 = txn_pk(c, 4), txn_pk(c, 5)
            c.execute("PRAGMA foreign_keys = OFF")
            for table in ("posting", "line"):
                c.execute(f"UPDATE {table} SET txn_pk = -1 WHERE txn_pk = ?", (pk4,))
                c.execute(f"UPDATE {table} SET txn_pk = ? WHERE txn_pk = ?", (pk4, pk5))
                c.execute(f"UPDATE {table} SET txn_pk = ? WHERE txn_pk = -1", (pk5,))
            c.execute("UPDATE txn SET id = -1 WHERE id = ?", (pk4,))
            c.execute("UPDATE txn SET id = ? WHERE id = ?", (pk4, pk5))
            c.execute("UPDATE txn SET id = ? WHERE id = -1", (pk5,))
    problems = audit(ledger.path)
    assert {"sequence_gap", "sequence_order", "chain_break"} <= kinds(problems)


# ----- (d), (e) edited caches -----------------------------------------------------------------


def test_edited_balance_cache(ledger):
    with raw(ledger.path) as c:
        c.execute("UPDATE household_balance SET balance = balance + 1000 WHERE household_id = 'H2'")
    problems = audit(ledger.path)
    assert [(p.kind, p.detail) for p in problems] == [
        ("balance_mismatch", "balance of household H2: stored 1170, journal says 170")
    ]


def test_edited_points_earned_cache(ledger):
    with raw(ledger.path) as c:
        c.execute("UPDATE household_balance SET earned_cycle = 9999 WHERE household_id = 'H1'")
    problems = audit(ledger.path)
    assert kinds(problems) == {"earned_mismatch"}
    assert "H1" in problems[0].detail


def test_edited_stock_cache(ledger):
    with raw(ledger.path) as c:
        c.execute("UPDATE stock_level SET on_hand = 99 WHERE sku = 'RICE'")
    problems = audit(ledger.path)
    assert [(p.kind, p.detail) for p in problems] == [("stock_mismatch", "stock of RICE: stored 99, journal says 17")]


def test_edited_device_head(ledger):
    with raw(ledger.path) as c:
        c.execute("UPDATE device SET last_seq = 3")
    problems = audit(ledger.path)
    assert kinds(problems) == {"device_head"}
    assert "P1" in problems[0].detail


def test_unfrozen_by_editing_the_status(shop):
    shop.household("H1", points=300)
    services.clear_household(shop.store, "H1", "违规", Context(services.ADMIN))
    shop.store.close()
    with raw(shop.path) as c:
        c.execute("UPDATE household SET status = 'active' WHERE household_id = 'H1'")
    problems = audit(shop.path)
    assert kinds(problems) == {"status_mismatch"}
    assert "H1" in problems[0].detail


def test_frozen_by_editing_the_status(ledger):
    with raw(ledger.path) as c:
        c.execute("UPDATE household SET status = 'frozen' WHERE household_id = 'H2'")
    problems = audit(ledger.path)
    assert kinds(problems) == {"status_mismatch"}


# ----- (f) the triggers refuse, (g) a dropped trigger is reported -------------------------------------------


@pytest.mark.parametrize("table", JOURNAL_TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
        "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} LIMIT 1)",
    ],
)
def test_triggers_refuse_update_and_delete(ledger, table, statement):
    column = {"txn": "memo", "posting": "amount", "line": "qty"}[table]
    if "rowid" in statement and table != "txn":  # posting and line are WITHOUT ROWID tables
        statement = "DELETE FROM {table} WHERE txn_pk = (SELECT min(txn_pk) FROM {table})"
    with raw(ledger.path) as c:
        before = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute(statement.format(table=table, column=column))
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before
    assert audit(ledger.path) == []


@pytest.mark.parametrize("table", JOURNAL_TABLES)
def test_triggers_refuse_through_the_store_and_roll_back(ledger, table):
    store = open_ledger(ledger.path)
    try:
        with pytest.raises(sqlalchemy.exc.IntegrityError, match="append-only"):
            with store.write() as unit:
                services.award(store, "H2", 5, "清洁", ctx=ADMIN_CTX)  # joins the unit, then rolled back with it
                unit.c.exec_driver_sql(f"DELETE FROM {table}")
        assert services.balance_for_household(store, "H2").balance == 170
        assert services.audit(store).ok
    finally:
        store.close()


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_dropped_trigger_is_reported(ledger, trigger):
    with raw(ledger.path) as c:
        c.execute(f"DROP TRIGGER {trigger}")
    problems = audit(ledger.path)
    assert [(p.kind, p.detail) for p in problems] == [("append_only_guard", f"missing: {trigger}")]


def test_all_triggers_dropped(ledger):
    with raw(ledger.path) as c:
        for trigger in TRIGGERS:
            c.execute(f"DROP TRIGGER {trigger}")
    problems = audit(ledger.path)
    assert sorted(p.detail for p in of_kind(problems, "append_only_guard")) == sorted(f"missing: {t}" for t in TRIGGERS)
