"""The print queue: receipts print after the commit, and a printer fault never touches the ledger.

A redemption is committed first and its print job is written in the same database transaction, so
there is never a sale without a job nor a job without a sale. The job holds the receipt itself
(``ReceiptContent``, built by ``receipt_content`` in that transaction): what printing lays out, then
and at every reprint, is what was true at the sale (names, prices, redeemable points), never a
rebuild from today's database. Print jobs written before receipts were stored (an older ledger) have
no receipt: theirs is rebuilt from the journal, as it always was for them.

Printing happens afterwards; if the printer is missing, off or out of paper the job stays ``pending``
with the error, the sale stands, and a later reprint (marked 重印) prints it. A job is marked printed
only after the printer took the bytes, so a crash between the two prints the receipt twice at worst
(the second marked 重印 when it comes from a reprint) but never loses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ledger.errors import DeviceFault, LedgerError
from ledger.model import (
    COMMAND_LINE_OPERATOR,
    FEN,
    POINTS,
    Household,
    Item,
    Transaction,
    TxnKind,
    account_household,
    household_account,
    parse_receipt_number,
    shop_account,
)
from ledger.ports import LedgerStore, LedgerUnit, PrintJob, ReceiptPrinter
from ledger.receipts import ReceiptContent, ReceiptKind, ReceiptLine

Clock = Callable[[], datetime]

_KINDS = {
    TxnKind.REDEEM: ReceiptKind.REDEEM,
    TxnKind.VOID: ReceiptKind.VOID,
    TxnKind.DONATION: ReceiptKind.DONATION,
    TxnKind.STOCK_IN: ReceiptKind.STOCK_IN,
    TxnKind.DAY_CLOSE: ReceiptKind.DAY_CLOSE,
}


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class PrintOutcome:
    """What happened to one receipt: printed, or not and why (in the reader's language via ``error``)."""

    receipt_no: str
    printed: bool
    error: DeviceFault | None = None


def _when(created_at: str) -> str:
    return created_at[:19].replace("T", " ")


def _operator(unit: LedgerUnit, operator_id: str) -> str:
    operator = unit.operator(operator_id)
    if operator is None and operator_id == COMMAND_LINE_OPERATOR.operator_id:
        operator = COMMAND_LINE_OPERATOR  # "管理员", as the day close and the 台账 say it
    return f"{operator.name} ({operator_id})" if operator else operator_id


def _goods(
    unit: LedgerUnit, txn: Transaction, sign: int, with_points: bool, known: Mapping[str, Item]
) -> tuple[ReceiptLine, ...]:
    result = []
    for line in txn.lines:
        item = known[line.sku] if line.sku in known else unit.item(line.sku)
        name = item.name if item else line.sku
        points = line.points_each if with_points else 0
        result.append(ReceiptLine(name, sign * line.qty, item.unit if item else "", points))
    return tuple(result)


def _household_delta(txn: Transaction) -> int:
    return sum(p.amount for p in txn.postings if account_household(p.account) is not None and p.unit == POINTS)


def _into_fund(txn: Transaction) -> int:
    """Money (fen) that ``txn`` put into its shop's fund: a donation's gift, less a purchase's cost."""
    fund = shop_account(txn.shop_id, "fund")
    return sum(p.amount for p in txn.postings if p.unit == FEN and p.account == fund)


def _balance_after(unit: LedgerUnit, txn: Transaction) -> int:
    """The household's balance right after ``txn``, from the journal (for receipts with no stored figures)."""
    account = household_account(txn.household_id or "")
    total = 0
    for earlier in unit.transactions(household_id=txn.household_id):
        total += earlier.points_of(account)
        if earlier.txn_id == txn.txn_id:
            break
    return total


def _day_close_summary(memo: str) -> tuple[tuple[tuple[str, str], ...], tuple[ReceiptLine, ...]]:
    try:
        data = json.loads(memo)
        totals: dict[str, Any] = data.get("totals", {})
    except (ValueError, AttributeError):
        return (), ()
    rows = (
        ("日期", str(data.get("day", ""))),
        ("兑换笔数", str(totals.get("redemptions", 0))),
        ("兑换积分", f"{totals.get('points_redeemed', 0)} 分"),
        ("兑换件数", f"{totals.get('items_redeemed', 0)} 件"),
        ("作废笔数", str(totals.get("voids", 0))),
        ("退回积分", f"{totals.get('points_returned', 0)} 分"),
        ("净兑换积分", f"{totals.get('net_points', 0)} 分"),
        ("捐赠笔数", str(totals.get("donations", 0))),
        ("捐赠现金", f"￥{totals.get('donation_yuan', '0.00')}"),
        ("捐赠物品", f"{totals.get('donated_goods', 0)} 件"),
        ("入库", f"{totals.get('stock_ins', 0)} 笔 {totals.get('stock_in_qty', 0)} 件"),
        ("报损", f"{totals.get('write_offs', 0)} 笔 {totals.get('write_off_qty', 0)} 件"),
    )
    lines = tuple(
        ReceiptLine(str(t.get("name", t.get("sku", ""))), int(t.get("qty", 0)), "", 0)
        for t in totals.get("items", ())
        if isinstance(t, dict)
    )
    return rows, lines


def find_receipt(unit: LedgerUnit, receipt_no: str) -> Transaction:
    """The transaction of a receipt number as a person types it (any case, spaces around)."""
    parsed = parse_receipt_number(receipt_no)
    txn = unit.transaction_by_receipt(*parsed) if parsed else None
    if txn is None:
        raise LedgerError("receipt_unknown", receipt_no=receipt_no)
    return txn


def receipt_content(
    unit: LedgerUnit,
    txn: Transaction,
    facts: Mapping[str, Any] | None = None,
    *,
    household: Household | None = None,
    items: Sequence[Item] = (),
) -> ReceiptContent:
    """What the receipt of ``txn`` says, read from the ledger as it stands in ``unit``.

    Called in the transaction that commits ``txn`` (the services store the result with its print job),
    and for print jobs of older ledgers that hold no receipt. ``facts`` are the figures of the moment
    that the journal alone cannot give back (redeemable points before and after a redemption).
    ``household`` and ``items`` are what the caller already read in ``unit``: a redemption passes them,
    so storing its receipt does not read them again on the till's hot path.
    """
    kind = _KINDS.get(txn.kind)
    if kind is None:
        raise LedgerError("no_receipt", receipt_no=txn.receipt_no)
    shop = unit.shop(txn.shop_id)
    village = unit.village(shop.village_id) if shop else None
    if txn.household_id and (household is None or household.household_id != txn.household_id):
        household = unit.household(txn.household_id)
    known = {item.sku: item for item in items}
    facts = facts or {}
    common: dict[str, Any] = {
        "kind": kind,
        "shop_id": txn.shop_id,
        "shop_name": shop.name if shop else txn.shop_id,
        "village_name": village.name if village else "",
        "receipt_no": txn.receipt_no,
        "when": _when(txn.created_at),
        "operator": _operator(unit, txn.operator),
        "hash8": txn.hash[:8],
        "household_id": txn.household_id,
        "household_name": household.head_name if household else None,
    }
    if kind in (ReceiptKind.REDEEM, ReceiptKind.VOID):
        delta = _household_delta(txn)
        balance_after = facts.get("balance_after")
        if balance_after is None:
            balance_after = _balance_after(unit, txn)
        ref = unit.transaction(txn.ref_txn_id) if txn.ref_txn_id else None
        return ReceiptContent(
            **common,
            lines=_goods(unit, txn, -1 if kind == ReceiptKind.REDEEM else 1, True, known),
            total_points=abs(delta),
            redeemable_before=facts.get("redeemable_before"),
            redeemable_after=facts.get("redeemable_after"),
            balance_after=int(balance_after),
            memo=txn.memo if kind == ReceiptKind.VOID else "",
            ref_receipt_no=ref.receipt_no if ref else None,
        )
    if kind == ReceiptKind.DONATION:
        return ReceiptContent(
            **common,
            party=txn.party,
            amount_fen=_into_fund(txn),
            lines=_goods(unit, txn, 1, False, known),
            memo=txn.memo,
        )
    if kind == ReceiptKind.STOCK_IN:
        return ReceiptContent(
            **common, party=txn.party, amount_fen=-_into_fund(txn), lines=_goods(unit, txn, 1, False, known)
        )
    summary, lines = _day_close_summary(txn.memo)
    return ReceiptContent(**common, summary=summary, lines=lines)


def _latest_job(unit: LedgerUnit, txn_id: str) -> PrintJob | None:
    jobs = unit.print_jobs(txn_id=txn_id)
    return jobs[-1] if jobs else None


def _stored(unit: LedgerUnit, txn: Transaction, job: PrintJob | None) -> ReceiptContent:
    """The receipt as its print job stored it; rebuilt only for a job of an older ledger that has none."""
    if job is not None and job.receipt is not None:
        return job.receipt
    return receipt_content(unit, txn, job.facts if job else None)


def receipt_for(store: LedgerStore, receipt_no: str, reprint: bool = False) -> ReceiptContent:
    """The receipt of any transaction that has one, by its number (``lovemart receipt``)."""
    with store.read() as unit:
        txn = find_receipt(unit, receipt_no)
        content = _stored(unit, txn, _latest_job(unit, txn.txn_id))
    return replace(content, reprint=reprint)


def _attempt(
    store: LedgerStore, printer: ReceiptPrinter, job: PrintJob, content: ReceiptContent, clock: Clock
) -> PrintOutcome:
    try:
        printer.print_receipt(content)
    except DeviceFault as fault:
        with store.write() as unit:
            unit.finish_print_job(job.job_id, None, f"{fault.code}: {fault.message('zh')}")
        return PrintOutcome(content.receipt_no, False, fault)
    with store.write() as unit:
        unit.finish_print_job(job.job_id, clock().isoformat(timespec="seconds"))
    return PrintOutcome(content.receipt_no, True)


def print_job_of(store: LedgerStore, txn_id: str, printer: ReceiptPrinter, clock: Clock = _now) -> PrintOutcome:
    """Print the pending receipt of one transaction just committed (the counter's path)."""
    with store.read() as unit:
        txn = unit.transaction(txn_id)
        if txn is None:
            raise LedgerError("receipt_unknown", receipt_no=txn_id)
        job = _latest_job(unit, txn_id)
        if job is None or job.status != "pending":
            return PrintOutcome(txn.receipt_no, job is not None)
        content = _stored(unit, txn, job)
    return _attempt(store, printer, job, content, clock)


def reprint(store: LedgerStore, receipt_no: str, printer: ReceiptPrinter, clock: Clock = _now) -> PrintOutcome:
    """Print a receipt again, marked 重印; a pending job for it is done once this one prints.

    Every reprint is marked, even of a receipt that never printed: the shopkeeper cannot know
    whether a half-printed first copy left the printer, and a villager must never hold two
    unmarked copies of one redemption.
    """
    with store.read() as unit:
        txn = find_receipt(unit, receipt_no)
        job = _latest_job(unit, txn.txn_id)
        content = _stored(unit, txn, job)
    if job is None:
        with store.write() as unit:
            unit.add_print_job(txn.txn_id, txn.created_at, content)
            job = _latest_job(unit, txn.txn_id)
        assert job is not None
    return _attempt(store, printer, job, replace(content, reprint=True), clock)


def pending(store: LedgerStore) -> list[tuple[PrintJob, str]]:
    """Receipts that have not printed yet, oldest first, with their receipt numbers."""
    with store.read() as unit:
        result = []
        for job in unit.print_jobs(status="pending"):
            txn = unit.transaction(job.txn_id)
            result.append((job, txn.receipt_no if txn else job.txn_id))
        return result
