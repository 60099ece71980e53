"""Spreadsheets in and out: the four ledgers (台账) as .xlsx, and the committee's points sheet as awards.

Village committees keep their score sheets (积分评定表) in Excel, and townships inspect ledgers in
Excel, so this is where the ledger meets files people made by hand. Everything read is validated
row by row before anything is written, and a sheet with one bad row imports nothing: a half-imported
sheet is the worst outcome, because nobody can tell which households got their points.

openpyxl is imported inside the functions that use it, so importing the ledger costs nothing for the
kiosk and the till, which never touch a spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ledger import reports, services
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import Listing, Message
from ledger.model import Policy, Transaction, TxnKind, household_account
from ledger.ports import LedgerStore, LedgerUnit

RowProblem = tuple[int | None, LedgerError]

# ----- export ----------------------------------------------------------------------------------

MAX_COLUMN_WIDTH = 60


def display_width(text: str) -> int:
    """Columns a text takes on screen: a Chinese character is as wide as two Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _column_widths(table: reports.Table) -> list[int]:
    widths = [display_width(title) for title in table.header]
    for row in table.rows:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], display_width(str(value)))
    return [min(MAX_COLUMN_WIDTH, width + 2) for width in widths]


def tables_xlsx(tables: Sequence[reports.Table]) -> bytes:
    """Ledgers as the bytes of one .xlsx with a sheet each (a download from the township console)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for table in tables:
        _write_sheet(workbook, table)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_ledgers(store: LedgerStore, path: Path) -> None:
    """Write the four ledgers to ``path`` as one .xlsx with a sheet each (兑换台账, 入库台账, 捐赠台账, 积分台账).

    The workbook is written to a temporary file beside ``path`` and moved over it, so a full USB stick
    or a pulled cable leaves the previous export intact rather than a truncated file that looks valid.
    """
    from openpyxl import Workbook

    tables = reports.ledger_tables(store)
    path = Path(path)
    # The temporary file comes first: a write-only workbook that is never saved leaves its sheets'
    # writers open, so nothing is built until there is somewhere to save it.
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LedgerError("export_unwritable", path=str(path), detail=exc.strerror or str(exc)) from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            # Write-only: rows stream to the file, so a shop with years of trading exports in flat memory.
            workbook = Workbook(write_only=True)
            for table in tables:
                _write_sheet(workbook, table)
            workbook.save(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise LedgerError("export_unwritable", path=str(path), detail=exc.strerror or str(exc)) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _write_sheet(workbook: Any, table: reports.Table) -> None:
    """One ledger as a sheet: a bold header row that stays in view, columns as wide as their text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(table.name)
    for index, width in enumerate(_column_widths(table), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in table.header:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        sheet.append([_text_safe(sheet, value) for value in row])


def _text_safe(sheet: Any, value: reports.Cell) -> Any:
    """A value as written: numbers stay numbers; text stays text even when it starts with "=".

    Donor names, reasons and memos are typed by people; openpyxl would store "=..." as a formula that
    Excel runs when the township opens the file.
    """
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    if isinstance(value, reports.Money):  # exact: a Decimal of fen / 100, never a float
        cell = WriteOnlyCell(sheet, value=Decimal(value.fen) / 100)
        cell.number_format = "0.00"
        return cell
    return value


# ----- import ----------------------------------------------------------------------------------

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_LISTED_PROBLEMS = 100
HEADER_SEARCH_ROWS = 5
# Points beyond this are refused before being turned into an int, so "1e999999999" costs nothing.
_POINTS_SANITY = 10**9
_IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "lovemart:points-import")

AWARD = "award"
DEDUCT = "deduct"

# Column names accepted in the header row, compared after ``normalise``.
COLUMNS: dict[str, tuple[str, ...]] = {
    "household_id": ("户号", "户编号", "household_id", "household"),
    "points": ("分值", "积分", "分数", "points"),
    "reason": ("事由", "原因", "事项", "reason"),
    "kind": ("类型", "kind", "type"),
}
REQUIRED_COLUMNS = ("household_id", "points", "reason")
# A column as a refusal names it: "户号" to the shopkeeper, "household_id" to a technician (``--lang en``).
COLUMN_LABELS = {
    "household_id": Message("import.column.household_id"),
    "points": Message("import.column.points"),
    "reason": Message("import.column.reason"),
    "kind": Message("import.column.kind"),
}
KINDS: dict[str, str] = {
    "奖励": AWARD,
    "加分": AWARD,
    "award": AWARD,
    "扣分": DEDUCT,
    "减分": DEDUCT,
    "deduct": DEDUCT,
}


@dataclass(frozen=True)
class ImportResult:
    """What an import added, for the screen and for ``lovemart points import --json``."""

    name: str
    digest: str
    imported_at: str
    transactions: tuple[Transaction, ...]

    @property
    def awards(self) -> int:
        return sum(1 for t in self.transactions if t.kind == TxnKind.AWARD)

    @property
    def deductions(self) -> int:
        return sum(1 for t in self.transactions if t.kind == TxnKind.DEDUCT)

    @property
    def points_awarded(self) -> int:
        return sum(_household_change(t) for t in self.transactions if t.kind == TxnKind.AWARD)

    @property
    def points_deducted(self) -> int:
        return -sum(_household_change(t) for t in self.transactions if t.kind == TxnKind.DEDUCT)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "digest": self.digest,
            "imported_at": self.imported_at,
            "imported": len(self.transactions),
            "awards": self.awards,
            "deductions": self.deductions,
            "points_awarded": self.points_awarded,
            "points_deducted": self.points_deducted,
            "receipts": [t.receipt_no for t in self.transactions],
        }


def _household_change(txn: Transaction) -> int:
    return txn.points_of(household_account(txn.household_id or ""))


@dataclass(frozen=True)
class _Entry:
    row: int
    household_id: str
    points: int
    reason: str
    kind: str


Row = tuple[int, Sequence[object]]


def import_points(store: LedgerStore, path: Path, ctx: services.Context) -> ImportResult:
    """Award and deduct points from a committee's sheet (.xlsx or .csv): every row, or none.

    The file's sha256 is recorded with the import, so the same sheet brought twice (a second USB stick,
    a double click) is refused instead of doubling everyone's points. Transaction ids are derived from
    that digest and the row number, so even a retry that somehow slipped past the record could not
    count a row twice anywhere the ids are compared (the central record refuses a known id).
    """
    if not ctx.operator.is_manager:
        raise LedgerError("manager_required")
    path = Path(path)
    data = _read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    sheets = _read_sheets(path, data)
    with store.write() as unit:
        services.require_points_authority(unit)
        already = unit.imported(digest)
        if already is not None:  # said in local time, as the shopkeeper remembers the day
            raise LedgerError("import_duplicate", when=_local(already))
        entries = _validate(sheets, unit)
        when = services.timestamp(ctx.clock)
        done = []
        for entry in entries:
            record = services.award if entry.kind == AWARD else services.deduct
            txn_id = str(uuid.uuid5(_IMPORT_NAMESPACE, f"{digest}:{entry.row}"))
            done.append(record(store, entry.household_id, entry.points, entry.reason, ctx, txn_id=txn_id))
        unit.record_import(digest, path.name, when)
    return ImportResult(path.name, digest, when, tuple(done))


def read_rows(path: Path) -> list[list[Row]]:
    """Every sheet of a .xlsx or .csv as rows numbered as the user sees them (other imports' readers)."""
    path = Path(path)
    return _read_sheets(path, _read_bytes(path))


def _unreadable(path: Path, detail: str | Message) -> LedgerError:
    return LedgerError("import_unreadable", path=str(path), detail=detail)


def _local(stamp: str) -> datetime | str:
    """A stored time as the shop's clock said it when it was recorded (its own offset kept)."""
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return stamp


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise _unreadable(path, Message("import.too_large", mb=size // (1024 * 1024)))
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from exc


def _read_sheets(path: Path, data: bytes) -> list[list[Row]]:
    """The sheets of a file as rows numbered the way the user sees them (the first row is 1).

    The format is told from the bytes, not the name: a sheet renamed to .csv, or saved by a phone with
    no extension at all, still reads correctly.
    """
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, data)
    if data.startswith(bytes.fromhex("d0cf11e0a1b11ae1")):
        raise _unreadable(path, Message("import.old_xls"))
    return [_read_csv(path, data)]


def _read_xlsx(path: Path, data: bytes) -> list[list[Row]]:
    from openpyxl import load_workbook

    # A damaged or foreign file can fail inside openpyxl or zipfile with almost any exception type;
    # all of them mean the same thing to the shopkeeper: this file cannot be read.
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
        try:
            return [list(enumerate(sheet.iter_rows(values_only=True), start=1)) for sheet in workbook.worksheets]
        finally:
            workbook.close()
    except Exception as exc:
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc


def _decode(data: bytes) -> tuple[str, str]:
    """Text and delimiter of a CSV: UTF-8 with or without BOM, UTF-16 ("Unicode text"), else GB18030.

    Chinese Excel saves "CSV (逗号分隔)" in the system code page, GB18030's subset GBK, so a file that
    is not valid UTF-8 is read as GB18030.
    """
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16"), "\t"
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), ","
    try:
        return data.decode("utf-8"), ","
    except UnicodeDecodeError:
        return data.decode("gb18030"), ","


def _read_csv(path: Path, data: bytes) -> list[Row]:
    try:
        text, delimiter = _decode(data)
        if "\0" in text:
            raise _unreadable(path, Message("import.not_text"))
        first = text.split("\n", 1)[0]
        if delimiter == "," and "\t" in first and "," not in first:
            delimiter = "\t"
        return list(enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, str(exc)) from exc


def normalise(value: object) -> str:
    """A cell as compared with column names and words: trimmed, lower case, without spaces."""
    text = "" if value is None else str(value)
    return "".join(ch for ch in text.strip().lower() if ch not in " _\u3000\ufeff")


def _problem(row: int, code: str, **params: object) -> RowProblem:
    """One bad row, named by the row number the user sees in the sheet (the header is row 1)."""
    return row, LedgerError(code, **params)


def _find_header(rows: list[Row]) -> tuple[int, dict[str, int]] | None:
    """The header row among the first few rows (a title row above it is common) and its columns."""
    for row_no, values in rows[:HEADER_SEARCH_ROWS]:
        columns = _columns(values)
        if "household_id" in columns and "points" in columns:
            return row_no, columns
    return None


def columns_of(values: Sequence[object], known: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Which column of a header row holds what: each cell matched, ``normalise``d, against the names
    ``known`` gives each key (Chinese and English); the first column of a name wins."""
    names = {normalise(alias): key for key, aliases in known.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, value in enumerate(values):
        key = names.get(normalise(value))
        if key is not None and key not in found:
            found[key] = index
    return found


def _columns(values: Sequence[object]) -> dict[str, int]:
    return columns_of(values, COLUMNS)


def _repeated_columns(values: Sequence[object]) -> list[Message]:
    names = {alias.replace("_", ""): key for key, aliases in COLUMNS.items() for alias in aliases}
    seen: set[str] = set()
    repeated = []
    for value in values:
        key = names.get(normalise(value))
        if key is not None:
            if key in seen:
                repeated.append(COLUMN_LABELS[key])
            seen.add(key)
    return repeated


def is_blank(values: Sequence[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _validate(sheets: list[list[Row]], unit: LedgerUnit) -> list[_Entry]:
    """Every row checked against the ledger; all problems at once, or the rows to import."""
    rows, header_row, columns = _locate_header(sheets)
    policy = unit.policy()
    known: dict[str, str | None] = {}
    problems: list[RowProblem] = []
    entries: list[_Entry] = []
    for row_no, values in rows:
        if row_no > header_row:
            entry, found = _check_row(row_no, values, columns, unit, policy, known)
            problems.extend(found)
            if entry is not None:
                entries.append(entry)
    if not problems and not entries:
        problems.append(_problem(header_row, "import_no_rows"))
    if problems:
        listed = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > MAX_LISTED_PROBLEMS:
            listed.append((None, LedgerError("import_more_problems", count=len(problems) - MAX_LISTED_PROBLEMS)))
        raise ImportProblem(listed)
    return entries


def _locate_header(sheets: list[list[Row]]) -> tuple[list[Row], int, dict[str, int]]:
    """The first sheet with a usable header, its non-blank rows, the header's row number and columns."""
    for sheet in sheets:
        rows = [(n, v) for n, v in sheet if not is_blank(v)]
        found = _find_header(rows)
        if found is None:
            continue
        header_row, columns = found
        header_values = next(v for n, v in rows if n == header_row)
        problems = [_problem(header_row, "import_header_repeated", column=c) for c in _repeated_columns(header_values)]
        if "reason" not in columns:
            problems.append(_problem(header_row, "import_header", missing=COLUMN_LABELS["reason"]))
        if problems:
            raise ImportProblem(problems)
        return rows, header_row, columns
    first_no, first_values = next(((n, v) for sheet in sheets for n, v in sheet if not is_blank(v)), (1, ()))
    columns = _columns(first_values)
    missing = Listing.of(COLUMN_LABELS[c] for c in REQUIRED_COLUMNS if c not in columns)
    raise ImportProblem([_problem(first_no, "import_header", missing=missing)])


def _check_row(
    row_no: int,
    values: Sequence[object],
    columns: dict[str, int],
    unit: LedgerUnit,
    policy: Policy,
    known: dict[str, str | None],
) -> tuple[_Entry | None, list[RowProblem]]:
    """One data row: the entry to import, or every problem it has (``known`` caches household look-ups)."""

    def cell(key: str) -> object:
        index = columns.get(key)
        return values[index] if index is not None and index < len(values) else None

    problems = []
    household_id = _household_text(cell("household_id"))
    resolved: str | None = None
    if not household_id:
        problems.append(_problem(row_no, "import_no_household"))
    else:
        if household_id not in known:
            known[household_id] = _known_household(unit, household_id)
        resolved = known[household_id]
        if resolved is None:
            problems.append(_problem(row_no, "household_unknown", household_id=household_id))

    raw_kind = cell("kind")
    kind = None if is_blank((raw_kind,)) else KINDS.get(normalise(raw_kind))
    if kind is None and not is_blank((raw_kind,)):
        problems.append(_problem(row_no, "import_bad_kind", value=str(raw_kind).strip()))

    raw_points = cell("points")
    points = _parse_points(raw_points)
    shown = "" if raw_points is None else str(raw_points).strip()
    if points is None or points == 0 or abs(points) > policy.max_points_per_award:
        problems.append(_problem(row_no, "bad_points", value=shown, max=policy.max_points_per_award))
    elif points < 0 and kind == AWARD:
        problems.append(_problem(row_no, "import_sign_conflict", value=shown))

    raw_reason = cell("reason")
    reason = "" if is_blank((raw_reason,)) else str(raw_reason).strip()
    if not reason:
        problems.append(_problem(row_no, "reason_required"))

    if problems or resolved is None or points is None:
        return None, problems
    # No kind column (or a blank cell): the sign decides, as committees write "-5" for a deduction.
    final_kind = kind or (DEDUCT if points < 0 else AWARD)
    return _Entry(row_no, resolved, abs(points), reason, final_kind), []


def _household_text(value: object) -> str:
    """A household id as typed: Excel turns "1001" into the number 1001 (or 1001.0), so undo that."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _known_household(unit: LedgerUnit, household_id: str) -> str | None:
    """The household's id as the ledger spells it (ids are upper case; a clerk may type "h12")."""
    for candidate in (household_id, household_id.upper()):
        if unit.household(candidate) is not None:
            return candidate
    return None


def _parse_points(value: object) -> int | None:
    """A whole number of points, signed, from a number cell or text ("5", "+5", "-3", "5.0", "5分")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= _POINTS_SANITY else None
    text = str(value).strip().removesuffix("分").strip().replace("－", "-").replace("＋", "+")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > _POINTS_SANITY or number != number.to_integral_value():
        return None
    return int(number)
