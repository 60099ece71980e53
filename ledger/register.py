"""The household register (户籍台账): what a household record must hold, and a register sheet read row by row.

The township keeps the register of a connected village (``sync.server``), a standalone shop keeps its own
(``services.add_household``, ``lovemart households``). Both check a household the same way and read the
same Excel sheets, so a register that imports at the township imports at a shop and fails there with the
same words on the same rows.

Sheets (.xlsx or .csv, ``ledger.spreadsheets``: the header may sit below a title row; header names in Chinese
or English): 户号/household_id, 户主/head_name, 村/village (its number or name), 超市/home_shop (optional
when the village has one shop), 家庭成员/members (optional: ``李四(配偶)、王五(儿子)``), 村民小组/village_group,
门牌号/house_no and 联系电话/phone (optional; a phone Excel made a number, 13812345678.0, reads as its digits).
Every row is checked before any is stored: one bad row imports nothing, since a half-imported register leaves
nobody sure which households have passbooks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ImportProblem, LedgerError
from ledger.messages import Listing, Message
from ledger.model import Household, HouseholdStatus, Member, PassbookCard, Shop, Village
from ledger.passbook import valid_household_id
from ledger.ports import LedgerStore, LedgerUnit
from ledger.services import Clock, connected_to_township, local_now, timestamp
from ledger.spreadsheets import (
    HEADER_SEARCH_ROWS,
    MAX_LISTED_PROBLEMS,
    Row,
    _household_text,
    columns_of,
    is_blank,
    read_rows,
)

PLACE_LEN = 32  # 村民小组 and 门牌号
PHONE_LEN = (5, 20)  # 联系电话, stripped: digits, spaces and '-', a leading '+'
_PHONE = re.compile(r"\+?[0-9][0-9 -]*")


@dataclass(frozen=True)
class HouseholdInput:
    """A household as typed or imported, before it is checked: ids as given, members as listed."""

    household_id: str
    village_id: str
    head_name: str
    home_shop_id: str
    members: tuple[Member, ...] = ()
    village_group: str = ""  # 村民小组
    house_no: str = ""  # 门牌号
    phone: str = ""  # 联系电话


class Invalid(LedgerError):
    """A bad field of a record (an import lists these by row); its code names the field's problem."""


def household_problems(
    given: HouseholdInput,
    village: Callable[[str], Village | None] | None = None,
    shop: Callable[[str], Shop | None] | None = None,
) -> list[LedgerError]:
    """Every problem with a household record (an import reports them all, by row). ``village`` and ``shop``
    look the place up; None leaves it unchecked (an import resolves the place itself)."""
    problems: list[LedgerError] = []
    if not valid_household_id(given.household_id):
        problems.append(Invalid("household_id_invalid", household_id=given.household_id))
    if not given.head_name.strip() or len(given.head_name) > 100:
        problems.append(Invalid("head_name_required"))
    if village is not None and village(given.village_id) is None:
        problems.append(LedgerError("village_unknown", village_id=given.village_id))
    if shop is not None and shop(given.home_shop_id) is None:
        problems.append(Invalid("shop_unknown", shop_id=given.home_shop_id))
    for member in given.members:
        if not member.name.strip() or len(member.name) > 100 or len(member.relation) > 20:
            problems.append(Invalid("member_invalid", name=member.name))
    for value in (given.village_group, given.house_no):
        if len(value.strip()) > PLACE_LEN or "\x00" in value:
            problems.append(Invalid("household_place_too_long", text=value[:40]))
    if given.phone.strip() and not valid_phone(given.phone):
        problems.append(Invalid("household_phone_invalid", text=given.phone[:40]))
    return problems


def valid_phone(value: str) -> bool:
    """A phone number as a household gives it (empty is not one): ``138 1234 5678``, ``0571-8888888``,
    ``+86 13812345678``; 5 to 20 characters once stripped."""
    phone = value.strip()
    return PHONE_LEN[0] <= len(phone) <= PHONE_LEN[1] and _PHONE.fullmatch(phone) is not None


def household_of(given: HouseholdInput, existing: Household | None) -> Household:
    """The record to store: a changed household keeps its status (frozen stays frozen)."""
    status = existing.status if existing else HouseholdStatus.ACTIVE
    head = Member(given.head_name.strip(), "户主")
    # The head is a member too (the kiosk lists the household); registers often list only the others.
    members = given.members if any(m.name == head.name for m in given.members) else (head, *given.members)
    return Household(
        given.household_id,
        given.village_id,
        given.head_name.strip(),
        given.home_shop_id,
        status,
        members,
        given.village_group.strip(),
        given.house_no.strip(),
        given.phone.strip(),
    )


_MEMBER_SPLIT = re.compile(r"[、,，;；/\n]+")
_MEMBER = re.compile(r"^\s*([^()（）]+?)\s*(?:[(（]\s*([^()（）]*?)\s*[)）])?\s*$")


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


# ----- register sheets -----------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "household_id": ("户号", "户编号", "household_id", "household"),
    "head_name": ("户主", "户主姓名", "姓名", "head_name", "head", "name"),
    "village": ("村", "村名", "村编号", "行政村", "village_id", "village"),
    "home_shop": ("超市", "所属超市", "爱心超市", "home_shop_id", "home_shop", "shop"),
    "members": ("家庭成员", "成员", "members"),
    "village_group": ("村民小组", "小组", "组", "village_group", "group"),
    "house_no": ("门牌号", "门牌", "house_no", "house_number"),
    "phone": ("电话", "联系电话", "手机", "手机号", "phone", "phone_number"),
}
REQUIRED = ("household_id", "head_name", "village")
# A column as a refusal names it: "户号" to the clerk, "household_id" under ``--lang en``.
LABELS = {
    "household_id": Message("import.column.household_id"),
    "head_name": Message("import.column.head_name"),
    "village": Message("import.column.village"),
    "home_shop": Message("import.column.home_shop"),
    "members": Message("import.column.members"),
    "village_group": Message("import.column.village_group"),
    "house_no": Message("import.column.house_no"),
    "phone": Message("import.column.phone"),
}


@dataclass(frozen=True)
class RegisterSheet:
    """A register sheet's rows with its header found: which column holds what."""

    rows: list[Row]
    header_row: int
    columns: dict[str, int]


def read_register(path: Path) -> RegisterSheet:
    """The sheet's rows and the header's columns; a sheet without 户号, 户主 and 村 is refused naming them."""
    sheets = read_rows(path)
    for sheet in sheets:
        rows = [(n, v) for n, v in sheet if not is_blank(v)]
        for row_no, values in rows[:HEADER_SEARCH_ROWS]:
            columns = _columns(values)
            if "household_id" in columns and "head_name" in columns:
                if "village" not in columns:
                    raise ImportProblem([(row_no, _header_problem(["village"]))])
                return RegisterSheet(rows, row_no, columns)
    first_no, first = next(((n, v) for sheet in sheets for n, v in sheet if not is_blank(v)), (1, ()))
    missing = [c for c in REQUIRED if c not in _columns(first)]
    raise ImportProblem([(first_no, _header_problem(missing))])


def checked_rows(
    sheet: RegisterSheet,
    villages: Sequence[Village],
    shops: Sequence[Shop],
    existing: Callable[[str], Household | None],
    allowed: Collection[str] | None = None,
) -> list[HouseholdInput]:
    """Every row as a household to store, or ``ImportProblem`` naming every bad row (nothing is stored).

    ``villages`` and ``shops`` are those the rows may name; ``allowed``, the villages the importing person
    may edit (None: all): a row of another village, or of a household that lives in one, is a problem too.
    """
    by_id = {v.village_id: v for v in villages}
    by_name: dict[str, list[str]] = {}
    for village in villages:
        by_name.setdefault(village.name, []).append(village.village_id)
    known_shops = {shop.shop_id for shop in shops}
    shops_of: dict[str, list[str]] = {}
    for shop in shops:
        shops_of.setdefault(shop.village_id, []).append(shop.shop_id)
    problems: list[tuple[int | None, LedgerError]] = []
    seen: dict[str, int] = {}
    entries: list[HouseholdInput] = []
    for row_no, values in sheet.rows:
        if row_no <= sheet.header_row:
            continue
        cell = functools.partial(_cell, values, sheet.columns)
        household_id = cell("household_id").upper()
        village_text = cell("village")
        village_id = village_text.upper() if village_text.upper() in by_id else None
        if village_id is None and len(by_name.get(village_text, [])) == 1:
            village_id = by_name[village_text][0]
        row_problems: list[LedgerError] = []
        if village_id is None:
            row_problems.append(LedgerError("village_unknown", village_id=village_text or "—"))
        elif allowed is not None and village_id not in allowed:
            row_problems.append(Invalid("import_village_not_yours", village_id=village_id))
        shop_text = cell("home_shop").upper()
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
            members = parse_members(cell("members"))
        except Invalid as error:
            row_problems.append(error)
        given = HouseholdInput(
            household_id,
            village_id or "",
            cell("head_name"),
            shop_text,
            members,
            cell("village_group"),
            cell("house_no"),
            cell("phone"),
        )
        row_problems += household_problems(given)
        if allowed is not None:
            found = existing(household_id)
            if found is not None and found.village_id not in allowed:
                row_problems.append(Invalid("import_village_not_yours", village_id=found.village_id))
        if household_id in seen:
            row_problems.append(Invalid("household_repeated", household_id=household_id, row=seen[household_id]))
        seen.setdefault(household_id, row_no)
        problems += [(row_no, p) for p in row_problems]
        if not row_problems:
            entries.append(given)
    if not problems and not entries:
        problems.append((sheet.header_row, LedgerError("import_no_rows")))
    if problems:
        listed = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > MAX_LISTED_PROBLEMS:
            listed.append((None, LedgerError("import_more_problems", count=len(problems) - MAX_LISTED_PROBLEMS)))
        raise ImportProblem(listed)
    return entries


def _columns(values: Sequence[object]) -> dict[str, int]:
    return columns_of(values, COLUMNS)


def _header_problem(missing: list[str]) -> LedgerError:
    return Invalid("household_import_header", missing=Listing.of(LABELS[c] for c in missing))


# Columns Excel may have turned into numbers (1001 or 1001.0 for "1001"; 13812345678.0 for a phone).
_NUMBER_LIKE = frozenset({"household_id", "phone"})


def _cell(values: Sequence[object], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    value = values[index] if index is not None and index < len(values) else None
    return "" if value is None else _household_text(value) if key in _NUMBER_LIKE else str(value).strip()


# ----- a standalone shop's own register (a connected shop's comes from the township) ----------------------


def require_own_register(unit: LedgerUnit) -> None:
    """Refuse to change households at a shop connected to a township: the township owns the register and
    would replace any change at the next sync."""
    if connected_to_township(unit):
        raise LedgerError("register_township_owned")


def add_household(store: LedgerStore, given: HouseholdInput, clock: Clock = local_now) -> PassbookCard:
    """A new household of a standalone shop, with its first passbook card; a number in use is refused."""
    with store.write() as unit:
        require_own_register(unit)
        problems = household_problems(given, unit.village, unit.shop)
        if problems:
            raise problems[0]
        existing = unit.household(given.household_id)
        if existing is not None:
            raise LedgerError("household_taken", household_id=given.household_id, name=existing.head_name)
        unit.put_household(household_of(given, None))
        card = PassbookCard(given.household_id, 1, True, timestamp(clock))
        unit.put_card(card)
    return card


def edit_household(store: LedgerStore, given: HouseholdInput) -> Household:
    """A standalone shop's household changed (name, members, place); its points, status and cards stay."""
    with store.write() as unit:
        require_own_register(unit)
        existing = unit.household(given.household_id)
        if existing is None:
            raise LedgerError("household_unknown", household_id=given.household_id)
        problems = household_problems(given, unit.village, unit.shop)
        if problems:
            raise problems[0]
        household = household_of(given, existing)
        unit.put_household(household)
    return household


@dataclass(frozen=True)
class RegisterImport:
    created: tuple[str, ...]
    updated: tuple[str, ...]


def import_register(store: LedgerStore, path: Path, clock: Clock = local_now) -> RegisterImport:
    """A register sheet into a standalone shop (``ledger.register``): every row or none, bad rows named.
    Rows may name the shop's village by number or name; new households get card 1."""
    sheet = read_register(path)
    created: list[str] = []
    updated: list[str] = []
    with store.write() as unit:
        require_own_register(unit)
        shop = unit.shop(unit.identity().shop_id)
        village = unit.village(shop.village_id) if shop else None
        if shop is None or village is None:
            raise LedgerError("not_configured")
        entries = checked_rows(sheet, [village], [shop], unit.household)
        when = timestamp(clock)
        for entry in entries:
            existing = unit.household(entry.household_id)
            unit.put_household(household_of(entry, existing))
            if existing is None:
                unit.put_card(PassbookCard(entry.household_id, 1, True, when))
                created.append(entry.household_id)
            else:
                updated.append(entry.household_id)
    return RegisterImport(tuple(created), tuple(updated))
