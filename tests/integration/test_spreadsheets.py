"""Spreadsheets on real SQLite ledgers: the .xlsx ledgers, and points sheets imported all or nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from ledger import services
from ledger.errors import ImportProblem, LedgerError
from ledger.model import Household, Role, TxnKind
from ledger.spreadsheets import export_ledgers, import_points
from ledger.storage import open_ledger
from tests.conftest import ADMIN_CTX, ShopFixture, set_up

CST = dt.timezone(dt.timedelta(hours=8))
IMPORT_CTX = services.Context(services.ADMIN, lambda: dt.datetime(2030, 5, 2, 8, 30, tzinfo=CST))


def balances(shop: ShopFixture) -> dict[str, int]:
    with shop.store.read() as unit:
        return {r.household.household_id: r.balance for r in unit.households()}


def journal_size(shop: ShopFixture) -> int:
    with shop.store.read() as unit:
        return sum(1 for _ in unit.journal())


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


@pytest.fixture
def village(shop):
    shop.household("H1", "张三", points=300)
    shop.household("H2", "李四", points=200)
    shop.household("H3", "王五")
    return shop


# ----- export ----------------------------------------------------------------------------------


def test_export_writes_the_four_ledgers(village, tmp_path):
    store = village.store
    village.item("RICE", 30, stock=20, name="大米")
    receipt = services.redeem(store, village.codes["H1"], [("RICE", 2)], ctx=ADMIN_CTX)
    services.void(store, receipt.transaction.receipt_no, "输错", ctx=ADMIN_CTX)
    services.record_donation(store, '=HYPERLINK("http://x")', 50_000, [("RICE", 5)], "捐赠大米", ctx=ADMIN_CTX)
    out = tmp_path / "台账.xlsx"
    out.write_bytes(b"an older export")

    export_ledgers(store, out)

    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "ledger.sqlite3" and "sqlite" not in p.name) == [
        "台账.xlsx"
    ]
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["兑换台账", "入库台账", "捐赠台账", "积分台账"]
    redemptions = workbook["兑换台账"]
    assert redemptions["A1"].value == "日期时间" and redemptions["A1"].font.b
    assert redemptions["B2"].value == receipt.transaction.receipt_no
    assert redemptions["E2"].value == "大米×2"
    assert redemptions["F2"].value == 60 and isinstance(redemptions["F2"].value, int)
    assert redemptions["H3"].value == "作废" and redemptions["F3"].value == -60
    assert redemptions.column_dimensions["E"].width >= 8
    assert redemptions.freeze_panes == "A2"

    stock_in = workbook["入库台账"]
    assert [c.value for c in stock_in[3]][2:] == ["捐赠", '=HYPERLINK("http://x")', "RICE", "大米", 5, 30]
    assert stock_in["G2"].value == 20

    donations = workbook["捐赠台账"]
    assert donations["C2"].data_type == "s"  # a donor name is never run as a formula
    assert donations["D2"].value == 500 and donations["D2"].number_format == "0.00"  # a number that sums
    assert donations["E2"].value == "大米×5"

    points = workbook["积分台账"]
    rows = [[c.value for c in row] for row in points.iter_rows(min_row=2)]
    h1 = [r for r in rows if r[0] == "H1"]
    assert [(r[4], r[6], r[7]) for r in h1] == [("奖励", 300, 300), ("兑换", -60, 240), ("作废退回", 60, 300)]


def test_export_to_a_missing_folder_is_refused(village, tmp_path):
    with pytest.raises(LedgerError) as refused:
        export_ledgers(village.store, tmp_path / "no such folder" / "台账.xlsx")
    assert refused.value.code == "export_unwritable"


# ----- import ----------------------------------------------------------------------------------


def test_import_csv_with_bom(village, tmp_path):
    sheet = write_csv(
        tmp_path / "十一月积分.csv",
        ["户号,分值,事由,类型", "H1,10,打扫卫生,奖励", "h2,-5,乱扔垃圾,", "H3,3,参加培训,", "H1,2,不参加会议,扣分"],
        encoding="utf-8-sig",
    )
    result = import_points(village.store, sheet, IMPORT_CTX)

    assert balances(village) == {"H1": 308, "H2": 195, "H3": 3}
    assert (result.awards, result.deductions, result.points_awarded, result.points_deducted) == (2, 2, 13, 7)
    assert result.name == "十一月积分.csv" and result.imported_at == "2030-05-02T08:30:00+08:00"
    assert result.as_dict()["imported"] == 4
    kinds = [(t.household_id, t.kind, t.memo) for t in result.transactions]
    assert kinds == [
        ("H1", TxnKind.AWARD, "打扫卫生"),
        ("H2", TxnKind.DEDUCT, "乱扔垃圾"),
        ("H3", TxnKind.AWARD, "参加培训"),
        ("H1", TxnKind.DEDUCT, "不参加会议"),
    ]
    assert services.balance_for_household(village.store, "H3").earned_cycle == 3
    assert services.audit(village.store).ok


def test_import_xlsx_with_title_row_and_english_header(village, tmp_path):
    sheet = write_xlsx(
        tmp_path / "awards.xlsx",
        [
            ["幸福村2030年5月积分评定表"],
            ["household_id", "Name", "points", "reason", "kind"],
            ["H1", "张三", 20, "志愿服务", "award"],
            [None, None, None, None, None],
            ["H2", "李四", 5.0, "违规停车", "deduct"],
            ["H3", "王五", "8", "庭院整洁", None],
        ],
    )
    result = import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert len(result.transactions) == 3
    assert balances(village) == {"H1": 320, "H2": 195, "H3": 8}
    assert services.audit(village.store).ok


def test_import_gb18030_csv_from_chinese_excel(village, tmp_path):
    sheet = write_csv(tmp_path / "gbk.csv", ["户号,积分,原因", "H3,15,帮扶孤寡老人"], encoding="gb18030")
    result = import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert result.transactions[0].memo == "帮扶孤寡老人"
    assert balances(village)["H3"] == 15
    assert services.audit(village.store).ok


def test_bad_rows_are_all_named_and_nothing_is_imported(village, tmp_path):
    sheet = write_csv(
        tmp_path / "bad.csv",
        [
            "户号,分值,事由,类型",
            "H1,10,打扫卫生,奖励",  # row 2 is fine, but must not be imported alone
            "H9,10,打扫卫生,",  # 3: unknown household
            "H1,0,打扫卫生,",  # 4: zero
            "H1,2.5,打扫卫生,",  # 5: not whole
            "H1,10001,打扫卫生,",  # 6: above max_points_per_award
            "H1,10,,",  # 7: no reason
            "H1,10,打扫卫生,表扬",  # 8: unknown kind
            ",10,打扫卫生,",  # 9: no household
            "H1,-3,打扫卫生,奖励",  # 10: negative award
            "H1,abc,打扫卫生,",  # 11: not a number
        ],
    )
    before, size = balances(village), journal_size(village)
    with pytest.raises(ImportProblem) as refused:
        import_points(village.store, sheet, ctx=ADMIN_CTX)
    problems = refused.value.problems
    for row in range(3, 12):
        assert any(p.startswith(f"第 {row} 行") for p in problems), (row, problems)
    assert not any(p.startswith("第 2 行") for p in problems)
    assert any("H9" in p for p in problems)
    assert refused.value.code == "import_invalid"
    assert balances(village) == before and journal_size(village) == size

    # once fixed, the sheet imports: the failed attempt left no record behind
    write_csv(sheet, ["户号,分值,事由", "H1,10,打扫卫生"])
    import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert balances(village)["H1"] == 310


def test_missing_header_is_named_as_row_one(village, tmp_path):
    sheet = write_csv(tmp_path / "noheader.csv", ["H1,10,打扫卫生", "H2,5,志愿服务"])
    with pytest.raises(ImportProblem) as refused:
        import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert refused.value.problems[0].startswith("第 1 行")
    assert "户号" in refused.value.problems[0]

    no_reason = write_csv(tmp_path / "noreason.csv", ["户号,分值", "H1,10"])
    with pytest.raises(ImportProblem) as refused:
        import_points(village.store, no_reason, ctx=ADMIN_CTX)
    assert "事由" in refused.value.problems[0]

    empty = write_csv(tmp_path / "empty.csv", ["户号,分值,事由"])
    with pytest.raises(ImportProblem):
        import_points(village.store, empty, ctx=ADMIN_CTX)
    assert balances(village) == {"H1": 300, "H2": 200, "H3": 0}


def test_many_bad_rows_are_summarised(village, tmp_path):
    sheet = write_csv(tmp_path / "many.csv", ["户号,分值,事由"] + [f"X{i},1,打扫" for i in range(150)])
    with pytest.raises(ImportProblem) as refused:
        import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert len(refused.value.problems) == 101
    assert "50" in refused.value.problems[-1]


def test_the_same_sheet_twice_is_refused(village, tmp_path):
    sheet = write_csv(tmp_path / "once.csv", ["户号,分值,事由", "H1,10,打扫卫生"])
    import_points(village.store, sheet, IMPORT_CTX)
    size = journal_size(village)
    copy = tmp_path / "copy-on-usb.csv"
    copy.write_bytes(sheet.read_bytes())
    with pytest.raises(LedgerError) as refused:
        import_points(village.store, copy, ctx=ADMIN_CTX)
    assert refused.value.code == "import_duplicate"
    assert "2030年5月2日 08:30" in refused.value.message("zh")  # the shop's time when it was imported, in words
    assert balances(village)["H1"] == 310 and journal_size(village) == size
    assert services.audit(village.store).ok


def test_import_ids_come_from_the_sheet(village, tmp_path):
    """The same sheet imported anywhere gives the same transaction ids, so a resend cannot count twice."""
    sheet = write_csv(tmp_path / "ids.csv", ["户号,分值,事由", "H1,10,打扫卫生", "H2,5,志愿服务"])
    first = import_points(village.store, sheet, ctx=ADMIN_CTX)

    other = open_ledger(tmp_path / "other.sqlite3")
    set_up(other)
    try:
        twin = ShopFixture(other, tmp_path / "other.sqlite3")
        twin.household("H1")
        twin.household("H2")
        second = import_points(other, sheet, ctx=ADMIN_CTX)
    finally:
        other.close()
    assert [t.txn_id for t in first.transactions] == [t.txn_id for t in second.transactions]
    assert len({t.txn_id for t in first.transactions}) == 2


def test_unreadable_files_are_refused(village, tmp_path):
    for name, data in [
        ("broken.xlsx", b"PK\x03\x04 not really a zip"),
        ("old.xls", bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 100),
        ("nul.csv", "户号,分值,事由\nH1,1,\0x\n".encode()),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(LedgerError) as refused:
            import_points(village.store, path, ctx=ADMIN_CTX)
        assert refused.value.code in ("import_unreadable", "import_invalid"), name
        if name != "nul.csv":
            assert refused.value.code == "import_unreadable"
    with pytest.raises(LedgerError) as refused:
        import_points(village.store, tmp_path / "missing.csv", ctx=ADMIN_CTX)
    assert refused.value.code == "import_unreadable"
    assert balances(village) == {"H1": 300, "H2": 200, "H3": 0}


def test_a_clerk_cannot_import_points(village, tmp_path):
    clerk = services.add_operator(village.store, "c1", "王店员", Role.CLERK, "1111")
    sheet = write_csv(tmp_path / "a.csv", ["户号,分值,事由", "H1,10,打扫卫生"])
    with pytest.raises(LedgerError) as refused:
        import_points(village.store, sheet, services.Context(operator=clerk))
    assert refused.value.code == "manager_required"
    assert balances(village)["H1"] == 300


def test_excel_quirks_are_understood(village, tmp_path):
    """Numbers typed as household ids, full-width digits, UTF-16 "Unicode text" saved by Excel."""
    services.register_household(village.store, Household("1001", "V1", "赵六", "S1"))
    sheet = write_xlsx(tmp_path / "numbers.xlsx", [["户号", "分值", "事由"], [1001, "５", "修路义务劳动"]])
    import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert balances(village)["1001"] == 5

    unicode_text = tmp_path / "unicode.txt"
    unicode_text.write_bytes("户号\t分值\t事由\r\nH3\t-2\t占道堆放\r\n".encode("utf-16"))
    result = import_points(village.store, unicode_text, ctx=ADMIN_CTX)
    assert result.deductions == 1 and balances(village)["H3"] == -2
    assert services.audit(village.store).ok


def test_a_repeated_column_is_refused(village, tmp_path):
    sheet = write_csv(tmp_path / "twice.csv", ["户号,分值,积分,事由", "H1,10,20,打扫卫生"])
    with pytest.raises(ImportProblem) as refused:
        import_points(village.store, sheet, ctx=ADMIN_CTX)
    assert refused.value.problems[0].startswith("第 1 行") and "分值" in refused.value.problems[0]
    assert balances(village)["H1"] == 300
