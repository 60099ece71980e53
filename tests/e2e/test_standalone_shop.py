"""A real standalone shop from nothing, as the README walks a new user through it (issue 15): ``lovemart init``,
its recovery sheet, the household register, goods, a clerk, a sale, a backup and a restore. No demo."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook

from hardware.decode import ZxingDecoder
from ledger.passbook import key_of_text
from tests.cli_harness import run

INIT = (
    "init",
    "--township",
    "红星镇",
    "--township-id",
    "t01",
    "--village",
    "幸福村",
    "--village-id",
    "XF",
    "--shop",
    "幸福村爱心超市",
    "--shop-id",
    "S01",
    "--manager",
    "王秀兰",
    "--base-points",
    "100",
    "--floor",
    "50",
)


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def register_sheet(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["幸福村农户名册"])  # a title row above the header, as village registers have
    sheet.append(["户号", "户主", "村", "家庭成员", "村民小组", "门牌号"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def sheet_text(pdf: Path) -> tuple[str, str]:
    """The recovery sheet's words, and what its QR code says (rendered and decoded like a scan)."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    page = pdfium.PdfDocument(pdf.read_bytes())[0]
    words = page.get_textpage().get_text_range()
    image = page.render(scale=3).to_pil().convert("L")
    codes = ZxingDecoder().decode(np.asarray(image))
    return words, codes[0].text if codes else ""


def test_a_new_user_starts_a_real_shop_without_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "shop"
    typed(monkeypatch, "2580")
    code, made, err = run(capsys, home, *INIT)
    assert code == 0, err
    assert made["shop_id"] == "S01" and made["township_id"] == "T01" and made["policy"]["redeemable_floor"] == 50
    sheet = Path(made["recovery_sheet"])
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    words, qr = sheet_text(sheet)
    assert "红星镇" in words and "lovemart init --recovery-key" in words
    assert qr.startswith("LMKEY1:T01:") and len(key_of_text(qr)) == 32
    assert "[shop]" in (home / "lovemart.toml").read_text(encoding="utf-8")
    code, refused, _ = run(capsys, home, *INIT)  # never over an existing shop
    assert code == 1 and refused["error"]["code"] == "init_ledger_exists"

    bad = register_sheet(
        tmp_path / "bad.xlsx",
        [["XF0001", "李建国", "幸福村", "张桂兰(配偶)", "1组", "3"], ["XF0002", "", "幸福村", "", "", ""]],
    )
    code, refused, _ = run(capsys, home, "households", "import", str(bad))
    assert code == 1 and "第 4 行" in refused["error"]["message"]  # the empty head, by its row in the sheet
    assert run(capsys, home, "households", "list")[1]["households"] == []  # all or nothing
    good = register_sheet(
        tmp_path / "good.xlsx",
        [["XF0001", "李建国", "幸福村", "张桂兰(配偶)", "1组", "3"], ["XF0002", "赵德福", "XF", "", "2组", "8"]],
    )
    code, imported, err = run(capsys, home, "households", "import", str(good))
    assert code == 0 and imported == {"created": ["XF0001", "XF0002"], "updated": []}, err
    code, added, err = run(capsys, home, "households", "add", "XF0003", "--head", "张桂兰", "--group", "3组")
    assert code == 0 and added["passbook"].startswith("LM1:XF0003:1:"), err
    code, taken, _ = run(capsys, home, "households", "add", "XF0003", "--head", "别人")
    assert code == 1 and taken["error"]["code"] == "household_taken"
    assert run(capsys, home, "households", "edit", "XF0003", "--house-no", "21")[0] == 0
    assert run(capsys, home, "points", "grant-base")[0] == 0
    assert run(capsys, home, "items", "add", "SOAP", "肥皂", "块", "3")[0] == 0
    assert run(capsys, home, "stock", "in", "SOAP=40")[0] == 0
    typed(monkeypatch, "1111")
    assert run(capsys, home, "operators", "add", "02", "--name", "李小红")[0] == 0
    households = {h["household_id"]: h for h in run(capsys, home, "households", "list")[1]["households"]}
    assert households["XF0001"]["balance"] == 100 and households["XF0001"]["redeemable"] == 50
    code, sold, err = run(capsys, home, "redeem", households["XF0001"]["passbook"], "SOAP=2")
    assert code == 0 and sold["points"] == 6, err
    code, backup, err = run(capsys, home, "backup")
    assert code == 0, err
    assert run(capsys, home, "redeem", households["XF0002"]["passbook"], "SOAP=1")[0] == 0
    code, restored, err = run(capsys, home, "restore", backup["path"], "--yes")
    assert code == 0, err
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert code == 0 and audit["ok"] and audit["transactions"] == restored["transactions"]


def test_the_recovery_sheet_rebuilds_a_shop_whose_passbooks_still_scan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    typed(monkeypatch, "2580")
    code, made, _ = run(capsys, first, *INIT)
    _words, qr = sheet_text(Path(made["recovery_sheet"]))
    run(capsys, first, "households", "add", "XF0001", "--head", "李建国")
    passbook = run(capsys, first, "households", "list")[1]["households"][0]["passbook"]
    # The PC died with no backup: a new folder, the key typed from the sheet (here, scanned off it).
    second = tmp_path / "second"
    typed(monkeypatch, qr, "2580")
    code, _, err = run(capsys, second, *INIT, "--recovery-key")
    assert code == 0, err
    run(capsys, second, "households", "add", "XF0001", "--head", "李建国")
    code, balance, err = run(capsys, second, "balance", passbook)
    assert code == 0 and balance["household_id"] == "XF0001", err  # the villager's old card works
    third = tmp_path / "third"  # without the sheet's key, the same card is refused
    typed(monkeypatch, "2580")
    run(capsys, third, *INIT)
    run(capsys, third, "households", "add", "XF0001", "--head", "李建国")
    code, refused, _ = run(capsys, third, "balance", passbook)
    assert code == 1 and refused["error"]["code"] == "passbook_forged"


def test_init_in_a_script_names_what_is_missing_and_makes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "shop"
    typed(monkeypatch, "2580")
    code, refused, _ = run(capsys, home, "init", "--township", "红星镇")
    assert code == 1 and refused["error"]["code"] == "init_missing" and "--township-id" in refused["error"]["message"]
    typed(monkeypatch, "12")  # a PIN too short: refused before anything is made
    code, refused, _ = run(capsys, home, *INIT)
    assert code == 1 and refused["error"]["code"] == "pin_format"
    code, refused, _ = run(capsys, home, *[a if a != "S01" else "S 01" for a in INIT])
    assert code == 1 and refused["error"]["code"] == "init_id"
    assert not (home / "ledger.sqlite3").exists()


def test_a_connected_shop_leaves_the_register_to_the_township(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ledger.storage import open_ledger

    home = tmp_path / "shop"
    typed(monkeypatch, "2580")
    assert run(capsys, home, *INIT)[0] == 0
    store = open_ledger(home / "ledger.sqlite3")
    with store.write() as unit:  # as provisioning leaves a shop
        unit.set_meta("server_url", "https://lovemart.example")
    store.close()
    code, refused, _ = run(capsys, home, "households", "add", "XF0001", "--head", "李建国")
    assert code == 1 and refused["error"]["code"] == "register_township_owned"
