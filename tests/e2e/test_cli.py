"""The command line contract of DESIGN.md §10, on a real demo ledger."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lovemart.cli import main
from lovemart.lock import PosLock
from tests.cli_harness import first_redeemable, run

DEMO_HOUSEHOLDS = 30  # the demo shop of this module (tests/conftest.py: demo_template, home)


def test_demo_seeds_a_realistic_shop(capsys, home: Path) -> None:
    code, data, _ = run(capsys, home, "households", "list")
    assert code == 0 and len(data["households"]) == 30
    for h in data["households"]:
        assert set(h) >= {"household_id", "name", "passbook", "balance", "redeemable", "earned_cycle", "status"}
    assert {h["status"] for h in data["households"]} == {"active", "frozen"}
    code, stock, _ = run(capsys, home, "stock", "list")
    assert len(stock["items"]) >= 40
    assert all(set(i) >= {"sku", "name", "unit", "points", "on_hand"} for i in stock["items"])
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert code == 0 and audit["ok"] and audit["problems"] == [] and audit["transactions"] > 300


def test_demo_twice_keeps_the_ledger(capsys, home: Path) -> None:
    code, data, _ = run(capsys, home, "demo", "--no-ui")
    assert code == 0 and data["created"] is False and data["households"] == 30


def test_balance_redeem_void_round_trip(capsys, home: Path) -> None:
    household = first_redeemable(capsys, home)
    code, before, _ = run(capsys, home, "balance", household["passbook"])
    assert code == 0
    assert set(before) >= {"household_id", "name", "balance", "redeemable", "earned_cycle", "status", "last_synced"}
    code, receipt, _ = run(capsys, home, "redeem", household["passbook"], "SOAP=2", "SALT=1")
    assert code == 0, receipt
    assert receipt["points"] == 2 * 3 + 2
    assert receipt["balance_after"] == before["balance"] - 8
    assert receipt["redeemable_after"] == before["redeemable"] - 8
    # The demo shop prints to a file in its folder (lovemart.toml [printer]); the receipt is there.
    assert receipt["printed"] is True
    assert receipt["receipt_no"].encode("ascii") in (home / "printer-out.bin").read_bytes()
    assert receipt["receipt_no"].startswith("S01-P1-")
    code, voided, _ = run(capsys, home, "void", receipt["receipt_no"], "--reason", "输错")
    assert code == 0
    assert voided["voids"] == receipt["receipt_no"] and voided["points_returned"] == 8
    code, after, _ = run(capsys, home, "balance", household["passbook"])
    assert after["balance"] == before["balance"]
    code, again, err = run(capsys, home, "void", receipt["receipt_no"], "--reason", "输错")
    assert code == 1 and again["error"]["code"] == "already_voided"


@pytest.mark.parametrize(
    ("goods", "error"),
    [
        (["SOAP=0"], "bad_quantity"),
        (["SOAP=-1"], "bad_quantity"),
        (["SOAP=1.5"], "quantity_not_whole"),
        (["SOAP=100000"], "bad_quantity"),
        (["NOPE=1"], "unknown_sku"),
        (["RICE10=98"], "out_of_stock"),
        (["OIL5=5"], "insufficient_points"),
    ],
)
def test_redeem_refusals_change_nothing(capsys, home: Path, goods: list[str], error: str) -> None:
    household = first_redeemable(capsys, home)
    _, stock_before, _ = run(capsys, home, "stock", "list")
    code, data, err = run(capsys, home, "redeem", household["passbook"], *goods)
    assert code == 1
    assert data["error"]["code"] == error
    assert err.strip() == data["error"]["message"]
    _, after, _ = run(capsys, home, "balance", household["passbook"])
    assert after["balance"] == household["balance"]
    _, stock_after, _ = run(capsys, home, "stock", "list")
    assert stock_after == stock_before


@pytest.mark.parametrize(
    ("code_text", "error"),
    [
        ("LM1:XF0001:1:AAAAAA", "passbook_forged"),
        ("hello", "passbook_malformed"),
        ("LM1:ZZ9999:1:AAAAAA", "passbook_forged"),
    ],
)
def test_bad_passbooks_are_refused(capsys, home: Path, code_text: str, error: str) -> None:
    code, data, _ = run(capsys, home, "balance", code_text)
    assert code == 1 and data["error"]["code"] == error


def test_revoked_and_frozen_passbooks(capsys, home: Path) -> None:
    _, data, _ = run(capsys, home, "households", "list")
    old = data["households"][0]
    code, reissued, _ = run(capsys, home, "passbook", "reissue", old["household_id"])
    assert code == 0 and reissued["card_no"] == 2
    code, refusal, _ = run(capsys, home, "redeem", old["passbook"], "SALT=1")
    assert code == 1 and refusal["error"]["code"] == "passbook_revoked"
    code, cleared, _ = run(capsys, home, "points", "clear", old["household_id"], "--reason", "零容忍", "--yes")
    assert code == 0
    code, refusal, _ = run(capsys, home, "redeem", reissued["passbook"], "SALT=1")
    assert code == 1 and refusal["error"]["code"] == "household_frozen"


def test_english_messages(capsys, home: Path) -> None:
    code = main(["--home", str(home), "--lang", "en", "redeem", "hello", "SALT=1"])
    assert code == 1
    assert "not a passbook code" in capsys.readouterr().err


def test_second_pos_on_the_same_ledger_is_refused(capsys, home: Path) -> None:
    household = first_redeemable(capsys, home)
    with PosLock(home / "pos.lock"):
        code, data, _ = run(capsys, home, "redeem", household["passbook"], "SALT=1")
    assert code == 1 and data["error"]["code"] == "ledger_locked"
    code, data, _ = run(capsys, home, "redeem", household["passbook"], "SALT=1")
    assert code == 0


def test_stock_donations_and_points(capsys, home: Path) -> None:
    _, stock, _ = run(capsys, home, "stock", "list")
    soap = next(i for i in stock["items"] if i["sku"] == "SOAP")
    assert run(capsys, home, "stock", "in", "SOAP=10", "--supplier", "供销社", "--cost", "25.50")[0] == 0
    assert run(capsys, home, "donations", "add", "--donor", "华兴公司", "SOAP=5", "--amount", "500")[0] == 0
    assert run(capsys, home, "stock", "writeoff", "SOAP=2", "--reason", "受潮")[0] == 0
    code, count, _ = run(capsys, home, "stock", "count", f"SOAP={soap['on_hand'] + 10}", "--dry-run")
    assert code == 0 and count["differences"][0]["difference"] == -3 and count["receipt_no"] is None
    _, stock, _ = run(capsys, home, "stock", "list")
    assert next(i for i in stock["items"] if i["sku"] == "SOAP")["on_hand"] == soap["on_hand"] + 13
    code, data, _ = run(capsys, home, "donations", "add", "--donor", "某人", "--amount", "-5")
    assert code == 1 and data["error"]["code"] == "bad_amount"
    code, data, _ = run(capsys, home, "points", "award", "XF0003", "10", "--reason", "志愿服务")
    assert code == 0
    code, data, _ = run(capsys, home, "points", "award", "XF9999", "10", "--reason", "志愿服务")
    assert code == 1 and data["error"]["code"] == "household_unknown"
    assert run(capsys, home, "audit", "verify")[0] == 0


def test_no_ledger_is_a_clear_refusal(capsys, tmp_path: Path) -> None:
    code, data, _ = run(capsys, tmp_path / "empty", "households", "list")
    assert code == 1 and data["error"]["code"] == "not_configured"


def test_exit_codes_of_the_real_command(home: Path) -> None:
    lovemart = [sys.executable, "-m", "lovemart.cli", "--home", str(home)]
    ok = subprocess.run([*lovemart, "audit", "verify", "--json"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    refused = subprocess.run([*lovemart, "balance", "nonsense"], capture_output=True, text=True)
    assert refused.returncode == 1 and "积分存折" in refused.stderr
    usage = subprocess.run([*lovemart, "redeem"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_reports_and_score_sheet_import(capsys, home: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "积分.csv"
    sheet.write_text("户号,分值,事由\nXF0001,5,志愿服务\nXF0002,-3,乱堆乱放\n", encoding="utf-8")
    _, before, _ = run(capsys, home, "households", "list")
    code, imported, _ = run(capsys, home, "points", "import", str(sheet))
    assert code == 0 and imported["awards"] == 1 and imported["deductions"] == 1
    code, again, _ = run(capsys, home, "points", "import", str(sheet))
    assert code == 1 and again["error"]["code"] == "import_duplicate"
    # when, in local time and in words: "在 2026年12月7日 10:05 导入过了", not "2026-12-07T02:05:00+00:00"
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", again["error"]["message"])
    assert "T" not in again["error"]["message"] and "+00:00" not in again["error"]["message"]
    bad = tmp_path / "bad.csv"
    bad.write_text("户号,分值,事由\nXF0001,5,志愿服务\nXF9999,x,\n", encoding="utf-8")
    code, refused, err = run(capsys, home, "points", "import", str(bad))
    assert code == 1 and refused["error"]["code"] == "import_invalid" and "第 3 行" in err
    _, after, _ = run(capsys, home, "households", "list")
    changes = {
        a["household_id"]: a["balance"] - b["balance"]
        for a, b in zip(after["households"], before["households"], strict=True)
        if a["balance"] != b["balance"]
    }
    assert changes == {"XF0001": 5, "XF0002": -3}

    code, ranking, _ = run(capsys, home, "report", "ranking", "--limit", "3")
    earned = [r["earned_cycle"] for r in ranking["ranking"]]
    assert code == 0 and earned == sorted(earned, reverse=True) and len(earned) == 3
    code, liability, _ = run(capsys, home, "report", "liability")
    assert code == 0 and liability["total_balance"] == sum(h["balance"] for h in after["households"])
    household = first_redeemable(capsys, home)
    run(capsys, home, "redeem", household["passbook"], "SOAP=2")
    code, day, _ = run(capsys, home, "report", "day-close", "--close")
    assert code == 0 and day["redemptions"] >= 1 and day["points_redeemed"] >= 6 and day["day_close_receipt_no"]
    xlsx = tmp_path / "台账.xlsx"
    code, _, _ = run(capsys, home, "report", "ledgers", "--xlsx", str(xlsx))
    import openpyxl

    assert code == 0
    assert openpyxl.load_workbook(xlsx).sheetnames == ["兑换台账", "入库台账", "捐赠台账", "积分台账"]
    assert run(capsys, home, "audit", "verify")[0] == 0


# ----- both languages complete: our words in the reader's language, the people's data as they typed it ------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")  # Han, CJK and full-width punctuation


def said(capsys: pytest.CaptureFixture[str], home: Path, lang: str | None, *args: str) -> str:
    """What a person reads on stdout (no --json), in ``lang`` (None: the default)."""
    code = main(["--home", str(home), *(["--lang", lang] if lang else []), *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def people_data(capsys: pytest.CaptureFixture[str], home: Path) -> list[str]:
    """What people typed into the ledger (names, members, units, categories, donors): said as it is in any
    language. Longest first, so that a name inside another is taken out with it."""
    _, households, _ = run(capsys, home, "households", "list")
    _, stock, _ = run(capsys, home, "stock", "list")
    _, operators, _ = run(capsys, home, "operators", "list")
    _, donations, _ = run(capsys, home, "donations", "list")
    words = [w for h in households["households"] for w in (h["name"], *h["members"])]
    words += [w for i in stock["items"] for w in (i["name"], i["unit"], i["category"])]
    words += [o["name"] for o in operators["operators"]] + [d["donor"] for d in donations["donations"]]
    return sorted({w for w in words if w}, key=len, reverse=True)


def our_words(out: str, data: list[str]) -> str:
    for word in data:
        out = out.replace(word, "")
    return out


def test_every_command_speaks_english_under_lang_en_and_chinese_by_default(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    from hardware.cards import CardFace, render_card_image

    household = first_redeemable(capsys, home)
    card = tmp_path / "card.png"
    render_card_image(CardFace(household["household_id"], "x", "y", 1, household["passbook"]), dpi=200).save(card)
    assert run(capsys, home, "redeem", household["passbook"], "SOAP=1")[0] == 0  # today has an item and an operator
    reading = {
        "households list": ("households", "list"),
        "balance": ("balance", household["passbook"]),
        "stock list": ("stock", "list"),
        "stock count": ("stock", "count", "SOAP=1", "--dry-run"),
        "day close": ("report", "day-close"),
        "ranking": ("report", "ranking", "--limit", "5"),
        "liability": ("report", "liability"),
        "donations list": ("donations", "list"),
        "operators list": ("operators", "list"),
        "receipts pending": ("receipt", "pending"),
        "scan": ("scan", str(card)),
        "audit": ("audit", "verify"),
    }
    chinese = {name: said(capsys, home, None, *args) for name, args in reading.items()}
    english = {name: said(capsys, home, "en", *args) for name, args in reading.items()}
    english["redeem"] = said(capsys, home, "en", "redeem", household["passbook"], "SOAP=1")
    english["stock in"] = said(capsys, home, "en", "stock", "in", "SOAP=2")
    english["stock count recorded"] = said(capsys, home, "en", "stock", "count", "SOAP=4")
    english["donations add"] = said(capsys, home, "en", "donations", "add", "--donor", "ACME", "--amount", "5")
    english["day close recorded"] = said(capsys, home, "en", "report", "day-close", "--close")

    data = people_data(capsys, home)
    chinese_left = {name: CJK.findall(our_words(out, data)) for name, out in english.items()}
    assert {name: found for name, found in chinese_left.items() if found} == {}
    assert english["households list"].startswith("Household\t") and "\tactive\t" in english["households list"]
    assert english["stock list"].startswith("SKU") and "\tbook " in english["stock count"]
    assert "\tcounted 1\tdifference " in english["stock count"]
    assert "Operator administrator: " in english["day close"]
    assert "Valid passbook: household " + household["household_id"] in english["scan"]
    assert " yuan\t" in english["donations list"]

    assert chinese["households list"].startswith("户号") and "\t正常\t" in chinese["households list"]
    assert chinese["stock list"].startswith("编号") and "\t账面 " in chinese["stock count"]
    assert "\t实盘 1\t差 " in chinese["stock count"]
    assert "操作员 管理员：" in chinese["day close"] and "有效存折：户号" in chinese["scan"]
    assert "\t￥" in chinese["donations list"]
