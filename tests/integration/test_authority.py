"""The central record enforces who may move which points (issue 11, docs/sync.md "Authority").

Each attack below was once accepted with effect: a shop device pushed correctly chained transactions
that created points. Now each is *held*: stored as a place in the device's chain only, with no effect
on any balance, points earned, ranking, stock or total, never sent to another shop, one exception
each; the shop that made it receives a correction, so its audit stays clean. Against a real server
process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger import services
from ledger.authority import Violation, check_shop_transaction
from ledger.history import recent_movements
from ledger.model import FEN, Item, Line, Posting, Transaction, TxnDraft, TxnKind
from ledger.storage import SqlLedgerStore
from lovemart_tools.bench_sync import MiniClient
from sync.apply import apply_page
from sync.server import township
from tests.conftest import ADMIN_CTX
from tests.integration.test_server import BACKENDS, Town, town_of


@pytest.fixture(scope="module", params=BACKENDS)
def town(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    yield from town_of(request, tmp_path_factory)


def forge(store: SqlLedgerStore, kind: TxnKind, **fields: Any) -> Transaction:
    """A transaction appended straight to the shop's journal, chained and hashed like any other.

    This is what a device under an attacker's control can do: it holds its own chain, so it can make
    any content it likes with a valid hash. Only the central record's rule stands in the way.
    """
    with store.write() as unit:
        identity = unit.identity()
        draft = TxnDraft(
            txn_id=str(uuid.uuid4()),
            kind=kind,
            created_at=services.timestamp(services.local_now),
            shop_id=fields.pop("shop_id", identity.shop_id),
            operator="evil",
            pull_cursor=int(unit.meta("pull_cursor") or 0),
            **fields,
        )
        return unit.append(draft)


def sync(client: MiniClient, store: SqlLedgerStore) -> None:
    client.push(store)
    client.pull(store)


def balance(store: SqlLedgerStore, household_id: str) -> tuple[int, int]:
    with store.read() as unit:
        return unit.balance(household_id)


def audit_ok(store: SqlLedgerStore) -> list[str]:
    report = services.audit(store)
    return [f"{p.kind}: {p.detail}" for p in report.problems]


def held(town: Town, shop_id: str | None = None) -> list[dict[str, Any]]:
    params = {"status": "held"} | ({"shop": shop_id} if shop_id else {})
    reply = town.admin("GET", "/v1/admin/held", params=params)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["held"]
    return found


def held_exceptions(town: Town, txn_id: str) -> list[dict[str, Any]]:
    with town.record.store.read() as unit:
        return [
            {"kind": e.kind, "detail": e.detail}
            for e in unit.exceptions(kind="held", limit=100_000)
            if txn_id in e.txn_ids
        ]


def attack(town: Town, make: Any) -> dict[str, Any]:
    """One malicious shop S01, one honest shop S02; the attack made by ``make(store, victims)``.

    Returns what the test checks: the forged transaction, the households, the shops.
    """
    victim, victim_code = town.household(points=100, shop_id="S02")  # another village
    neighbour, _ = town.household(points=100, shop_id="S01")
    evil_client, evil = town.shop("S01")
    honest_client, honest = town.shop("S02")
    with town.record.store.read() as unit:
        ranking_before = {r[0]: r[2] for r in unit.ranking_rows()}
        redeemed_before = unit.account_totals("shop:")
    sync(evil_client, evil)
    with evil.read() as unit:
        soap_before = unit.stock("SOAP")
    forged = make(evil, victim, neighbour)
    evil_balance_forged = balance(evil, victim)
    sync(evil_client, evil)
    sync(honest_client, honest)
    return {
        "forged": forged,
        "victim": victim,
        "victim_code": victim_code,
        "neighbour": neighbour,
        "evil": evil,
        "evil_client": evil_client,
        "honest": honest,
        "honest_client": honest_client,
        "ranking_before": ranking_before,
        "redeemed_before": redeemed_before,
        "evil_balance_forged": evil_balance_forged,
        "soap_before": soap_before,
    }


def assert_held_without_effect(town: Town, a: dict[str, Any], rule: str) -> None:
    forged: Transaction = a["forged"]
    victim, neighbour = a["victim"], a["neighbour"]
    # The central record: no effect on balances, points earned, ranking or totals.
    assert town.central_balance(victim) == (100, 100)
    assert town.central_balance(neighbour) == (100, 100)
    with town.record.store.read() as unit:
        assert unit.ledger.transaction(forged.txn_id) is None  # not in the journal
        ranking = {r[0]: r[2] for r in unit.ranking_rows()}
        assert ranking[victim] == a["ranking_before"][victim]
        assert unit.account_totals("shop:") == a["redeemed_before"]
        acked = unit.device(a["evil_client"].device_id)
        assert acked is not None and acked.acked_through == forged.seq  # the chain goes on
    # Held, once, with the rule it broke.
    found = [h for h in held(town, "S01") if h["txn_id"] == forged.txn_id]
    assert len(found) == 1 and found[0]["rule"] == rule, found
    exceptions = held_exceptions(town, forged.txn_id)
    assert len(exceptions) == 1 and exceptions[0]["detail"]["rule"] == rule
    # The honest shop never saw it, and its audit is clean.
    assert balance(a["honest"], victim) == (100, 100)
    with a["honest"].read() as unit:
        assert unit.transaction(forged.txn_id) is None
    assert audit_ok(a["honest"]) == []
    # The shop that made it was corrected: back in line with the township, its audit clean.
    assert balance(a["evil"], victim) == (100, 100)
    assert balance(a["evil"], neighbour) == (100, 100)
    assert audit_ok(a["evil"]) == []
    with a["evil"].read() as unit:
        corrections = [
            t for t in unit.transactions(kinds=frozenset({TxnKind.CORRECTION})) if t.ref_txn_id == forged.txn_id
        ]
    assert len(corrections) == 1 and forged.receipt_no in corrections[0].memo
    # And the central record's own audit is clean too.
    assert audit_ok(town.record.store.ledger) == []


def test_a_void_of_nothing_crediting_another_village_is_held(town: Town) -> None:
    def make(store: SqlLedgerStore, victim: str, _neighbour: str) -> Transaction:
        return forge(
            store,
            TxnKind.VOID,
            household_id=victim,
            postings=(Posting(f"household:{victim}", 3000), Posting("shop:S01:redeemed", -3000)),
            ref_txn_id=str(uuid.uuid4()),
            memo="作废",
        )

    a = attack(town, make)
    assert a["evil_balance_forged"][0] == 3100  # what the shop's own ledger said before the correction
    assert_held_without_effect(town, a, "void_orphan")
    # The honest shop cannot spend the forged points.
    with pytest.raises(services.LedgerError) as refused:
        services.redeem(a["honest"], a["victim_code"], [("OIL5", 16)], ctx=ADMIN_CTX)
    assert refused.value.code == "insufficient_points"


def test_a_redemption_moving_points_between_households_is_held(town: Town) -> None:
    def make(store: SqlLedgerStore, victim: str, neighbour: str) -> Transaction:
        return forge(
            store,
            TxnKind.REDEEM,
            household_id=neighbour,
            postings=(Posting(f"household:{neighbour}", -3), Posting(f"household:{victim}", 3)),
            lines=(Line("SOAP", -1, 3),),
        )

    assert_held_without_effect(town, attack(town, make), "redeem_postings")


def test_a_donation_crediting_points_is_held(town: Town) -> None:
    def make(store: SqlLedgerStore, victim: str, _neighbour: str) -> Transaction:
        return forge(
            store,
            TxnKind.DONATION,
            party="好心人",
            postings=(Posting(f"household:{victim}", 777), Posting("donor:好心人", -777)),
        )

    assert_held_without_effect(town, attack(town, make), "points_not_allowed")


def test_a_stock_adjustment_crediting_points_and_pens_is_held(town: Town) -> None:
    def make(store: SqlLedgerStore, victim: str, _neighbour: str) -> Transaction:
        return forge(
            store,
            TxnKind.STOCK_ADJUST,
            postings=(Posting(f"household:{victim}", 111), Posting("shop:S01:redeemed", -111)),
            lines=(Line("SOAP", 100_000, 3),),
        )

    a = attack(town, make)
    assert_held_without_effect(town, a, "points_not_allowed")
    with a["evil"].read() as unit:
        assert unit.stock("SOAP") == a["soap_before"]  # the 100,000 forged pieces were taken back out


def test_an_award_made_at_a_shop_is_held_and_does_not_count_in_the_ranking(town: Town) -> None:
    def make(store: SqlLedgerStore, victim: str, _neighbour: str) -> Transaction:
        return forge(
            store,
            TxnKind.AWARD,
            household_id=victim,
            postings=(Posting(f"household:{victim}", 5000), Posting("township:awards", -5000)),
            memo="自己给的",
        )

    a = attack(town, make)
    assert_held_without_effect(town, a, "township_only")
    with a["evil"].read() as unit:
        assert unit.balance(a["victim"]) == (100, 100)  # points earned back to what the township says
    # The shop's history says what happened, with the receipt number; the other shop's says nothing.
    corrected = [m for m in recent_movements(a["evil"], a["victim"]) if m.zh.startswith("乡镇更正")]
    assert [(m.points, a["forged"].receipt_no in m.zh) for m in corrected] == [(-5000, True)]
    assert not [m for m in recent_movements(a["honest"], a["victim"]) if m.zh.startswith("乡镇更正")]


def test_the_genuine_trade_of_a_shop_goes_through_around_a_held_transaction(town: Town) -> None:
    household, code = town.household(points=200, shop_id="S01")
    client, store = town.shop("S01")
    other_client, other = town.shop("S02")
    services.redeem(store, code, [("SOAP", 2)], ctx=ADMIN_CTX)
    bad = forge(
        store,
        TxnKind.AWARD,
        household_id=household,
        postings=(Posting(f"household:{household}", 50), Posting("township:awards", -50)),
    )
    sold = services.redeem(store, code, [("OIL5", 1)], ctx=ADMIN_CTX)
    services.void(store, sold.transaction.receipt_no, "顾客退货", ctx=ADMIN_CTX)
    services.record_donation(store, "供销社", amount_fen=10_000, ctx=ADMIN_CTX)
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    sync(client, store)
    sync(other_client, other)
    # 200 - 6 - 60 + 60 - 3 = 191 everywhere; the forged 50 nowhere.
    assert town.central_balance(household) == (191, 200)
    assert balance(store, household) == (191, 200)
    assert balance(other, household) == (191, 200)
    assert [h["txn_id"] for h in held(town, "S01") if h["txn_id"] == bad.txn_id] == [bad.txn_id]
    for ledger in (store, other, town.record.store.ledger):
        assert audit_ok(ledger) == []
    # A new PC of the other shop, pulling everything from the start, chains through the held place too.
    _, fresh = town.shop("S02", stock=0)
    assert balance(fresh, household) == (191, 200) and audit_ok(fresh) == []


def test_a_price_is_the_one_the_shop_had_when_it_sold(town: Town) -> None:
    _, code = town.household(points=500, shop_id="S01")
    sku = "P" + uuid.uuid4().hex[:6].upper()
    township.put_item(town.record, Item(sku, "毛巾", "条", 5))
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [(sku, 10)], ctx=ADMIN_CTX)
    sold_at_five = services.redeem(store, code, [(sku, 1)], ctx=ADMIN_CTX)  # the shop's price: 5
    township.put_item(town.record, Item(sku, "毛巾", "条", 8))  # the township raises it before the push
    sync(client, store)
    assert not [h for h in held(town, "S01") if h["txn_id"] == sold_at_five.transaction.txn_id]
    with store.read() as unit:
        assert unit.item(sku).points == 8  # type: ignore[union-attr]
    cheap = forge(
        store,
        TxnKind.REDEEM,
        household_id=sold_at_five.transaction.household_id,
        postings=(
            Posting(f"household:{sold_at_five.transaction.household_id}", -5),
            Posting("shop:S01:redeemed", 5),
        ),
        lines=(Line(sku, -1, 5),),
    )  # after pulling 8, still selling at 5
    sync(client, store)
    assert [h["rule"] for h in held(town, "S01") if h["txn_id"] == cheap.txn_id] == ["wrong_price"]


def test_the_township_keeps_or_releases_a_held_transaction_and_says_who_and_why(town: Town) -> None:
    household, _ = town.household(points=100, shop_id="S01")
    client, store = town.shop("S01")
    other_client, other = town.shop("S02")
    awards = [
        forge(
            store,
            TxnKind.AWARD,
            household_id=household,
            postings=(Posting(f"household:{household}", points), Posting("township:awards", -points)),
            memo="扶贫济困",
        )
        for points in (20, 30)
    ]
    sync(client, store)
    kept, released = awards
    reply = town.admin("POST", f"/v1/admin/held/{kept.txn_id}/keep", json={"by": "张主任", "reason": "店里不能发积分"})
    assert reply.status_code == 200, reply.text
    reply = town.admin("POST", f"/v1/admin/held/{released.txn_id}/release", json={"by": "李书记", "reason": "评议通过"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "released" and reply.json()["decided_by"] == "李书记"
    again = town.admin("POST", f"/v1/admin/held/{released.txn_id}/release", json={"by": "李书记", "reason": "再来"})
    assert again.status_code in (409, 422)
    # The released 30 points count everywhere, once, as earned; the kept 20 nowhere.
    assert town.central_balance(household) == (130, 130)
    sync(client, store)
    sync(other_client, other)
    assert balance(store, household) == (130, 130)
    assert balance(other, household) == (130, 130)
    for ledger in (store, other, town.record.store.ledger):
        assert audit_ok(ledger) == []
    with town.record.store.read() as unit:
        open_held = [
            e
            for e in unit.exceptions(status="open", kind="held", limit=100_000)
            if e.txn_ids[0] in {kept.txn_id, released.txn_id}
        ]
    assert open_held == []


def test_the_rule_itself_lets_every_genuine_shop_transaction_through() -> None:
    """The pure rule on transactions the services make (the property tests push thousands more)."""

    class Facts:
        def price_at(self, sku: str, cursor: int) -> int | None:
            return {"SOAP": 3}.get(sku)

        def household_known(self, household_id: str) -> bool:
            return household_id == "H1"

        def redemption(self, txn_id: str) -> Transaction | None:
            return originals.get(txn_id)

        def voided(self, txn_id: str) -> bool:
            return False

    def txn(kind: TxnKind, **fields: Any) -> Transaction:
        base: dict[str, Any] = dict(
            txn_id=str(uuid.uuid4()), device_id="P1", seq=1, kind=kind, created_at="2026-12-06T10:00:00",
            shop_id="S01", operator="1", household_id=None, postings=(), lines=(), memo="", ref_txn_id=None,
            party=None, pull_cursor=5, prev_hash="0" * 64, hash="0" * 64,
        )  # fmt: skip
        return Transaction(**(base | fields))

    sale = txn(
        TxnKind.REDEEM,
        household_id="H1",
        postings=(Posting("household:H1", -6), Posting("shop:S01:redeemed", 6)),
        lines=(Line("SOAP", -2, 3),),
    )
    originals = {sale.txn_id: sale}
    void = txn(
        TxnKind.VOID,
        household_id="H1",
        postings=(Posting("household:H1", 6), Posting("shop:S01:redeemed", -6)),
        lines=(Line("SOAP", 2, 3),),
        ref_txn_id=sale.txn_id,
    )
    genuine: Sequence[Transaction] = (
        sale,
        void,
        txn(
            TxnKind.STOCK_IN,
            lines=(Line("SOAP", 10, 3),),
            postings=(Posting("shop:S01:fund", -500, FEN), Posting("supplier:供销社", 500, FEN)),
        ),
        txn(
            TxnKind.DONATION,
            party="张三",
            postings=(Posting("shop:S01:fund", 100, FEN), Posting("donor:张三", -100, FEN)),
        ),
        txn(TxnKind.STOCK_ADJUST, lines=(Line("SOAP", -1, 3),)),
        txn(TxnKind.WRITE_OFF, lines=(Line("SOAP", -1, 3),), memo="破损"),
        txn(TxnKind.DAY_CLOSE, memo="{}"),
    )
    assert [check_shop_transaction(t, "S01", Facts()) for t in genuine] == [None] * len(genuine)
    dear = dataclasses.replace(
        sale,
        postings=(Posting("household:H1", -8), Posting("shop:S01:redeemed", 8)),
        lines=(Line("SOAP", -2, 4),),
    )
    assert check_shop_transaction(dear, "S01", Facts()) == Violation(
        "wrong_price", {"sku": "SOAP", "points_each": 4, "price": 3}
    )
    assert check_shop_transaction(dear, "S01", Facts(), check_prices=False) is None  # the audit's view
    # The same void pushed by another shop's device; a void of another shop's redemption.
    assert check_shop_transaction(void, "S02", Facts()) == Violation("wrong_shop", {"shop_id": "S01"})
    theirs = dataclasses.replace(void, shop_id="S02")
    assert check_shop_transaction(theirs, "S02", Facts()) == Violation("void_orphan", {"ref": sale.txn_id})


def test_the_township_sees_and_decides_held_transactions_from_the_command_line(
    town: Town, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lovemart.cli import main

    household, _ = town.household(points=100, shop_id="S01")
    client, store = town.shop("S01")
    bad = forge(
        store,
        TxnKind.DEDUCT,
        household_id=household,
        postings=(Posting(f"household:{household}", -40), Posting("township:awards", 40)),
        memo="店里扣的",
    )
    sync(client, store)
    monkeypatch.setenv("LOVEMART_TOKEN", town.admin_token)

    def lovemart(*args: str) -> dict[str, Any]:
        assert main(["--json", "central", *args, "--server", town.url]) == 0
        data: dict[str, Any] = json.loads(capsys.readouterr().out)
        return data

    listed = lovemart("held", "--shop", "S01", "--limit", "1000")
    mine = [h for h in listed["held"] if h["txn_id"] == bad.txn_id]
    assert len(mine) == 1 and mine[0]["rule"] == "township_only" and mine[0]["receipt_no"] == bad.receipt_no
    kept = lovemart("keep", bad.txn_id, "--by", "王会计", "--reason", "扣分要经村委会评议")
    assert kept["status"] == "kept" and kept["decided_by"] == "王会计"
    assert bad.txn_id not in {h["txn_id"] for h in lovemart("held", "--limit", "1000")["held"]}
    assert town.central_balance(household) == (100, 100)


def test_the_audit_applies_the_rule_to_what_was_accepted_before_it_existed(tmp_path: Path) -> None:
    """A central record that stored a shop's award before the rule (as the attack found) fails its audit."""
    from ledger.chain import chain_hash
    from ledger.model import GENESIS_HASH, Household, chained
    from sync.server.record import CentralRecord

    record = CentralRecord.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    try:
        record.initialise("T01", "红星镇")
        township.put_village(record, "V01", "幸福村")
        township.put_shop(record, "S01", "幸福村爱心超市", "V01")
        device = record.enrol({"token": record.new_enrol_token("S01")})["device_id"]
        with record.write() as unit:
            unit.ledger.put_household(Household("H1", "V01", "王秀兰", "S01"))
        draft = TxnDraft(
            txn_id=str(uuid.uuid4()),
            kind=TxnKind.AWARD,
            created_at="2026-12-01T10:00:00+08:00",
            shop_id="S01",
            operator="evil",
            household_id="H1",
            postings=(Posting("household:H1", 5000), Posting("township:awards", -5000)),
        )
        award = chained(draft, device, 1, GENESIS_HASH, chain_hash(GENESIS_HASH, draft, device, 1))
        assert audit_ok(record.store.ledger) == []
        with record.write() as unit:
            unit.ingest([award])  # straight into storage, as the server did before the rule
        problems = services.audit(record.store.ledger).problems
        assert [p.kind for p in problems] == ["authority"] and award.receipt_no in problems[0].detail
    finally:
        record.close()


def test_a_usb_bundle_is_judged_by_the_same_rule_and_its_reply_corrects_the_shop(town: Town) -> None:
    from sync import protocol
    from sync.server import bundles

    household, _ = town.household(points=100, shop_id="S01")
    client, store = town.shop("S01")
    forged = forge(
        store,
        TxnKind.AWARD,
        household_id=household,
        postings=(Posting(f"household:{household}", 900), Posting("township:awards", -900)),
    )
    with store.read() as unit:
        cursor = int(unit.meta("pull_cursor") or 0)
        own = [t for t in unit.journal() if t.device_id == client.device_id]
    message = {
        "v": 1,
        "type": "bundle",
        "shop_id": client.shop_id,
        "device_id": client.device_id,
        "cursor": cursor,
        "created_at": "2026-12-06T10:00:00+08:00",
        "push": protocol.push_message(client.shop_id, client.device_id, own),
    }
    reply = protocol.decode(
        bundles.apply_and_reply(town.record, protocol.encode(bundles.signed(message, client.bundle_key))),
        "bundle_reply",
    )
    assert [h["rule"] for h in held(town, "S01") if h["txn_id"] == forged.txn_id] == ["township_only"]
    assert town.central_balance(household) == (100, 100)
    assert balance(store, household) == (1000, 1000)
    apply_page(store, reply["pull"]["changes"], reply["pull"]["next"])  # the reply, carried back on the stick
    assert balance(store, household) == (100, 100) and audit_ok(store) == []
