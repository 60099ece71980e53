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


@pytest.mark.parametrize(
    ("words", "code", "said"),
    [
        (("stock", "in", "RICE5=1.5"), "quantity_not_whole", "RICE5=1.5"),  # not "1 到 99": stock-in allows more
        (("stock", "count", "SOAP=-1"), "count_quantity", "0 到"),  # 0 is a count
        (("donations", "add", "--donor", "x"), "donation_empty", "--amount"),  # not "金额不对：0"
    ],
)
def test_a_refusal_names_what_was_typed_and_the_real_rule(
    capsys: pytest.CaptureFixture[str], home: Path, words: tuple[str, ...], code: str, said: str
) -> None:
    before = run(capsys, home, "audit", "verify")[1]["transactions"]
    status, refused, _ = run(capsys, home, *words)
    assert status == 1 and refused["error"]["code"] == code and said in refused["error"]["message"]
    assert run(capsys, home, "audit", "verify")[1]["transactions"] == before


def test_a_cart_names_the_item_written_twice_and_a_bare_sku_is_not_one(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    household = first_redeemable(capsys, home)
    code, refused, _ = run(capsys, home, "redeem", household["passbook"], "SOAP=60", "SOAP=60")
    assert code == 1 and refused["error"]["code"] == "bad_quantity_total"
    assert "SOAP" in refused["error"]["message"] and "120" in refused["error"]["message"]
    code, refused, _ = run(capsys, home, "redeem", household["passbook"], "SOAP")
    assert (
        code == 1 and refused["error"]["code"] == "goods_without_quantity" and "SOAP=1" in refused["error"]["message"]
    )
    assert run(capsys, home, "balance", household["passbook"])[1]["balance"] == household["balance"]


def test_items_add_never_changes_an_item_and_items_edit_does(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    before = next(i for i in run(capsys, home, "stock", "list")[1]["items"] if i["sku"] == "SOAP")
    code, refused, _ = run(capsys, home, "items", "add", "SOAP", "别的", "个", "9")
    assert code == 1 and refused["error"]["code"] == "item_exists"
    assert next(i for i in run(capsys, home, "stock", "list")[1]["items"] if i["sku"] == "SOAP") == before
    code, changed, err = run(capsys, home, "items", "edit", "SOAP", "--points", "4")
    assert code == 0 and changed["points"] == 4, err
    after = next(i for i in run(capsys, home, "stock", "list")[1]["items"] if i["sku"] == "SOAP")
    assert after == before | {"points": 4}


def test_a_mistyped_command_asked_for_json_prints_its_error_object(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    from lovemart.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--home", str(home), "stok", "list", "--json"])
    out = capsys.readouterr().out
    assert stop.value.code == 2
    import json

    assert json.loads(out)["error"]["code"] == "usage" and "stok" in json.loads(out)["error"]["message"]


def test_the_donation_ledgers_money_is_numbers_that_sum(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    from decimal import Decimal

    from openpyxl import load_workbook

    assert run(capsys, home, "donations", "add", "--donor", "县邮政分公司", "--amount", "1234.56")[0] == 0
    out = tmp_path / "台账.xlsx"
    assert run(capsys, home, "report", "ledgers", "--xlsx", str(out))[0] == 0
    sheet = load_workbook(out)["捐赠台账"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    column = header.index("金额（元）")
    amounts = [row[column] for row in sheet.iter_rows(min_row=2)]
    assert amounts and all(isinstance(c.value, int | float) and c.number_format == "0.00" for c in amounts)
    donations = run(capsys, home, "donations", "list")[1]["donations"]
    total = sum(Decimal(str(c.value)) for c in amounts)
    assert total == Decimal(sum(d["amount_fen"] for d in donations)) / 100 and total % 1 != 0


def test_the_apps_refuse_to_run_invisibly_where_there_is_no_screen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    from lovemart.commands.apps import require_display

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    for app in ("pos", "kiosk"):
        code, refused, _ = run(capsys, home, app)
        assert code == 1 and refused["error"]["code"] == "no_display" and "显示器" in refused["error"]["message"]
    require_display({"SDL_VIDEODRIVER": "kmsdrm"})  # a framebuffer panel says so itself
    require_display({"DISPLAY": ":0"})


def test_a_camera_that_cannot_be_opened_leaves_no_opencv_warnings_on_the_terminal() -> None:
    """The scanner says "no camera" once, in words; OpenCV's own two lines per try (every 2 s) are off."""
    import subprocess
    import sys

    code = "from hardware.camera import open_video_capture\nassert not open_video_capture(63).isOpened()\n"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "WARN" not in done.stderr and "VIDEOIO" not in done.stderr, done.stderr
