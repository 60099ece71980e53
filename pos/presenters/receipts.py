"""Today's redemptions, voids (manager, reason from a list), reprints and receipts still waiting to print.

A void is the ledger's reversing transaction (``services.void``): points back to the household, goods
back on the shelf, naming the original; it needs a manager's PIN and a reason picked from a fixed list,
because a free-text reason typed on a till is both impossible here (no Chinese typing) and useless to
the township reading the ledger later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ledger import printing, services
from ledger.errors import LedgerError
from ledger.messages import N_, text
from ledger.model import Operator, Receipt, Transaction, TxnKind, household_account
from ledger.ports import LedgerStore, LedgerUnit
from pos.presenters.common import Clock, PrinterSlot, day_range, local_now, print_committed, reprint


@dataclass(frozen=True)
class Reason:
    """A reason from a fixed list: ``code`` for tests, ``key`` its words in the catalogues.

    The ledger records the reason in Chinese (``recorded``) whatever language the till shows: the township
    reads the ledger, and one ledger must not mix languages.
    """

    code: str
    key: str

    def text(self, lang: str) -> str:
        return text(self.key, lang)

    @property
    def recorded(self) -> str:
        return text(self.key, "zh")


VOID_REASONS = (
    Reason("mistake", N_("pos.void_reason.mistake")),
    Reason("returned", N_("pos.void_reason.returned")),
    Reason("quality", N_("pos.void_reason.quality")),
    Reason("other", N_("pos.reason.other")),
)


def reason_by_code(reasons: tuple[Reason, ...], code: str) -> Reason:
    for reason in reasons:
        if reason.code == code:
            return reason
    raise LedgerError("reason_required")


@dataclass(frozen=True)
class ReceiptRow:
    """One line of today's list."""

    receipt_no: str
    kind: str  # "redeem" | "void"
    time: str  # "HH:MM"
    household_id: str
    household_name: str
    points: int  # points taken (redeem) or returned (void), positive
    goods: str  # "大米×2、食用油×1"
    voided_by: str | None  # the void's receipt number, for a redemption that was voided
    voids: str | None  # the redemption's receipt number, for a void
    printed: bool
    memo: str = ""

    @property
    def voidable(self) -> bool:
        return self.kind == "redeem" and self.voided_by is None


@dataclass(frozen=True)
class PendingPrint:
    receipt_no: str
    kind: str
    error: str


class ReceiptsPresenter:
    def __init__(self, store: LedgerStore, printer: PrinterSlot, clock: Clock = local_now) -> None:
        self.store = store
        self.printer = printer
        self.clock = clock

    def today(self, day: dt.date | None = None) -> list[ReceiptRow]:
        """Redemptions and voids made at this shop today, newest first."""
        since, until = day_range(day or self.clock().date())
        with self.store.read() as unit:
            shop_id = unit.identity().shop_id
            txns = [
                t
                for t in unit.transactions(frozenset({TxnKind.REDEEM, TxnKind.VOID}), since=since, until=until)
                if t.shop_id == shop_id
            ]
            rows = self._rows(unit, txns)
        rows.reverse()
        return rows

    def receipt_prefix(self) -> str:
        """What every receipt of this till starts with ("S01-P1-"): the keypad asks only for the digits after it."""
        with self.store.read() as unit:
            identity = unit.identity()
        return f"{identity.shop_id}-{identity.device_id}-"

    def find(self, digits: str) -> ReceiptRow:
        """A redemption or void of this till by the number at the end of its receipt (123 for S01-P1-000123),
        from any day: goods brought back the next morning are voided from here, not only today's."""
        with self.store.read() as unit:
            identity = unit.identity()
            seq = int(digits) if digits.isdigit() else 0
            txn = unit.transaction_by_receipt(identity.shop_id, identity.device_id, seq) if seq else None
            if txn is None or txn.kind not in (TxnKind.REDEEM, TxnKind.VOID):
                raise LedgerError("receipt_unknown", receipt_no=f"{identity.shop_id}-{identity.device_id}-{digits}")
            row = self._rows(unit, [txn])[0]
        return replace(row, time=txn.created_at[5:16].replace("T", " "))  # with its day: "11-21 09:30"

    def _rows(self, unit: LedgerUnit, txns: list[Transaction]) -> list[ReceiptRow]:
        """``txns`` (redemptions and voids) as list rows, in the same order."""
        names: dict[str, str] = {}
        items: dict[str, str] = {}
        by_id = {t.txn_id: t for t in txns}
        voided: dict[str, str] = {}  # redemption txn_id -> the void's receipt number
        refs: dict[str, str] = {}  # void txn_id -> the voided redemption's receipt number
        printed: set[str] = set()
        for t in txns:
            if t.kind == TxnKind.REDEEM:
                void = unit.voiding(t.txn_id)
                if void is not None:
                    voided[t.txn_id] = void.receipt_no
            elif t.ref_txn_id:
                original = by_id.get(t.ref_txn_id) or unit.transaction(t.ref_txn_id)
                if original is not None:
                    refs[t.txn_id] = original.receipt_no
            if any(job.status == "printed" for job in unit.print_jobs(txn_id=t.txn_id)):
                printed.add(t.txn_id)
        rows = []
        for t in txns:
            hid = t.household_id or ""
            if hid not in names:
                household = unit.household(hid)
                names[hid] = household.head_name if household else ""
            parts = []
            for line in t.lines:
                if line.sku not in items:
                    item = unit.item(line.sku)
                    items[line.sku] = f"{item.name}{item.unit}" if item else line.sku
                parts.append(f"{items[line.sku]}×{abs(line.qty)}")
            rows.append(
                ReceiptRow(
                    receipt_no=t.receipt_no,
                    kind=str(t.kind),
                    time=t.created_at[11:16],
                    household_id=hid,
                    household_name=names[hid],
                    points=abs(t.points_of(household_account(hid))),
                    goods="、".join(parts),
                    voided_by=voided.get(t.txn_id),
                    voids=refs.get(t.txn_id),
                    printed=t.txn_id in printed,
                    memo=t.memo,
                )
            )
        return rows

    def void(self, receipt_no: str, reason: Reason, manager: Operator) -> Receipt:
        """Void a redemption under a manager's authority (the manager is recorded as the operator)."""
        if not manager.is_manager:
            raise LedgerError("manager_required")
        return services.void(self.store, receipt_no, reason.recorded, services.Context(manager, self.clock))

    def print_receipt(self, txn_id: str) -> printing.PrintOutcome:
        """Print a transaction just committed (blocking: call it off the UI thread)."""
        return print_committed(self.store, txn_id, self.printer, self.clock)

    def reprint(self, receipt_no: str) -> printing.PrintOutcome:
        """Reprint (marked 重印); blocking: call it off the UI thread."""
        return reprint(self.store, receipt_no, self.printer, self.clock)

    def pending(self) -> list[PendingPrint]:
        """Receipts that have not printed yet, oldest first."""
        return [PendingPrint(no, job.kind, job.last_error) for job, no in printing.pending(self.store)]

    def reprint_pending(self) -> list[printing.PrintOutcome]:
        """Reprint every waiting receipt, stopping at the first failure (the printer is still not ready)."""
        outcomes = []
        for waiting in self.pending():
            outcome = self.reprint(waiting.receipt_no)
            outcomes.append(outcome)
            if not outcome.printed:
                break
        return outcomes
