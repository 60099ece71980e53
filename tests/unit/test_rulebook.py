"""The rules catalogue (``ledger.rulebook``): versions by date, a village's changes within the township's bounds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.errors import LedgerError
from ledger.rulebook import (
    Direction,
    RuleItem,
    RuleVersion,
    VillageChange,
    in_force,
    item_for,
    problems,
    sheet,
    value_text,
)

YARD = RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10, village_low=1, village_high=20)
VOLUNTEER = RuleItem("B01", "参加志愿服务", "贡献分", Direction.REWARD, 5, 5)
LITTER = RuleItem("C01", "乱倒垃圾", "评议分", Direction.PENALTY, 2, 5)
DRUNK = RuleItem("Z01", "酒驾", "零容忍", Direction.PENALTY, 1, 1, zero_tolerance=True)
SPRING = RuleVersion(1, "2026-01-01", items=(YARD, VOLUNTEER, LITTER, DRUNK))
# The busy season: farm help is worth more from June, then back.
HARVEST = RuleVersion(2, "2026-06-01", items=(YARD, replace(VOLUNTEER, low=10, high=10), LITTER, DRUNK))
AUTUMN = RuleVersion(3, "2026-09-01", items=SPRING.items)
XF = RuleVersion(
    1,
    "2026-03-01",
    village_id="XF",
    changes=(VillageChange("A01", low=5, high=20), VillageChange("C01", active=False)),
    items=(RuleItem("XF-1", "护林巡山", "贡献分", Direction.REWARD, 3, 8, local=True),),
)
VERSIONS = [SPRING, HARVEST, AUTUMN, XF]


def codes(found: list) -> list[str]:
    return [p.error.code for p in found]


def test_a_record_is_scored_against_the_version_in_force_on_the_day_of_its_event() -> None:
    assert item_for(VERSIONS, "HP", "2026-05-31", "B01").low == 5
    assert item_for(VERSIONS, "HP", "2026-06-01", "B01").low == 10  # the busy season's version
    assert item_for(VERSIONS, "HP", "2026-09-15", "B01").low == 5
    with pytest.raises(LedgerError) as refused:
        item_for(VERSIONS, "HP", "2025-12-31", "B01")  # before any rules
    assert refused.value.code == "rule_unknown"


def test_a_village_narrows_an_item_switches_one_off_and_adds_its_own() -> None:
    before = in_force(VERSIONS, "XF", "2026-02-28")
    assert before["A01"].high == 10 and "C01" in before and "XF-1" not in before
    after = in_force(VERSIONS, "XF", "2026-03-01")
    assert (after["A01"].low, after["A01"].high) == (5, 20)
    assert "C01" not in after  # switched off in this village only
    assert after["XF-1"].local and "C01" in in_force(VERSIONS, "HP", "2026-03-01")
    # The village's changes apply over whichever township version is in force.
    assert in_force(VERSIONS, "XF", "2026-07-01")["B01"].low == 10 and "C01" not in in_force(
        VERSIONS, "XF", "2026-07-01"
    )


def test_points_must_lie_in_the_items_range() -> None:
    assert YARD.points_problem(10) is None
    for wrong in (0, 11, -3, True):
        problem = YARD.points_problem(wrong)
        assert problem is not None and problem.code == "rule_points_range"
    assert "1 到 10" in (YARD.points_problem(11) or LedgerError("x")).message("zh")
    assert YARD.signed(4) == 4 and LITTER.signed(4) == -4


def test_a_good_version_has_no_problems() -> None:
    assert problems(SPRING) == []
    assert problems(XF, {i.code: i for i in SPRING.items}) == []


def test_every_problem_of_a_version_is_listed_at_once() -> None:
    bad = RuleVersion(
        4,
        "2026-13-01",
        items=(
            RuleItem("a 1", "", "评议分", Direction.REWARD, 1, 2),
            RuleItem("D01", "好人好事", "表彰分", Direction.REWARD, 50, 10),
            RuleItem("D01", "再次", "表彰分", Direction.REWARD, 1, 2),
            RuleItem("D02", "见义勇为", "表彰分", Direction.REWARD, 100, 2000, village_low=200),
            RuleItem("D03", "零容忍加分", "零容忍", Direction.REWARD, 1, 1, zero_tolerance=True),
        ),
    )
    assert sorted(codes(problems(bad))) == sorted(
        [
            "rule_date_invalid",
            "rule_code_invalid",
            "rule_name_invalid",
            "rule_range_invalid",
            "rule_code_twice",
            "rule_bounds_invalid",
            "rule_zero_tolerance_reward",
        ]
    )


def test_a_village_stays_within_the_bounds_the_township_allows() -> None:
    township = {i.code: i for i in SPRING.items}
    wide = RuleVersion(2, "2026-04-01", village_id="XF", changes=(VillageChange("A01", low=1, high=30),))
    assert codes(problems(wide, township)) == ["rule_village_range"]
    fixed = RuleVersion(2, "2026-04-01", village_id="XF", changes=(VillageChange("B01", low=6, high=6),))
    assert codes(problems(fixed, township)) == ["rule_village_range"]  # the township allows no change
    off = RuleVersion(2, "2026-04-01", village_id="XF", changes=(VillageChange("Z01", active=False),))
    assert codes(problems(off, township)) == ["rule_zero_tolerance_kept"]
    taken = RuleVersion(
        2, "2026-04-01", village_id="XF", items=(RuleItem("A01", "同号", "贡献分", Direction.REWARD, 1, 2, local=True),)
    )
    assert codes(problems(taken, township)) == ["rule_local_code_taken"]
    unknown = RuleVersion(2, "2026-04-01", village_id="XF", changes=(VillageChange("Q99", active=False),))
    assert codes(problems(unknown, township)) == ["rule_unknown"]


def test_the_notice_board_sheet_groups_items_by_class_and_writes_values_as_people_do() -> None:
    board = sheet(VERSIONS, "XF", "2026-03-05")
    assert [name for name, _items in board.classes] == ["评议分", "贡献分", "零容忍"]
    assert [i.code for i in dict(board.classes)["贡献分"]] == ["B01", "XF-1"]
    assert value_text(YARD) == "+1～+10" and value_text(VOLUNTEER) == "+5" and value_text(LITTER) == "−2～−5"
    assert "乱倒垃圾" not in str(board)  # switched off in XF
