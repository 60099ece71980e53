"""What several presenters share: the clock, the receipt printer slot, printing after a commit, pickers.

Printing here is plain blocking code: screens run it off the UI thread (``ui.background``), because a
printer with its cover open can take seconds to time out and a frozen till invites a second tap.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ledger import printing
from ledger.errors import DeviceFault, LedgerError
from ledger.ports import LedgerStore, ReceiptPrinter

Clock = Callable[[], dt.datetime]
PrinterFactory = Callable[[], ReceiptPrinter]


def local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def day_range(day: dt.date) -> tuple[str, str]:
    """``since``/``until`` bounds of a local day for ``LedgerUnit.transactions`` (timestamps are local ISO text)."""
    return day.isoformat(), (day + dt.timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Question:
    """One answer a form asks for (the first-run set-up, the household register): the field it fills, its
    label and hint (message keys), and what may be typed: "text", "id" (letters and digits), "number"
    (whole points), "phone", or "choice" (one of two)."""

    name: str
    label: str
    hint: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()  # for "choice": (value, label key) each


class PosRefusal(LedgerError):
    """A rule of the counter (not of the ledger) said no (codes ``pos_*``, in the same catalogues).

    It is a ``LedgerError`` so screens and the kit's ``error_text`` treat it like any ledger refusal.
    """


class PrinterMissing(DeviceFault):
    """No printer object at all (none configured, or its settings are wrong and gave no detail)."""


class PrinterSlot:
    """The receipt printer as the POS holds it: maybe absent at start, maybe set up while the till runs.

    ``factory`` is asked again at every print until it gives a printer, so a technician who fixes
    ``[printer]`` or plugs the printer in does not have to restart the till for the reprint to work. Its
    last refusal is kept in ``problem`` for the header's status text. Thread-safe: prints run on workers.
    """

    def __init__(self, printer: ReceiptPrinter | None = None, factory: PrinterFactory | None = None) -> None:
        self._printer = printer
        self._factory = factory
        self._lock = threading.Lock()
        self.problem: DeviceFault | None = None
        if printer is None and factory is not None:
            try:
                self.get()
            except DeviceFault:
                pass  # kept in ``problem``; the till starts anyway

    @property
    def ready(self) -> bool:
        return self._printer is not None

    def get(self) -> ReceiptPrinter:
        with self._lock:
            if self._printer is not None:
                return self._printer
            if self._factory is None:
                self.problem = PrinterMissing("pos_printer_missing")
                raise self.problem
            try:
                self._printer = self._factory()
            except DeviceFault as fault:
                self.problem = fault
                raise
            self.problem = None
            return self._printer


def _receipt_no(store: LedgerStore, txn_id: str) -> str:
    with store.read() as unit:
        txn = unit.transaction(txn_id)
    return txn.receipt_no if txn else txn_id


def print_committed(
    store: LedgerStore, txn_id: str, slot: PrinterSlot, clock: Clock = local_now
) -> printing.PrintOutcome:
    """Print the pending receipt of a transaction just committed. Never raises for a printer problem:
    the outcome says it did not print, the job stays pending, and the screen offers a reprint."""
    try:
        printer = slot.get()
    except DeviceFault as fault:
        return printing.PrintOutcome(_receipt_no(store, txn_id), False, fault)
    return printing.print_job_of(store, txn_id, printer, clock)


def reprint(store: LedgerStore, receipt_no: str, slot: PrinterSlot, clock: Clock = local_now) -> printing.PrintOutcome:
    """Print a receipt again, marked 重印 (see ``ledger.printing.reprint``); the ledger is not touched."""
    try:
        printer = slot.get()
    except DeviceFault as fault:
        return printing.PrintOutcome(receipt_no, False, fault)
    return printing.reprint(store, receipt_no, printer, clock)


# ----- choosing a household by its number on the keypad ------------------------------------------------


@dataclass(frozen=True)
class HouseholdChoice:
    household_id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name}（{self.household_id}）"


_TRAILING_NUMBER = re.compile(r"(\d+)$")
_TYPED = re.compile(r"([A-Z]*)(\d+)")  # what the keypad hands over: a village prefix (or none) and digits


def village_prefix(household_id: str) -> str:
    """The letters before a household's number ("XF0017" → "XF"; "" for an id of digits only)."""
    match = _TRAILING_NUMBER.search(household_id)
    return household_id[: match.start()] if match else household_id


class HouseholdFinder:
    """Household ids by the number a shopkeeper types on the keypad.

    Ids carry a village prefix (``XF0017``). The keypad shows the shop's prefixes as buttons beside its
    digits, so "XF17" finds XF0017, and "17" alone finds every household whose id ends in the number 17
    (leading zeros ignored), whatever its village. The index is built on first use and rebuilt when asked
    (households only change when sync pulls them).
    """

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self._index: dict[int, list[HouseholdChoice]] | None = None

    def refresh(self) -> None:
        self._index = None

    def warm(self) -> None:
        """Build the index now (on a worker at start-up: it reads every household)."""
        if self._index is None:
            self._index = self._build()

    def _build(self) -> dict[int, list[HouseholdChoice]]:
        index: dict[int, list[HouseholdChoice]] = {}
        with self.store.read() as unit:
            rows = unit.households()
        for row in rows:
            match = _TRAILING_NUMBER.search(row.household.household_id)
            if match:
                choice = HouseholdChoice(row.household.household_id, row.household.head_name)
                index.setdefault(int(match.group(1)), []).append(choice)
        return index

    def _choices(self) -> dict[int, list[HouseholdChoice]]:
        if self._index is None:
            self._index = self._build()
        return self._index

    def prefixes(self) -> list[str]:
        """The village prefixes of this shop's households, most households first ("XF", "GL")."""
        counts: dict[str, int] = {}
        for choices in self._choices().values():
            for choice in choices:
                prefix = village_prefix(choice.household_id)
                if prefix:
                    counts[prefix] = counts.get(prefix, 0) + 1
        return sorted(counts, key=lambda p: (-counts[p], p))

    def example(self) -> tuple[str, str] | None:
        """A household number as the passbooks print it and the digits to type for it ("XF0023", "23"), for
        the keypad's explanation; None for a shop with no households."""
        index = self._choices()
        if not index:
            return None
        number = min(index, key=lambda n: (n < 10, n))  # a two-digit one reads as an example best
        return index[number][0].household_id, str(number)

    def find(self, typed: str) -> list[HouseholdChoice]:
        """Households matching ``typed`` (a prefix, or none, and digits); refuses anything else."""
        typed = typed.strip().upper()
        match = _TYPED.fullmatch(typed) if typed.isascii() else None
        if match is None:
            raise LedgerError("household_unknown", household_id=typed)
        prefix, digits = match.groups()
        found = sorted(
            (c for c in self._choices().get(int(digits), []) if not prefix or village_prefix(c.household_id) == prefix),
            key=lambda c: c.household_id,
        )
        if not found:
            raise LedgerError("household_unknown", household_id=typed)
        return found
