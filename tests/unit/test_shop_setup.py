"""A standalone shop's first answers (``ledger.shop_setup``) and the POS's pages over them
(``pos.presenters.setup``): the same checks at a terminal and on the screen, nothing written before the end."""

from __future__ import annotations

import pytest

from ledger.errors import LedgerError
from ledger.shop_setup import ShopSetup, setup_problems
from pos.presenters.setup import FirstRunPresenter, ShopMade

GOOD = ShopSetup("红星镇", "T01", "幸福村", "XF", "幸福村爱心超市", "S01", "P1", "王秀兰", "01")


def test_a_good_setup_has_no_problems_and_its_floor_defaults_to_the_base_grant() -> None:
    assert setup_problems(GOOD) == {}
    assert GOOD.policy().redeemable_floor == 100
    assert ShopSetup(base_points=80, floor=20).policy().redeemable_floor == 20


def test_each_wrong_answer_is_named_by_its_field_as_the_asker_shows_it() -> None:
    bad = ShopSetup("", "T-01", "幸福村", "xf", "超市", "S01", "P1", "王", "01", base_points=-5, cycle="weekly")
    problems = setup_problems(bad, name_of=lambda f: f"<{f}>")
    assert set(problems) == {"township", "township_id", "village_id", "base_points", "cycle"}
    assert problems["township_id"].params == {"option": "<township_id>", "value": "T-01"}
    assert "village_id" not in setup_problems(bad.cleaned())  # "xf" is XF once cleaned
    assert setup_problems(bad, only=("shop", "manager")) == {}


class Recorder:
    def __init__(self) -> None:
        self.made: list[tuple[ShopSetup, str]] = []

    def __call__(self, setup: ShopSetup, pin: str) -> ShopMade:
        self.made.append((setup, pin))
        return ShopMade(setup.shop, setup.shop_id, setup.manager, setup.manager_no, "/x/recovery-sheet.pdf")


def test_the_pages_open_one_by_one_and_the_shop_is_made_once_at_the_end() -> None:
    make = Recorder()
    pages = FirstRunPresenter(make, label=lambda key: key.rsplit(".", 1)[-1])
    assert set(pages.next()) == {"township", "township_id", "village", "village_id", "shop", "shop_id"}
    assert pages.page == 0
    for name, value in {"township": "红星镇", "township_id": "t01", "village": "幸福村"}.items():
        pages.set(name, value)
    pages.set("village_id", "XF")
    pages.set("shop", "幸福村爱心超市")
    pages.set("shop_id", "S01")
    assert pages.next() == {} and pages.page == 1

    pages.set("base_points", "十")
    problem = pages.next()["base_points"]
    assert problem.params == {"option": "base_points", "value": "十"}  # what was typed, not the -1 it read as
    pages.set("base_points", "50")
    assert pages.next() == {} and pages.last_page

    with pytest.raises(LedgerError) as refused:
        pages.finish("1234", "1234")
    assert refused.value.code == "init_value" and not make.made  # no manager's name yet
    pages.set("manager", "王秀兰")
    for pin, again, code in (("1234", "4321", "pin_mismatch"), ("12", "12", "pin_format")):
        with pytest.raises(LedgerError) as refused:
            pages.finish(pin, again)
        assert refused.value.code == code
    assert not make.made
    made = pages.finish("1234", "1234")
    setup, pin = make.made[0]
    assert (setup.township_id, setup.base_points, setup.floor, pin) == ("T01", 50, None, "1234")
    assert setup.policy().redeemable_floor == 50 and made.recovery_sheet.endswith("recovery-sheet.pdf")
