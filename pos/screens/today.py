"""Today's redemptions: pick one to void (manager PIN, reason from a list) or reprint; print what waits."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.model import Operator
from ledger.printing import PrintOutcome
from pos.presenters.receipts import VOID_REASONS, Reason, ReceiptRow
from pos.screens.base import PosScreen
from pos.widgets import ask_digits, choose
from ui.widgets import ask


class PosTodayScreen(PosScreen):
    title_id = StringProperty(N_("pos.today_title"))
    selected = StringProperty("")
    selected_text = StringProperty("")
    can_void = BooleanProperty(False)
    pending_count = NumericProperty(0)
    summary = StringProperty("")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, ReceiptRow] = {}
        self._found: list[str] = []  # digits of earlier receipts looked up here, shown above today's

    def on_leave(self, *_args: object) -> None:
        self._found = []

    def refresh(self) -> None:
        receipts = self.app.receipts
        rows = receipts.today()
        today = {row.receipt_no for row in rows}
        earlier = [receipts.find(digits) for digits in self._found]
        rows = [row for row in earlier if row.receipt_no not in today] + rows
        self._rows = {row.receipt_no: row for row in rows}
        if self.selected not in self._rows:
            self.selected = ""
        self.ids.list.rows = [self._row_data(row) for row in rows]
        self.pending_count = len(receipts.pending())
        redeemed = [r for r in rows if r.kind == "redeem" and r.voided_by is None]
        self.summary = self.tr("pos.today_summary", count=len(redeemed), points=sum(r.points for r in redeemed))
        self._show_selected()

    def _row_data(self, row: ReceiptRow) -> dict[str, object]:
        if row.kind == "void":
            what = self.tr("pos.row_void", receipt_no=row.voids or "")
        else:
            # who, in the row; what, by how many kinds (the whole list is shown once the row is picked): a
            # list of goods cut at the row's edge would hide a quantity
            kinds = len(row.goods.split("、")) if row.goods else 0
            what = self.tr("pos.row_sale", name=row.household_name, kinds=kinds)
        detail_parts = [row.receipt_no[-6:], self.tr("pos.points_short", points=row.points)]
        if row.voided_by:
            detail_parts.append(self.tr("pos.voided"))
        elif not row.printed:
            detail_parts.append(self.tr("pos.not_printed"))
        return {
            "key": row.receipt_no,
            "text": f"{row.time} {what}",
            "detail": " ".join(detail_parts),
            "selected": row.receipt_no == self.selected,
            "marked": row.kind == "void" or bool(row.voided_by),
        }

    def select(self, receipt_no: str) -> None:
        self.selected = receipt_no
        self.ids.list.rows = [self._row_data(row) for row in self._rows.values()]
        self._show_selected()

    def _show_selected(self) -> None:
        row = self._rows.get(self.selected)
        self.can_void = row is not None and row.voidable
        if row is None:
            self.selected_text = self.tr("pos.today_pick")
            return
        lines = [row.receipt_no, f"{row.time}  {row.household_name}（{row.household_id}）", row.goods]
        lines.append(self.tr("pos.points_short", points=row.points))
        if row.voided_by:
            lines.append(self.tr("pos.voided_by", receipt_no=row.voided_by))
        if row.kind == "void":
            lines.append(self.tr("pos.void_reason", reason=row.memo))
        self.selected_text = "\n".join(lines)

    # ----- void: reason, then a manager's PIN, then the reversing transaction and its receipt

    def void(self) -> None:
        row = self._rows.get(self.selected)
        if row is None or not row.voidable:
            self.notify(self.tr("pos.today_pick"), "warning")
            return
        # What goes back, before anyone picks a reason: whose sale, which goods, how many points.
        title = self.tr(
            "pos.void_reason_for",
            receipt_no=row.receipt_no,
            name=row.household_name,
            household_id=row.household_id,
            goods=row.goods,
            points=row.points,
        )
        choose(
            title,
            [(reason, reason.text(self.app.lang)) for reason in VOID_REASONS],
            lambda reason: self.app.ask_manager(lambda manager: self._confirm_void(row, reason, manager)),
            detail=True,
        )

    def _confirm_void(self, row: ReceiptRow, reason: Reason, manager: Operator) -> None:
        message = self.tr(
            "pos.void_question", receipt_no=row.receipt_no, name=row.household_name, points=row.points, goods=row.goods
        )
        ask(message, lambda yes: self._do_void(row, reason, manager) if yes else None, yes_role="danger")

    def _do_void(self, row: ReceiptRow, reason: Reason, manager: Operator) -> None:
        try:
            receipt = self.app.receipts.void(row.receipt_no, reason, manager)
        except LedgerError as refusal:
            self.refuse(refusal)
            self.refresh()
            return
        txn = receipt.transaction
        self.app.catalog.refresh()
        self.selected = txn.receipt_no
        self.refresh()
        receipts = self.app.receipts
        done = self.tr("pos.void_done", receipt_no=row.receipt_no, points=row.points)
        self.app.print_in_background(
            lambda: receipts.print_receipt(txn.txn_id), lambda _o: self.refresh(), done_text=done
        )

    # ----- an earlier day's receipt, by its number

    def find(self) -> None:
        ask_digits(
            self.tr("pos.find_receipt_title"),
            self._found_digits,
            prompt=self.app.receipts.receipt_prefix(),
            max_length=6,
        )

    def _found_digits(self, digits: str) -> None:
        row = self.app.receipts.find(digits)  # an unknown number is refused in the keypad dialog
        if digits not in self._found:
            self._found.append(digits)
        self.selected = row.receipt_no
        self.refresh()

    # ----- reprints

    def reprint(self) -> None:
        if not self.selected:
            self.notify(self.tr("pos.today_pick"), "warning")
            return
        self.app.reprint(self.selected, lambda _outcome: self.refresh())

    def print_pending(self) -> None:
        if not self.pending_count:
            self.notify(self.tr("pos.nothing_to_reprint"), "info")
            return
        receipts = self.app.receipts

        def run() -> PrintOutcome:
            outcomes = receipts.reprint_pending()  # stops at the first failure: its outcome is the last
            return outcomes[-1] if outcomes else PrintOutcome("", True)

        self.app.print_in_background(run, lambda _outcome: self.refresh())
