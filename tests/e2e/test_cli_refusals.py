"""What a new user hit on the command line (issue 15 §3), each refused with the real rule and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import first_redeemable, run


def test_a_deduction_below_zero_says_what_the_balance_becomes_and_asks_for_allow_negative(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    household = first_redeemable(capsys, home)
    hid, balance = household["household_id"], household["balance"]
    code, refused, _ = run(capsys, home, "points", "deduct", hid, str(balance + 50), "--reason", "乱倒垃圾")
    assert code == 1 and refused["error"]["code"] == "deduct_below_zero"
    assert f"{-50} 分" in refused["error"]["message"] and "--allow-negative" in refused["error"]["message"]
    assert run(capsys, home, "balance", hid)[1]["balance"] == balance  # nothing deducted
    code, _, err = run(
        capsys, home, "points", "deduct", hid, str(balance + 50), "--reason", "乱倒垃圾", "--allow-negative"
    )
    assert code == 0, err
    assert run(capsys, home, "balance", hid)[1]["balance"] == -50


def test_clearing_asks_first_and_a_cleared_household_is_not_cleared_again(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    hid = first_redeemable(capsys, home)["household_id"]
    code, refused, _ = run(capsys, home, "points", "clear", hid, "--reason", "酒驾")  # nobody to say yes
    assert code == 1 and refused["error"]["code"] == "not_confirmed"
    assert run(capsys, home, "balance", hid)[1]["status"] == "active"
    assert run(capsys, home, "points", "clear", hid, "--reason", "酒驾", "--yes")[0] == 0
    journal = run(capsys, home, "audit", "verify")[1]["transactions"]
    code, refused, _ = run(capsys, home, "points", "clear", hid, "--reason", "酒驾", "--yes")
    assert code == 1 and refused["error"]["code"] == "household_already_cleared"
    assert run(capsys, home, "audit", "verify")[1]["transactions"] == journal  # no second transaction


def test_balance_takes_a_household_number_too(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    household = first_redeemable(capsys, home)
    by_code = run(capsys, home, "balance", household["passbook"])[1]
    by_number = run(capsys, home, "balance", household["household_id"].lower())[1]
    assert by_number == by_code
    code, refused, _ = run(capsys, home, "balance", "XF9999")
    assert code == 1 and refused["error"]["code"] == "household_unknown"
