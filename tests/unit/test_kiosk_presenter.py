"""The kiosk's presenter, sources, gesture, manager access and settings: plain Python, no Kivy, real ledgers."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kiosk.access import LedgerAccess
from kiosk.gesture import TapGesture, in_corner
from kiosk.presenter import KioskPresenter, Lookup
from kiosk.sources import Freshness, GoodsOffer, HouseholdFacts, LocalSource, RankEntry, Ranking, Shelf
from ledger import services
from ledger.model import Item, Role
from ledger.passbook import make_code
from tests.conftest import ADMIN_CTX, TEST_KEY, ShopFixture

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 10, 0).astimezone()


def clock() -> datetime:
    return NOW


@pytest.fixture
def stocked(shop: ShopFixture) -> ShopFixture:
    """Four households (floor 100: redeemable = balance - 100) and goods, one without stock."""
    shop.household("H1", "王秀兰", 180)  # redeemable 80
    shop.household("H2", "李建国", 260)  # redeemable 160
    shop.household("H3", "张桂兰", 120)  # redeemable 20
    shop.household("H4", "赵德福", 260)  # tied with H2 on points earned
    shop.item("RICE", 60, stock=5, name="大米")
    shop.item("OIL", 90, stock=2, name="食用油")
    shop.item("SOAP", 3, stock=40, name="肥皂")
    shop.item("SALT", 2, stock=0, name="食盐")  # nothing on the shelf: not on offer
    return shop


def presenter_for(shop: ShopFixture, **kwargs: object) -> KioskPresenter:
    return KioskPresenter(LocalSource(shop.store, clock), clock, **kwargs)  # type: ignore[arg-type]


def test_presenter_module_imports_no_kivy() -> None:
    code = (
        "import sys, kiosk.presenter, kiosk.sources, kiosk.access, kiosk.gesture, "
        "lovemart.kiosk_main; sys.exit(1 if 'kivy' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ----- idle: the public board --------------------------------------------------------------------------


def test_idle_ranks_by_points_earned_and_redemptions_do_not_lower_a_standing(stocked: ShopFixture) -> None:
    services.redeem(stocked.store, stocked.codes["H2"], [("RICE", 2)], ctx=ADMIN_CTX)  # H2 spends 120 points
    presenter = presenter_for(stocked)
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    view = presenter.idle_view()
    assert [(line.rank, line.name) for line in view.ranking] == [
        ("1", "李建国"),
        ("1", "赵德福"),
        ("3", "王秀兰"),
        ("4", "张桂兰"),
    ]
    assert view.ranking[0].points == "260分" and view.ranking_title == "幸福村红榜" and view.ranking_empty == ""
    # Only the public ranking: no balance of any household appears anywhere on the idle screen.
    assert "140" not in repr(view) and "160" not in repr(view)


def test_idle_ranking_size_and_goods_on_offer(stocked: ShopFixture) -> None:
    services.add_item(stocked.store, Item("OLD", "旧货", "件", 5, active=False))
    services.stock_intake(stocked.store, [("OLD", 3)], supplier="x", ctx=ADMIN_CTX)
    presenter = presenter_for(stocked, ranking_size=2)
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    view = presenter.idle_view()
    assert len(view.ranking) == 2
    assert [g.name for g in view.goods] == ["食用油", "大米", "肥皂"]  # catalogue order; no stock, inactive: gone
    oil = view.goods[0]
    assert (oil.points, oil.stock, oil.unit) == ("90 分", "剩 2", "件")
    assert view.shop == "幸福村爱心超市" and view.camera_note == ""


def test_idle_on_an_empty_shop_says_so(shop: ShopFixture) -> None:
    presenter = presenter_for(shop)
    view = presenter.idle_view()  # nothing read yet
    assert view.ranking == () and view.ranking_empty == "还没有积分记录" and view.goods_empty == "暂时没有商品"
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    assert presenter.idle_view().freshness == "数据：本店账本（未同步）"


def test_freshness_says_when_the_ledger_last_synced(stocked: ShopFixture) -> None:
    with stocked.store.write() as unit:
        unit.set_meta("last_synced", "2026-11-20T18:05:00+08:00")
    presenter = presenter_for(stocked)
    presenter.refresh_shelf()
    assert presenter.idle_view().freshness == "数据：本店账本，上次同步 11月20日 18:05"
    presenter.lang = "en"
    assert presenter.idle_view().freshness == "Figures: this shop's ledger, last synced 2026-11-20 18:05"
    presenter.lang = "zh"
    assert presenter.freshness_text(Freshness("local", "2025-01-02T08:00:00+08:00")).endswith("2025年1月2日 08:00")
    assert presenter.freshness_text(Freshness("remote", "2026-11-22T09:30:00+08:00")) == (
        "数据：乡镇积分中心，本村超市同步到 11月22日 09:30"
    )


def test_a_shelf_that_cannot_be_read_keeps_the_last_one(stocked: ShopFixture) -> None:
    class Broken(LocalSource):
        fail = False

        def shelf(self) -> Shelf:
            if self.fail:
                raise OSError("disk gone")
            return super().shelf()

    source = Broken(stocked.store, clock)
    presenter = KioskPresenter(source, clock)
    presenter.refresh_shelf()
    source.fail = True
    presenter.refresh_shelf()
    assert len(presenter.idle_view().goods) == 3


# ----- a scan: the household --------------------------------------------------------------------------


def test_scan_shows_the_household_figures(stocked: ShopFixture) -> None:
    services.redeem(stocked.store, stocked.codes["H2"], [("SOAP", 2)], ctx=ADMIN_CTX)
    presenter = presenter_for(stocked)
    assert presenter.scan(stocked.codes["H2"]) == "household"
    view = presenter.household_view()
    assert view is not None
    assert view.name == "李建国 户"
    assert view.redeemable == "154"  # 260 - 6 - floor 100
    assert view.balance == "积分余额 254 分" and view.earned == "本年度获得 260 分"
    # each figure beside the big one says what it is: the 100 held back, and what "earned" is for
    assert view.balance_note == "其中 100 分不能兑换" and view.earned_note == "排红榜用，兑换了也不减少"
    assert view.freshness == "数据：本店账本（未同步）"
    assert view.speech == "李建国户，可兑换积分 154 分"
    # movements in words, newest first
    assert [m.text for m in view.movements] == ["在幸福村爱心超市兑换 肥皂×2", "奖励：测试奖励"]
    assert [m.points for m in view.movements] == ["-6", "+260"]
    assert [m.gain for m in view.movements] == [False, True]
    assert view.movements[0].when.endswith("日")  # a date as villagers write it
    assert view.movements_empty == ""
    assert presenter.showing == "household" and presenter.holds_household


def test_only_the_last_ten_movements_are_shown(stocked: ShopFixture) -> None:
    for n in range(12):
        services.award(stocked.store, "H3", 1, f"第{n}次", ctx=ADMIN_CTX)
    view = presenter_for(stocked)
    view.scan(stocked.codes["H3"])
    movements = view.household_view().movements  # type: ignore[union-attr]
    assert len(movements) == 10 and movements[0].text == "奖励：第11次" and movements[-1].text == "奖励：第2次"


def test_affordable_goods_are_those_within_redeemable_points_and_in_stock(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    presenter.scan(stocked.codes["H1"])  # 80 redeemable: rice (60) and soap (3), not oil (90), not salt (no stock)
    view = presenter.household_view()
    assert view is not None
    assert [(g.name, g.points, g.stock) for g in view.affordable] == [
        ("大米", "60 分", "剩 5"),
        ("肥皂", "3 分", "剩 40"),
    ]
    assert view.affordable_note == ""
    presenter.scan(stocked.codes["H2"])  # 160: everything in stock, the dearest first
    assert [g.name for g in presenter.household_view().affordable] == ["食用油", "大米", "肥皂"]  # type: ignore[union-attr]


def test_affordable_list_is_capped_and_says_how_many_more(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked, affordable_shown=1)
    presenter.scan(stocked.codes["H2"])
    view = presenter.household_view()
    assert view is not None and [g.name for g in view.affordable] == ["食用油"]
    assert view.affordable_note == "还有 2 种"
    code = stocked.household("H5", "穷户", 100)  # exactly the floor: 0 redeemable
    presenter.scan(code)
    view = presenter.household_view()
    assert view is not None and view.redeemable == "0" and view.affordable == ()
    assert view.affordable_note == "积分暂时不够兑换商品"


def test_household_view_in_english(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked, lang="en")
    presenter.scan(stocked.codes["H1"])
    view = presenter.household_view()
    assert view is not None
    assert view.name == "Household 王秀兰" and view.balance == "Balance 180 pts"
    assert view.earned == "Earned this year 180 pts" and view.movements[0].text == "Award: 测试奖励"
    assert view.freshness == "Figures: this shop's ledger (never synced)"
    assert view.speech == "王秀兰户，可兑换积分 80 分"  # the voice speaks Mandarin whatever the screen says


# ----- errors in plain words ------------------------------------------------------------------------


def test_unknown_passbook(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    assert presenter.scan(make_code(TEST_KEY, "H999", 1)) == "error"
    error = presenter.error_view()
    assert error is not None and error.kind == "unknown" and error.title == "没有找到这本存折"
    assert "村委会" in error.message and presenter.household_view() is None


def test_revoked_passbook(stocked: ShopFixture) -> None:
    services.reissue_passbook(stocked.store, "H1")
    presenter = presenter_for(stocked)
    presenter.scan(stocked.codes["H1"])
    error = presenter.error_view()
    assert error is not None and error.kind == "revoked" and error.title == "这本存折已挂失"
    assert presenter.scan(make_code(TEST_KEY, "H1", 2)) == "household"  # the new card works


@pytest.mark.parametrize(
    "code", ["LM1:H1:1:AAAAAA", "hello", "", "LM1:H1:1", "ＬＭ１:H1:1:AAAAAA", "LM1:H1:1:AAAAAA" * 20]
)
def test_forged_or_mistyped_codes_read_the_same(stocked: ShopFixture, code: str) -> None:
    presenter = presenter_for(stocked)
    assert presenter.scan(code) == "error"
    error = presenter.error_view()
    assert error is not None and error.kind == "forged" and error.title == "存折码认不出来"


def test_frozen_household_is_an_error_with_its_name(stocked: ShopFixture) -> None:
    services.clear_household(stocked.store, "H2", "酒驾（零容忍）", ctx=ADMIN_CTX)
    presenter = presenter_for(stocked)
    assert presenter.scan(stocked.codes["H2"]) == "error"
    error = presenter.error_view()
    assert error is not None and error.kind == "frozen"
    assert error.message == "李建国户的积分已被冻结，暂时不能兑换。请到村委会咨询。"
    presenter.lang = "en"
    assert presenter.error_view().title == "Points frozen"  # type: ignore[union-attr]


def test_camera_missing_is_news_once_and_then_a_note(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    assert presenter.camera_status("starting") is False and presenter.camera_note() == ""
    assert presenter.camera_status("absent") is True
    assert presenter.camera_status("absent") is False  # the retry loop reports it again: not news
    assert presenter.idle_view().camera_note.startswith("没有找到摄像头")
    presenter.show_error("camera")
    assert presenter.error_view().title == "找不到摄像头"  # type: ignore[union-attr]
    presenter.camera_status("lost")
    assert presenter.camera_note() == "摄像头断开了，正在重新连接……"
    presenter.camera_status("ready")
    assert presenter.camera_note() == ""
    presenter.camera_status("stopped")  # the app closing: keeps the last known state
    assert presenter.camera_note() == ""


def test_a_storage_failure_is_a_plain_error_not_a_crash(stocked: ShopFixture) -> None:
    class Failing(LocalSource):
        def household(self, code: str) -> HouseholdFacts:
            raise OSError("database disk image is malformed")

    presenter = KioskPresenter(Failing(stocked.store, clock), clock)
    assert presenter.scan(stocked.codes["H1"]) == "error"
    assert presenter.error_view().kind == "unexpected"  # type: ignore[union-attr]


# ----- privacy ------------------------------------------------------------------------------------------


def test_reset_forgets_everything_of_the_household(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    presenter.scan(stocked.codes["H3"])
    assert presenter.holds_household
    presenter.reset()
    assert not presenter.holds_household and presenter.showing == "idle"
    assert presenter.household_view() is None and presenter.error_view() is None and presenter.speech() is None
    state = repr(vars(presenter))
    assert "张桂兰" not in repr({k: v for k, v in vars(presenter).items() if k != "_ranking"})
    assert "测试奖励" not in state
    # A frozen household's name on an error screen is forgotten too.
    services.clear_household(stocked.store, "H1", "x", ctx=ADMIN_CTX)
    presenter.scan(stocked.codes["H1"])
    presenter.reset()
    assert "王秀兰" not in repr({k: v for k, v in vars(presenter).items() if k != "_ranking"})


def test_fetch_changes_no_state_so_it_may_run_on_a_worker(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    lookup = presenter.fetch(stocked.codes["H1"])
    assert isinstance(lookup, Lookup) and lookup.facts is not None and presenter.showing == "idle"
    assert presenter.apply(lookup) == "household"
    assert presenter.apply(presenter.fetch("nonsense")) == "error" and presenter.household_view() is None


def test_a_remote_source_plugs_in_with_its_own_freshness() -> None:
    """What the central record's read-only kiosk endpoint will provide, as a fake."""

    class Remote:
        as_of = "2026-11-22T09:30:00+08:00"

        def ranking(self, size: int) -> Ranking:
            return Ranking("幸福村", (RankEntry(1, "H1", "王秀兰", 300),), Freshness("remote", self.as_of))

        def shelf(self) -> Shelf:
            return Shelf("", (), Freshness("remote", self.as_of))

        def household(self, code: str) -> HouseholdFacts:
            return HouseholdFacts(
                "H1",
                "王秀兰",
                False,
                200,
                100,
                300,
                (),
                (GoodsOffer("RICE", "大米", "袋", 60, 3),),
                Freshness("remote"),
            )

    presenter = KioskPresenter(Remote(), clock)
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    assert presenter.idle_view().freshness == "数据：乡镇积分中心，本村超市同步到 11月22日 09:30"
    presenter.scan("anything")
    view = presenter.household_view()
    assert view is not None and view.freshness == "数据：乡镇积分中心" and view.movements_empty == "还没有积分记录"
    assert [g.name for g in view.affordable] == ["大米"]


# ----- the maintenance gesture and the manager PIN -------------------------------------------------------


def test_five_quick_taps_open_maintenance_and_slow_or_bouncing_taps_do_not() -> None:
    gesture = TapGesture(taps=5, window_s=3.0, min_gap_s=0.08)
    assert [gesture.tap(t) for t in (0.0, 0.5, 1.0, 1.5, 2.0)] == [False] * 4 + [True]
    assert not any(gesture.tap(t) for t in (10.0, 11.0, 12.0, 13.0, 14.0))  # 4 s for five taps: too slow
    gesture.reset()
    assert not any(gesture.tap(t) for t in (20.0, 20.01, 20.02, 20.03, 20.04))  # one finger bouncing
    assert in_corner(10, 590, 1024, 600) and not in_corner(500, 590, 1024, 600) and not in_corner(10, 10, 1024, 600)


def test_ledger_access_lets_only_a_manager_with_the_right_pin_out(shop: ShopFixture) -> None:
    services.add_operator(shop.store, "01", "王店长", Role.MANAGER, "1234")
    services.add_operator(shop.store, "02", "李店员", Role.CLERK, "0000")
    access = LedgerAccess(shop.store)
    assert [(m.operator_id, m.name) for m in access.managers()] == [("01", "王店长")]
    assert access.check("01", "1234") is None
    assert access.check("01", "9999") == "kiosk.maint_wrong"
    assert access.check("99", "1234") == "kiosk.maint_wrong"
    assert access.check("02", "0000") == "kiosk.maint_not_manager"


# ----- the village board: 怎样得积分, notices in turn with the ranking, a household's items on notice ---------


def _board(shop: ShopFixture, household_id: str) -> None:
    from ledger.board import Notice, NoticeLine, VillageBoard, store_board
    from ledger.rulebook import Direction, RuleItem

    rules = (
        RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10),
        RuleItem("A02", "参加志愿服务", "评议分", Direction.REWARD, 5, 5),
        RuleItem("C01", "乱倒垃圾", "扣分", Direction.PENALTY, 2, 5),
        RuleItem("Z01", "酒驾", "扣分", Direction.PENALTY, 1, 1, zero_tolerance=True),
    )
    notice_items = Notice(
        3,
        "幸福村",
        "2026-11-20",
        "2026-11-24",
        (
            NoticeLine(household_id, "王秀兰", "庭院整洁", 6, "院子干净"),
            NoticeLine("OTHER", "李建国", "乱倒垃圾", -3, "倒在河边"),
        ),
    )
    old = Notice(1, "幸福村", "2026-10-01", "2026-10-05", (NoticeLine(household_id, "王秀兰", "酒驾", -1, "x"),))
    with shop.store.write() as unit:
        store_board(unit, VillageBoard("XF", rules, (notice_items, old), "2026-11-21T08:00:00+08:00"))


def test_idle_turns_from_the_ranking_to_each_current_notice_and_back(stocked: ShopFixture) -> None:
    _board(stocked, "H1")
    presenter = presenter_for(stocked)
    presenter.refresh_ranking()
    assert presenter.idle_view().panel == "ranking"  # nothing read yet: no notice to turn to
    assert not presenter.rotate()
    presenter.set_board(presenter.fetch_board())
    assert presenter.rotate()
    view = presenter.idle_view()
    assert (view.panel, view.notice_title) == ("notice", "第3批积分公示")  # the old notice (October) is gone
    assert view.notice_window == "公示期 11月20日至11月24日\n有异议请向村委会提出"
    assert [(x.text, x.reason, x.points, x.gain) for x in view.notice] == [
        ("王秀兰  庭院整洁", "院子干净", "+6", True),
        ("李建国  乱倒垃圾", "倒在河边", "-3", False),
    ]
    assert view.ranking[0].name == "李建国"  # the ranking is still there for the next turn
    assert presenter.rotate() and presenter.idle_view().panel == "ranking"
    presenter.lang = "en"
    presenter.rotate()
    assert presenter.idle_view().notice_title == "Points on public notice, no. 3"


def test_a_household_sees_its_own_items_on_notice_and_nobody_elses(stocked: ShopFixture) -> None:
    _board(stocked, "H1")
    presenter = presenter_for(stocked)
    presenter.set_board(presenter.fetch_board())
    presenter.scan(stocked.codes["H1"])
    view = presenter.household_view()
    assert view is not None
    assert view.notice_items_title == "正在公示（还未计入余额）"
    assert [(x.text, x.reason, x.points, x.gain) for x in view.notice_items] == [
        ("第3批公示：庭院整洁", "公示至11月24日，无异议即发放", "+6", True)
    ]
    later = KioskPresenter(LocalSource(stocked.store, clock), lambda: datetime(2026, 11, 26, 9, 0).astimezone())
    later.set_board(later.fetch_board())
    later.scan(stocked.codes["H1"])
    waiting = later.household_view()
    assert waiting is not None and [x.reason for x in waiting.notice_items] == ["公示期已满，等待发放"]
    presenter.scan(stocked.codes["H2"])
    other = presenter.household_view()
    assert other is not None and other.notice_items == () and other.notice_items_title == ""


def test_the_rules_come_by_class_with_their_values_in_large_print(stocked: ShopFixture) -> None:
    presenter = presenter_for(stocked)
    presenter.refresh_ranking()
    empty = presenter.rules_view()
    assert empty.lines == () and empty.empty == "乡镇还没有发来积分细则，请问村委会。"
    _board(stocked, "H1")
    presenter.set_board(presenter.fetch_board())
    view = presenter.rules_view()
    assert (view.title, view.subtitle, view.empty) == ("怎样得积分", "幸福村积分细则", "")
    assert [(x.name, x.value, x.heading, x.penalty) for x in view.lines] == [
        ("评议分", "", True, False),
        ("庭院整洁", "+1～+10", False, False),
        ("参加志愿服务", "+5", False, False),
        ("扣分", "", True, False),
        ("乱倒垃圾", "−2～−5", False, True),
        ("酒驾", "清零", False, True),
    ]
    assert view.as_of == "乡镇于11月21日 08:00发来"
