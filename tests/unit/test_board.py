"""The village board a shop keeps (``ledger.board``): which notices show on a day, whose lines are whose, and
that it goes into a ledger and comes back the same, never replaced by an older one."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from ledger.board import (
    BOARD_KEY,
    EMPTY_BOARD,
    Notice,
    NoticeLine,
    VillageBoard,
    board_of,
    board_to_json,
    store_board,
    stored_board,
)
from ledger.rulebook import Direction, RuleItem
from tests.conftest import ShopFixture

YARD = RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10)
DRUNK = RuleItem("Z01", "酒驾", "零容忍", Direction.PENALTY, 1, 1, zero_tolerance=True)


def notice(number: int, first: str, last: str, *lines: NoticeLine) -> Notice:
    return Notice(number, "幸福村", first, last, lines)


def line(household_id: str, item: str = "庭院整洁", points: int = 5) -> NoticeLine:
    return NoticeLine(household_id, f"户主{household_id}", item, points, "院子干净")


def test_a_notice_shows_in_its_window_and_a_week_after_newest_first() -> None:
    board = VillageBoard(
        "XF",
        (YARD,),
        (
            notice(1, "2026-11-02", "2026-11-06", line("XF0001")),
            notice(2, "2026-11-20", "2026-11-24", line("XF0001", "参加志愿服务"), line("XF0002")),
            notice(3, "2026-11-14", "2026-11-18", NoticeLine("XF0001", "户主XF0001", "孝老爱亲", 10, "", issued=True)),
        ),
    )
    assert [n.number for n in board.notices_on(date(2026, 11, 13))] == [2, 3, 1]  # 1 closed a week ago: still shown
    assert [n.number for n in board.notices_on(date(2026, 11, 14))] == [2, 3]
    assert [n.number for n in board.notices_on(date(2026, 12, 2))] == []
    assert board.notices[1].open_on(date(2026, 11, 24)) and not board.notices[1].open_on(date(2026, 11, 25))
    mine = board.lines_of("XF0001", date(2026, 11, 21))
    assert [(n.number, x.item) for n, x in mine] == [(2, "参加志愿服务")]  # 孝老爱亲 is issued: in the balance
    assert board.lines_of("XF0009", date(2026, 11, 21)) == ()


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
lines = st.builds(NoticeLine, texts, texts, texts, st.integers(-10_000, 10_000), texts, st.booleans(), st.booleans())
notices = st.builds(Notice, st.integers(1, 99), texts, texts, texts, st.lists(lines, max_size=4).map(tuple))


@given(st.lists(notices, max_size=3).map(tuple), st.booleans())
def test_a_board_reads_back_as_it_was_written(found: tuple[Notice, ...], with_rules: bool) -> None:
    board = VillageBoard("XF", (YARD, DRUNK) if with_rules else (), found, "2026-11-02T09:00:00+08:00")
    assert board_of(board_to_json(board)) == board


def test_the_ledger_keeps_the_newest_board_and_an_unreadable_one_shows_nothing(shop: ShopFixture) -> None:
    newer = VillageBoard("XF", (YARD,), (), "2026-11-03T09:00:00+08:00")
    older = VillageBoard("XF", (DRUNK,), (), "2026-11-02T09:00:00+08:00")
    with shop.store.write() as unit:
        assert stored_board(unit) == EMPTY_BOARD
        assert store_board(unit, newer)
        assert not store_board(unit, older)  # an old reply bundle imported late
    with shop.store.read() as unit:
        assert stored_board(unit) == newer
    with shop.store.write() as unit:
        unit.set_meta(BOARD_KEY, '{"rules": [{"code": 1}]')
    with shop.store.read() as unit:
        assert stored_board(unit) == EMPTY_BOARD
