"""The kiosk app driven offscreen like a villager would: scans from a fake scanner and a wedge burst, touches,
timeouts from the pumped Clock (never sleeps). See tests/kivy_harness.py.

Kivy is imported inside the tests (``kiosk.app`` in ``make_kiosk``): ``tests.kivy_harness`` must set the
offscreen environment first, and ``kiosk`` sorts before ``tests``. The presenter side has no Kivy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from hardware.errors import HardwareError
from hardware.scanner import FakeScanner, ScannerStatus
from hardware.speech import MemorySpeaker
from hardware.wedge import KeyboardWedge
from kiosk.access import LedgerAccess
from kiosk.presenter import KioskPresenter
from kiosk.sources import LocalSource
from ledger import services
from ledger.model import Role
from ledger.passbook import make_code
from tests import kivy_harness as kh
from tests.conftest import ADMIN_CTX, TEST_KEY, ShopFixture

if TYPE_CHECKING:
    from kiosk.app import KioskApp

SIZES = ((1280, 800), (1024, 600), (480, 800))


@dataclass
class Kiosk:
    app: KioskApp
    scanner: FakeScanner
    speaker: MemorySpeaker
    shop: ShopFixture
    exits: list[bool] = field(default_factory=list)

    def scan(self, code: str) -> None:
        completed = self.app.households_completed
        assert self.scanner.scan(code)
        kh.pump_until(lambda: self.app.screen != "idle", what="scan shown")
        if self.app.screen == "household":  # the lists follow the figures by two frames
            kh.pump_until(lambda: self.app.households_completed > completed, what="lists filled")


@pytest.fixture
def village(shop: ShopFixture) -> ShopFixture:
    shop.household("H1", "王秀兰", 180)  # redeemable 80 (floor 100)
    shop.household("H2", "李建国", 260)
    shop.household("H3", "张桂兰", 120)
    shop.item("RICE", 60, stock=5, name="大米")
    shop.item("SOAP", 3, stock=40, name="肥皂")
    return shop


def make_kiosk(
    shop: ShopFixture,
    *,
    speaker: MemorySpeaker | None = None,
    source: Any = None,
    preview: Any = None,
    pictures_of: Any = None,
    **settings: Any,
) -> Kiosk:
    from kiosk.app import KioskApp, KioskSettings  # Kivy: only after the harness set its environment

    options: dict[str, Any] = {"timeout_s": 20.0, "error_timeout_s": 8.0, "lockdown": False, "fullscreen": False}
    options.update(settings)
    scanner = FakeScanner(window_s=0)
    speaker = speaker or MemorySpeaker()
    exits: list[bool] = []
    app = KioskApp(
        KioskPresenter(source or LocalSource(shop.store), pictures_of=pictures_of or (lambda _skus: {})),
        settings=KioskSettings(**options),
        scanners=[scanner],
        wedge_factory=lambda on_scan: KeyboardWedge(on_scan=on_scan, max_gap_s=0.5),
        speaker=speaker,
        access=LedgerAccess(shop.store),
        on_exit=lambda: exits.append(True),
        preview=preview,
    )
    return Kiosk(app, scanner, speaker, shop, exits)


@pytest.fixture
def kiosk(village: ShopFixture) -> Iterator[Kiosk]:
    k = make_kiosk(village, error_timeout_s=0.8)
    with kh.running(k.app):
        kh.wait_background()
        kh.pump(2)
        yield k


def texts_on_screen(public: Any = None) -> list[str]:
    """Every text in the window, except under ``public`` (the ranking: names and points are public there)."""
    hidden = {id(w) for w in public.walk(restrict=True)} if public is not None else set()
    return [
        str(w.text)
        for w in kh.find_all(None, lambda w: isinstance(getattr(w, "text", None), str))
        if id(w) not in hidden
    ]


def texts_of(widget: Any) -> list[str]:
    return [str(w.text) for w in widget.walk(restrict=True) if isinstance(getattr(w, "text", None), str)]


# ----- scan, figures, timeout, privacy ----------------------------------------------------------------------


def test_scan_shows_the_balance_then_the_timeout_leaves_nothing_of_the_household(village: ShopFixture) -> None:
    kiosk = make_kiosk(village, timeout_s=1.5)
    with kh.running(kiosk.app):
        kh.wait_background()
        check_scan_then_timeout(kiosk)


def check_scan_then_timeout(kiosk: Kiosk) -> None:
    app = kiosk.app
    kiosk.scan(kiosk.shop.codes["H1"])
    assert app.screen == "household"
    screen = app.household_screen
    assert kh.find(screen, "redeemable").text == "80"
    assert screen.ids.header.title == "王秀兰 户"
    assert kh.find(screen, "balance").text == "积分余额 180 分"
    assert kh.find(screen, "earned").text == "本年度获得 180 分"
    assert [r.text for r in screen.ids.movements.rows] == ["奖励：测试奖励"]
    assert [r.name for r in screen.ids.affordable.rows] == ["大米", "肥皂"]
    shown = texts_on_screen()
    assert "80" in shown and "王秀兰 户" in shown

    frames = kh.pump_until(lambda: app.screen == "idle", timeout_s=10, what="timeout back to idle")
    assert frames > 1  # the Clock took it there, not the test
    ranking = app.idle_screen.ids.ranking
    assert "王秀兰" in [row.name for row in ranking.rows]  # the public ranking may name her…
    for text in texts_on_screen(public=ranking) + texts_of(screen) + texts_of(app.error_screen):  # …nothing else
        assert "王秀兰" not in text and text != "80" and "测试奖励" not in text and "180" not in text
    assert not app.presenter.holds_household and kiosk.speaker.stops >= 1


def test_back_button_and_a_touch_keeps_the_screen_while_it_is_read(village: ShopFixture) -> None:
    k = make_kiosk(village, timeout_s=2.0)
    with kh.running(k.app):
        k.scan(village.codes["H2"])
        screen = k.app.household_screen
        timer = k.app._timer
        kh.tap(kh.find(screen, "movements_title"))  # reading: any touch restarts the timeout
        assert k.app.screen == "household" and k.app._timer is not timer
        kh.tap(kh.find(screen, "back"))
        assert k.app.screen == "idle" and not k.app.presenter.holds_household


def test_a_wedge_burst_is_a_scan(kiosk: Kiosk) -> None:
    kh.type_burst(kiosk.shop.codes["H2"])
    kh.pump_until(lambda: kiosk.app.screen == "household", what="wedge scan shown")
    assert kh.find(kiosk.app.household_screen, "redeemable").text == "160"


def test_ranking_order_on_the_idle_screen(kiosk: Kiosk) -> None:
    # spending does not lower a rank
    services.redeem(kiosk.shop.store, kiosk.shop.codes["H2"], [("RICE", 2)], ctx=ADMIN_CTX)
    kiosk.app.reload_ranking()
    kh.wait_background()
    kh.pump(2)
    rows = kiosk.app.idle_screen.ids.ranking.rows
    assert [(r.rank, r.name, r.points) for r in rows] == [
        ("1", "李建国", "260分"),
        ("2", "王秀兰", "180分"),
        ("3", "张桂兰", "120分"),
    ]
    assert kiosk.app.idle_screen.ids.ranking_title.text == "幸福村红榜"
    goods = [r.name for r in kiosk.app.idle_screen.ids.goods.rows]
    assert goods == ["大米", "肥皂"]


# ----- errors -------------------------------------------------------------------------------------------


def test_each_error_screen_and_its_return_to_idle(kiosk: Kiosk) -> None:
    shop = kiosk.shop
    services.reissue_passbook(shop.store, "H3")
    services.clear_household(shop.store, "H2", "酒驾（零容忍）", ctx=ADMIN_CTX)
    cases = [
        (make_code(TEST_KEY, "H999", 1), "没有找到这本存折"),
        (shop.codes["H3"], "这本存折已挂失"),
        ("LM1:H1:1:AAAAAA", "存折码认不出来"),
        (shop.codes["H2"], "积分已冻结"),
    ]
    app = kiosk.app
    for code, title in cases:
        kiosk.scan(code)
        assert app.screen == "error", title
        assert kh.find(app.error_screen, "error_title").text == title
        kh.pump_until(lambda: app.screen == "idle", timeout_s=10, what=f"{title}: back to idle")
    # the frozen household's name is gone with its error screen
    assert not any("李建国户" in text for text in texts_of(app.error_screen))


def test_camera_not_found_shows_an_error_then_a_note_on_idle(kiosk: Kiosk) -> None:
    app = kiosk.app
    kiosk.scanner.report(ScannerStatus("absent", HardwareError("camera_not_found", where="/dev/video0")))
    kh.pump_until(lambda: app.screen == "error", what="camera error")
    assert kh.find(app.error_screen, "error_title").text == "找不到摄像头"
    kh.pump_until(lambda: app.screen == "idle", timeout_s=10, what="back to idle")
    assert kh.find(app.idle_screen, "camera_note").full_text.startswith("没有找到摄像头")
    kiosk.scanner.report(ScannerStatus("ready"))
    kh.pump(2)
    assert kh.find(app.idle_screen, "camera_note").full_text == ""
    kiosk.scan(kiosk.shop.codes["H1"])  # scanning still works
    assert app.screen == "household"


class Camera:
    """A camera's newest frame as ``CameraScanner.latest_frame`` gives it: None while there is no camera."""

    def __init__(self) -> None:
        self.frame: Any = None
        self.asked = 0

    def latest_frame(self) -> Any:
        self.asked += 1
        return self.frame


def colour_at(png: Any, widget: Any, fx: float, fy: float) -> tuple[int, int, int]:
    """(R, G, B) of the screenshot at the fraction (fx, fy) of ``widget`` (from its bottom-left corner)."""
    import cv2

    image = cv2.imread(str(png))
    x, y = widget.to_window(widget.x + widget.width * fx, widget.y + widget.height * fy)
    b, g, r = image[image.shape[0] - 1 - int(y), int(x)]
    return int(r), int(g), int(b)


def test_idle_screen_mirrors_the_camera_and_shows_the_picture_when_there_is_none(
    village: ShopFixture, tmp_path: Any
) -> None:
    import numpy as np

    camera = Camera()
    k = make_kiosk(village, preview=camera.latest_frame)
    with kh.running(k.app):
        kh.wait_background()
        app = k.app
        preview = kh.find(app.idle_screen, "preview")
        picture = kh.find(app.idle_screen, "picture")
        kh.pump_until(lambda: camera.asked > 0, what="the preview asks for frames")
        assert not preview.live and picture.opacity == 1, "no camera picture: the drawing of how to scan"

        # The camera sees blue on its left and red on its right (BGR); the mirror shows red on the left.
        frame = np.zeros((120, 160, 3), dtype=np.uint8)
        frame[:, :80] = (255, 0, 0)
        frame[:, 80:] = (0, 0, 255)
        camera.frame = frame
        kh.pump_until(lambda: preview.live, what="the preview shows the frame")
        kh.pump_until(lambda: picture.opacity == 0, what="the drawing gives way")
        kh.pump(2)
        png = kh.screenshot(tmp_path / "idle.png")
        left, right = colour_at(png, preview, 0.3, 0.5), colour_at(png, preview, 0.7, 0.5)
        assert left[0] > 200 and left[2] < 60, f"left of the mirror should be red, is {left}"
        assert right[2] > 200 and right[0] < 60, f"right of the mirror should be blue, is {right}"

        uploads = preview.uploads
        kh.pump(6)
        assert preview.uploads == uploads, "the same frame is not uploaded again"

        # While a household is shown the camera picture stands still; back on idle it moves again.
        k.scan(village.codes["H1"])
        asked = camera.asked
        kh.pump(10)
        assert camera.asked == asked and not preview.active
        app.go_idle()
        camera.frame = frame.copy()
        kh.pump_until(lambda: preview.uploads > uploads, what="a new frame after idle")

        camera.frame = None  # the camera was pulled out: no frozen picture
        kh.pump_until(lambda: not preview.live, what="the preview blanks")
        kh.pump_until(lambda: picture.opacity == 1, what="the drawing is back")


# ----- voice, language -----------------------------------------------------------------------------------


def test_voice_button_reads_name_and_points(kiosk: Kiosk) -> None:
    kiosk.scan(kiosk.shop.codes["H1"])
    button = kh.find(kiosk.app.household_screen, "speak")
    assert button.opacity == 1 and not button.disabled
    kh.tap(button)
    assert kiosk.speaker.said == ["王秀兰户，可兑换积分 80 分"]


def test_no_sound_hides_the_voice_button_and_speaking_automatically(village: ShopFixture) -> None:
    mute = make_kiosk(village, speaker=MemorySpeaker(available=False), speak_automatically=True)
    with kh.running(mute.app):
        mute.scan(village.codes["H1"])
        button = kh.find(mute.app.household_screen, "speak")
        assert button.opacity == 0 and button.disabled and mute.speaker.said == []
    talking = make_kiosk(village, speak_automatically=True)
    with kh.running(talking.app):
        talking.scan(village.codes["H2"])
        assert talking.speaker.said == ["李建国户，可兑换积分 160 分"]


def test_english_switch(kiosk: Kiosk) -> None:
    kiosk.scan(kiosk.shop.codes["H1"])
    screen = kiosk.app.household_screen
    kh.tap(kh.find(screen.ids.header, "language"))
    kh.pump(2)
    assert kiosk.app.lang == "en"
    assert kh.find(screen, "balance").text == "Balance 180 pts" and kh.find(screen, "back").text == "Back"
    assert screen.ids.header.title == "Household 王秀兰"
    kh.tap(kh.find(screen, "back"))
    assert kiosk.app.lang == "zh" and kh.find(kiosk.app.idle_screen, "invite").text == "请扫描\n积分存折"


# ----- lock-down and the way out -------------------------------------------------------------------------


def test_locked_kiosk_refuses_escape_close_and_f1(village: ShopFixture) -> None:
    from kivy.uix.settings import Settings

    k = make_kiosk(village, lockdown=True, fullscreen=False)
    with kh.running(k.app):
        win = kh.window()
        kh.press_key(27)  # Escape
        kh.pump(2)
        win.dispatch("on_request_close")  # the window manager's close, Alt+F4
        assert k.app.lockdown is not None and k.app.lockdown.vetoed >= 1 and kh.close_requests() == 0
        assert win.show_cursor is False
        kh.press_key(282)  # F1
        kh.pump(2)
        assert not kh.find_all(None, lambda w: isinstance(w, Settings))
        assert k.app.root.get_root_window() is win and k.exits == []


def test_maintenance_gesture_then_wrong_pin_refused_and_right_pin_exits(village: ShopFixture) -> None:
    services.add_operator(village.store, "01", "王店长", Role.MANAGER, "1234")
    k = make_kiosk(village, lockdown=True, fullscreen=False)
    with kh.running(k.app):
        app = k.app
        win = kh.window()
        ticks = iter(range(1000))
        app.root.gesture.clock = lambda: next(ticks) * 0.3  # a deliberate finger: 0.3 s between taps
        for _ in range(4):
            kh.tap(None, (5, win.height - 5))
        assert app.screen == "idle"
        kh.tap(None, (5, win.height - 5))
        kh.pump_until(lambda: app.screen == "maintenance", what="maintenance screen")
        screen = app.maintenance_screen
        assert [b.text for b in screen.ids.managers.rows] == ["王店长"] and screen.selected == "01"
        keypad = kh.find(screen, "keypad")
        presses = iter(range(1000))
        for key in keypad.walk(restrict=True):  # a deliberate finger: one press a second, never a bounce
            if hasattr(key, "debounce_clock"):
                key.debounce_clock = lambda: float(next(presses))
        for digit in "9999":
            kh.tap(kh.find(keypad, f"key_{digit}"))
        kh.tap(kh.find(keypad, "key_ok"))
        assert screen.message == "密码不对。" and k.exits == [] and keypad.text == ""
        assert kh.find(keypad, "display").text == "密码不对。"
        k.scanner.scan(village.codes["H1"])  # a scan on the PIN screen is ignored
        kh.pump(2)
        assert app.screen == "maintenance"
        for digit in "1234":
            kh.tap(kh.find(keypad, f"key_{digit}"))
        kh.tap(kh.find(keypad, "key_ok"))
        assert k.exits == [True] and app.exited
        assert app.lockdown is not None


# ----- the three panels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_at_each_panel_size_keeps_the_digits_huge_and_clear(village: ShopFixture, size: tuple[int, int]) -> None:
    k = make_kiosk(village)
    with kh.running(k.app, size):
        width, height = size
        k.scan(village.codes["H2"])
        screen = k.app.household_screen
        digits = kh.find(screen, "redeemable")
        kh.pump(2)
        assert digits.text == "160" and digits.height >= height / 8
        # the ink of the digits themselves, not only their box, stands taller than an eighth of the screen
        tw, th = digits.texture.size
        alpha = digits.texture.pixels[3::4]
        rows = [y for y in range(th) if any(alpha[y * tw : (y + 1) * tw])]
        assert max(rows) - min(rows) + 1 >= height / 8
        assert tw <= digits.width  # the digits fit their column
        x, y = digits.to_window(*digits.pos)
        assert 0 <= x and x + digits.width <= width and 0 <= y and y + digits.height <= height
        # nothing else is drawn over the digits
        for other_id in ("redeemable_label", "balance", "earned", "back", "movements_title", "affordable_title"):
            other = kh.find(screen, other_id)
            ox, oy = other.to_window(*other.pos)
            overlaps = (
                ox < x + digits.width and x < ox + other.width and oy < y + digits.height and y < oy + other.height
            )
            assert not overlaps, other_id
        for button_id in ("back", "speak"):
            assert kh.find(screen, button_id).height >= 48
        k.app.go_idle()
        kh.pump(2)
        invite = kh.find(k.app.idle_screen, "invite")
        ix, iy = invite.to_window(*invite.pos)
        assert 0 <= iy and iy + invite.height <= height and invite.texture_size[0] <= invite.width + 1


LONG_REASON = "移风易俗，红白事简办，不大操大办酒席"  # with "奖励：", two lines on each panel's history column


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_long_reason_in_the_history_wraps_whole_beside_its_points_and_date(
    village: ShopFixture, size: tuple[int, int]
) -> None:
    from lovemart_tools.layout_check import check_window, format_problems

    services.award(village.store, "H3", 5, LONG_REASON, ctx=ADMIN_CTX)
    k = make_kiosk(village)
    with kh.running(k.app, size):
        k.scan(village.codes["H3"])
        kh.pump(3)
        screen = k.app.household_screen
        row = screen.ids.movements.rows[0]  # the newest first
        whole = "奖励：" + LONG_REASON
        assert (row.text, row.points) == (whole, "+5")
        reason = row.ids.text
        # What Kivy drew, line by line: all of it (not "奖励：移风...大办酒席"), on two lines at most.
        lines = ["".join(word.text for word in line.words) for line in reason._label._cached_lines]
        assert "".join(lines) == whole and 1 <= len(lines) <= 2, lines
        assert not reason._label.is_shortened and reason.full_text == whole
        # The row grew to hold the lines: the reason, the date and the points each drawn whole inside it.
        for part in (reason, row.ids.when, row.ids.points):
            assert fits(part) and part.y >= row.y - 1 and part.top <= row.top + 1, part.text
        assert row.ids.when.text and row.ids.points.text == "+5"
        # Nothing on the screen is cut, half shown at the bottom of its view, or pressed against a side.
        problems = check_window(screen)
        assert not problems, format_problems(problems)


class HeldSource(LocalSource):
    """A source across a slow link: each lookup waits for ``gate`` and notes the thread it ran on."""

    def __init__(self, store: Any) -> None:
        import threading

        super().__init__(store)
        self.gate = threading.Event()
        self.threads: list[str] = []

    def household(self, code: str) -> Any:
        import threading

        self.threads.append(threading.current_thread().name)
        assert self.gate.wait(10), "the test never released the lookup"
        return super().household(code)


def test_a_remote_lookup_runs_off_the_ui_thread_and_a_late_answer_is_dropped(village: ShopFixture) -> None:
    source = HeldSource(village.store)
    kiosk = make_kiosk(village, source=source, lookup_in_background=True)
    app = kiosk.app
    with kh.running(app):
        kh.wait_background()
        assert kiosk.scanner.scan(village.codes["H1"])
        kh.pump_until(lambda: source.threads, what="lookup started")
        kh.pump(3)
        assert app.screen == "idle"  # the screen kept drawing while the link was slow
        app.go_idle()  # 返回 (or the timeout) before the answer came
        source.gate.set()
        kh.wait_background()
        kh.pump(2)
        assert app.screen == "idle" and app.presenter.household_view() is None
        assert not any("王秀兰" in t for t in texts_of(app.household_screen))
        kiosk.scan(village.codes["H1"])
        assert app.screen == "household" and kh.find(app.household_screen, "redeemable").text == "80"
        assert source.threads and "MainThread" not in source.threads


# ----- the village board: notices in turn with the ranking, 怎样得积分, a household's items on notice -----------


def put_board(shop: ShopFixture) -> None:
    from datetime import date, timedelta

    from ledger.board import Notice, NoticeLine, VillageBoard, store_board
    from ledger.rulebook import Direction, RuleItem

    today = date.today()
    rules = (
        RuleItem("A01", "庭院整洁，房前屋后无垃圾、无杂物乱堆乱放", "评议分", Direction.REWARD, 1, 10),
        RuleItem("B01", "参加志愿服务", "贡献分", Direction.REWARD, 5, 5),
        RuleItem("C01", "乱倒垃圾", "扣分项", Direction.PENALTY, 2, 5),
        RuleItem("Z01", "酒驾", "扣分项", Direction.PENALTY, 1, 1, zero_tolerance=True),
    )
    lines = (
        NoticeLine("H1", "王秀兰", "庭院整洁", 6, "院子干净，柴草堆放整齐"),
        NoticeLine("H2", "李建国", "乱倒垃圾", -3, "倒在河边"),
    )
    first, last = today - timedelta(days=1), today + timedelta(days=3)
    notice = Notice(2, "幸福村", first.isoformat(), last.isoformat(), lines)
    with shop.store.write() as unit:
        store_board(unit, VillageBoard("XF", rules, (notice,), f"{today.isoformat()}T08:00:00+08:00"))


def fits(label: Any) -> bool:
    """The label's text is drawn whole inside it (no line cut off at the bottom or the side)."""
    width, height = label.texture_size
    return width <= label.width + 1 and height <= label.height + 1


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_idle_panel_turns_to_the_notice_and_the_rules_open_in_large_print(
    village: ShopFixture, size: tuple[int, int]
) -> None:
    put_board(village)
    k = make_kiosk(village, board_turn_s=0)  # turned by the test, not by the Clock
    app = k.app
    with kh.running(app, size):
        kh.wait_background()
        kh.pump(2)
        idle = app.idle_screen
        assert idle.panel == "ranking" and kh.find(idle, "ranking_title").text == "幸福村红榜"
        app.turn_board()
        kh.pump(2)
        assert idle.panel == "notice" and kh.find(idle, "ranking_title").text == "第2批积分公示"
        window = kh.find(idle, "notice_window")
        assert window.text.startswith("公示期 ") and "\n有异议" in window.text and window.height > 0 and fits(window)
        rows = idle.ids.notice.rows
        assert [(r.text, r.points) for r in rows] == [("王秀兰  庭院整洁", "+6"), ("李建国  乱倒垃圾", "-3")]
        for row in rows:  # names, items and reasons wrap, never cut
            assert all(fits(row.ids[part]) for part in ("text", "reason", "points")), row.text
        assert idle.ids.ranking_scroll.opacity == 0 and idle.ids.notice_scroll.height > 0
        app.turn_board()
        kh.pump(2)
        assert idle.panel == "ranking" and idle.ids.ranking_scroll.height > 0 and idle.ids.notice_scroll.height == 0
        # 怎样得积分: a tap opens the rules, big, nothing of them cut; 返回 goes back.
        kh.tap(kh.find(idle, "rules_button"))
        kh.pump(2)
        assert app.screen == "rules"
        rules = app.rules_screen
        shown = [(r.name, r.value) for r in rules.ids.rules.rows]
        assert shown[:3] == [("评议分", ""), ("庭院整洁，房前屋后无垃圾、无杂物乱堆乱放", "+1～+10"), ("贡献分", "")]
        assert shown[-1] == ("酒驾", "清零")
        for row in rules.ids.rules.rows:
            name, value = row.ids.name, row.ids.value
            assert fits(name) and fits(value), row.name
            assert name.font_size >= 0.045 * size[1] * rules.fs - 1  # larger than the body text of other screens
        kh.tap(kh.find(rules, "back"))
        assert app.screen == "idle"
        # The household sees its own item on notice, not yet in its balance.
        k.scan(village.codes["H1"])
        screen = app.household_screen
        kh.pump(2)
        title = kh.find(screen, "notice_items_title")
        assert title.text == "正在公示（还未计入余额）" and title.height > 0 and fits(title)
        items = screen.ids.notice_items.rows
        assert [(r.text, r.points) for r in items] == [("第2批公示：庭院整洁", "+6")]
        assert all(fits(items[0].ids[part]) for part in ("text", "reason", "points"))
        # above the movements, inside the same scrolled list
        assert items[0].to_window(*items[0].pos)[1] > screen.ids.movements.rows[0].to_window(0, 0)[1]
        app.go_idle()
        assert screen.ids.notice_items.rows == [] and screen.notice_items_title == ""


def test_goods_with_a_picture_show_it_before_their_name_and_the_others_keep_the_room(
    village: ShopFixture, tmp_path: Any
) -> None:
    from PIL import Image

    from lovemart.pictures import PictureShelf
    from ui.theme import theme

    source = tmp_path / "rice.jpg"
    Image.new("RGB", (800, 1200), (200, 30, 30)).save(source)
    shelf = PictureShelf(tmp_path / "pictures")
    picture = str(shelf.put("RICE", source))
    kiosk = make_kiosk(village, pictures_of=shelf.paths)
    with kh.running(kiosk.app):
        kh.wait_background()
        kh.pump(2)

        def row_of(name: str, kind: str) -> Any:
            return kh.find(None, lambda w: type(w).__name__ == kind and w.name == name and w.get_root_window())

        def shown(row: Any) -> Any:
            image = next(w for w in row.children if type(w).__name__ == "GoodsPicture")
            words = kh.find(row, "name")
            return image, words

        rice, soap = row_of("大米", "KioskGoodsRow"), row_of("肥皂", "KioskGoodsRow")
        image, words = shown(rice)
        assert rice.picture == picture and image.texture is not None and image.opacity == 1
        assert image.width == image.height == rice.height and image.right <= words.x  # before the name
        image, words = shown(soap)
        assert soap.picture == "" and image.width == 0 and image.opacity == 0  # no picture takes no room
        assert words.x <= soap.x + theme().spacing + 1

        kiosk.scan(village.codes["H1"])  # 80 to spend: 大米 (60) is among what the household can get now
        card = row_of("大米", "KioskGoodsCard")
        image, words = shown(card)
        assert card.picture == picture and image.texture is not None and image.right <= words.parent.x


def test_the_rules_screen_times_out_to_idle(village: ShopFixture) -> None:
    put_board(village)
    k = make_kiosk(village, timeout_s=1.0)
    with kh.running(k.app):
        k.app.show_rules()
        assert k.app.screen == "rules"
        frames = kh.pump_until(lambda: k.app.screen == "idle", timeout_s=10, what="rules back to idle")
        assert frames > 1
