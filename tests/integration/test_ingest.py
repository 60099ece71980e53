"""Storing other devices' transactions (what sync pulls and pushes): exactly once, in order, unaltered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Household, Item, Member, Shop, Transaction, TxnKind, Village
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger
from tests.conftest import ADMIN_CTX, TEST_KEY, TEST_POLICY, ShopFixture


def second_shop(path: Path, shop_id: str = "S2", device_id: str = "P2") -> SqlLedgerStore:
    """Shop S2 (device P2) of the same township, with the same household H001 and goods."""
    from ledger.model import Township

    store = open_ledger(path)
    services.set_up_shop(
        store,
        Township("T1", "测试镇", TEST_KEY),
        Village("V1", "幸福村"),
        Shop(shop_id, "二村爱心超市", "V1"),
        device_id,
        TEST_POLICY,
    )
    services.register_household(store, Household("H001", "V1", "张秀英", "S1", members=(Member("张秀英", "户主"),)))
    services.add_item(store, Item("SALT", "食盐", "袋", 20))
    return store


def journal(store: SqlLedgerStore) -> list[Transaction]:
    with store.read() as unit:
        return list(unit.journal())


def ingest(store: SqlLedgerStore, txns: list[Transaction], create_devices: bool = True) -> list[Transaction]:
    with store.write() as unit:
        return unit.ingest(txns, create_devices=create_devices)


@pytest.fixture
def two_shops(shop: ShopFixture, tmp_path: Path) -> tuple[ShopFixture, SqlLedgerStore]:
    shop.household("H001", "张秀英", points=300)
    shop.item("OIL", 60, stock=10, name="食用油")
    other = second_shop(tmp_path / "s2.sqlite3")
    yield shop, other
    other.close()


def test_another_shops_redemption_counts_in_the_balance_but_not_on_our_shelves(two_shops) -> None:
    shop, other = two_shops
    # S2 learns the award from S1's journal, then redeems there.
    assert len(ingest(other, journal(shop.store))) == len(journal(shop.store))
    services.stock_intake(other, [("SALT", 5)], ctx=ADMIN_CTX)
    # A visitor (home shop S1): within the visitor limit of 50.
    services.redeem(other, make_code(TEST_KEY, "H001", 1), [("SALT", 2)], ctx=ADMIN_CTX)
    fresh = ingest(shop.store, [t for t in journal(other) if t.device_id == "P2"])
    assert [t.kind for t in fresh] == [TxnKind.STOCK_IN, TxnKind.REDEEM]
    with shop.store.read() as unit:
        assert unit.balance("H001") == (260, 300)
        assert unit.stock_levels() == {"OIL": 10}  # S2's shelves are not ours
    assert services.audit(shop.store).ok, services.audit(shop.store).problems
    assert services.audit(other).ok, services.audit(other).problems


def test_a_resend_changes_nothing(two_shops) -> None:
    shop, other = two_shops
    txns = journal(shop.store)
    ingest(other, txns)
    before = journal(other)
    assert ingest(other, txns) == []
    assert ingest(other, txns[:1] + txns) == []
    assert journal(other) == before


@pytest.mark.parametrize(
    "spoil, code",
    [
        (lambda t: t[1:], "sync_gap"),
        (lambda t: [replace(t[0], memo="改过的")] + t[1:], "sync_hash_mismatch"),
        (lambda t: [t[0], replace(t[1], prev_hash="0" * 64)] + t[2:], "sync_chain_break"),
    ],
)
def test_gaps_tampering_and_broken_chains_are_refused_whole(two_shops, spoil, code) -> None:
    shop, other = two_shops
    before = journal(other)
    with pytest.raises(LedgerError) as refused:
        ingest(other, spoil(journal(shop.store)))
    assert refused.value.code == code
    assert journal(other) == before


def test_a_reused_id_and_a_fork_are_refused(two_shops, tmp_path: Path) -> None:
    shop, other = two_shops
    txns = journal(shop.store)
    ingest(other, txns)
    with pytest.raises(LedgerError) as reused:
        ingest(other, [replace(txns[-1], memo="别的内容")])
    assert reused.value.code == "sync_id_reused"
    # The same device number given to another transaction: a restored old copy of the ledger kept selling.
    forked = replace(txns[-1], txn_id="00000000-0000-4000-8000-000000000000")
    with pytest.raises(LedgerError) as fork:
        ingest(other, [forked])
    assert fork.value.code == "sync_fork"


def test_unknown_devices_are_refused_unless_allowed(two_shops) -> None:
    shop, other = two_shops
    with pytest.raises(LedgerError) as refused:
        ingest(other, journal(shop.store), create_devices=False)
    assert refused.value.code == "sync_unknown_device"


def test_points_earned_restart_inside_one_batch(two_shops) -> None:
    shop, other = two_shops
    services.close_cycle(shop.store, services.Context(operator=services.ADMIN))
    services.award(shop.store, "H001", 7, "新一年的奖励", ctx=ADMIN_CTX)
    ingest(other, journal(shop.store))
    with other.read() as unit:
        assert unit.balance("H001") == (7, 7)
    assert services.audit(other).ok


def test_one_batch_from_several_devices_interleaved(two_shops, tmp_path: Path) -> None:
    """What a pull brings: the township's order, several devices' transactions side by side."""
    shop, other = two_shops
    ingest(other, journal(shop.store))
    services.stock_intake(other, [("SALT", 5)], ctx=ADMIN_CTX)
    services.redeem(other, make_code(TEST_KEY, "H001", 1), [("SALT", 1)], ctx=ADMIN_CTX)
    services.award(shop.store, "H001", 5, "打扫卫生", ctx=ADMIN_CTX)
    mine = journal(shop.store)
    theirs = [t for t in journal(other) if t.device_id == "P2"]
    interleaved = [t for pair in zip(mine, theirs, strict=False) for t in pair]
    interleaved += mine[len(theirs) :] + theirs[len(mine) :]
    third = second_shop(tmp_path / "s3.sqlite3", "S3", "P3")
    try:
        assert len(ingest(third, interleaved)) == len(mine) + len(theirs)
        with third.read() as unit:
            assert unit.balance("H001") == (300 + 5 - 20, 305)
        assert services.audit(third).ok, services.audit(third).problems
    finally:
        third.close()


def test_replicated_households_and_cards_many_at_once(two_shops) -> None:
    """What a pulled register does: new ones stored, known ones updated, a frozen household stays frozen."""
    from ledger.model import HouseholdStatus, PassbookCard

    shop, _ = two_shops
    services.clear_household(shop.store, "H001", "酒驾", ctx=ADMIN_CTX)
    with shop.store.read() as unit:
        issued = unit.card("H001", 1).issued_at
    renamed = Household("H001", "V1", "张秀英", "S1", members=(Member("张秀英", "户主"), Member("李明", "子")))
    new = [Household(f"H9{k:02d}", "V1", f"新户{k}", "S1", members=(Member(f"新户{k}", "户主"),)) for k in range(3)]
    with shop.store.write() as unit:
        unit.replicate_households([*new, renamed, new[0]])
        unit.replicate_cards(
            [PassbookCard(h.household_id, 1, True, "2026-11-01T08:00:00+08:00") for h in new]
            + [PassbookCard("H001", 1, False, "2026-01-01T00:00:00+08:00", "2026-11-20T09:00:00+08:00")]
        )
    with shop.store.read() as unit:
        kept = unit.household("H001")
        assert kept is not None and kept.status == HouseholdStatus.FROZEN and len(kept.members) == 2
        revoked = unit.card("H001", 1)
        assert revoked is not None and not revoked.active and revoked.issued_at == issued
        assert [unit.household(h.household_id) is not None for h in new] == [True] * 3
        listed = {row.household.household_id: row.balance for row in unit.households()}  # joins the balances
        assert [listed.get(h.household_id) for h in new] == [0, 0, 0]
        assert unit.card("H902", 1) == PassbookCard("H902", 1, True, "2026-11-01T08:00:00+08:00")
    assert services.audit(shop.store).ok, services.audit(shop.store).problems


def test_the_acceptance_rule_is_one_pure_function_both_storages_call(shop: ShopFixture) -> None:
    """``ledger.chain.new_in_chain`` alone: resends skipped, every other misfit refused, nothing half-taken."""
    from ledger.chain import new_in_chain
    from ledger.model import GENESIS_HASH

    shop.household("H001", "张秀英", points=100)
    shop.item("OIL", 60, stock=10, name="食用油")
    services.stock_intake(shop.store, [("OIL", 5)], supplier="供销社", ctx=ADMIN_CTX)
    txns = journal(shop.store)
    assert len(txns) >= 3
    fresh, devices = new_in_chain(txns, {}, {}, create_devices=True)
    assert fresh == txns and [t.device_id for t in devices] == [txns[0].device_id]
    heads = {txns[0].device_id: (txns[0].seq, txns[0].hash)}
    fresh, devices = new_in_chain(txns, {txns[0].txn_id: txns[0].hash}, dict(heads))
    assert fresh == txns[1:] and devices == []  # the first is a resend
    refusals = {
        "sync_gap": ([txns[0], txns[2]], {}, {}),
        "sync_fork": ([replace(txns[0], txn_id="other")], {}, dict(heads)),
        "sync_id_reused": ([replace(txns[0], memo="改过")], {txns[0].txn_id: txns[0].hash}, dict(heads)),
        "sync_chain_break": ([replace(txns[0], prev_hash="f" * 64)], {}, {}),
        "sync_hash_mismatch": ([replace(txns[0], memo="改过")], {}, {}),
        "sync_unknown_device": ([txns[0]], {}, {}),
    }
    for code, (given, known, start) in refusals.items():
        with pytest.raises(LedgerError) as refused:
            new_in_chain(given, known, start, create_devices=code != "sync_unknown_device")
        assert refused.value.code == code
    assert new_in_chain([], {}, {}) == ([], [])
    assert new_in_chain(txns[:1], {}, {}, create_devices=True)[0][0].prev_hash == GENESIS_HASH


def test_the_sync_outbox_reads_a_devices_transactions_in_a_few_statements(two_shops) -> None:
    """What ``lovemart sync`` pushes: this device's transactions after the acknowledged one, whole and in order,
    read in a handful of statements however many there are (it took three a transaction)."""
    from sqlalchemy import event

    shop, other = two_shops
    ingest(other, journal(shop.store))  # another device's transactions in between
    for _ in range(30):
        services.stock_intake(other, [("SALT", 1)], supplier="供销社", ctx=ADMIN_CTX)
    own = [t for t in journal(other) if t.device_id == "P2"]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = other.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with other.read() as unit:
            batch = unit.device_transactions("P2", 5, 1000)
            statements_for_batch = len([s for s in statements if "FROM" in s])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert batch == own[5:]
    assert statements_for_batch <= 4
    with other.read() as unit:
        assert unit.device_transactions("P2", 0, 3) == own[:3]
        assert unit.device_transactions("P2", len(own), 10) == []
