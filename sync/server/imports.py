"""Households from a spreadsheet (.xlsx or .csv): every row checked first, every problem by row, all or none.

Townships keep their household register (户籍台账) in Excel. The file is read with the same reader as
the committee's score sheets (``ledger.spreadsheets``: format told from the bytes, GB18030 CSVs, a
title row above the header), then each row is checked against the central record. One bad row imports
nothing: a half-imported register leaves nobody sure which households have passbooks.

Columns (header names in Chinese or English; the header may sit below a title row):
户号/household_id, 户主/head_name, 村/village (the village's id or name), 超市/home_shop (optional when
the village has exactly one shop), 家庭成员/members (optional: ``李四(配偶)、王五(儿子)``), 村民小组/village_group and
门牌号/house_no (optional).
Importing a household that exists updates its record; its points, status and cards stay.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ledger.errors import ImportProblem, LedgerError
from ledger.messages import Listing, Message
from ledger.model import Member
from ledger.spreadsheets import (
    HEADER_SEARCH_ROWS,
    MAX_LISTED_PROBLEMS,
    Row,
    _household_text,
    is_blank,
    normalise,
    read_rows,
)
from ledger.storage.central import CentralUnit
from sync.server.record import CentralRecord
from sync.server.township import HouseholdInput, Invalid, check_household, store_household

COLUMNS: dict[str, tuple[str, ...]] = {
    "household_id": ("户号", "户编号", "household_id", "household"),
    "head_name": ("户主", "户主姓名", "姓名", "head_name", "head", "name"),
    "village": ("村", "村名", "村编号", "行政村", "village_id", "village"),
    "home_shop": ("超市", "所属超市", "爱心超市", "home_shop_id", "home_shop", "shop"),
    "members": ("家庭成员", "成员", "members"),
    "village_group": ("村民小组", "小组", "组", "village_group", "group"),
    "house_no": ("门牌号", "门牌", "house_no", "house_number"),
}
REQUIRED = ("household_id", "head_name", "village")
# A column as a refusal names it: "户号" to the township's clerk, "household_id" under ``--lang en``.
LABELS = {
    "household_id": Message("import.column.household_id"),
    "head_name": Message("import.column.head_name"),
    "village": Message("import.column.village"),
    "home_shop": Message("import.column.home_shop"),
    "members": Message("import.column.members"),
    "village_group": Message("import.column.village_group"),
    "house_no": Message("import.column.house_no"),
}
_MEMBER_SPLIT = re.compile(r"[、,，;；/\n]+")
_MEMBER = re.compile(r"^\s*([^()（）]+?)\s*(?:[(（]\s*([^()（）]*?)\s*[)）])?\s*$")


def _aliases() -> dict[str, str]:
    return {normalise(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


def _columns(values: Sequence[object]) -> dict[str, int]:
    names = _aliases()
    found: dict[str, int] = {}
    for index, value in enumerate(values):
        key = names.get(normalise(value))
        if key is not None and key not in found:
            found[key] = index
    return found


def _locate(sheets: list[list[Row]]) -> tuple[list[Row], int, dict[str, int]]:
    for sheet in sheets:
        rows = [(n, v) for n, v in sheet if not is_blank(v)]
        for row_no, values in rows[:HEADER_SEARCH_ROWS]:
            columns = _columns(values)
            if "household_id" in columns and "head_name" in columns:
                if "village" not in columns:
                    raise ImportProblem([(row_no, _header_problem(["village"]))])
                return rows, row_no, columns
    first_no, first = next(((n, v) for sheet in sheets for n, v in sheet if not is_blank(v)), (1, ()))
    missing = [c for c in REQUIRED if c not in _columns(first)]
    raise ImportProblem([(first_no, _header_problem(missing))])


def _header_problem(missing: list[str]) -> LedgerError:
    return Invalid("household_import_header", missing=Listing.of(LABELS[c] for c in missing))


def parse_members(text: str) -> tuple[Member, ...]:
    """``李四(配偶)、王五（儿子）`` into members; a name without brackets has no relation."""
    members = []
    for part in _MEMBER_SPLIT.split(text):
        if not part.strip():
            continue
        match = _MEMBER.match(part)
        if match is None:
            raise Invalid("member_format", text=part.strip())
        members.append(Member(match.group(1).strip(), (match.group(2) or "").strip()))
    return tuple(members)


def _cell(values: Sequence[object], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    value = values[index] if index is not None and index < len(values) else None
    return "" if value is None else _household_text(value) if key == "household_id" else str(value).strip()


def _check_rows(
    unit: CentralUnit,
    rows: list[Row],
    header_row: int,
    columns: dict[str, int],
    allowed: Collection[str] | None = None,
) -> tuple[list[HouseholdInput], list[tuple[int | None, LedgerError]]]:
    villages = {v.village_id: v for v in unit.villages()}
    by_name: dict[str, list[str]] = {}
    for village in villages.values():
        by_name.setdefault(village.name, []).append(village.village_id)
    shops_of: dict[str, list[str]] = {}
    known_shops = {shop.shop_id for shop in unit.shops()}
    for shop in unit.shops():
        shops_of.setdefault(shop.village_id, []).append(shop.shop_id)
    problems: list[tuple[int | None, LedgerError]] = []
    seen: dict[str, int] = {}
    entries: list[HouseholdInput] = []
    for row_no, values in rows:
        if row_no <= header_row:
            continue
        household_id = _cell(values, columns, "household_id").upper()
        village_text = _cell(values, columns, "village")
        village_id = village_text.upper() if village_text.upper() in villages else None
        if village_id is None and len(by_name.get(village_text, [])) == 1:
            village_id = by_name[village_text][0]
        row_problems: list[LedgerError] = []
        if village_id is None:
            row_problems.append(LedgerError("village_unknown", village_id=village_text or "—"))
        elif allowed is not None and village_id not in allowed:
            row_problems.append(Invalid("import_village_not_yours", village_id=village_id))
        shop_text = _cell(values, columns, "home_shop").upper()
        if shop_text and shop_text not in known_shops:
            row_problems.append(Invalid("shop_unknown", shop_id=shop_text))
        elif not shop_text and village_id is not None:
            candidates = shops_of.get(village_id, [])
            if len(candidates) == 1:
                shop_text = candidates[0]
            else:
                row_problems.append(Invalid("village_shops_ambiguous", village_id=village_id, count=len(candidates)))
        members: tuple[Member, ...] = ()
        try:
            members = parse_members(_cell(values, columns, "members"))
        except Invalid as error:
            row_problems.append(error)
        given = HouseholdInput(
            household_id,
            village_id or "",
            _cell(values, columns, "head_name"),
            shop_text,
            members,
            _cell(values, columns, "village_group"),
            _cell(values, columns, "house_no"),
        )
        row_problems += check_household(unit, given, check_place=False)
        existing = unit.ledger.household(household_id) if allowed is not None else None
        if allowed is not None and existing is not None and existing.village_id not in allowed:
            row_problems.append(Invalid("import_village_not_yours", village_id=existing.village_id))
        if household_id in seen:
            row_problems.append(Invalid("household_repeated", household_id=household_id, row=seen[household_id]))
        seen.setdefault(household_id, row_no)
        problems += [(row_no, p) for p in row_problems]
        if not row_problems:
            entries.append(given)
    return entries, problems


def import_households(record: CentralRecord, path: Path, villages: Collection[str] | None = None) -> dict[str, Any]:
    """Add or update the households of a register sheet, all or none; new households get card 1.

    ``villages``: the villages the importing person may edit (None: all); a row of another village, or
    of a household that lives in one, is a problem of that row like any other.
    """
    path = Path(path)
    sheets = read_rows(path)
    rows, header_row, columns = _locate(sheets)
    with record.write() as unit:
        entries, problems = _check_rows(unit, rows, header_row, columns, villages)
        if not problems and not entries:
            problems.append((header_row, LedgerError("import_no_rows")))
        if problems:
            listed = problems[:MAX_LISTED_PROBLEMS]
            if len(problems) > MAX_LISTED_PROBLEMS:
                listed.append((None, LedgerError("import_more_problems", count=len(problems) - MAX_LISTED_PROBLEMS)))
            raise ImportProblem(listed)
        when = record.now()
        created = 0
        for entry in entries:
            _household, card = store_household(unit, entry, when)
            created += card is not None
    return {
        "file": path.name,
        "imported": len(entries),
        "created": created,
        "updated": len(entries) - created,
        "households": [e.household_id for e in entries],
    }
