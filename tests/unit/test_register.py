"""The household register's checks (``ledger.register``): a household's phone number (联系电话)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ImportProblem
from ledger.model import Shop, Village
from ledger.register import (
    HouseholdInput,
    RegisterSheet,
    checked_rows,
    household_of,
    household_problems,
    read_register,
)

VILLAGES = [Village("V1", "幸福村")]
SHOPS = [Shop("S1", "幸福村爱心超市", "V1")]


def given(phone: str) -> HouseholdInput:
    return HouseholdInput("H001", "V1", "张秀英", "S1", phone=phone)


@pytest.mark.parametrize(
    "phone", ["", "   ", "13812345678", " 138 1234 5678 ", "0571-88888888", "+86 138-1234-5678", "12345", "1" * 20]
)
def test_a_phone_number_may_be_left_out_or_written_as_people_do(phone: str) -> None:
    assert household_problems(given(phone)) == []


@pytest.mark.parametrize(
    "phone",
    [
        "12ab",
        "1" * 21,
        "+86 138 1234 5678 9012",
        "1234",
        "138\x001234567",
        "+",
        "--12345",
        "138.1234.5678",
        "１３８１２３４５６７８",
    ],
)
def test_a_phone_number_that_is_not_one_is_refused_naming_it(phone: str) -> None:
    problems = household_problems(given(phone))
    assert [p.code for p in problems] == ["household_phone_invalid"]
    assert problems[0].params["text"] == phone[:40]
    assert "电话号码不对" in problems[0].message("zh") and "Phone number not valid" in problems[0].message("en")


def test_the_household_stored_has_the_phone_stripped() -> None:
    assert household_of(given("  138 1234 5678 "), None).phone == "138 1234 5678"
    assert household_of(given(""), None).phone == ""


def register_sheet(tmp_path: Path, header: str, phones: list[object]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["幸福村户籍台账"])
    sheet.append(["户号", "户主", "村", header])
    for n, phone in enumerate(phones, start=1):
        sheet.append([f"H00{n}", f"户主{n}", "幸福村", phone])
    path = tmp_path / "户籍台账.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize("header", ["联系电话", "电话", "手机号", "phone"])
def test_a_phone_that_excel_made_a_number_imports_as_its_digits(tmp_path: Path, header: str) -> None:
    path = register_sheet(tmp_path, header, [13812345678, 13812345678.0, "0571-88888888", None])
    entries = checked_rows(read_register(path), VILLAGES, SHOPS, lambda _id: None)
    assert [e.phone for e in entries] == ["13812345678", "13812345678", "0571-88888888", ""]
    assert [household_of(e, None).phone for e in entries] == ["13812345678", "13812345678", "0571-88888888", ""]


def test_a_phone_cell_read_as_a_float_is_its_digits() -> None:
    """openpyxl gives a number cell written as ``1.3812345678E10`` (or ``13812345678.0``) as a float."""
    columns = {"household_id": 0, "head_name": 1, "village": 2, "phone": 3}
    rows = [
        (1, ("户号", "户主", "村", "手机")),
        (2, ("H001", "张秀英", "幸福村", 13812345678.0)),
        (3, ("H002", "李明", "V1", 5718888888)),
    ]
    entries = checked_rows(RegisterSheet(rows, 1, columns), VILLAGES, SHOPS, lambda _id: None)
    assert [e.phone for e in entries] == ["13812345678", "5718888888"]


def test_a_register_row_with_a_bad_phone_is_named_and_nothing_imports(tmp_path: Path) -> None:
    path = register_sheet(tmp_path, "联系电话", ["13812345678", "12ab"])
    with pytest.raises(ImportProblem) as refused:
        checked_rows(read_register(path), VILLAGES, SHOPS, lambda _id: None)
    assert [(row, p.code) for row, p in refused.value.row_problems] == [(4, "household_phone_invalid")]
    assert refused.value.lines("zh") == ["第 4 行：电话号码不对：12ab（只能有数字、空格和-，5到20位）"]
