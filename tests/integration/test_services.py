"""Every service of the ledger, and every bad input it must refuse without changing anything."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.model import (
    FEN,
    POINTS,
    TOWNSHIP_AWARDS,
    TOWNSHIP_CLEARED,
    TOWNSHIP_EXPIRED,
    Item,
    Operator,
    Posting,
    Role,
    TxnKind,
    donor_account,
    household_account,
    receipt_number,
    shop_account,
)
from ledger.passbook import make_code
from ledger.services import ADMIN, Context
from tests.conftest import ADMIN_CTX, TEST_KEY, TEST_POLICY

CLERK = Operator("c1", "店员", Role.CLERK)
MANAGER = Operator("m1", "店长", Role.MANAGER)
NOW = datetime(2024, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def fixed_clock(when: datetime = NOW) -> Callable[[], datetime]:
    return lambda: when


# ----- helpers: a refusal changes nothing ------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    households: tuple[Any, ...]
    stock: tuple[tuple[str, int], ...]
    journal: tuple[str, ...]
    print_jobs: int
    operators: tuple[Any, ...]
    cards: tuple[Any, ...]
    items: tuple[Any, ...]


def snapshot(store) -> Snapshot:
    with store.read() as unit:
        rows = unit.households()
        return Snapshot(
            households=tuple((r.household, r.balance, r.earned_cycle, r.card_no) for r in rows),
            stock=tuple(sorted(unit.stock_levels().items())),
            journal=tuple(t.txn_id for t in unit.journal()),
            print_jobs=len(unit.print_jobs()),
            operators=tuple(unit.operators()),
            cards=tuple(c for r in rows for c in unit.cards(r.household.household_id)),
            items=tuple(unit.items()),
        )


def refuse(store, code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> LedgerError:
    """Call ``fn``, expect the refusal ``code``, and check that the ledger did not change."""
    before = snapshot(store)
    with pytest.raises(LedgerError) as caught:
        fn(*args, **kwargs)
    error = caught.value
    call = f"{getattr(fn, '__name__', fn)}{args[1:]!r}{kwargs or ''}"
    assert error.code == code, f"{call}: refused with {error.code} ({error}) instead of {code}"
    for lang in ("zh", "en"):
        message = error.message(lang)
        assert message and "{" not in message, f"unfilled message for {code}: {message!r}"
    assert snapshot(store) == before, f"{call}: refusal {code} changed the ledger"
    return error


def count(store) -> int:
    with store.read() as unit:
        return sum(1 for _ in unit.journal())


def balance(store, household_id: str) -> tuple[int, int]:
    with store.read() as unit:
        return unit.balance(household_id)


def stock(store, sku: str) -> int:
    with store.read() as unit:
        return unit.stock(sku)


def audit_ok(store) -> None:
    report = services.audit(store)
    assert report.ok, report.problems


# ----- redemption -----------------------------------------------------------------------------


def test_redeem_takes_points_and_goods(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    any_shop.item("SOAP", 5, stock=4)
    n = count(store)
    receipt = services.redeem(store, code, [("RICE", 2), ("SOAP", 3)], ctx=ADMIN_CTX)
    txn = receipt.transaction
    assert txn.kind == TxnKind.REDEEM
    assert txn.household_id == "H1"
    assert sorted(txn.postings, key=lambda p: p.account) == sorted(
        [
            Posting(household_account("H1"), -75),
            Posting(shop_account("S1", "redeemed"), 75),
        ],
        key=lambda p: p.account,
    )
    assert sorted((ln.sku, ln.qty, ln.points_each) for ln in txn.lines) == [("RICE", -2, 30), ("SOAP", -3, 5)]
    assert (receipt.redeemable_before, receipt.redeemable_after, receipt.balance_after) == (200, 125, 225)
    assert receipt.household_name == "张三"
    assert txn.receipt_no == receipt_number("S1", "P1", txn.seq) == f"S1-P1-{txn.seq:06d}"
    assert len(txn.hash) == 64
    assert count(store) == n + 1
    assert balance(store, "H1") == (225, 300)  # redeeming does not lower points earned
    assert (stock(store, "RICE"), stock(store, "SOAP")) == (8, 1)
    view = services.balance_for_code(store, code)
    assert (view.balance, view.redeemable, view.earned_cycle) == (225, 125, 300)
    with store.read() as unit:
        assert [(j.txn_id, j.kind) for j in unit.print_jobs()][-1] == (txn.txn_id, "redeem")
    audit_ok(store)


def test_redeem_same_sku_on_two_lines_is_merged(shop):
    code = shop.household("H1", points=300)
    shop.item("RICE", 10, stock=5)
    receipt = services.redeem(shop.store, code, [("RICE", 2), ("RICE", 3)], ctx=ADMIN_CTX)
    assert [(ln.sku, ln.qty) for ln in receipt.transaction.lines] == [("RICE", -5)]
    assert stock(shop.store, "RICE") == 0
    audit_ok(shop.store)


BAD_PASSBOOKS = [
    ("not a code", "passbook_malformed"),
    ("", "passbook_malformed"),
    ("LM1:H1:1:AAAAAA", "passbook_forged"),
    (make_code(b"some other township key", "H1", 1), "passbook_forged"),
    (make_code(TEST_KEY, "H404", 1), "passbook_unknown"),
    (make_code(TEST_KEY, "H1", 5), "passbook_unknown"),
]


def test_redeem_refuses_bad_passbooks(any_shop):
    any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    for text, code in BAD_PASSBOOKS:
        refuse(any_shop.store, code, services.redeem, any_shop.store, text, [("RICE", 1)], ctx=ADMIN_CTX)
        refuse(any_shop.store, code, services.balance_for_code, any_shop.store, text)
    audit_ok(any_shop.store)


def test_redeem_refuses_revoked_passbook(shop):
    old = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=10)
    services.reissue_passbook(shop.store, "H1")
    error = refuse(shop.store, "passbook_revoked", services.redeem, shop.store, old, [("RICE", 1)], ctx=ADMIN_CTX)
    assert error.params["card_no"] == 1
    receipt = services.redeem(shop.store, make_code(TEST_KEY, "H1", 2), [("RICE", 1)], ctx=ADMIN_CTX)
    assert receipt.balance_after == 270
    audit_ok(shop.store)


def test_frozen_household_cannot_redeem_until_unfrozen(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    services.redeem(store, code, [("RICE", 1)], ctx=ADMIN_CTX)
    clearing = services.clear_household(store, "H1", "弄虚作假", Context(MANAGER))
    assert clearing.kind == TxnKind.CLEARING
    assert clearing.points_of(household_account("H1")) == -270
    assert clearing.points_of(TOWNSHIP_CLEARED) == 270
    assert balance(store, "H1") == (0, 0)  # balance and points earned are both cleared
    view = services.balance_for_code(store, code)
    assert (view.status, view.redeemable) == ("frozen", 0)

    error = refuse(store, "household_frozen", services.redeem, store, code, [("RICE", 1)], ctx=ADMIN_CTX)
    assert "张三" in error.message("zh")
    # a frozen household receives no award while frozen (issue 14), and spends nothing
    refuse(store, "household_frozen_no_award", services.award, store, "H1", 500, "好人好事", ctx=ADMIN_CTX)
    refuse(store, "household_frozen", services.redeem, store, code, [("RICE", 1)], ctx=ADMIN_CTX)

    services.unfreeze(store, "H1", "整改到位", Context(MANAGER))
    services.award(store, "H1", 500, "好人好事", ctx=ADMIN_CTX)
    view = services.balance_for_code(store, code)
    assert (view.status, view.balance, view.redeemable) == ("active", 500, 400)
    receipt = services.redeem(store, code, [("RICE", 1)], ctx=ADMIN_CTX)
    assert receipt.balance_after == 470
    audit_ok(store)


def test_clearing_and_unfreezing_need_a_manager_and_a_reason(shop):
    shop.household("H1", points=300)
    store = shop.store
    refuse(store, "manager_required", services.clear_household, store, "H1", "违规", Context(CLERK))
    refuse(store, "reason_required", services.clear_household, store, "H1", "  ", Context(MANAGER))
    refuse(store, "household_unknown", services.clear_household, store, "H404", "违规", Context(MANAGER))
    refuse(store, "nothing_to_do", services.unfreeze, store, "H1", "整改", Context(MANAGER))  # not frozen
    services.clear_household(store, "H1", "违规", Context(MANAGER))
    refuse(store, "manager_required", services.unfreeze, store, "H1", "整改", Context(CLERK))
    refuse(store, "reason_required", services.unfreeze, store, "H1", "", Context(MANAGER))
    refuse(store, "household_unknown", services.unfreeze, store, "H404", "整改", Context(MANAGER))
    services.unfreeze(store, "H1", "整改", Context(MANAGER))
    refuse(store, "nothing_to_do", services.unfreeze, store, "H1", "整改", Context(MANAGER))  # already unfrozen
    audit_ok(store)


def test_clearing_a_household_in_debt_freezes_it_and_keeps_the_debt(shop):
    store = shop.store
    shop.household("H1", points=20)
    services.deduct(store, "H1", 50, "乱扔垃圾", ctx=ADMIN_CTX)
    assert balance(store, "H1") == (-30, -30)
    txn = services.clear_household(store, "H1", "违规", Context(MANAGER))
    assert txn.postings == ()
    assert balance(store, "H1") == (-30, 0)
    assert services.balance_for_household(store, "H1").status == "frozen"
    audit_ok(store)


def test_only_points_above_the_floor_are_redeemable(any_shop):
    store = any_shop.store
    assert TEST_POLICY.redeemable_floor == 100
    code = any_shop.household("H1", points=130)
    any_shop.item("ONE", 1, stock=100)
    assert services.balance_for_code(store, code).redeemable == 30
    error = refuse(store, "insufficient_points", services.redeem, store, code, [("ONE", 31)], ctx=ADMIN_CTX)
    assert (error.params["needed"], error.params["redeemable"]) == (31, 30)
    assert "31" in error.message("zh") and "30" in error.message("zh")
    receipt = services.redeem(store, code, [("ONE", 30)], ctx=ADMIN_CTX)
    assert (receipt.redeemable_after, receipt.balance_after) == (0, 100)
    refuse(store, "insufficient_points", services.redeem, store, code, [("ONE", 1)], ctx=ADMIN_CTX)
    audit_ok(store)


def test_nothing_is_redeemable_below_the_floor_or_in_debt(shop):
    store = shop.store
    low = shop.household("H1", points=80)
    debt = shop.household("H2", points=10)
    services.deduct(store, "H2", 40, "违规", ctx=ADMIN_CTX)
    shop.item("ONE", 1, stock=10)
    for code in (low, debt):
        assert services.balance_for_code(store, code).redeemable == 0
        refuse(store, "insufficient_points", services.redeem, store, code, [("ONE", 1)], ctx=ADMIN_CTX)
    audit_ok(store)


def test_visitor_redeems_at_most_the_visitor_limit(any_shop):
    store = any_shop.store
    assert TEST_POLICY.visitor_limit == 50
    code = any_shop.household("V1", points=1000, home_shop="S2")
    any_shop.item("TEN", 10, stock=20)
    view = services.balance_for_code(store, code)
    assert (view.balance, view.redeemable) == (1000, 50)
    error = refuse(store, "visitor_limit", services.redeem, store, code, [("TEN", 6)], ctx=ADMIN_CTX)
    assert error.params["limit"] == 50
    receipt = services.redeem(store, code, [("TEN", 5)], ctx=ADMIN_CTX)
    assert receipt.balance_after == 950
    audit_ok(store)


def test_visitor_with_few_points_gets_insufficient_points(shop):
    store = shop.store
    code = shop.household("V1", points=120, home_shop="S2")
    shop.item("TEN", 10, stock=20)
    assert services.balance_for_code(store, code).redeemable == 20
    refuse(store, "insufficient_points", services.redeem, store, code, [("TEN", 3)], ctx=ADMIN_CTX)
    audit_ok(store)


def test_visitor_receipt_shows_what_the_ledger_shows_after(shop):
    store = shop.store
    code = shop.household("V1", points=1000, home_shop="S2")
    shop.item("TEN", 10, stock=20)
    receipt = services.redeem(store, code, [("TEN", 3)], ctx=ADMIN_CTX)
    assert receipt.redeemable_before == 50
    assert receipt.redeemable_after == services.balance_for_code(store, code).redeemable == 20


def test_visitor_limit_bounds_repeated_redemptions_until_a_void(shop):
    store = shop.store
    code = shop.household("V1", points=1000, home_shop="S2")
    shop.item("TEN", 10, stock=20)
    first = services.redeem(store, code, [("TEN", 3)], ctx=ADMIN_CTX)
    services.redeem(store, code, [("TEN", 2)], ctx=ADMIN_CTX)
    assert services.balance_for_code(store, code).redeemable == 0
    refuse(store, "visitor_limit", services.redeem, store, code, [("TEN", 1)], ctx=ADMIN_CTX)
    services.void(store, first.transaction.receipt_no, "输错", ctx=ADMIN_CTX)
    assert services.balance_for_code(store, code).redeemable == 30
    audit_ok(store)


def test_visitor_redeem_retry_returns_the_same_receipt(shop):
    store = shop.store
    code = shop.household("V1", points=1000, home_shop="S2")
    shop.item("TEN", 10, stock=20)
    txn_id = str(uuid.uuid4())
    first = services.redeem(store, code, [("TEN", 3)], txn_id=txn_id, ctx=ADMIN_CTX)
    again = services.redeem(store, code, [("TEN", 3)], txn_id=txn_id, ctx=ADMIN_CTX)
    assert again.transaction == first.transaction  # the ledger part is right...
    assert again == first  # ...the printed figures are not


def test_long_unsynced_shop_applies_the_visitor_limit_to_everyone(shop):
    store = shop.store
    code = shop.household("H1", points=1000)
    shop.item("TEN", 10, stock=20)
    max_days = TEST_POLICY.max_offline_days
    with store.write() as unit:
        unit.set_meta("last_synced", (NOW - timedelta(days=max_days)).isoformat())
    assert services.balance_for_code(store, code, clock=fixed_clock()).redeemable == 900
    with store.write() as unit:
        unit.set_meta("last_synced", (NOW - timedelta(days=max_days + 1)).isoformat())
    assert services.balance_for_code(store, code, clock=fixed_clock()).redeemable == 50
    ctx = Context(ADMIN, fixed_clock())
    refuse(store, "visitor_limit", services.redeem, store, code, [("TEN", 6)], ctx)
    services.redeem(store, code, [("TEN", 5)], ctx)
    audit_ok(store)


def test_unknown_and_withdrawn_items_are_refused(shop):
    store = shop.store
    code = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=10)
    services.add_item(store, Item("OLD", "旧商品", "件", 5, active=False))
    services.stock_intake(store, [("OLD", 5)], ctx=ADMIN_CTX)
    error = refuse(store, "unknown_sku", services.redeem, store, code, [("RICE", 1), ("NOPE", 1)], ctx=ADMIN_CTX)
    assert "NOPE" in error.message("zh")
    refuse(store, "item_inactive", services.redeem, store, code, [("OLD", 1)], ctx=ADMIN_CTX)
    refuse(store, "empty_cart", services.redeem, store, code, [], ctx=ADMIN_CTX)
    audit_ok(store)


BAD_QUANTITIES = [0, -1, -100, 1.5, 2.0, True, False, 100, 10**12, "2", None]


def test_bad_quantities_are_refused(any_shop):
    store = any_shop.store
    assert TEST_POLICY.max_quantity == 99
    code = any_shop.household("H1", points=10_000)
    any_shop.item("ONE", 1, stock=500)
    for qty in BAD_QUANTITIES:
        refuse(store, "bad_quantity", services.redeem, store, code, [("ONE", qty)], ctx=ADMIN_CTX)
        refuse(store, "bad_quantity", services.redeem, store, code, [("ONE", 1), ("ONE", qty)], ctx=ADMIN_CTX)
    services.redeem(store, code, [("ONE", 99)], ctx=ADMIN_CTX)  # the maximum is allowed
    audit_ok(store)


def test_quantity_limit_applies_to_the_merged_cart(shop):
    store = shop.store
    code = shop.household("H1", points=10_000)
    shop.item("ONE", 1, stock=500)
    refuse(store, "bad_quantity_total", services.redeem, store, code, [("ONE", 60), ("ONE", 40)], ctx=ADMIN_CTX)
    receipt = services.redeem(store, code, [("ONE", 60), ("ONE", 39)], ctx=ADMIN_CTX)
    assert receipt.transaction.lines[0].qty == -99
    audit_ok(store)


def test_stock_can_never_go_negative(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=1000)
    any_shop.item("RICE", 30, stock=3)
    any_shop.item("SOAP", 5)  # never stocked
    error = refuse(store, "out_of_stock", services.redeem, store, code, [("RICE", 4)], ctx=ADMIN_CTX)
    assert (error.params["wanted"], error.params["on_hand"]) == (4, 3)
    refuse(store, "out_of_stock", services.redeem, store, code, [("RICE", 2), ("RICE", 2)], ctx=ADMIN_CTX)
    refuse(store, "out_of_stock", services.redeem, store, code, [("RICE", 1), ("SOAP", 1)], ctx=ADMIN_CTX)
    services.redeem(store, code, [("RICE", 3)], ctx=ADMIN_CTX)
    assert stock(store, "RICE") == 0
    refuse(store, "out_of_stock", services.redeem, store, code, [("RICE", 1)], ctx=ADMIN_CTX)
    audit_ok(store)


def test_redeem_is_idempotent_with_the_same_txn_id(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    txn_id = str(uuid.uuid4())
    first = services.redeem(store, code, [("RICE", 2)], txn_id=txn_id, ctx=ADMIN_CTX)
    n = count(store)
    before = snapshot(store)
    second = services.redeem(store, code, [("RICE", 2)], txn_id=txn_id, ctx=ADMIN_CTX)
    assert second == first
    assert second.transaction.txn_id == txn_id
    assert snapshot(store) == before
    assert count(store) == n
    assert balance(store, "H1") == (240, 300)
    assert stock(store, "RICE") == 8
    audit_ok(store)


def test_redeem_retry_after_more_activity_returns_the_original_transaction(shop):
    store = shop.store
    code = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=10)
    txn_id = str(uuid.uuid4())
    first = services.redeem(store, code, [("RICE", 2)], txn_id=txn_id, ctx=ADMIN_CTX)
    services.award(store, "H1", 40, "清洁", ctx=ADMIN_CTX)
    n = count(store)
    again = services.redeem(store, code, [("RICE", 2)], txn_id=txn_id, ctx=ADMIN_CTX)
    assert again.transaction == first.transaction
    assert count(store) == n
    assert stock(store, "RICE") == 8
    audit_ok(store)


# ----- void ---------------------------------------------------------------------------------


def test_void_returns_points_and_goods(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    before = (balance(store, "H1"), stock(store, "RICE"))
    receipt = services.redeem(store, code, [("RICE", 3)], ctx=ADMIN_CTX)
    voided = services.void(store, receipt.transaction.receipt_no, "扫错了", Context(MANAGER))
    txn = voided.transaction
    assert txn.kind == TxnKind.VOID
    assert txn.ref_txn_id == receipt.transaction.txn_id
    assert txn.memo == "扫错了"
    assert txn.operator == "m1"
    assert txn.points_of(household_account("H1")) == 90
    assert [(ln.sku, ln.qty) for ln in txn.lines] == [("RICE", 3)]
    assert (voided.redeemable_before, voided.redeemable_after, voided.balance_after) == (110, 200, 300)
    assert (balance(store, "H1"), stock(store, "RICE")) == before
    with store.read() as unit:
        assert unit.voiding(receipt.transaction.txn_id) == txn
    audit_ok(store)


def test_void_refusals(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    receipt = services.redeem(store, code, [("RICE", 1)], ctx=ADMIN_CTX)
    number = receipt.transaction.receipt_no
    m = Context(MANAGER)
    refuse(store, "receipt_unknown", services.void, store, "S1-P1-999999", "错", m)
    refuse(store, "receipt_unknown", services.void, store, "S2-P1-" + number.split("-")[2], "错", m)
    refuse(store, "receipt_unknown", services.void, store, "rubbish", "错", m)
    refuse(store, "receipt_unknown", services.void, store, "", "错", m)
    refuse(store, "manager_required", services.void, store, number, "错", Context(CLERK))
    refuse(store, "reason_required", services.void, store, number, "", m)
    refuse(store, "reason_required", services.void, store, number, " \t\n", m)
    award = services.award(store, "H1", 5, "清洁", ctx=ADMIN_CTX)
    refuse(store, "not_voidable", services.void, store, award.receipt_no, "错", m)

    voided = services.void(store, number.lower(), "错", m)  # typed in lowercase: still found
    error = refuse(store, "already_voided", services.void, store, number, "错", m)
    assert error.params["void_receipt_no"] == voided.transaction.receipt_no
    refuse(store, "not_voidable", services.void, store, voided.transaction.receipt_no, "错", m)
    assert balance(store, "H1") == (305, 305)
    audit_ok(store)


def test_voided_redemption_can_be_redeemed_again(shop):
    store = shop.store
    code = shop.household("H1", points=130)
    shop.item("TEN", 10, stock=3)
    receipt = services.redeem(store, code, [("TEN", 3)], ctx=ADMIN_CTX)
    refuse(store, "out_of_stock", services.redeem, store, code, [("TEN", 1)], ctx=ADMIN_CTX)
    services.void(store, receipt.transaction.receipt_no, "退货", ctx=ADMIN_CTX)
    again = services.redeem(store, code, [("TEN", 3)], ctx=ADMIN_CTX)
    assert (again.redeemable_after, stock(store, "TEN")) == (0, 0)
    audit_ok(store)


# ----- awards and deductions ------------------------------------------------------------------


def test_award_and_deduct_move_balance_and_points_earned(any_shop):
    store = any_shop.store
    any_shop.household("H1")
    txn = services.award(store, "H1", 120, "  清洁庭院  ", ctx=ADMIN_CTX)
    assert txn.kind == TxnKind.AWARD and txn.memo == "清洁庭院"
    assert txn.points_of(household_account("H1")) == 120
    assert txn.points_of(TOWNSHIP_AWARDS) == -120
    services.deduct(store, "H1", 30, "乱扔垃圾", ctx=ADMIN_CTX)
    assert balance(store, "H1") == (90, 90)
    services.deduct(store, "H1", 100, "乱扔垃圾", ctx=ADMIN_CTX)
    assert balance(store, "H1") == (-10, -10)  # the balance may go below zero
    assert services.balance_for_household(store, "H1").redeemable == 0
    audit_ok(store)


BAD_POINTS = [0, -1, -500, 1.5, 10.0, True, 10_001, 10**15, "10", None]


@pytest.mark.parametrize("service", [services.award, services.deduct])
def test_award_and_deduct_refuse_bad_points(shop, service):
    shop.household("H1", points=200)
    for points in BAD_POINTS:
        refuse(shop.store, "bad_points", service, shop.store, "H1", points, "原因", ctx=ADMIN_CTX)
    audit_ok(shop.store)


@pytest.mark.parametrize("service", [services.award, services.deduct])
def test_award_and_deduct_refuse_unknown_household_and_missing_reason(shop, service):
    shop.household("H1", points=200)
    refuse(shop.store, "household_unknown", service, shop.store, "H404", 10, "原因", ctx=ADMIN_CTX)
    refuse(shop.store, "reason_required", service, shop.store, "H1", 10, "", ctx=ADMIN_CTX)
    refuse(shop.store, "reason_required", service, shop.store, "H1", 10, "   ", ctx=ADMIN_CTX)
    service(shop.store, "H1", TEST_POLICY.max_points_per_award, "原因", ADMIN_CTX)  # the maximum is allowed
    audit_ok(shop.store)


def test_base_grant_once_per_cycle(any_shop):
    store = any_shop.store
    any_shop.household("H1")
    any_shop.household("H2", points=30)
    any_shop.household("H3", points=10)
    services.clear_household(store, "H3", "违规", Context(MANAGER))
    granted = services.grant_base(store, ctx=ADMIN_CTX)
    assert sorted(t.household_id for t in granted) == ["H1", "H2"]  # frozen households get nothing
    assert all(t.kind == TxnKind.BASE_GRANT for t in granted)
    assert balance(store, "H1") == (100, 100)
    assert balance(store, "H2") == (130, 130)
    assert balance(store, "H3") == (0, 0)
    # base points are not redeemable: only points above the floor are
    assert services.balance_for_household(store, "H1").redeemable == 0
    refuse(store, "nothing_to_do", services.grant_base, store, ctx=ADMIN_CTX)
    services.close_cycle(store, Context(MANAGER))
    again = services.grant_base(store, ctx=ADMIN_CTX)
    assert sorted(t.household_id for t in again) == ["H1", "H2"]
    assert balance(store, "H1") == (100, 100)
    refuse(store, "nothing_to_do", services.grant_base, store, ctx=ADMIN_CTX)
    audit_ok(store)


def test_base_grant_without_base_points_does_nothing(shop):
    shop.household("H1")
    with shop.store.write() as unit:
        unit.put_policy(replace(TEST_POLICY, version=2, base_points=0, redeemable_floor=0))
    refuse(shop.store, "nothing_to_do", services.grant_base, shop.store, ctx=ADMIN_CTX)


def test_close_cycle_expires_balances_and_resets_points_earned(any_shop):
    store = any_shop.store
    code = any_shop.household("H1", points=300)
    any_shop.household("H2", points=10)
    services.deduct(store, "H2", 40, "违规", ctx=ADMIN_CTX)
    any_shop.household("H3")
    any_shop.item("RICE", 30, stock=10)
    services.redeem(store, code, [("RICE", 2)], ctx=ADMIN_CTX)
    assert balance(store, "H1") == (240, 300)
    n = count(store)
    closed = services.close_cycle(store, Context(MANAGER))
    assert sorted(t.household_id for t in closed) == ["H1", "H2"]  # H3 had nothing to close
    assert count(store) == n + 2
    h1 = next(t for t in closed if t.household_id == "H1")
    assert h1.kind == TxnKind.CYCLE_CLOSE
    assert h1.points_of(household_account("H1")) == -240
    assert h1.points_of(TOWNSHIP_EXPIRED) == 240
    assert balance(store, "H1") == (0, 0)
    assert balance(store, "H2") == (-30, 0)  # a debt is not forgiven by the new cycle
    assert stock(store, "RICE") == 8  # goods do not expire
    services.award(store, "H1", 15, "清洁", ctx=ADMIN_CTX)
    assert balance(store, "H1") == (15, 15)
    audit_ok(store)


def test_close_cycle_refusals(shop):
    shop.household("H1", points=300)
    refuse(shop.store, "manager_required", services.close_cycle, shop.store, Context(CLERK))
    with shop.store.write() as unit:
        unit.put_policy(replace(TEST_POLICY, version=2, cycle="none"))
    refuse(shop.store, "policy_invalid", services.close_cycle, shop.store, Context(MANAGER))
    assert balance(shop.store, "H1") == (300, 300)
    audit_ok(shop.store)


# ----- donations and stock ----------------------------------------------------------------------


def test_money_and_goods_donations(any_shop):
    store = any_shop.store
    any_shop.item("OIL", 40)
    money = services.record_donation(store, " 幸福公司 ", amount_fen=50_000, memo="春节", ctx=ADMIN_CTX)
    assert money.kind == TxnKind.DONATION and money.party == "幸福公司"
    assert sorted((p.account, p.unit, p.amount) for p in money.postings) == sorted(
        [(shop_account("S1", "fund"), FEN, 50_000), (donor_account("幸福公司"), FEN, -50_000)]
    )
    assert money.lines == ()
    goods = services.record_donation(store, "李四", goods=[("OIL", 12)], ctx=ADMIN_CTX)
    assert goods.postings == ()
    assert [(ln.sku, ln.qty) for ln in goods.lines] == [("OIL", 12)]
    both = services.record_donation(store, "王五", amount_fen=100, goods=[("OIL", 1)], ctx=ADMIN_CTX)
    assert len(both.postings) == 2 and len(both.lines) == 1
    assert stock(any_shop.store, "OIL") == 13
    with store.read() as unit:
        assert [j.kind for j in unit.print_jobs()].count("donation") == 3
    audit_ok(store)


DONATION_REFUSALS = [
    ("", 100, (), "donor_required"),
    ("   ", 100, (), "donor_required"),
    ("李四", 0, (), "donation_empty"),
    ("李四", -100, (), "bad_amount"),
    ("李四", -100, (("OIL", 1),), "bad_amount"),
    ("李四", 1.5, (), "bad_amount"),
    ("李四", True, (), "bad_amount"),
    ("李四", "100", (), "bad_amount"),
    ("李四", 0, (("NOPE", 1),), "unknown_sku"),
    ("李四", 0, (("OIL", 0),), "bad_quantity"),
    ("李四", 0, (("OIL", -3),), "bad_quantity"),
    ("李四", 0, (("OIL", 2.5),), "bad_quantity"),
    ("李四", 100, (("OIL", 1), ("NOPE", 1)), "unknown_sku"),
]


def test_donation_refusals(any_shop):
    any_shop.item("OIL", 40, stock=2)
    for donor, amount, goods, code in DONATION_REFUSALS:
        refuse(
            any_shop.store,
            code,
            services.record_donation,
            any_shop.store,
            donor,
            amount_fen=amount,
            goods=list(goods),
            ctx=ADMIN_CTX,
        )
    audit_ok(any_shop.store)


def test_stock_intake(any_shop):
    store = any_shop.store
    any_shop.item("RICE", 30)
    any_shop.item("OIL", 40)
    txn = services.stock_intake(store, [("RICE", 5000), ("OIL", 7)], supplier="供销社", cost_fen=123_456, ctx=ADMIN_CTX)
    assert txn.kind == TxnKind.STOCK_IN and txn.party == "供销社"
    assert sorted((p.unit, p.amount) for p in txn.postings) == [(FEN, -123_456), (FEN, 123_456)]
    assert (stock(store, "RICE"), stock(store, "OIL")) == (5000, 7)  # deliveries exceed the cart limit
    free = services.stock_intake(store, [("OIL", 1)], ctx=ADMIN_CTX)
    assert free.postings == ()
    assert stock(store, "OIL") == 8
    audit_ok(store)


INTAKE_REFUSALS = [
    ([("NOPE", 1)], 0, "unknown_sku"),
    ([("RICE", 1), ("NOPE", 1)], 0, "unknown_sku"),
    ([("RICE", 0)], 0, "bad_quantity"),
    ([("RICE", -5)], 0, "bad_quantity"),
    ([("RICE", 1.5)], 0, "bad_quantity"),
    ([("RICE", True)], 0, "bad_quantity"),
    ([("RICE", 100_001)], 0, "bad_quantity"),
    ([], 0, "empty_cart"),
    ([("RICE", 1)], -1, "bad_amount"),
    ([("RICE", 1)], 2.5, "bad_amount"),
]


def test_stock_intake_refusals(shop):
    shop.item("RICE", 30, stock=3)
    for goods, cost, code in INTAKE_REFUSALS:
        refuse(shop.store, code, services.stock_intake, shop.store, goods, supplier="x", cost_fen=cost, ctx=ADMIN_CTX)
    audit_ok(shop.store)


def test_stock_count_preview_and_adjustment(any_shop):
    store = any_shop.store
    any_shop.item("RICE", 30, stock=10)
    any_shop.item("OIL", 40, stock=5)
    any_shop.item("SALT", 3, stock=2)
    n = count(store)
    counted = {"RICE": 8, "OIL": 5, "SALT": 6}
    preview = services.preview_count(store, counted)
    assert {(d.sku, d.expected, d.counted, d.difference) for d in preview} == {
        ("RICE", 10, 8, -2),
        ("OIL", 5, 5, 0),
        ("SALT", 2, 6, 4),
    }
    assert count(store) == n  # a preview writes nothing
    txn, differences = services.stock_count(store, counted, memo="月底盘点", ctx=ADMIN_CTX)
    assert differences == preview
    assert txn.kind == TxnKind.STOCK_ADJUST
    assert sorted((ln.sku, ln.qty) for ln in txn.lines) == [("RICE", -2), ("SALT", 4)]
    assert txn.memo.startswith("月底盘点")
    assert {sku: stock(store, sku) for sku in counted} == counted
    assert count(store) == n + 1
    # counting again changes nothing but is still recorded
    txn2, again = services.stock_count(store, counted, ctx=ADMIN_CTX)
    assert txn2.lines == () and all(d.difference == 0 for d in again)
    assert {sku: stock(store, sku) for sku in counted} == counted
    audit_ok(store)


COUNT_REFUSALS = [
    ({}, "empty_cart"),
    ({"NOPE": 1}, "unknown_sku"),
    ({"RICE": -1}, "count_quantity"),
    ({"RICE": 1.5}, "count_quantity"),
    ({"RICE": True}, "count_quantity"),
    ({"RICE": "3"}, "count_quantity"),
    ({"RICE": 10**9}, "count_quantity"),
    ({"RICE": 3, "NOPE": 1}, "unknown_sku"),
]


def test_stock_count_refusals(shop):
    shop.item("RICE", 30, stock=10)
    for counted, code in COUNT_REFUSALS:
        refuse(shop.store, code, services.stock_count, shop.store, counted, ctx=ADMIN_CTX)
        if counted:
            refuse(shop.store, code, services.preview_count, shop.store, counted)
    audit_ok(shop.store)


def test_write_off(any_shop):
    store = any_shop.store
    any_shop.item("EGG", 2, stock=10)
    refuse(store, "out_of_stock", services.write_off, store, "EGG", 11, "摔碎", ctx=ADMIN_CTX)
    txn = services.write_off(store, "EGG", 10, "摔碎", ctx=ADMIN_CTX)
    assert txn.kind == TxnKind.WRITE_OFF and txn.memo == "摔碎"
    assert [(ln.sku, ln.qty) for ln in txn.lines] == [("EGG", -10)]
    assert stock(store, "EGG") == 0
    refuse(store, "out_of_stock", services.write_off, store, "EGG", 1, "摔碎", ctx=ADMIN_CTX)
    audit_ok(store)


WRITE_OFF_REFUSALS = [
    ("NOPE", 1, "坏了", "unknown_sku"),
    ("EGG", 0, "坏了", "bad_quantity"),
    ("EGG", -1, "坏了", "bad_quantity"),
    ("EGG", 1.5, "坏了", "bad_quantity"),
    ("EGG", 1, "", "reason_required"),
    ("EGG", 1, "  ", "reason_required"),
]


def test_write_off_refusals(shop):
    shop.item("EGG", 2, stock=3)
    for sku, qty, reason, code in WRITE_OFF_REFUSALS:
        refuse(shop.store, code, services.write_off, shop.store, sku, qty, reason, ctx=ADMIN_CTX)
    audit_ok(shop.store)


# ----- operators ------------------------------------------------------------------------------


BAD_PINS = ["", "1", "123", "123456789", "12a4", "abcd", "12 34", " 1234", "1234 ", "-123", "1.23"]


def test_add_operator_refuses_bad_pin_formats(shop):
    for pin in BAD_PINS:
        refuse(shop.store, "pin_format", services.add_operator, shop.store, "c1", "店员", Role.CLERK, pin)


@pytest.mark.parametrize("pin", ["１２３４", "١٢٣٤", "²³⁴⁵"])
def test_add_operator_refuses_non_ascii_digits(shop, pin):
    refuse(shop.store, "pin_format", services.add_operator, shop.store, "c1", "店员", Role.CLERK, pin)


def test_login_with_good_and_bad_pins(shop):
    store = shop.store
    services.add_operator(store, "c1", "店员", Role.CLERK, "1234")
    services.add_operator(store, "m1", "店长", Role.MANAGER, "87654321")
    clerk = services.login(store, "c1", "1234")
    assert (clerk.operator_id, clerk.role, clerk.is_manager) == ("c1", Role.CLERK, False)
    assert services.login(store, "m1", "87654321").is_manager
    for pin in ("4321", "12345", "", "1234 ", "87654321"):
        refuse(store, "bad_pin", services.login, store, "c1", pin)
    refuse(store, "operator_unknown", services.login, store, "nobody", "1234")
    audit_ok(store)


def test_pins_are_stored_salted(shop):
    store = shop.store
    a = services.add_operator(store, "c1", "店员甲", Role.CLERK, "1234")
    b = services.add_operator(store, "c2", "店员乙", Role.CLERK, "1234")
    with store.read() as unit:
        stored = {op.operator_id: op for op in unit.operators()}
    assert stored["c1"] == a and stored["c2"] == b
    assert a.pin_salt != b.pin_salt
    assert a.pin_hash != b.pin_hash
    for op in (a, b):
        assert "1234" not in op.pin_hash and "1234" not in op.pin_salt
        assert len(bytes.fromhex(op.pin_salt)) >= 16
        assert op.pin_hash == services.hash_pin("1234", op.pin_salt)
    assert services.login(store, "c1", "1234") == a
    assert services.login(store, "c2", "1234") == b


def test_operator_context_is_recorded(shop):
    code = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=5)
    clerk = services.add_operator(shop.store, "c1", "店员", Role.CLERK, "1234")
    receipt = services.redeem(shop.store, code, [("RICE", 1)], Context(clerk, fixed_clock()))
    assert receipt.transaction.operator == "c1"
    assert receipt.transaction.created_at == NOW.isoformat(timespec="seconds")
    audit_ok(shop.store)


# ----- a busy day, end to end -------------------------------------------------------------------


def test_a_day_at_the_counter_adds_up(any_shop):
    store = any_shop.store
    codes = {hid: any_shop.household(hid, points=pts) for hid, pts in (("H1", 400), ("H2", 180), ("H3", 90))}
    any_shop.item("RICE", 30, stock=10)
    any_shop.item("SOAP", 5, stock=20)
    services.grant_base(store, ctx=ADMIN_CTX)
    services.award(store, "H3", 50, "志愿服务", ctx=ADMIN_CTX)
    r1 = services.redeem(store, codes["H1"], [("RICE", 3), ("SOAP", 2)], ctx=ADMIN_CTX)
    services.redeem(store, codes["H2"], [("SOAP", 10)], ctx=ADMIN_CTX)
    services.void(store, r1.transaction.receipt_no, "重新选择", Context(MANAGER))
    services.redeem(store, codes["H1"], [("RICE", 2)], ctx=ADMIN_CTX)
    services.record_donation(store, "爱心企业", amount_fen=20_000, goods=[("SOAP", 5)], ctx=ADMIN_CTX)
    services.write_off(store, "SOAP", 1, "破损", ctx=ADMIN_CTX)
    services.deduct(store, "H2", 20, "违规", ctx=ADMIN_CTX)
    assert balance(store, "H1") == (440, 500)
    assert balance(store, "H2") == (210, 260)
    assert balance(store, "H3") == (240, 240)
    assert (stock(store, "RICE"), stock(store, "SOAP")) == (8, 14)
    with store.read() as unit:
        journal = list(unit.journal())
    assert [t.seq for t in journal] == list(range(1, len(journal) + 1))
    total = sum(p.amount for t in journal for p in t.postings if p.unit == POINTS)
    assert total == 0
    audit_ok(store)


def test_who_acts_is_never_assumed(shop):
    """A caller that forgets who acts fails at once instead of passing the manager checks as the administrator."""
    with pytest.raises(TypeError):
        Context()  # type: ignore[call-arg]
    store = shop.store
    code = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=10)
    number = services.redeem(store, code, [("RICE", 1)], Context(CLERK)).transaction.receipt_no
    with pytest.raises(TypeError):
        services.void(store, number, "错")  # type: ignore[call-arg]
    refuse(store, "manager_required", services.void, store, number, "错", Context(CLERK))
    refuse(store, "manager_required", services.clear_household, store, "H1", "违规", Context(CLERK))
    assert services.void(store, number, "错", Context(MANAGER)).transaction.ref_txn_id is not None
