"""The rules catalogue as a spreadsheet: a township's items, or a village's changes and own items, in and out.

Townships write their 积分细则 in Excel, so the console imports them from a sheet and exports the rules in
force as one. One row per item, in the columns ``COLUMNS`` names (Chinese or English headers). For a
village, a row whose code is a township item changes it (its range, or 停用 to switch it off); any other
row is the village's own item. Every row is checked before anything is kept, and every bad row is named
by its row number (``ImportProblem``), as for the other imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from ledger import reports
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_, text
from ledger.rulebook import Direction, RuleItem, VillageChange
from ledger.spreadsheets import Row, columns_of, is_blank, normalise, read_rows

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("编号", "代码", "code"),
    "name": ("项目", "名称", "积分项目", "name", "item"),
    "category": ("类别", "分类", "category", "class"),
    "direction": ("加扣分", "加/扣分", "方向", "direction"),
    "low": ("最低分", "分值", "low", "points"),
    "high": ("最高分", "high"),
    "village_low": ("村可调最低", "villagelow"),
    "village_high": ("村可调最高", "villagehigh"),
    "zero_tolerance": ("零容忍", "zerotolerance"),
    "off": ("停用", "off"),
}
DIRECTIONS = {
    "加分": Direction.REWARD,
    "奖励": Direction.REWARD,
    "+": Direction.REWARD,
    "reward": Direction.REWARD,
    "扣分": Direction.PENALTY,
    "减分": Direction.PENALTY,
    "-": Direction.PENALTY,
    "penalty": Direction.PENALTY,
}
YES = {"是", "yes", "y", "1", "true", "√", "✓"}
NO = {"", "否", "no", "n", "0", "false"}
# The exported sheet's header and words (read back through ``COLUMNS`` and ``DIRECTIONS``).
SHEET_WORDS = (
    N_("rules.sheet.title"),
    N_("rules.sheet.name"),
    N_("rules.sheet.code"),
    N_("rules.sheet.category"),
    N_("rules.sheet.direction"),
    N_("rules.sheet.low"),
    N_("rules.sheet.high"),
    N_("rules.sheet.village_low"),
    N_("rules.sheet.village_high"),
    N_("rules.sheet.zero_tolerance"),
    N_("rules.sheet.off"),
    N_("rules.sheet.reward"),
    N_("rules.sheet.penalty"),
    N_("rules.sheet.yes"),
)
HEADER_SEARCH_ROWS = 5
MAX_ROWS = 2000


def read_rules(
    path: Path, township_items: Mapping[str, RuleItem] | None = None
) -> tuple[list[RuleItem], list[VillageChange]]:
    """The items (and, for a village, the changes to ``township_items``) of a rules sheet, or every row's
    problem at once."""
    rows, header_row, columns = _header(
        read_rows(path),
        COLUMNS,
        lambda found: "code" in found and bool({"name", "low", "off"} & found),
        N_("rules_header"),
    )
    found = _each_row(rows, header_row, MAX_ROWS, lambda _row_no, cells: _row(cells, township_items), columns)
    items = [f for f in found if isinstance(f, RuleItem)]
    changes = [f for f in found if isinstance(f, VillageChange)]
    return items, changes


Parsed = TypeVar("Parsed")


class _Cells:
    """One data row's cells by column name (``None`` or "" where the sheet has no such column)."""

    def __init__(self, values: Sequence[object], columns: Mapping[str, int]) -> None:
        self.values, self.columns = values, columns

    def raw(self, key: str) -> object:
        index = self.columns.get(key)
        return self.values[index] if index is not None and index < len(self.values) else None

    def text(self, key: str) -> str:
        """The cell as typed: Excel's 3.0 for a typed 3 reads "3"."""
        value = self.raw(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "" if value is None else str(value).strip()


def _each_row(
    rows: list[Row],
    header_row: int,
    limit: int,
    parse: Callable[[int, _Cells], Parsed],
    columns: Mapping[str, int],
) -> list[Parsed]:
    """Every non-blank row under the header parsed, or every row's problem at once (``ImportProblem``)."""
    found: list[Parsed] = []
    problems: list[tuple[int | None, LedgerError]] = []
    for row_no, values in rows:
        if row_no <= header_row or is_blank(values):
            continue
        if len(found) >= limit:
            problems.append((row_no, LedgerError("rules_too_many_rows", limit=limit)))
            break
        try:
            found.append(parse(row_no, _Cells(values, columns)))
        except LedgerError as error:
            problems.append((row_no, error))
    if not problems and not found:
        problems.append((header_row, LedgerError("import_no_rows")))
    if problems:
        raise ImportProblem(problems[:100])
    return found


def _header(
    sheets: list[list[Row]],
    known: Mapping[str, tuple[str, ...]],
    usable: Callable[[set[str]], bool],
    refusal: str,
) -> tuple[list[Row], int, dict[str, int]]:
    """The first sheet with a header row among its first rows whose columns (named as ``known`` names them)
    are ``usable``: that sheet, the header's row number and each column's index; else ``refusal``."""
    for sheet in sheets:
        for row_no, values in sheet[:HEADER_SEARCH_ROWS]:
            columns = columns_of(values, known)
            if usable(set(columns)):
                return sheet, row_no, columns
    raise ImportProblem([(1, LedgerError(refusal))])


def _row(cells: _Cells, township_items: Mapping[str, RuleItem] | None) -> RuleItem | VillageChange:
    cell = cells.text
    code = cell("code").upper()
    if not code:
        raise LedgerError("rules_no_code")
    off = _yes_no(cell("off"))
    if township_items is not None and code in township_items:
        return VillageChange(code, _number(cell("low"), True), _number(cell("high"), True), active=not off)
    direction = DIRECTIONS.get(normalise(cell("direction")))
    if direction is None:
        raise LedgerError("rules_bad_direction", value=cell("direction"))
    low = _number(cell("low"), False)
    high = _number(cell("high"), True)
    assert low is not None
    return RuleItem(
        code=code,
        name=cell("name"),
        category=cell("category"),
        direction=direction,
        low=low,
        high=high if high is not None else low,
        zero_tolerance=_yes_no(cell("zero_tolerance")),
        village_low=_number(cell("village_low"), True),
        village_high=_number(cell("village_high"), True),
        active=not off,
        local=township_items is not None,
    )


def _number(value: str, optional: bool) -> int | None:
    if not value and optional:
        return None
    try:
        number = int(value)
    except ValueError:
        raise LedgerError("rules_bad_number", value=value or "—") from None
    if not 1 <= number <= 100_000:
        raise LedgerError("rules_bad_number", value=value)
    return number


def _yes_no(value: str) -> bool:
    said = normalise(value)
    if said in YES:
        return True
    if said in NO:
        return False
    raise LedgerError("rules_bad_yes_no", value=value)


def rules_table(items: Sequence[RuleItem], lang: str) -> reports.Table:
    """The rules as a sheet in the columns ``read_rules`` reads back (one header language, the reader's)."""

    def yes(flag: bool) -> str:
        return text("rules.sheet.yes", lang) if flag else ""

    header = tuple(
        text(f"rules.sheet.{key}", lang)
        for key in ("code", "name", "category", "direction", "low", "high", "village_low", "village_high")
    ) + (text("rules.sheet.zero_tolerance", lang), text("rules.sheet.off", lang))
    rows = tuple(
        (
            i.code,
            i.name,
            i.category,
            text(f"rules.sheet.{i.direction}", lang),
            i.low,
            i.high,
            i.bounds[0],
            i.bounds[1],
            yes(i.zero_tolerance),
            yes(not i.active),
        )
        for i in items
    )
    return reports.Table(text("rules.sheet.title", lang), header, rows)


# ----- a score sheet: many records at once (the workflow's import) ---------------------------------------------

SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "household_id": ("户号", "户编号", "household", "householdid"),
    "item_code": ("项目编号", "编号", "细则编号", "item", "code"),
    "points": ("分值", "积分", "分数", "points"),
    "day": ("日期", "时间", "date", "day"),
    "reason": ("事由", "原因", "reason"),
    "place": ("地点", "place"),
    "source": ("来源", "source"),
}
SOURCES = {
    "农户申报": "declaration",
    "申报": "declaration",
    "群众反映": "neighbours",
    "邻里反映": "neighbours",
    "干部走访": "cadre_visit",
    "走访": "cadre_visit",
    "上级检查": "inspection",
    "检查": "inspection",
    "declaration": "declaration",
    "neighbours": "neighbours",
    "cadrevisit": "cadre_visit",
    "inspection": "inspection",
}
MAX_SCORE_ROWS = 10_000


@dataclass(frozen=True)
class ScoreRow:
    row: int
    household_id: str
    item_code: str
    points: int
    day: str
    reason: str
    place: str
    source: str


def read_score_sheet(path: Path) -> list[ScoreRow]:
    """The rows of a score sheet, each as typed; every row that cannot even be read is named at once."""
    sheet, header_row, columns = _header(
        read_rows(path),
        SCORE_COLUMNS,
        lambda found: {"household_id", "item_code", "points"} <= found,
        N_("score_sheet_header"),
    )
    return _each_row(sheet, header_row, MAX_SCORE_ROWS, _score_row, columns)


def _score_row(row_no: int, cells: _Cells) -> ScoreRow:
    said, cell = cells.text, cells.raw
    household_id = said("household_id").upper()
    if not household_id:
        raise LedgerError("import_no_household")
    try:
        points = int(said("points"))
    except ValueError:
        raise LedgerError("workflow_number_invalid", value=said("points") or "—") from None
    raw_day = cell("day")
    if isinstance(raw_day, datetime):
        day = raw_day.date().isoformat()
    elif isinstance(raw_day, date):
        day = raw_day.isoformat()
    else:
        day = said("day").replace("/", "-").replace(".", "-")
    source_said = said("source")
    source = SOURCES.get(normalise(source_said), "" if source_said else "declaration")
    if not source:
        raise LedgerError("workflow_source_invalid", source=source_said)
    return ScoreRow(row_no, household_id, said("item_code").upper(), points, day, said("reason"), said("place"), source)
