"""The audit's checks one by one, on hand-made journals, and the transaction each problem names.

``tests/integration/test_tamper.py`` edits real ledger files and checks that the audit notices; here each check of
``ledger.audit`` is run on its own, the way the township console will show its problems: with the
transaction that caused each one.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ledger import audit
from ledger.audit import CachedState, Problem, Replay, TxnRef
from ledger.chain import chain_hash
from ledger.model import GENESIS_HASH, Line, Posting, Transaction, TxnDraft, TxnKind, chained, household_account
from tests.cli_harness import run

DEMO_HOUSEHOLDS = 12


class Journal:
    """Transactions of one device, chained as storage would chain them."""

    def __init__(self, device_id: str = "P1", shop_id: str = "S1") -> None:
        self.device_id, self.shop_id = device_id, shop_id
        self.txns: list[Transaction] = []

    def add(self, kind: TxnKind, *, seq: int | None = None, **fields: object) -> Transaction:
        draft = TxnDraft(
            txn_id=f"t{len(self.txns) + 1}",
            kind=kind,
            created_at="2030-05-01T10:00:00+08:00",
            shop_id=self.shop_id,
            operator="01",
            **fields,  # type: ignore[arg-type]
        )
        prev = self.txns[-1].hash if self.txns else GENESIS_HASH
        number = seq if seq is not None else len(self.txns) + 1
        txn = chained(draft, self.device_id, number, prev, chain_hash(prev, draft, self.device_id, number))
        self.txns.append(txn)
        return txn

    def redeem(
        self, household_id: str = "H1", qty: int = 2, points_each: int = 30, taken: int | None = None
    ) -> Transaction:
        taken = qty * points_each if taken is None else taken
        return self.add(
            TxnKind.REDEEM,
            household_id=household_id,
            postings=(Posting(household_account(household_id), -taken), Posting("shop:S1:redeemed", taken)),
            lines=(Line("RICE", -qty, points_each),),
        )

    def void(self, original: Transaction, mirrored: bool = True) -> Transaction:
        postings = tuple(Posting(p.account, -p.amount, p.unit) for p in original.postings)
        lines = tuple(Line(ln.sku, -ln.qty + (0 if mirrored else 1), ln.points_each) for ln in original.lines)
        return self.add(
            TxnKind.VOID, household_id=original.household_id, postings=postings, lines=lines, ref_txn_id=original.txn_id
        )

    def replay(self) -> Replay:
        by_id = {t.txn_id: t for t in self.txns}
        replay = Replay(CachedState(), by_id.get)
        audit.walk(self.txns, replay)
        return replay


def ref(txn: Transaction) -> TxnRef:
    return TxnRef(txn.txn_id, txn.receipt_no, txn.device_id, txn.seq, str(txn.kind))


def test_a_clean_journal_passes_every_check() -> None:
    journal = Journal()
    journal.add(
        TxnKind.AWARD, household_id="H1", postings=(Posting("household:H1", 100), Posting("township:awards", -100))
    )
    journal.void(journal.redeem())
    replay = journal.replay()
    for check in (*audit.STORAGE_CHECKS, *audit.LEDGER_CHECKS):
        if check not in (audit.balances_match, audit.earned_matches, audit.stock_matches, audit.status_matches):
            assert check(replay) == [], check.__name__  # the caches are empty here: they are compared below


def test_a_mispriced_redemption_names_itself() -> None:
    journal = Journal()
    cheap = journal.redeem(qty=2, points_each=30, taken=10)
    (problem,) = audit.redemption_priced(cheap, Replay(CachedState(), lambda _: None))
    assert problem == Problem("redeem_mismatch", f"{cheap.receipt_no}: 10 points taken for goods worth 60", ref(cheap))
    assert problem.txn is not None and problem.txn.receipt_no == "S1-P1-000001" and problem.txn.kind == "redeem"


def test_unbalanced_postings_are_reported_per_unit() -> None:
    journal = Journal()
    txn = journal.add(
        TxnKind.DONATION,
        postings=(Posting("shop:S1:fund", 500, "fen"), Posting("donor:X", -400, "fen"), Posting("household:H1", 5)),
    )
    found = audit.postings_balance(txn)
    assert [(p.kind, p.detail) for p in found] == [
        ("unbalanced", f"{txn.receipt_no}: postings in fen sum to 100"),
        ("unbalanced", f"{txn.receipt_no}: postings in pt sum to 5"),
    ]
    assert all(p.txn == ref(txn) for p in found)


def test_a_second_void_is_the_cause_of_a_double_void() -> None:
    journal = Journal()
    sale = journal.redeem()
    journal.void(sale)
    again = journal.void(sale)
    (problem,) = audit.voids_reverse_redemptions(journal.replay())
    assert problem.kind == "double_void" and problem.txn == ref(again)
    assert problem.detail == f"{sale.txn_id} voided 2 times: S1-P1-000002, S1-P1-000003"


def test_a_void_that_does_not_mirror_or_voids_no_redemption_names_the_void() -> None:
    journal = Journal()
    sale = journal.redeem()
    crooked = journal.void(sale, mirrored=False)
    award = journal.add(
        TxnKind.AWARD, household_id="H1", postings=(Posting("household:H1", 5), Posting("township:awards", -5))
    )
    orphan = journal.void(award)
    problems = audit.voids_reverse_redemptions(journal.replay())
    assert [(p.kind, p.txn) for p in problems] == [("void_mismatch", ref(crooked)), ("void_orphan", ref(orphan))]
    assert problems[0].detail == f"{crooked.receipt_no} does not reverse {sale.receipt_no} exactly"


def test_a_gap_names_the_transaction_after_it_and_the_head_names_none() -> None:
    journal = Journal()
    journal.redeem()
    after_gap = journal.add(
        TxnKind.AWARD, seq=3, household_id="H1", postings=(Posting("household:H1", 5), Posting("x", -5))
    )
    cached = CachedState(device_heads={"P1": (4, "f" * 64)}, missing_guards=["txn_append_only_update"])
    report = audit.verify(journal.txns, cached, lambda _: None)
    gap = next(p for p in report.problems if p.kind == "sequence_gap")
    assert gap.txn == ref(after_gap) and gap.detail == "S1-P1-000003 follows S1-P1-000001 on device P1"
    # Problems of the storage come first, then the journal's in its order, then the totals.
    assert [p.kind for p in report.problems][0] == "append_only_guard"
    assert [p.kind for p in report.problems][-1] == "device_head"
    assert all(
        p.txn is None for p in report.problems if p.kind in ("append_only_guard", "device_head", "balance_mismatch")
    )


def test_a_problem_in_json_keeps_kind_and_detail_and_adds_the_transaction() -> None:
    journal = Journal()
    txn = journal.redeem(taken=1)
    (problem,) = audit.redemption_priced(txn)
    assert problem.to_json() == {
        "kind": "redeem_mismatch",
        "detail": f"{txn.receipt_no}: 1 points taken for goods worth 60",
        "txn_id": txn.txn_id,
        "receipt_no": "S1-P1-000001",
        "device_id": "P1",
        "seq": 1,
        "txn_kind": "redeem",
    }
    assert Problem("balance_mismatch", "balance of household H1: stored 1, journal says 0").to_json() == {
        "kind": "balance_mismatch",
        "detail": "balance of household H1: stored 1, journal says 0",
    }


def test_audit_verify_json_links_a_problem_to_its_transaction(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    with closing(sqlite3.connect(home / "ledger.sqlite3", isolation_level=None)) as c:
        (trigger,) = c.execute("SELECT sql FROM sqlite_master WHERE name = 'txn_append_only_update'").fetchone()
        txn_id, device_id, seq = c.execute(
            "SELECT txn_id, device_id, seq FROM txn WHERE kind = 'redeem' ORDER BY id LIMIT 1"
        ).fetchone()
        c.execute("DROP TRIGGER txn_append_only_update")
        c.execute("UPDATE txn SET memo = 'edited by hand' WHERE txn_id = ?", (txn_id,))
        c.execute(trigger)
    code, data, _ = run(capsys, home, "audit", "verify")
    assert code == 1 and data["ok"] is False and data["transactions"] > 0
    (problem,) = data["problems"]
    assert problem["kind"] == "hash_mismatch" and problem["txn_id"] == txn_id and problem["txn_kind"] == "redeem"
    assert (problem["device_id"], problem["seq"]) == (device_id, seq)
    assert problem["receipt_no"].endswith(f"-{device_id}-{seq:06d}")
    assert problem["detail"] == f"{problem['receipt_no']}: content differs from its hash"
