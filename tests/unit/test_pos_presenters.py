"""The rules of the POS counter, tested without Kivy: the presenters in ``pos.presenters``.

Every presenter here talks to a real SQLite ledger (the ``shop`` fixture) and, where it prints, to the
``MemoryPrinter`` fake; time moves through injected clocks, never sleeps.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hardware.errors import HardwareError
from hardware.printers import MemoryPrinter
from ledger import services
from ledger.errors import LedgerError
from ledger.messages import has, text
from ledger.model import Item, Role, TxnKind
from ledger.ports import SyncStatus
from lovemart_tools.escpos_reader import last_text
from pos.presenters.catalog import Catalog
from pos.presenters.common import HouseholdFinder, PrinterSlot, print_committed
from pos.presenters.day_close import DayClosePresenter
from pos.presenters.donation import GOODS, DonationPresenter, yuan_to_fen
from pos.presenters.donors import ANONYMOUS, DonorChoice, donor_choices, household_donor
from pos.presenters.receipts import VOID_REASONS, ReceiptsPresenter, reason_by_code
from pos.presenters.redeem import RedeemPresenter, is_passbook_code
from pos.presenters.session import Session
from pos.presenters.stock import (
    DONATED,
    WRITE_OFF_REASONS,
    CountPresenter,
    StockInPresenter,
    WriteOffPresenter,
    low_stock,
    suppliers,
)
from pos.presenters.sync import SyncPresenter, view_of
from sync.errors import SyncError
from tests.conftest import ADMIN_CTX, FakeClock, ShopFixture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counter(shop: ShopFixture) -> ShopFixture:
    """A shop with a manager (01, PIN 1234), a clerk (02, PIN 0000), two households and three goods."""
    services.add_operator(shop.store, "01", "王秀兰", Role.MANAGER, "1234")
    services.add_operator(shop.store, "02", "李建国", Role.CLERK, "0000")
    shop.household("XF0001", "张三", points=160)  # redeemable 60 above the floor of 100
    shop.household("XF0002", "李四", points=500)
    services.add_item(shop.store, Item("RICE", "大米", "5kg袋", 30, "6901234500011", "粮油"))
    services.add_item(shop.store, Item("SOAP", "肥皂", "块", 10, None, "洗护"))
    services.add_item(shop.store, Item("SALT", "食盐", "袋", 2, "6901234500080", "调味品"))
    services.stock_intake(shop.store, [("RICE", 5), ("SOAP", 2), ("SALT", 200)], supplier="县供销社", ctx=ADMIN_CTX)
    return shop


def clerk_ctx(shop: ShopFixture) -> services.Context:
    return services.Context(operator=services.login(shop.store, "02", "0000"))


def manager(shop: ShopFixture) -> Any:
    return services.login(shop.store, "01", "1234")


def redemptions(shop: ShopFixture) -> list[Any]:
    with shop.store.read() as unit:
        return list(unit.transactions(frozenset({TxnKind.REDEEM})))


# ----- no Kivy ------------------------------------------------------------------------------------


def test_presenters_and_messages_load_no_kivy() -> None:
    code = (
        "import sys, pos, pos.presenters.redeem, pos.presenters.session, pos.presenters.receipts, "
        "pos.presenters.stock, pos.presenters.donation, pos.presenters.day_close, pos.presenters.sync; "
        "sys.exit(1 if 'kivy' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_pos_messages_are_in_the_catalogues() -> None:
    for headline in ("pos.sync_not_connected", "pos.sync_failed", "pos.sync_waiting", "pos.sync_ok"):
        assert has(headline, "zh") and has(headline, "en")
    assert text("pos.cart_total", "zh", total=30, remaining=70) == "合计 30 分\n还可兑换 70 分"


# ----- login, roles, idle lock --------------------------------------------------------------------


def test_login_roles_idle_lock_and_switch(counter: ShopFixture) -> None:
    clock = FakeClock(100.0)
    session = Session(counter.store, idle_lock_s=300, monotonic=clock)
    assert [(c.operator_id, c.is_manager) for c in session.operators()] == [("01", True), ("02", False)]
    assert session.locked and not session.logged_in
    with pytest.raises(LedgerError) as refused:
        session.context()
    assert refused.value.code == "operator_unknown"

    with pytest.raises(LedgerError) as wrong:
        session.login("02", "9999")
    assert wrong.value.code == "bad_pin" and not session.logged_in
    result = session.login("02", "0000")
    assert not result.same_operator and session.logged_in and not session.is_manager
    assert session.context().operator.operator_id == "02"

    clock.now += 299
    assert session.check_idle() is False and session.logged_in
    session.touch()  # a tap resets the idle time
    clock.now += 299
    assert session.check_idle() is False
    clock.now += 2
    assert session.check_idle() is True and session.locked
    assert session.check_idle() is False  # already locked: locks once
    assert session.operator is not None  # kept, so the same PIN resumes the sale

    again = session.login("02", "0000")
    assert again.same_operator
    session.switch_operator()
    assert session.operator is None and session.locked
    boss = session.login("01", "1234")
    assert not boss.same_operator and session.is_manager


def test_idle_lock_can_be_turned_off(counter: ShopFixture) -> None:
    clock = FakeClock(100.0)
    session = Session(counter.store, idle_lock_s=0, monotonic=clock)
    session.login("02", "0000")
    clock.now += 10_000
    assert session.check_idle() is False and session.logged_in


def test_manager_confirmation_needs_a_managers_pin(counter: ShopFixture) -> None:
    session = Session(counter.store)
    session.login("02", "0000")
    with pytest.raises(LedgerError) as clerk_pin:
        session.authorize_manager("0000")  # the clerk's own PIN is not a manager's
    assert clerk_pin.value.code == "bad_pin"
    assert session.authorize_manager("1234").operator_id == "01"


def test_a_shop_without_a_manager_cannot_confirm(shop: ShopFixture) -> None:
    services.add_operator(shop.store, "02", "李建国", Role.CLERK, "0000")
    with pytest.raises(LedgerError) as refused:
        Session(shop.store).authorize_manager("0000")
    assert refused.value.code == "manager_required"


# ----- the cart ----------------------------------------------------------------------------------


def test_cart_refuses_over_budget_over_stock_and_huge_quantities(counter: ShopFixture) -> None:
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    with pytest.raises(LedgerError) as no_household:
        presenter.add("RICE")
    assert no_household.value.code == "pos_scan_first"

    card = presenter.open_passbook(counter.codes["XF0001"])
    assert (card.name, card.redeemable, card.member_count, card.last_synced) == ("张三", 60, 1, None)
    assert card.members == ("张三（户主）",)

    assert presenter.add("RICE").total == 30
    assert presenter.add("RICE").total == 60
    with pytest.raises(LedgerError) as over:
        presenter.add("SOAP")
    # the refusal names what was tapped and speaks in the cart's own figures
    assert over.value.code == "pos_does_not_fit"
    assert (over.value.params["points"], over.value.params["in_cart"], over.value.params["left"]) == (10, 60, 0)
    assert over.value.message("zh").startswith("没有加上肥皂") and "还可兑换的只剩 0 分" in over.value.message("zh")
    assert presenter.cart().total == 60 and presenter.quantity("SOAP") == 0  # nothing changed

    view = presenter.decrement("RICE")
    assert view.total == 30 and view.remaining == 30
    presenter.add("SOAP")
    presenter.add("SOAP")
    with pytest.raises(LedgerError) as stock:
        presenter.add("SOAP")  # only two on the shelf
    assert stock.value.code == "out_of_stock"
    presenter.remove("SOAP")
    with pytest.raises(LedgerError) as huge:
        presenter.set_quantity("SALT", 100)  # the policy's max_quantity is 99
    assert huge.value.code == "bad_quantity"
    with pytest.raises(LedgerError) as negative:
        presenter.set_quantity("SALT", -1)
    assert negative.value.code == "bad_quantity"

    # A product barcode adds one; a passbook of another household is refused while goods are in the cart.
    outcome = presenter.scan("6901234500080")
    assert outcome.kind == "item" and outcome.item is not None and presenter.quantity("SALT") == 1
    with pytest.raises(LedgerError) as other:
        presenter.scan(counter.codes["XF0002"])
    assert other.value.code == "pos_cart_not_empty" and presenter.household is not None
    assert presenter.household.household_id == "XF0001"
    with pytest.raises(LedgerError) as unknown:
        presenter.scan("1234567890123")
    assert unknown.value.code == "unknown_sku"
    presenter.clear()
    assert presenter.scan(counter.codes["XF0002"]).household.name == "李四"  # type: ignore[union-attr]


def test_scan_refuses_forged_and_revoked_passbooks(counter: ShopFixture) -> None:
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    code = counter.codes["XF0001"]
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    with pytest.raises(LedgerError) as bad:
        presenter.scan(forged)
    assert bad.value.code == "passbook_forged"
    services.reissue_passbook(counter.store, "XF0001")
    with pytest.raises(LedgerError) as revoked:
        presenter.scan(code)
    assert revoked.value.code == "passbook_revoked" and presenter.household is None
    assert is_passbook_code(" lm1:XF0001:1:ABCDEF") and not is_passbook_code("6901234500011")


def test_manual_household_number_needs_a_manager(counter: ShopFixture) -> None:
    counter.household("GL0002", "王五", points=200)  # another village, the same number
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    assert [c.household_id for c in presenter.find_households("2")] == ["GL0002", "XF0002"]
    assert [c.household_id for c in presenter.find_households("0002")] == ["GL0002", "XF0002"]
    assert [c.household_id for c in presenter.find_households("XF2")] == ["XF0002"]
    assert [c.household_id for c in presenter.find_households("gl0002")] == ["GL0002"]
    assert presenter.finder.prefixes() == ["XF", "GL"]  # most households first
    for typed in ("77", "XF77", "QQ2", "XF", "2XF", "２"):
        with pytest.raises(LedgerError):
            presenter.find_households(typed)
    clerk = services.login(counter.store, "02", "0000")
    with pytest.raises(LedgerError) as refused:
        presenter.open_household("XF0002", clerk)
    assert refused.value.code == "manager_required" and presenter.household is None
    card = presenter.open_household("XF0002", manager(counter))
    assert card.name == "李四" and card.redeemable == 400


# ----- confirm, commit, print --------------------------------------------------------------------


def test_confirming_twice_redeems_once(counter: ShopFixture) -> None:
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    presenter.open_passbook(counter.codes["XF0002"])
    presenter.add("RICE", 2)
    ctx = clerk_ctx(counter)
    first = presenter.commit(ctx)
    second = presenter.commit(ctx)  # the same "yes" arriving twice (a bounce, two fingers)
    assert first.first and not second.first and second.receipt_no == first.receipt_no
    assert len(redemptions(counter)) == 1
    assert presenter.household is not None and presenter.household.redeemable == 400 - 60
    assert presenter.cart().empty and presenter.catalog.tile("RICE").on_hand == 3

    presenter.add("SOAP")  # a new cart for the same household is a new sale
    third = presenter.commit(ctx)
    assert third.first and third.receipt_no != first.receipt_no and len(redemptions(counter)) == 2


class LosesTheAnswer:
    """A store whose next write commits and then raises, as when the answer of a commit is lost."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.fail_next = False

    def read(self) -> Any:
        return self.store.read()

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.store.write() as unit:
            yield unit
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("connection lost after the commit")


def test_a_retry_after_a_lost_answer_finds_the_sale_instead_of_redeeming_twice(counter: ShopFixture) -> None:
    flaky = LosesTheAnswer(counter.store)
    presenter = RedeemPresenter(flaky, Catalog(counter.store))  # type: ignore[arg-type]
    presenter.open_passbook(counter.codes["XF0002"])
    presenter.add("SALT", 3)
    ctx = clerk_ctx(counter)
    flaky.fail_next = True
    with pytest.raises(RuntimeError):
        presenter.commit(ctx)
    assert presenter.uncertain and len(redemptions(counter)) == 1  # it was committed after all
    with pytest.raises(LedgerError) as locked:
        presenter.add("SALT")  # a changed cart with a new id could redeem twice
    assert locked.value.code == "pos_commit_uncertain"
    with pytest.raises(LedgerError):
        presenter.finish()
    result = presenter.commit(ctx)  # the retry: same transaction id
    assert not presenter.uncertain and len(redemptions(counter)) == 1
    assert result.receipt_no == redemptions(counter)[0].receipt_no


def test_a_refused_commit_writes_nothing_and_frees_the_cart(counter: ShopFixture) -> None:
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    presenter.open_passbook(counter.codes["XF0001"])
    presenter.add("RICE", 2)
    services.deduct(counter.store, "XF0001", 50, "乱倒垃圾", ctx=ADMIN_CTX)  # meanwhile, at the township
    with pytest.raises(LedgerError) as refused:
        presenter.commit(clerk_ctx(counter))
    assert refused.value.code == "insufficient_points" and not presenter.uncertain
    assert redemptions(counter) == []
    presenter.decrement("RICE")  # the cart can be changed again


def test_print_failure_keeps_the_sale_pending_then_reprint(counter: ShopFixture) -> None:
    printer = MemoryPrinter()
    slot = PrinterSlot(printer)
    receipts = ReceiptsPresenter(counter.store, slot)
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    presenter.open_passbook(counter.codes["XF0002"])
    presenter.add("RICE")
    result = presenter.commit(clerk_ctx(counter))

    printer.fail_with(HardwareError("printer_offline", where="USB 0416:5011"))
    outcome = receipts.print_receipt(result.txn_id)
    assert not outcome.printed and outcome.error is not None and outcome.error.code == "printer_offline"
    waiting = {p.receipt_no: p for p in receipts.pending()}  # the fixture's stock-in slip waits too
    assert result.receipt_no in waiting and "printer_offline" in waiting[result.receipt_no].error
    row = receipts.today()[0]
    assert row.receipt_no == result.receipt_no and not row.printed

    printer.fail_with(None)
    again = receipts.reprint(result.receipt_no)
    assert again.printed and result.receipt_no not in {p.receipt_no for p in receipts.pending()}
    assert any("重印" in line for line in last_text(printer))
    assert len(redemptions(counter)) == 1 and receipts.today()[0].printed


def test_a_printer_that_is_not_set_up_is_asked_again_at_the_next_print(counter: ShopFixture) -> None:
    printer = MemoryPrinter()
    ready = False

    def factory() -> MemoryPrinter:
        if not ready:
            raise HardwareError("printer_not_configured")
        return printer

    slot = PrinterSlot(factory=factory)
    assert slot.problem is not None and slot.problem.code == "printer_not_configured" and not slot.ready
    txn = services.record_donation(counter.store, ANONYMOUS, amount_fen=10_000, ctx=ADMIN_CTX)
    outcome = print_committed(counter.store, txn.txn_id, slot)
    assert not outcome.printed and outcome.receipt_no == txn.receipt_no
    ready = True
    receipts = ReceiptsPresenter(counter.store, slot)
    assert receipts.reprint_pending()[-1].printed and slot.problem is None
    assert any("捐赠凭证" in line for line in last_text(printer))
    assert PrinterSlot().problem is None  # nothing handed in: said at the first print
    nothing = print_committed(counter.store, txn.txn_id, PrinterSlot())
    assert not nothing.printed and nothing.error is not None and "打印机" in nothing.error.message("zh")


# ----- void, today's list --------------------------------------------------------------------------


def test_void_needs_a_manager_and_a_listed_reason(counter: ShopFixture) -> None:
    receipts = ReceiptsPresenter(counter.store, PrinterSlot(MemoryPrinter()))
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    presenter.open_passbook(counter.codes["XF0002"])
    presenter.add("RICE", 2)
    sale = presenter.commit(clerk_ctx(counter))
    reason = reason_by_code(VOID_REASONS, "returned")
    assert [r.recorded for r in VOID_REASONS] == ["输错", "顾客退货", "商品质量问题", "其他"]

    clerk = services.login(counter.store, "02", "0000")
    with pytest.raises(LedgerError) as refused:
        receipts.void(sale.receipt_no, reason, clerk)
    assert refused.value.code == "manager_required"
    void = receipts.void(sale.receipt_no, reason, manager(counter))
    assert void.transaction.memo == "顾客退货" and void.transaction.operator == "01"
    assert void.redeemable_after == 400
    with pytest.raises(LedgerError) as twice:
        receipts.void(sale.receipt_no, reason, manager(counter))
    assert twice.value.code == "already_voided"

    rows = receipts.today()
    assert [r.kind for r in rows] == ["void", "redeem"]  # newest first
    assert rows[1].voided_by == void.transaction.receipt_no and not rows[1].voidable
    assert rows[0].voids == sale.receipt_no and rows[0].points == 60 and rows[0].memo == "顾客退货"
    assert rows[1].household_name == "李四" and rows[1].goods == "大米5kg袋×2"
    with pytest.raises(LedgerError):
        reason_by_code(VOID_REASONS, "nonsense")


# ----- stock --------------------------------------------------------------------------------------


def test_stock_in_bought_and_donated(counter: ShopFixture) -> None:
    printer = MemoryPrinter()
    catalog = Catalog(counter.store)
    stock_in = StockInPresenter(counter.store, catalog, PrinterSlot(printer))
    stock_in.goods.set("SOAP", 24)
    with pytest.raises(LedgerError) as no_supplier:
        stock_in.commit(clerk_ctx(counter))
    assert no_supplier.value.code == "pos_supplier_required"
    assert suppliers(counter.store)[0] == "县供销社"
    stock_in.supplier = "县供销社"
    txn = stock_in.commit(clerk_ctx(counter))
    assert txn.kind == TxnKind.STOCK_IN and catalog.tile("SOAP").on_hand == 26 and stock_in.goods.empty
    assert stock_in.print_receipt(txn.txn_id).printed

    stock_in.set_source(DONATED)
    stock_in.goods.set("RICE", 10)
    with pytest.raises(LedgerError) as no_donor:
        stock_in.commit(clerk_ctx(counter))
    assert no_donor.value.code == "donor_required"
    stock_in.donor = "华兴农业有限公司"
    gift = stock_in.commit(clerk_ctx(counter))
    assert gift.kind == TxnKind.DONATION and gift.party == "华兴农业有限公司" and catalog.tile("RICE").on_hand == 15
    with pytest.raises(LedgerError):
        stock_in.goods.set("RICE", -3)


def test_stock_count_shows_the_differences_then_adjusts(counter: ShopFixture) -> None:
    catalog = Catalog(counter.store)
    count = CountPresenter(counter.store, catalog)
    count.start()
    with pytest.raises(LedgerError) as nothing:
        count.preview()
    assert nothing.value.code == "pos_count_nothing"
    count.set_counted("RICE", 5)  # as on the books
    count.set_counted("SOAP", 1)  # one missing
    rows = {r.sku: r for r in count.rows()}
    assert rows["SOAP"].difference == -1 and rows["RICE"].difference == 0 and rows["SALT"].counted is None
    differences = count.preview()
    assert [(d.sku, d.expected, d.counted, d.difference) for d in differences] == [("SOAP", 2, 1, -1)]
    txn, changed = count.commit(clerk_ctx(counter))
    assert txn.kind == TxnKind.STOCK_ADJUST and [d.sku for d in changed] == ["SOAP"]
    assert catalog.tile("SOAP").on_hand == 1 and count.counted == {}
    with pytest.raises(LedgerError):
        count.set_counted("SOAP", -1)


def test_write_off_with_a_reason_and_the_low_stock_list(counter: ShopFixture) -> None:
    catalog = Catalog(counter.store)
    write_off = WriteOffPresenter(counter.store, catalog)
    broken = reason_by_code(WRITE_OFF_REASONS, "broken")
    with pytest.raises(LedgerError) as too_many:
        write_off.check("SOAP", 3)
    assert too_many.value.code == "out_of_stock"
    txn = write_off.commit("SOAP", 2, broken, clerk_ctx(counter))
    assert txn.kind == TxnKind.WRITE_OFF and txn.memo == "破损" and catalog.tile("SOAP").on_hand == 0
    assert [t.sku for t in low_stock(catalog, threshold=5)] == ["SOAP", "RICE"]
    assert [t.sku for t in catalog.by_stock()] == ["SOAP", "RICE", "SALT"]


# ----- donations ----------------------------------------------------------------------------------


def test_donor_choices_without_typing(counter: ShopFixture) -> None:
    services.record_donation(counter.store, "县邮政分公司", amount_fen=20_000, ctx=ADMIN_CTX)
    services.record_donation(counter.store, ANONYMOUS, amount_fen=5_000, ctx=ADMIN_CTX)
    services.record_donation(counter.store, "华兴农业有限公司", amount_fen=100_000, ctx=ADMIN_CTX)
    services.record_donation(counter.store, "县邮政分公司", amount_fen=20_000, ctx=ADMIN_CTX)
    choices = donor_choices(counter.store)
    assert [c.name for c in choices] == [ANONYMOUS, "县邮政分公司", "华兴农业有限公司"]
    assert [c.kind for c in choices] == ["anonymous", "past", "past"]
    (villager,) = HouseholdFinder(counter.store).find("1")
    assert household_donor(villager) == DonorChoice("张三（XF0001）", "household")


def test_money_and_goods_donations_and_their_voucher(counter: ShopFixture) -> None:
    printer = MemoryPrinter()
    catalog = Catalog(counter.store)
    donation = DonationPresenter(counter.store, catalog, PrinterSlot(printer))
    assert yuan_to_fen("500") == 50_000
    for bad in ("", "0", "abc", "１２", "99999999"):
        with pytest.raises(LedgerError):
            yuan_to_fen(bad)
    with pytest.raises(LedgerError) as no_donor:
        donation.commit(clerk_ctx(counter))
    assert no_donor.value.code == "donor_required"
    donation.choose_donor(DonorChoice(ANONYMOUS, "anonymous"))
    with pytest.raises(LedgerError) as no_amount:
        donation.commit(clerk_ctx(counter))
    assert no_amount.value.code == "bad_amount"
    donation.set_amount("500")
    money = donation.commit(clerk_ctx(counter))
    assert money.party == ANONYMOUS and [p.amount for p in money.postings if p.amount > 0] == [50_000]
    assert donation.donor is None and donation.amount_fen == 0  # ready for the next one
    assert donation.print_receipt(money.txn_id).printed
    assert any("捐赠凭证" in line for line in last_text(printer))

    donation.set_kind(GOODS)
    donation.choose_donor(household_donor(HouseholdFinder(counter.store).find("2")[0]))
    donation.goods.set("SOAP", 6)
    goods = donation.commit(clerk_ctx(counter))
    assert goods.party == "李四（XF0002）" and catalog.tile("SOAP").on_hand == 8


# ----- day close ----------------------------------------------------------------------------------


def test_day_close_totals_recorded_and_printed(counter: ShopFixture) -> None:
    printer = MemoryPrinter()
    presenter = RedeemPresenter(counter.store, Catalog(counter.store))
    presenter.open_passbook(counter.codes["XF0002"])
    presenter.add("RICE", 2)
    presenter.add("SALT", 5)
    presenter.commit(clerk_ctx(counter))
    services.record_donation(counter.store, ANONYMOUS, amount_fen=12_345, ctx=ADMIN_CTX)

    day_close = DayClosePresenter(counter.store, PrinterSlot(printer))
    view = day_close.view()
    s = view.summary
    assert (s.redemptions, s.points_redeemed, s.items_redeemed) == (1, 70, 7)
    assert (s.donations, s.donation_yuan, s.stock_ins) == (1, "123.45", 1)
    rows = dict(view.rows())
    assert rows["pos.dc_points"] == "70" and rows["pos.dc_money"] == "￥123.45"
    assert all(has(msgid) for msgid in rows)
    assert view.closed_already == ()

    txn = day_close.close(view, clerk_ctx(counter))
    assert txn.kind == TxnKind.DAY_CLOSE and '"points_redeemed": 70' in txn.memo
    assert day_close.print_receipt(txn.txn_id).printed
    text = "\n".join(last_text(printer))
    assert "日结" in text and "70 分" in text
    assert day_close.view().closed_already == (txn.receipt_no,)
    assert day_close.view(dt.date(2000, 1, 1)).summary.redemptions == 0


# ----- sync status -------------------------------------------------------------------------------


class FakeSync:
    def __init__(self, status: SyncStatus, after: SyncStatus | None = None, error: Exception | None = None) -> None:
        self._status = status
        self._after = after or status
        self._error = error
        self.calls = 0

    def status(self) -> SyncStatus:
        return self._status

    def sync_now(self) -> SyncStatus:
        self.calls += 1
        if self._error is not None:
            raise self._error
        self._status = self._after
        return self._after


def test_sync_status_in_plain_words() -> None:
    def words(view: Any, lang: str = "zh") -> str:
        return text(view.headline, lang, waiting=view.waiting)

    none = SyncPresenter(None)
    assert words(none.view()) == "未连接乡镇服务器" and not none.view().can_sync
    assert words(none.sync_now(), "en") == "Not connected to the township server"

    assert words(view_of(SyncStatus(configured=True))) == "从未同步"
    waiting = view_of(SyncStatus(True, "2026-11-22T18:03:09+08:00", 12))
    assert words(waiting) == "待上传 12 笔" and waiting.last_success == "2026-11-22 18:03" and waiting.can_sync
    assert words(view_of(SyncStatus(True, "2026-11-22T18:03:09+08:00", 0))) == "已同步"
    running = view_of(SyncStatus(True, None, 3, running=True))
    assert words(running) == "正在同步……" and not running.can_sync
    unreachable = SyncError("unreachable", url="https://town.example", detail="timed out")
    failed = view_of(SyncStatus(True, None, 3, error=unreachable))
    assert words(failed) == "同步失败" and failed.error("zh").startswith("连不上乡镇服务器（https://town.example）")
    assert failed.error("en").startswith("Cannot reach the central record (https://town.example): timed out")

    port = FakeSync(SyncStatus(True, None, 5), after=SyncStatus(True, "2026-11-22T19:00:00+08:00", 0))
    presenter = SyncPresenter(port)
    assert words(presenter.view()) == "从未同步"
    done = presenter.sync_now()
    assert port.calls == 1 and words(done) == "已同步" and done.last_success == "2026-11-22 19:00"

    refused = SyncPresenter(FakeSync(SyncStatus(True), error=LedgerError("disk_full"))).sync_now()
    assert refused.headline == "pos.sync_failed" and refused.error("zh") == LedgerError("disk_full").message("zh")


# ----- the assembly (lovemart.pos_main), before any window ------------------------------------------------


def test_only_one_pos_per_ledger(tmp_path: Path) -> None:
    # (With no ledger at all, ``lovemart pos`` opens the first-run set-up: tests/e2e/test_pos_first_run.py.)
    from lovemart.bootstrap import shop_parts
    from lovemart.pos_main import run_pos

    home = shop_parts(tmp_path)
    with home.pos_lock(), pytest.raises(LedgerError) as locked:
        run_pos(shop_parts(tmp_path))
    assert locked.value.code == "ledger_locked" and "另一个收银程序" in locked.value.message("zh")


def test_an_earlier_days_receipt_is_found_by_its_number_and_voided(counter: ShopFixture) -> None:
    from datetime import datetime, timedelta

    yesterday = datetime.now().astimezone() - timedelta(days=1)
    clerk = services.login(counter.store, "02", "0000")
    sale = services.redeem(
        counter.store, counter.codes["XF0002"], [("RICE", 1)], services.Context(clerk, lambda: yesterday)
    ).transaction
    receipts = ReceiptsPresenter(counter.store, PrinterSlot(MemoryPrinter()))
    assert sale.receipt_no not in [r.receipt_no for r in receipts.today()]
    prefix = receipts.receipt_prefix()
    assert sale.receipt_no.startswith(prefix)
    digits = sale.receipt_no[len(prefix) :].lstrip("0")
    row = receipts.find(digits)
    assert (row.receipt_no, row.kind, row.voidable, row.goods) == (sale.receipt_no, "redeem", True, "大米5kg袋×1")
    assert row.time == yesterday.strftime("%m-%d %H:%M")  # the day is shown: it is not today's
    receipts.void(row.receipt_no, reason_by_code(VOID_REASONS, "returned"), manager(counter))
    assert receipts.find(digits).voided_by is not None
    for wrong in ("999", "0", "", "1"):  # no such receipt; 0 and empty; number 1 is not a sale
        with pytest.raises(LedgerError) as refused:
            receipts.find(wrong)
        assert refused.value.code == "receipt_unknown"
