"""The POS app itself, offscreen, driven by taps and keys (``tests/kivy_harness.py``) on a real ledger.

Each test starts the real ``PosApp`` with a ``MemoryPrinter``, a ``FakeScanner`` and the keyboard wedge,
and checks what a shopkeeper would see and what the ledger holds afterwards.

Kivy is imported inside the tests (see ``tests/e2e/test_ui_kit.py`` for why); ``tests.kivy_harness`` first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from hardware.errors import HardwareError
from hardware.printers import MemoryPrinter
from hardware.scanner import FakeScanner
from hardware.wedge import KeyboardWedge
from ledger import services
from ledger.messages import Message
from ledger.model import Item, Role, TxnKind
from lovemart.bootstrap import ShopParts, fake_parts
from lovemart_tools.escpos_reader import last_text
from tests import kivy_harness as kh
from tests.conftest import ADMIN_CTX, FakeClock, ShopFixture


class Ticker:
    """A clock for the buttons' debounce that moves one second per tap: repeated digits ("0000") are
    deliberate presses, not a bouncing panel."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


TICKER = Ticker()


@pytest.fixture
def counter(shop: ShopFixture) -> ShopFixture:
    services.add_operator(shop.store, "01", "王秀兰", Role.MANAGER, "1234")
    services.add_operator(shop.store, "02", "李建国", Role.CLERK, "0000")
    shop.household("XF0001", "张三", points=130)  # 30 redeemable
    shop.household("XF0002", "李四", points=500)  # 400 redeemable
    services.add_item(shop.store, Item("RICE", "大米", "5kg袋", 30, "6901234500011", "粮油"))
    services.add_item(shop.store, Item("SOAP", "肥皂", "块", 3, "6901234500127", "洗护"))
    services.stock_intake(shop.store, [("RICE", 20), ("SOAP", 40)], supplier="县供销社", ctx=ADMIN_CTX)
    with shop.store.write() as unit:  # the fixture's stock-in slip counts as printed
        for job in unit.print_jobs(status="pending"):
            unit.finish_print_job(job.job_id, job.created_at)
    return shop


class Pos:
    """The running app and its fakes, with the few gestures every test needs."""

    def __init__(self, app: Any, shop: ShopFixture, printer: MemoryPrinter, scanner: FakeScanner, idle: Any) -> None:
        self.app = app
        self.shop = shop
        self.printer = printer
        self.scanner = scanner
        self.idle = idle

    def screen(self, name: str | None = None) -> Any:
        return self.app.screen(name) if name else self.app.screens.current_screen

    @property
    def banner(self) -> Any:
        return self.app.root.ids.banner

    def tap(self, widget: Any) -> None:
        if hasattr(widget, "debounce_clock"):
            widget.debounce_clock = TICKER
        kh.tap(widget)

    def tap_id(self, name: str, root: Any = None) -> None:
        self.tap(kh.find(root if root is not None else self.screen(), name))

    def tap_text(self, text: str) -> None:
        self.tap(kh.find(None, lambda w: getattr(w, "text", None) == text and hasattr(w, "debounce_clock")))

    def digits(self, digits: str, root: Any = None) -> None:
        """Type on the keypad under ``root`` (the top dialog when None), then OK."""
        keypad = kh.find(root if root is not None else self.dialog(), "keypad")
        for digit in digits:
            self.tap(kh.find(keypad, f"key_{digit}"))
        self.tap(kh.find(keypad, "key_ok"))

    def dialog(self) -> Any:
        from kivy.uix.modalview import ModalView

        kh.pump(1)
        dialogs = [w for w in kh.window().children if isinstance(w, ModalView)]
        assert dialogs, "no dialog is open"
        return dialogs[0]

    def answer(self, yes: bool = True) -> None:
        self.tap(kh.find(self.dialog(), "yes" if yes else "no"))

    def log_in(self, operator_id: str = "02", pin: str = "0000") -> None:
        """Log in without the taps (the login test taps; the others need the till, not the gesture)."""
        result = self.app.session.login(operator_id, pin)
        self.app.logged_in(result.same_operator)
        kh.pump(1)

    def login(self, operator_id: str = "02", pin: str = "0000") -> None:
        login = self.screen("login")
        assert self.app.screens.current == "login"
        self.tap(kh.find(login, lambda w: getattr(w, "operator_id", None) == operator_id))
        self.digits(pin, login)

    def menu(self, button: str) -> None:
        if self.app.screens.current != "home":
            self.tap(kh.find(self.app.root, "menu"))
        self.tap_id(button, self.screen("home"))

    def ledger(self, kind: TxnKind) -> list[Any]:
        with self.shop.store.read() as unit:
            return list(unit.transactions(frozenset({kind})))

    def tile(self, sku: str) -> Any:
        kh.pump(2)
        return kh.find(
            self.screen(), lambda w: type(w).__name__ == "PosItemTile" and w.sku == sku and w.get_root_window()
        )

    def cart_row(self, sku: str) -> Any:
        kh.pump(2)
        return kh.find(self.screen(), lambda w: type(w).__name__ == "PosLineRow" and w.sku == sku)

    def redeem_by_taps(self, code: str, *skus: str) -> None:
        self.scanner.scan(code)
        kh.pump_until(lambda: self.app.screens.current == "redeem" and self.screen().has_household)
        for sku in skus:
            self.tap(self.tile(sku))
        self.tap_id("confirm")
        self.answer(True)
        kh.wait_background()


def parts_of(shop: ShopFixture, **devices: Any) -> ShopParts:
    """The shop's parts from the bootstrap, with fake devices (``lovemart.bootstrap.fake_parts``)."""
    assert shop.path is not None
    return fake_parts(shop.path.parent, store=shop.store, **devices)


@pytest.fixture
def pos(counter: ShopFixture) -> Iterator[Pos]:
    from lovemart.pos_main import build_pos

    printer = MemoryPrinter()
    scanner = FakeScanner(window_s=0)
    idle = FakeClock(50.0)
    parts = parts_of(
        counter,
        printer=printer,
        scanners=[scanner],
        wedge=lambda on_scan: KeyboardWedge(on_scan=on_scan, max_gap_s=0.5),
        monotonic=idle,
    )
    app = build_pos(parts, lockdown=False, freeze_gc=False, idle_lock_s=300)
    with kh.running(app):
        yield Pos(app, counter, printer, scanner, idle)


# ----- login -------------------------------------------------------------------------------------------


def test_login_roles_idle_lock_and_switch_by_taps(pos: Pos) -> None:
    app = pos.app
    assert app.screens.current == "login"
    pos.scanner.scan(pos.shop.codes["XF0002"])  # nobody logged in: a scan sells nothing
    kh.pump(2)
    assert app.screens.current == "login" and pos.banner.full_text == "请先登录"

    pos.login("02", "9999")
    assert app.screens.current == "login" and pos.banner.full_text == "密码不对。"
    pos.login("02", "0000")
    assert app.screens.current == "home" and app.status_text.startswith("李建国")
    assert kh.find(app.root.ids.header, "title").text == "爱心超市 · 主菜单"

    pos.menu("go_redeem")
    pos.idle.now += 301  # five minutes without a touch
    app._check_idle(0)
    assert app.screens.current == "login" and app.session.locked
    assert pos.screen("login").chosen_id == "02"  # the locked operator, ready for the PIN
    # A locked till does not look like a plain login: it says so, and whose it is.
    assert kh.find(pos.screen("login"), "login_heading").full_text.startswith("已锁屏：李建国 的收银台")
    assert kh.find(app.root.ids.header, "title").text == "已锁屏"
    pos.digits("0000", pos.screen("login"))
    assert app.screens.current == "redeem"  # back where they were

    pos.menu("switch")
    assert app.screens.current == "login" and pos.screen("login").chosen_id == ""
    pos.login("01", "1234")
    assert app.session.is_manager and app.screens.current == "home"


def test_language_switch_rerenders_the_screen(pos: Pos) -> None:
    pos.log_in()
    pos.menu("go_redeem")
    confirm = kh.find(pos.screen(), "confirm")
    assert confirm.text == "确认兑换"
    pos.tap(kh.find(pos.app.root.ids.header, "language"))
    assert pos.app.lang == "en" and confirm.text == "Confirm"
    assert kh.find(pos.app.root.ids.header, "title").text == "Redeem points"
    pos.tap(kh.find(pos.app.root.ids.header, "language"))
    assert confirm.text == "确认兑换"


# ----- redemption ------------------------------------------------------------------------------------------


def test_a_full_redemption_by_taps_commits_once_and_prints(pos: Pos) -> None:
    pos.log_in()
    pos.scanner.scan(pos.shop.codes["XF0002"])  # from the menu: the scan opens the redemption
    kh.pump_until(lambda: pos.app.screens.current == "redeem")
    screen = pos.screen()
    assert screen.hh_name == "李四" and kh.find(screen, "hh_redeemable").text == "400"

    pos.tap(pos.tile("RICE"))
    pos.tap(kh.find(pos.cart_row("RICE"), "plus"))
    pos.tap(pos.tile("SOAP"))
    pos.tap(kh.find(pos.cart_row("SOAP"), "minus"))
    assert (
        screen.total == 60
        and screen.remaining == 340
        and kh.find(screen, "total").text == "合计 60 分\n还可兑换 340 分"
    )

    pos.tap_id("confirm")
    assert "大米 5kg袋×2" in kh.find(pos.dialog(), "message").full_text
    pos.answer(True)
    kh.wait_background()

    (txn,) = pos.ledger(TxnKind.REDEEM)
    assert [(line.sku, line.qty) for line in txn.lines] == [("RICE", -2)] and txn.operator == "02"
    assert kh.find(screen, "hh_redeemable").text == "340" and screen.total == 0
    assert len(pos.printer.jobs) == 1 and any("李四" in line for line in last_text(pos.printer))
    # The sale, whole and once, where the cart was: points spent, points left, the receipt number, printed.
    kh.pump(2)
    done = kh.find(screen, "done")
    assert screen.done_receipt == txn.receipt_no and not pos.banner.shown
    assert kh.find(done, "done_points").full_text == "用了 60 分"
    assert kh.find(done, "done_left").full_text == "还可兑换 340 分"
    receipt = kh.find(done, "done_receipt").full_text
    assert receipt == f"小票 {txn.receipt_no}\n小票已打印，请交给农户。"
    assert kh.find(screen, "confirm").text == "下一位"

    pos.tap_id("confirm")  # 下一位: no second sale, and the till waits for the next passbook
    kh.pump(2)
    assert len(pos.ledger(TxnKind.REDEEM)) == 1 and len(pos.printer.jobs) == 1
    assert screen.done_receipt == "" and not screen.has_household


def test_a_goods_picture_stands_above_its_words_on_the_tile_and_the_rows_grow_to_hold_it(
    counter: ShopFixture, tmp_path: Any
) -> None:
    from PIL import Image

    from lovemart.pos_main import build_pos
    from ui.theme import theme

    source = tmp_path / "rice.jpg"
    Image.new("RGB", (900, 600), (200, 30, 30)).save(source)
    parts = parts_of(counter, printer=MemoryPrinter(), scanners=[scanner := FakeScanner(window_s=0)])
    picture = str(parts.pictures.put("RICE", source))
    app = build_pos(parts, lockdown=False, freeze_gc=False, idle_lock_s=300)
    with kh.running(app):
        pos = Pos(app, counter, MemoryPrinter(), scanner, FakeClock(0.0))
        pos.log_in()
        scanner.scan(counter.codes["XF0002"])
        kh.pump_until(lambda: app.screens.current == "redeem" and pos.screen().has_household)
        rice, soap = pos.tile("RICE"), pos.tile("SOAP")
        assert rice.picture == picture and soap.picture == ""
        image = next(w for w in rice.children if type(w).__name__ == "Image")
        assert image.texture is not None and image.opacity == 1
        # the picture inside the tile, above the words; the words below it, whole
        assert image.width > 40 and image.top <= rice.top and image.y >= rice.y
        words_top = rice.center_y - rice.texture_size[1] / 2 + (rice.texture_size[1] - rice.picture_room)
        assert image.y >= words_top - 1
        assert rice.texture_size[1] <= rice.height and rice.height >= theme().touch * 1.8  # taller rows
        bare = next(w for w in soap.children if type(w).__name__ == "Image")
        assert soap.picture_room == 0 and bare.opacity == 0
        pos.tap(rice)  # a tile with a picture is a tile: the tap adds the goods
        assert [line.sku for line in pos.screen().presenter.cart().lines] == ["RICE"]


def test_an_over_budget_cart_is_refused(pos: Pos) -> None:
    pos.log_in()
    pos.scanner.scan(pos.shop.codes["XF0001"])  # 30 points redeemable
    kh.pump_until(lambda: pos.app.screens.current == "redeem")
    screen = pos.screen()
    pos.tap(pos.tile("RICE"))  # 30: exactly what the household has
    pos.tap(pos.tile("SOAP"))  # 3 more: refused
    assert pos.banner.full_text == "没有加上肥皂 块：它要 3 分，还可兑换的只剩 0 分（购物车里已有 30 分）。"
    assert pos.banner.kind == "error"
    assert screen.total == 30 and screen.remaining == 0
    pos.tap(kh.find(pos.cart_row("RICE"), "plus"))
    assert screen.total == 30 and pos.banner.full_text.startswith("没有加上大米")
    # Another passbook while goods are in the cart is refused too.
    pos.scanner.scan(pos.shop.codes["XF0002"])
    kh.pump(2)
    assert screen.hh_name == "张三" and "购物车里还有 张三 的商品" in pos.banner.full_text
    assert pos.ledger(TxnKind.REDEEM) == []


def test_a_wedge_scanner_burst_brings_up_the_household_and_adds_goods(pos: Pos) -> None:
    pos.log_in()
    kh.type_burst(pos.shop.codes["XF0002"])
    kh.pump_until(lambda: pos.app.screens.current == "redeem" and pos.screen().hh_name == "李四")
    kh.type_burst("6901234500127")  # a product barcode: one bar of soap
    kh.pump_until(lambda: pos.screen().total == 3)
    assert pos.app.redeem.quantity("SOAP") == 1
    kh.type_burst("6900000000000")
    kh.pump_until(lambda: "没有这个商品" in pos.banner.full_text)


def test_goods_are_found_by_their_pinyin_initials_by_taps_and_by_keyboard(pos: Pos) -> None:
    pos.log_in()
    pos.scanner.scan(pos.shop.codes["XF0002"])
    kh.pump_until(lambda: pos.app.screens.current == "redeem")
    kh.wait_background()  # the pinyin tables load on a worker at start-up
    screen = pos.screen()
    grid = kh.find(screen, "grid")
    pos.tap(kh.find(grid, "find"))
    finder = pos.dialog()
    # the example is an item of this shop
    assert kh.find(finder, "detail").full_text.startswith("每个字打拼音的第一个字母，比如肥皂打 FZ。")
    letters = kh.find(finder, "letters")
    pos.tap(kh.find(letters, "key_D"))
    pos.tap(kh.find(letters, "key_M"))
    kh.pump(2)
    # What DM finds shows in the pad and in the grid behind it.
    assert [t["sku"] for t in grid.tiles] == ["RICE"] and kh.find(finder, "found_count").full_text == "找到 1 样"
    result = kh.find(finder, lambda w: type(w).__name__ == "PosItemTile" and w.sku == "RICE")
    pos.tap(result)  # goes into the cart, as a tap on the grid would, and closes the pad
    kh.pump(2)
    assert pos.app.redeem.quantity("RICE") == 1 and finder.get_parent_window() is None
    assert kh.find(grid, "find").text == "找：DM"
    assert [w.sku for w in kh.find_all(grid, lambda w: type(w).__name__ == "PosItemTile" and w.sku)] == ["RICE"]

    pos.tap(kh.find(grid, "find"))
    pos.tap(kh.find(pos.dialog(), "key_clear"))
    for letter in "QQ":
        pos.tap(kh.find(pos.dialog(), f"key_{letter}"))
    kh.pump(2)
    assert grid.tiles == [] and kh.find(pos.dialog(), "found_count").full_text == "没有拼音首字母是 QQ 的商品"
    pos.tap(kh.find(pos.dialog(), "done"))
    assert kh.find(grid, "none_found").full_text == "没有拼音首字母是 QQ 的商品"

    pos.tap(kh.find(grid, lambda w: type(w).__name__ == "PosCategoryTab" and w.category == ""))  # 全部
    kh.pump(2)
    assert grid.query == "" and {t["sku"] for t in grid.tiles} == {"RICE", "SOAP"}
    pos.tap(kh.find(grid, "find"))
    pos.tap(kh.find(pos.dialog(), "key_F"))
    pos.tap(kh.find(pos.dialog(), "done"))
    kh.pump(2)
    assert grid.query == "F" and [t["sku"] for t in grid.tiles] == ["SOAP"]

    pos.tap(pos.tile("SOAP"))
    pos.tap_id("confirm")
    pos.answer(True)
    kh.wait_background()
    pos.tap_id("confirm")  # 下一位: the next villager starts from every item
    kh.pump(2)
    assert grid.query == "" and len(grid.tiles) == 2


def test_a_typed_household_number_needs_a_managers_pin(pos: Pos) -> None:
    pos.log_in()
    pos.menu("go_redeem")
    pos.tap_id("manual")
    # It says what to type, with a number of this shop as the example; the shop's one village code is
    # chosen already and shows before the digits.
    dialog = pos.dialog()
    assert kh.find(dialog, "detail").full_text.startswith(
        "户号印在存折上，比如 XF0001：村编号 XF 已经选好，只要输后面的数字 1，"
    )
    keypad = kh.find(dialog, "keypad")
    assert keypad.prefix == "XF" and kh.find(keypad, "display").text == "XF"
    prefix = kh.find(dialog, lambda w: type(w).__name__ == "PosPrefixButton")
    assert prefix.text == "XF" and prefix.selected
    pos.tap(kh.find(keypad, "key_2"))
    assert kh.find(keypad, "display").text == "XF2"
    pos.tap(prefix)  # no village: the digits alone, in every village
    assert keypad.prefix == "" and kh.find(keypad, "display").text == "2" and not prefix.selected
    pos.tap(kh.find(keypad, "key_back"))
    pos.digits("2")
    manager_dialog = pos.dialog()
    pos.digits("0000", manager_dialog)  # the clerk's own PIN is not a manager's
    assert kh.find(manager_dialog, "error").text == "密码不对。" and not pos.screen().has_household
    pos.digits("1234", manager_dialog)
    kh.pump(2)
    assert pos.screen().hh_name == "李四"


def test_printer_failure_keeps_the_sale_and_reprint_prints_it_once(pos: Pos) -> None:
    pos.log_in()
    pos.printer.fail_with(HardwareError("printer_offline", where=Message("printer.via.usb"), device="USB 0416:5011"))
    pos.redeem_by_taps(pos.shop.codes["XF0002"], "SOAP")
    (txn,) = pos.ledger(TxnKind.REDEEM)
    message = kh.find(pos.dialog(), "message").full_text
    assert f"小票 {txn.receipt_no} 没有打印出来，但业务已经保存" in message
    assert "小票打印机（USB）没有响应：请看它是否开着" in message and "0416" not in message  # words, not ids
    pos.answer(False)  # later
    assert pos.app.reprint_receipt == txn.receipt_no and "打印机未就绪" in pos.app.status_text
    assert pos.banner.kind == "warning" and "业务已保存" in pos.banner.full_text
    reprint = kh.find(pos.screen(), "reprint")
    assert not reprint.disabled and pos.printer.jobs == []

    pos.tap(reprint)  # still broken: asked again, nothing doubled
    kh.wait_background()
    pos.answer(False)
    pos.printer.fail_with(None)
    pos.tap(reprint)
    kh.wait_background()
    assert len(pos.printer.jobs) == 1 and any("重印" in line for line in last_text(pos.printer))
    assert pos.app.reprint_receipt == "" and reprint.disabled
    assert len(pos.ledger(TxnKind.REDEEM)) == 1 and "打印机未就绪" not in pos.app.status_text


# ----- void, stock count, donation, day close ----------------------------------------------------------------


def test_a_void_by_taps_needs_a_reason_and_a_managers_pin(pos: Pos) -> None:
    pos.log_in()
    pos.redeem_by_taps(pos.shop.codes["XF0002"], "RICE")
    (sale,) = pos.ledger(TxnKind.REDEEM)
    pos.menu("go_today")
    row = kh.find(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == sale.receipt_no)
    pos.tap(row)
    pos.tap_id("void")
    # The reason is asked with what goes back in view: whose sale, the goods, the points.
    title = kh.find(pos.dialog(), "title").full_text
    assert title == f"作废小票 {sale.receipt_no}：李四（XF0002）大米5kg袋×1，退回 30 分。请选原因："
    pos.tap_text("顾客退货")
    pos.digits("1234")  # the manager's PIN
    pos.answer(True)
    kh.wait_background()
    (void,) = pos.ledger(TxnKind.VOID)
    assert void.ref_txn_id == sale.txn_id and void.memo == "顾客退货" and void.operator == "01"
    kh.pump(2)
    voided = kh.find(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == sale.receipt_no)
    assert "已作废" in voided.detail and voided.marked
    assert any("作废" in line for line in last_text(pos.printer))


def test_a_stock_count_shows_the_difference_and_adjusts(pos: Pos) -> None:
    pos.log_in()
    pos.menu("go_count")
    row = kh.find(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == "SOAP")
    pos.tap(row)
    pos.digits("37")
    kh.pump(2)
    row = kh.find(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == "SOAP")
    assert row.marked and "-3" in row.detail
    pos.tap_id("confirm")
    assert "肥皂：账面 40，实盘 37（-3）" in kh.find(pos.dialog(), "message").full_text
    pos.answer(True)
    (count,) = pos.ledger(TxnKind.STOCK_ADJUST)
    assert [(line.sku, line.qty) for line in count.lines] == [("SOAP", -3)]
    with pos.shop.store.read() as unit:
        assert unit.stock("SOAP") == 37


def test_a_money_donation_by_taps_prints_the_voucher(pos: Pos) -> None:
    pos.log_in()
    pos.menu("go_donation")
    screen = pos.screen()
    keypad = kh.find(screen, "keypad")
    for digit in "500":
        pos.tap(kh.find(keypad, f"key_{digit}"))
    assert kh.find(screen, "amount").text == "￥500"
    pos.tap_id("donor")
    pos.tap_text("爱心人士（匿名）")
    pos.tap_id("confirm")
    pos.answer(True)
    kh.wait_background()
    (gift,) = pos.ledger(TxnKind.DONATION)
    assert gift.party == "爱心人士（匿名）" and sorted(p.amount for p in gift.postings) == [-50_000, 50_000]
    assert any("捐赠凭证" in line for line in last_text(pos.printer))


def test_day_close_totals_recorded_printed_then_sync_offered(pos: Pos) -> None:
    pos.log_in()
    pos.redeem_by_taps(pos.shop.codes["XF0002"], "RICE")
    pos.menu("go_day_close")
    screen = pos.screen()
    kh.pump_until(lambda: screen.ready)
    values = [w.text for w in kh.find(screen, "totals").children]
    assert "30" in values  # points redeemed today
    pos.tap_id("confirm")
    pos.answer(True)
    kh.wait_background()
    (close,) = pos.ledger(TxnKind.DAY_CLOSE)
    assert '"points_redeemed": 30' in close.memo
    assert any("日结" in line for line in last_text(pos.printer))
    assert "同步" in kh.find(pos.dialog(), "message").full_text
    pos.answer(True)
    kh.pump(2)
    assert pos.app.screens.current == "sync" and pos.screen().headline == "未连接乡镇服务器"
    assert kh.find(pos.screen(), "sync_now").disabled
    assert kh.find(pos.screen(), "why_not").full_text.startswith("本店是独立超市，没有接乡镇服务器")  # grey, and why


def test_day_close_audits_the_whole_ledger_in_the_background_and_records_it(pos: Pos) -> None:
    """Issue 11 §4: after the day is closed the whole audit runs on a worker; its result is recorded (for
    doctor, and as the checkpoint of the next start-up check) and a tampered ledger stops selling."""
    from ledger import integrity

    pos.log_in()
    pos.menu("go_day_close")
    screen = pos.screen()
    kh.pump_until(lambda: screen.ready)
    pos.tap_id("confirm")
    pos.answer(True)
    kh.wait_background()
    with pos.shop.store.read() as unit:
        record = integrity.last_audit(unit)
        checkpoint = integrity.checkpoint_of(unit)
    assert record is not None and record.ok and record.problems == 0
    (close,) = pos.ledger(TxnKind.DAY_CLOSE)
    assert checkpoint is not None and checkpoint.heads["P1"] == (close.seq, close.hash)  # audited after the close
    assert integrity.check_chain(pos.shop.store).ok
    # Then a backup of the audited ledger, which holds the day close (``lovemart.backups``).
    assert pos.shop.path is not None
    folder = pos.shop.path.parent / "backups"
    kh.pump_until(lambda: folder.is_dir() and any(folder.glob("ledger-*.sqlite3")), what="the day close's backup")
    (copy,) = folder.glob("ledger-*.sqlite3")
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM txn WHERE kind = 'day_close'").fetchone() == (1,)
    pos.app._check_backup()  # the hourly look: one was made today, so none is due
    kh.wait_background()
    assert list(folder.glob("ledger-*.sqlite3")) == [copy]


def test_day_close_audit_that_fails_stops_selling(pos: Pos) -> None:
    import sqlite3
    from contextlib import closing

    from ledger import integrity

    assert pos.shop.path is not None
    with closing(sqlite3.connect(pos.shop.path, isolation_level=None)) as c:  # a memo rewritten behind the triggers
        trigger = c.execute("SELECT sql FROM sqlite_master WHERE name = 'txn_append_only_update'").fetchone()[0]
        c.execute("DROP TRIGGER txn_append_only_update")
        c.execute("UPDATE txn SET memo = '改过' WHERE seq = 1")
        c.execute(trigger)
    pos.log_in()
    pos.menu("go_day_close")
    screen = pos.screen()
    kh.pump_until(lambda: screen.ready)
    pos.tap_id("confirm")
    pos.answer(True)
    kh.wait_background()
    with pos.shop.store.read() as unit:
        record = integrity.last_audit(unit)
        assert integrity.stopped(unit) is not None
    assert record is not None and not record.ok and record.first.endswith("content differs from its hash")
    with pytest.raises(services.LedgerError) as refused:
        services.redeem(pos.shop.store, pos.shop.codes["XF0002"], [("RICE", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "ledger_tampered"


# ----- lock-down ---------------------------------------------------------------------------------------------


def test_locked_down_pos_refuses_escape_and_window_close(counter: ShopFixture) -> None:
    from lovemart.pos_main import build_pos
    from pos.app import LockedPosApp

    app = build_pos(parts_of(counter), lockdown=True, fullscreen=False, freeze_gc=False)
    assert isinstance(app, LockedPosApp) and not app.lockdown_fullscreen
    with kh.running(app):
        kh.press_key(27)  # Escape
        kh.window().dispatch("on_request_close")
        kh.press_key(282)  # F1
        kh.pump(2)
        assert app.lockdown is not None and app.lockdown.vetoed >= 1 and kh.close_requests() == 0
        assert app.screens.current == "login"


# ----- sync ----------------------------------------------------------------------------------------------------


class FakeSync:
    """A sync client whose "sync now" fails the way a village network does, and notes where it ran."""

    def __init__(self) -> None:
        self.ran_on: list[str] = []

    def status(self) -> Any:
        from ledger.ports import SyncStatus

        return SyncStatus(configured=True, last_success=None, waiting=4)

    def sync_now(self) -> Any:
        import threading

        from ledger.messages import Said
        from ledger.ports import SyncStatus

        self.ran_on.append(threading.current_thread().name)
        return SyncStatus(True, None, 4, error=Said("连不上乡镇服务器（网络不通）。", "Cannot reach the server."))


def test_sync_now_runs_off_the_ui_thread_and_says_why_it_failed(counter: ShopFixture) -> None:
    from lovemart.pos_main import build_pos

    port = FakeSync()
    app = build_pos(parts_of(counter, sync=port), freeze_gc=False)
    with kh.running(app):
        pos = Pos(app, counter, MemoryPrinter(), FakeScanner(), None)
        pos.log_in()
        assert "从未同步" in app.status_text
        app.go("sync")
        screen = pos.screen()
        assert screen.headline == "从未同步" and kh.find(screen, "waiting").text == "等待上传：4 笔"
        pos.tap_id("sync_now")
        kh.wait_background()
        assert port.ran_on and port.ran_on[0] != "MainThread"
        assert screen.headline == "同步失败" and kh.find(screen, "error").text == "连不上乡镇服务器（网络不通）。"
        assert "同步失败" in app.status_text and app.status_kind == "warning"


class CountingSync(FakeSync):
    def sync_now(self) -> Any:
        from ledger.ports import SyncStatus

        super().sync_now()
        return SyncStatus(True, "2026-11-23T02:00:05+08:00", 0)


def test_the_nightly_sync_runs_once_when_its_hour_has_come_off_the_ui_thread(counter: ShopFixture) -> None:
    from datetime import datetime, timedelta

    from pos.app import PosApp
    from pos.assembly import pos_presenters

    now = datetime(2026, 11, 23, 2, 0, 5)
    asked: list[datetime] = []

    def nightly(after: datetime) -> datetime:
        asked.append(after)
        # The first answer is already past (the PC slept through 02:00); later ones are tomorrow.
        return after - timedelta(seconds=5) if len(asked) == 1 else after + timedelta(days=1)

    port = CountingSync()
    presenters = pos_presenters(counter.store, printer=MemoryPrinter(), sync=port, clock=lambda: now)
    app = PosApp(presenters, freeze_gc=False, nightly_sync=nightly)
    with kh.running(app):
        assert port.ran_on == []
        app._check_nightly()  # the half-minute check, as the clock would call it
        kh.wait_background()
        assert len(port.ran_on) == 1 and port.ran_on[0] != "MainThread"
        app._check_nightly()  # the next is due tomorrow: nothing more tonight
        kh.wait_background()
        assert len(port.ran_on) == 1 and asked == [now, now]


def test_plus_and_minus_change_the_goods_lines_of_stock_in_and_donation(pos: Pos) -> None:
    pos.log_in()
    for button, screen_name in (("go_stock_in", "stock_in"), ("go_donation", "donation")):
        pos.menu(button)
        screen = pos.screen()
        assert pos.app.screens.current == screen_name
        if screen_name == "donation":
            screen.set_kind("goods")
        screen.plus("SOAP")
        screen.plus("SOAP")
        screen.minus("SOAP")
        kh.pump(2)
        assert [(line.sku, line.qty) for line in screen.presenter.goods.lines()] == [("SOAP", 1)]
        screen.minus("SOAP")
        kh.pump(2)
        assert screen.presenter.goods.lines() == []
        pos.app.go_home()
        kh.pump(1)


def test_goods_brought_back_the_next_day_are_voided_by_the_receipt_number(pos: Pos) -> None:
    from datetime import datetime, timedelta

    from ledger import services

    yesterday = datetime.now().astimezone() - timedelta(days=1)
    clerk = services.login(pos.shop.store, "02", "0000")
    sale = services.redeem(
        pos.shop.store, pos.shop.codes["XF0002"], [("RICE", 1)], services.Context(clerk, lambda: yesterday)
    ).transaction
    pos.log_in()
    pos.menu("go_today")
    assert not kh.find_all(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == sale.receipt_no)
    pos.tap_id("find")
    pos.digits("999")  # no such receipt: said in the keypad, which stays open
    dialog = pos.dialog()
    assert "没有找到小票" in kh.find(dialog, "error").text
    pos.tap(kh.find(dialog, "key_clear"))
    pos.digits(str(sale.seq), root=dialog)
    kh.pump(2)
    row = kh.find(pos.screen(), lambda w: type(w).__name__ == "PosTextRow" and w.key == sale.receipt_no)
    assert row.selected
    pos.tap_id("void")
    pos.tap_text("顾客退货")
    pos.digits("1234")
    pos.answer(True)
    kh.wait_background()
    (void,) = pos.ledger(TxnKind.VOID)
    assert void.ref_txn_id == sale.txn_id


def test_the_redeem_screen_mirrors_the_camera_only_while_it_waits_for_a_passbook(counter: ShopFixture) -> None:
    import numpy as np

    from pos.app import PosApp
    from pos.assembly import pos_presenters

    frames: list[Any] = [None]
    scanner = FakeScanner(window_s=0)
    presenters = pos_presenters(counter.store, printer=MemoryPrinter())
    app = PosApp(presenters, scanners=[scanner], preview=lambda: frames[0], freeze_gc=False)
    with kh.running(app):
        pos = Pos(app, counter, MemoryPrinter(), scanner, None)
        pos.log_in()
        app.go("redeem")
        preview = kh.find(pos.screen("redeem"), "preview")
        kh.pump(2)
        assert preview.active and not preview.live and preview.height == 0, "no camera: no room taken"

        frames[0] = np.full((120, 160, 3), 200, dtype=np.uint8)
        kh.pump_until(lambda: preview.live, what="the camera picture")
        kh.pump(2)
        assert preview.height > 100 and preview.opacity == 1

        scanner.scan(counter.codes["XF0002"])
        kh.pump_until(lambda: pos.screen("redeem").has_household, what="the household")
        kh.pump(2)
        assert not preview.active and preview.opacity == 0 and preview.height == 0

        pos.screen("redeem").next_customer()
        kh.pump(2)
        assert preview.active and preview.live and preview.opacity == 1

        app.go("home")
        kh.pump(2)
        assert not preview.active  # another screen: the mirror stands still


def test_a_physical_keyboard_types_into_the_keypads_and_a_scanner_burst_still_scans(counter: ShopFixture) -> None:
    from pos.app import PosApp
    from pos.assembly import pos_presenters

    clock = FakeClock(50.0)
    app = PosApp(
        pos_presenters(counter.store, printer=MemoryPrinter()),
        wedge_factory=lambda on_scan: KeyboardWedge(on_scan=on_scan, clock=clock, max_gap_s=0.05),
        freeze_gc=False,
    )

    def type_slowly(text: str, enter: bool = True) -> None:
        """A person at the keyboard: a quarter of a second between keys (the wedge's clock, not a sleep)."""
        for char in text:
            clock.now += 0.25
            kh.press_key(ord(char) if char != "\b" else 8)
        if enter:
            clock.now += 0.25
            kh.press_key(13)
        kh.pump(1)

    with kh.running(app):
        pos = Pos(app, counter, MemoryPrinter(), FakeScanner(), None)
        login = pos.screen("login")
        pos.tap(kh.find(login, lambda w: getattr(w, "operator_id", None) == "02"))
        type_slowly("00x9\b00")  # a letter is ignored, Backspace takes the 9 back, Enter is OK
        assert app.screens.current == "home" and app.session.operator is not None
        assert app.keyboard.typed_digits == 5

        pos.menu("go_redeem")
        pos.tap_id("manual")
        type_slowly("2")  # the household number XF0002, in the dialog on top of the screen
        type_slowly("1234")  # then a manager's PIN in the next dialog
        kh.pump(2)
        assert pos.screen().hh_name == "李四"

        # 查找's letter pad takes letters, Backspace and Enter (which closes it, the search kept).
        grid = kh.find(pos.screen(), "grid")
        pos.tap(kh.find(grid, "find"))
        type_slowly("fzx\b")
        assert grid.query == "FZ" and [t["sku"] for t in grid.tiles] == ["SOAP"]
        assert not [w for w in kh.window().children if type(w).__name__ == "PosFindDialog"]

        pos.screen().next_customer()
        clock.now += 1
        kh.type_burst(counter.codes["XF0001"])  # the scanner on the same keyboard: a burst, not typing
        kh.pump_until(lambda: pos.screen().hh_name == "张三", what="the scanned household")
        assert app.keyboard.typed_digits == 10  # the scan's digits went to the scan, not into a keypad


# ----- the household register ----------------------------------------------------------------------------


def _form(pos: Pos) -> dict[str, Any]:
    kh.pump(2)
    rows = kh.find_all(pos.screen(), lambda w: type(w).__name__ == "FormTextRow")
    return {row.field.name: row for row in rows}


def test_a_manager_registers_a_household_and_its_card_prints_by_taps(pos: Pos) -> None:
    pos.log_in("02", "0000")  # a clerk: the register asks for a manager's PIN first
    pos.menu("go_register")
    pos.digits("1234")
    kh.pump(2)
    assert pos.app.screens.current == "register"
    form = _form(pos)
    assert kh.find(form["household_id"], "input").text == "XF0003"  # the next free number

    kh.find(form["phone"], "input").text = "123"
    pos.tap_id("add")
    form = _form(pos)
    assert form["head_name"].problem == "户主姓名不能为空（最多 100 字）。"
    assert form["phone"].problem.startswith("电话号码不对：123")
    with pos.shop.store.read() as unit:
        assert unit.household("XF0003") is None  # a refusal stores nothing

    kh.find(form["head_name"], "input").text = "王五"
    kh.find(form["members"], "input").text = "刘芳(配偶)、王小明(儿子)"
    kh.find(form["phone"], "input").text = "138 1234 5678"
    pos.printer.fail_with(HardwareError("printer_offline", where=Message("printer.via.usb"), device="USB 0416:5011"))
    pos.tap_id("add")
    kh.wait_background()
    kh.pump(2)
    assert pos.banner.full_text.startswith("XF0003 已登记，但存折卡没打出来")
    with pos.shop.store.read() as unit:
        household = unit.household("XF0003")
        assert household is not None and household.phone == "138 1234 5678"
        assert [m.relation for m in household.members] == ["户主", "配偶", "儿子"]
        assert unit.active_card("XF0003") is not None
    assert kh.find(_form(pos)["household_id"], "input").text == "XF0004"  # ready for the next one

    pos.printer.fail_with(None)
    pos.tap_id("print_again")
    kh.wait_background()
    kh.pump(2)
    assert pos.banner.full_text == "XF0003 的存折卡已打印，请交给户主。"
    card = "\n".join(last_text(pos.printer))
    assert "XF0003" in card and "王五" in card


def test_a_connected_shop_says_the_township_keeps_its_register(pos: Pos) -> None:
    with pos.shop.store.write() as unit:
        unit.set_meta("server_url", "https://township.example")
    pos.log_in("01", "1234")
    pos.menu("go_register")
    kh.pump(2)
    screen = pos.screen()
    assert not screen.own_register and not _form(pos)
    assert kh.find(screen, "about").text.startswith("本店已接入乡镇，农户名册由乡镇管理")
    assert kh.find(screen, "add").disabled
