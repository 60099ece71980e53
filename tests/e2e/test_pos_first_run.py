"""The POS on a PC with no shop: the first-run set-up by touch (``pos.first_run``), then the till on it.

Driven offscreen by taps and typing (``tests/kivy_harness.py``); what counts is what the shopkeeper reads and
what lands on disk: nothing until the last page, then a ledger, its settings and the recovery sheet.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from lovemart.bootstrap import fake_parts
from tests import kivy_harness as kh
from tests.e2e.test_pos_ui import TICKER


def _tap(widget: Any) -> None:
    widget.debounce_clock = TICKER
    kh.tap(widget)


def _fields(screen: Any) -> dict[str, Any]:
    kh.pump(2)
    return {
        w.field.name: w for w in kh.find_all(screen, lambda w: type(w).__name__ in ("FormTextRow", "FormChoiceRow"))
    }


def _type(screen: Any, **answers: str) -> None:
    fields = _fields(screen)
    for name, value in answers.items():
        kh.find(fields[name], "input").text = value
    kh.pump(1)


def _keypad(screen: Any, digits: str) -> None:
    keypad = kh.find(screen, "keypad")
    for digit in digits:
        _tap(kh.find(keypad, f"key_{digit}"))
    _tap(kh.find(keypad, "key_ok"))


def test_a_new_shop_is_set_up_by_touch_and_the_till_opens_on_it(tmp_path: Path) -> None:
    from lovemart.pos_main import build_first_run, build_pos

    parts = fake_parts(tmp_path)
    assert not parts.exists
    left: list[bool] = []
    app = build_first_run(parts)
    app._leave = lambda: left.append(True)
    with kh.running(app):
        screen = app.root.ids.screens.current_screen
        banner = app.root.ids.banner
        assert screen.page_title == "第1步（共3步）：超市在哪里"

        # Nothing typed: every field says what is missing, and the page stays.
        _tap(kh.find(screen, "next"))
        fields = _fields(screen)
        assert banner.full_text == "有几项要改：请看红字。"
        assert fields["township_id"].problem.startswith("乡镇编号 写得不对")
        assert screen.page_title.startswith("第1步")

        _type(screen, township="红星镇", township_id="t 01", village="幸福村", village_id="xf", shop="幸福村爱心超市")
        _type(screen, shop_id="s01")
        _tap(kh.find(screen, "next"))
        fields = _fields(screen)
        assert fields["township_id"].problem == "乡镇编号 写得不对（T 01）：只能用字母和数字，最多 16 个。"
        assert fields["village_id"].problem == "" and fields["shop"].problem == ""
        _type(screen, township_id="t01")
        _tap(kh.find(screen, "next"))
        assert screen.page_title == "第2步（共3步）：积分规则"

        # The rules: defaults shown; a base grant typed wrong is named as typed; points kept forever.
        fields = _fields(screen)
        assert kh.find(fields["base_points"], "input").text == "100"
        _type(screen, visitor_limit="")
        _tap(kh.find(screen, "next"))
        assert _fields(screen)["visitor_limit"].problem == "外村最多可换 写得不对："
        _type(screen, visitor_limit="30")
        _tap(kh.find(_fields(screen)["cycle"], "choice_1"))
        _tap(kh.find(screen, "next"))
        assert screen.page_title == "第3步（共3步）：第一位管理员"
        assert not parts.exists  # nothing is written before the last page

        # The manager, and the PIN typed twice: a mismatch writes nothing.
        _type(screen, manager="王秀兰")
        _keypad(screen, "2468")
        assert screen.pin_prompt == "请把密码再输一遍"
        _keypad(screen, "1357")
        kh.wait_background()  # the shop is made (or refused) on a worker
        kh.pump(1)
        assert banner.full_text == "两次输入的密码不一样，没有保存。请重新输入。"
        assert not parts.exists and screen.pin_prompt.startswith("给管理员设一个密码")
        _keypad(screen, "2468")
        _keypad(screen, "2468")
        kh.wait_background()
        kh.pump(2)
        done = app.root.ids.screens.current_screen
        assert done.name == "done" and parts.exists
        sheet = tmp_path / "recovery-sheet.pdf"
        assert str(sheet) in done.done_text and "王秀兰（编号 01）" in done.done_text
        assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
        _tap(kh.find(done, "start"))
        assert app.ready and left == [True]

    # The till opens on the new shop: its policy as chosen, its manager's PIN.
    with parts.store().read() as unit:
        policy = unit.policy()
    assert (policy.base_points, policy.redeemable_floor, policy.cycle, policy.visitor_limit) == (100, 100, "none", 30)
    till = build_pos(parts, lockdown=False, freeze_gc=False)
    with kh.running(till):
        result = till.session.login("01", "2468")
        assert result.operator.name == "王秀兰" and till.session.is_manager
    parts.close()
