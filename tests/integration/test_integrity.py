"""Tampering found before it is spent (issue 11 §4): the start-up chain check from the last checkpoint, the
household check before each redemption, the audit after the day close, and what ``doctor`` says of them.

Ledgers are real SQLite files edited behind the triggers' back with plain ``sqlite3``, as in
``test_tamper.py``; the commands are run for real through ``lovemart.cli.main``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import integrity, services
from ledger.errors import LedgerError
from ledger.storage import SqlLedgerStore, open_ledger
from lovemart.cli import main
from tests.conftest import ADMIN_CTX, ShopFixture
from tests.sqlite_raw import raw, triggers_off


def inflate(path: Path, receipt_seq: int, household_id: str, points: int = 5000, cache: bool = True) -> None:
    """Raise the household's posting in transaction ``receipt_seq`` by ``points`` (and its cached balance)."""
    with raw(path) as c, triggers_off(c, "posting_append_only_update"):
        pk = c.execute("SELECT id FROM txn WHERE seq = ?", (receipt_seq,)).fetchone()[0]
        changed = c.execute(
            "UPDATE posting SET amount = amount + ? WHERE txn_pk = ? AND account = ?",
            (points, pk, f"household:{household_id}"),
        ).rowcount
        assert changed == 1
        if cache:
            c.execute(
                "UPDATE household_balance SET balance = balance + ? WHERE household_id = ?", (points, household_id)
            )


def set_memo(path: Path, seq: int, memo: str) -> None:
    with raw(path) as c, triggers_off(c, "txn_append_only_update"):
        c.execute("UPDATE txn SET memo = ? WHERE seq = ?", (memo, seq))


# ----- the ledger: checkpoint, start-up check, household check ---------------------------------------------


@dataclass
class Shop:
    fixture: ShopFixture
    path: Path

    @property
    def store(self) -> SqlLedgerStore:
        return self.fixture.store

    def reopen(self) -> SqlLedgerStore:
        """Close the store (as the till does at night), so the file can be edited, then open it again."""
        self.fixture.store.close()
        self.fixture.store = open_ledger(self.path)
        return self.fixture.store


@pytest.fixture
def trading(shop: ShopFixture) -> Shop:
    """Seq 1-3 (two households, rice) then a passed audit (the checkpoint), then seq 4-6 after it."""
    shop.household("H1", points=300)  # seq 1
    shop.household("H2", points=200)  # seq 2
    shop.item("RICE", 30, stock=20)  # seq 3
    assert integrity.full_audit(shop.store).ok  # checkpoint at seq 3
    services.redeem(shop.store, shop.codes["H1"], [("RICE", 2)], ctx=ADMIN_CTX)  # seq 4
    services.redeem(shop.store, shop.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)  # seq 5
    services.award(shop.store, "H1", 10, "清洁", ctx=ADMIN_CTX)  # seq 6
    assert shop.path is not None
    return Shop(shop, shop.path)


def test_untouched_ledger_checks_only_what_came_after_the_checkpoint(trading: Shop) -> None:
    result = integrity.check_chain(trading.store)
    assert result.ok, result.problems
    assert result.checked == 3  # seq 4, 5, 6: the three before were vouched for by the audit
    assert result.checkpoint is not None and result.checkpoint.heads == {"P1": (3, result.checkpoint.heads["P1"][1])}


def test_a_tampered_transaction_after_the_checkpoint_is_caught_at_start_up(trading: Shop) -> None:
    trading.store.close()
    set_memo(trading.path, 5, "改过")
    store = trading.reopen()
    result = integrity.check_at_start(store)
    assert [(p.kind, p.detail) for p in result.problems] == [
        ("hash_mismatch", "S1-P1-000005: content differs from its hash")
    ]
    # Selling stops for every household, in this process and any later one, until an audit passes.
    for household_id in ("H1", "H2"):
        with pytest.raises(LedgerError) as refused:
            services.redeem(store, trading.fixture.codes[household_id], [("RICE", 1)], ctx=ADMIN_CTX)
        assert refused.value.code == "ledger_tampered"
        assert "乡镇" in refused.value.message("zh") and "township" in refused.value.message("en")
        assert "S1-P1-000005" in refused.value.message("zh")
    with pytest.raises(LedgerError) as refused:  # nor are points given back against a possibly made-up sale
        services.void(store, "S1-P1-000004", "输错", ctx=ADMIN_CTX)
    assert refused.value.code == "ledger_tampered"
    assert not integrity.full_audit(store).ok  # the audit agrees, and does not lift the stop
    with pytest.raises(LedgerError, match="altered"):
        services.redeem(trading.reopen(), trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)


def test_a_rewritten_checkpoint_transaction_is_caught(trading: Shop) -> None:
    trading.store.close()
    set_memo(trading.path, 3, "改过")  # the last transaction the audit vouched for
    result = integrity.check_chain(trading.reopen())
    assert [p.kind for p in result.problems] == ["checkpoint_break"]


def test_a_deleted_head_is_caught_at_start_up(trading: Shop) -> None:
    trading.store.close()
    with raw(trading.path) as c:
        names = [f"{t}_append_only_delete" for t in ("txn", "posting", "line")]
        with triggers_off(c, *names):
            pk = c.execute("SELECT id FROM txn WHERE seq = 6").fetchone()[0]
            c.execute("DELETE FROM posting WHERE txn_pk = ?", (pk,))
            c.execute("DELETE FROM txn WHERE id = ?", (pk,))
    result = integrity.check_chain(trading.reopen())
    assert [p.kind for p in result.problems] == ["device_head"]


def test_a_dropped_trigger_is_caught_at_start_up(trading: Shop) -> None:
    trading.store.close()
    with raw(trading.path) as c:
        c.execute("DROP TRIGGER posting_append_only_update")
    result = integrity.check_chain(trading.reopen())
    assert [(p.kind, p.detail) for p in result.problems] == [
        ("append_only_guard", "missing: posting_append_only_update")
    ]


def test_a_tampered_transaction_before_the_checkpoint_is_left_to_the_audit(trading: Shop) -> None:
    """The start-up check reads from the checkpoint on (that is what keeps it to milliseconds): a memo
    rewritten before it is found by the full audit after the day close, not at start-up."""
    trading.store.close()
    set_memo(trading.path, 2, "改过")
    store = trading.reopen()
    assert integrity.check_chain(store).ok
    assert "hash_mismatch" in {p.kind for p in services.audit(store).problems}


def test_inflated_posting_and_cache_after_the_checkpoint_refuse_everything(trading: Shop) -> None:
    trading.store.close()
    inflate(trading.path, 4, "H1")
    store = trading.reopen()
    assert services.balance_for_household(store, "H1").balance == 250 + 5000  # the cache says so...
    assert integrity.balance_drift(store) == []  # ...and so do the postings: only the chain can tell
    result = integrity.check_at_start(store)
    assert {p.kind for p in result.problems} == {"hash_mismatch", "unbalanced"}
    assert all(p.detail.startswith("S1-P1-000004: ") for p in result.problems)
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "ledger_tampered"
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "ledger_tampered"


def test_inflated_posting_and_cache_are_refused_for_that_household_without_a_restart(trading: Shop) -> None:
    """Edited behind a till that is running (its start-up check passed): the household check catches it."""
    assert integrity.check_at_start(trading.store).ok
    inflate(trading.path, 4, "H1")
    with pytest.raises(LedgerError) as refused:
        services.redeem(trading.store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "household_tampered"
    assert "S1-P1-000004" in refused.value.message("en") and "township" in refused.value.message("en")
    assert "乡镇" in refused.value.message("zh")
    services.redeem(trading.store, trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)  # the others still trade


def test_an_inflated_cache_alone_refuses_that_household_only(trading: Shop) -> None:
    trading.store.close()
    with raw(trading.path) as c:
        c.execute("UPDATE household_balance SET balance = balance + 5000 WHERE household_id = 'H2'")
    store = trading.reopen()
    assert integrity.check_at_start(store).ok  # the journal is whole: the cache alone was edited
    assert [p.detail for p in integrity.balance_drift(store)] == [
        "balance of household H2: stored 5170, journal says 170"
    ]
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "household_tampered"
    receipt = services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert receipt.balance_after == 250 - 30
    # The audit agrees, and stops nobody else: the journal stands, only H2's cache is wrong.
    assert [p.kind for p in integrity.full_audit(store).problems] == ["balance_mismatch"]
    services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    with pytest.raises(LedgerError, match="does not match"):
        services.redeem(store, trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)


def test_inflated_posting_and_cache_before_the_checkpoint_are_caught_at_start_up(trading: Shop) -> None:
    """Seq 1 is before the checkpoint, so it is not re-hashed at start-up and H1's own sum agrees with its
    cache; but the households together now hold 5,000 points that no transaction since the audit made."""
    trading.store.close()
    inflate(trading.path, 1, "H1")
    store = trading.reopen()
    result = integrity.check_at_start(store)
    assert [p.kind for p in result.problems] == ["balance_total"]
    assert result.problems[0].detail.startswith("households hold 5420 points by their balances")
    assert result.problems[0].detail.endswith("and the transactions since make 420")
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, trading.fixture.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "ledger_tampered"
    assert "hash_mismatch" in {p.kind for p in services.audit(store).problems}  # the audit names the receipt


def test_an_inflated_posting_before_the_checkpoint_without_the_cache_is_refused(trading: Shop) -> None:
    trading.store.close()
    inflate(trading.path, 1, "H1", cache=False)
    store = trading.reopen()
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "household_tampered"
    assert "journal says 5250" in refused.value.message("en")


def test_a_passed_audit_moves_the_checkpoint_and_lifts_a_stop(trading: Shop) -> None:
    store = trading.store
    with store.write() as unit:  # a stop left by an earlier failed start, since restored
        unit.set_meta(integrity.STOP_KEY, integrity.AuditRecord("2026-01-01T00:00:00", False, 1, 0, "x").to_json())
    with pytest.raises(LedgerError, match="altered"):
        services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    report = integrity.full_audit(store)
    assert report.ok
    with store.read() as unit:
        checkpoint = integrity.checkpoint_of(unit)
        record = integrity.last_audit(unit)
    assert checkpoint is not None and checkpoint.heads["P1"][0] == 6
    assert record is not None and record.ok and record.problems == 0 and record.transactions == 6
    assert integrity.check_chain(store).checked == 0
    services.redeem(store, trading.fixture.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)


def test_a_ledger_without_a_checkpoint_is_audited_once_at_the_first_start(shop: ShopFixture) -> None:
    shop.household("H1", points=300)
    with shop.store.read() as unit:
        assert integrity.checkpoint_of(unit) is None
    result = integrity.check_at_start(shop.store)
    assert result.ok and result.checked == 0
    with shop.store.read() as unit:
        assert integrity.last_audit(unit) is not None


# ----- the commands: redeem, doctor, day close ----------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, dict, str]:
    code = main(["--home", str(home), *args, "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out.strip().splitlines()[-1]) if captured.out.strip() else {}
    return code, data, captured.err


DEMO_HOUSEHOLDS = 12  # the demo shop of this module (tests/conftest.py: demo_template, home)


def two_redeemable(capsys: pytest.CaptureFixture[str], home: Path) -> list[dict]:
    code, data, _ = run(capsys, home, "households", "list")
    assert code == 0
    return [h for h in data["households"] if h["redeemable"] >= 20 and h["status"] == "active"][:2]


def doctor_checks(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[int, dict[str, dict]]:
    code, report, _ = run(capsys, home, "doctor", "--lang", "en")
    return code, {c["name"]: c for c in report["checks"]}


def test_cli_inflated_posting_and_cache_doctor_reports_and_redeem_refuses(capsys, home: Path) -> None:
    first, second = two_redeemable(capsys, home)
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert code == 0 and audit["ok"]  # the checkpoint
    code, sold, _ = run(capsys, home, "redeem", first["passbook"], "SOAP=1")
    assert code == 0
    _, checks = doctor_checks(capsys, home)
    assert {checks[n]["status"] for n in ("chain", "audit", "balances")} == {"ok"}

    seq = int(sold["receipt_no"].rsplit("-", 1)[1])
    inflate(home / "ledger.sqlite3", seq, first["household_id"])

    code, checks = doctor_checks(capsys, home)
    assert code == 1 and checks["chain"]["status"] == "fail"
    assert sold["receipt_no"] in checks["chain"]["message"] and "township" in checks["chain"]["message"]
    for household in (first, second):  # the chain failed: nothing is sold until the township looked
        code, refused, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
        assert code == 1 and refused["error"]["code"] == "ledger_tampered"
        assert "乡镇" in refused["error"]["message"]
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert code == 1 and "hash_mismatch" in {p["kind"] for p in audit["problems"]}
    _, checks = doctor_checks(capsys, home)
    assert checks["audit"]["status"] == "fail"


def test_cli_inflated_cache_refuses_that_household_and_doctor_names_it(capsys, home: Path) -> None:
    first, second = two_redeemable(capsys, home)
    with raw(home / "ledger.sqlite3") as c:
        c.execute(
            "UPDATE household_balance SET balance = balance + 5000 WHERE household_id = ?", (first["household_id"],)
        )
    code, checks = doctor_checks(capsys, home)
    assert code == 1 and checks["balances"]["status"] == "fail"
    assert first["household_id"] in checks["balances"]["message"]
    code, refused, _ = run(capsys, home, "redeem", first["passbook"], "SOAP=1")
    assert code == 1 and refused["error"]["code"] == "household_tampered"
    code, sold, _ = run(capsys, home, "redeem", second["passbook"], "SOAP=1")
    assert code == 0, sold


def test_cli_day_close_runs_the_audit_and_records_it(capsys, home: Path) -> None:
    code, day, _ = run(capsys, home, "report", "day-close", "--close")
    assert code == 0 and day["audit"]["ok"] is True and day["audit"]["problems"] == 0
    store = open_ledger(home / "ledger.sqlite3")
    try:
        with store.read() as unit:
            record = integrity.last_audit(unit)
            checkpoint = integrity.checkpoint_of(unit)
    finally:
        store.close()
    assert record is not None and record.ok and checkpoint is not None
    _, checks = doctor_checks(capsys, home)
    assert checks["audit"]["status"] == "ok" and "0 problems" in checks["audit"]["message"]


def test_the_pos_start_up_check_says_why_selling_stopped(capsys, home: Path) -> None:
    from lovemart.bootstrap import shop_parts
    from lovemart.pos_main import _check_chain_at_start

    shop = shop_parts(home)
    try:
        assert _check_chain_at_start(shop) is None
    finally:
        shop.close()
    first, _ = two_redeemable(capsys, home)
    code, sold, _ = run(capsys, home, "redeem", first["passbook"], "SOAP=1")
    assert code == 0
    inflate(home / "ledger.sqlite3", int(sold["receipt_no"].rsplit("-", 1)[1]), first["household_id"])
    shop = shop_parts(home)
    try:
        refusal = _check_chain_at_start(shop)
    finally:
        shop.close()
    assert refusal is not None and refusal.code == "ledger_tampered" and sold["receipt_no"] in refusal.message("zh")


def test_the_checks_on_sqlite_and_postgresql(any_shop: ShopFixture) -> None:
    """The store's queries of the checks are portable: a cache edited behind the ledger's back, both databases."""
    shop = any_shop
    shop.household("H1", points=300)
    shop.household("H2", points=200)
    shop.item("RICE", 30, stock=20)
    assert integrity.full_audit(shop.store).ok
    services.redeem(shop.store, shop.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
    check = integrity.check_at_start(shop.store)
    assert check.ok and check.checked == 1
    with shop.store.write() as unit:
        unit.c.exec_driver_sql("UPDATE household_balance SET balance = balance + 5000 WHERE household_id = 'H2'")
    assert integrity.check_chain(shop.store).ok  # the caches alone explain the total
    assert [p.detail for p in integrity.balance_drift(shop.store)] == [
        "balance of household H2: stored 5200, journal says 200"
    ]
    with pytest.raises(LedgerError) as refused:
        services.redeem(shop.store, shop.codes["H2"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "household_tampered"
    services.redeem(shop.store, shop.codes["H1"], [("RICE", 1)], ctx=ADMIN_CTX)
