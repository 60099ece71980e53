"""Day close: today's totals (read on a worker), confirm, record, print, then offer sync."""

from __future__ import annotations

import logging

from kivy.properties import BooleanProperty, StringProperty

from ledger.audit import AuditReport
from ledger.errors import LedgerError
from ledger.messages import N_
from pos.presenters.day_close import DayCloseView
from pos.screens.base import PosScreen
from ui.background import run_in_background
from ui.widgets import ask

log = logging.getLogger(__name__)


class PosDayCloseScreen(PosScreen):
    title_id = StringProperty(N_("pos.day_close_title"))
    day_text = StringProperty("")
    note = StringProperty("")
    ready = BooleanProperty(False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.view: DayCloseView | None = None

    def refresh(self) -> None:
        self.ready = False
        self.note = self.tr("ui.please_wait")
        run_in_background(self.app.day_close.view, on_done=self.show, on_error=self._failed)

    def _failed(self, error: Exception) -> None:
        self.note = ""
        self.refuse(error)

    def show(self, view: DayCloseView) -> None:
        self.view = view
        self.day_text = view.summary.day.isoformat()
        grid = self.ids.totals
        grid.clear_widgets()
        from kivy.factory import Factory

        for msgid, value in view.rows():
            grid.add_widget(Factory.PosTotalLabel(text=self.tr(msgid)))
            grid.add_widget(Factory.PosTotalValue(text=value))
        items = "、".join(f"{t.name}×{t.qty}" for t in view.summary.items[:6])
        self.note = (
            self.tr("pos.dc_closed_already", receipts="、".join(view.closed_already)) if view.closed_already else ""
        )
        if items:
            self.note = (self.note + "\n" if self.note else "") + self.tr("pos.dc_top_items", items=items)
        self.ready = True

    def confirm(self) -> None:
        if self.view is None or not self.ready:
            return
        ask(self.tr("pos.dc_question", day=self.day_text), lambda yes: self._close() if yes else None)

    def _close(self) -> None:
        assert self.view is not None
        try:
            txn = self.app.day_close.close(self.view, self.app.session.context())
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        presenter = self.app.day_close
        # The day's records are in: audit the whole ledger now, on a worker, while the slip prints.
        run_in_background(presenter.audit, on_done=self._audited, on_error=self._failed)
        done = self.tr("pos.dc_done", receipt_no=txn.receipt_no)
        self.app.print_in_background(
            lambda: presenter.print_receipt(txn.txn_id), lambda _o: self._offer_sync(), done_text=done
        )

    def _audited(self, report: AuditReport) -> None:
        if report.ok:
            self.notify(self.tr("pos.dc_audited", count=report.transactions))
            run_in_background(self.app.day_close.back_up, on_done=self._backed_up, on_error=self._failed)
        else:
            self.refuse(LedgerError("ledger_tampered", detail=report.problems[0].detail))

    def _backed_up(self, where: str | None) -> None:
        if where:
            self.notify(self.tr("pos.dc_backed_up", path=where))

    def _offer_sync(self) -> None:
        ask(self.tr("pos.dc_sync_question"), lambda yes: self._sync() if yes else self.refresh())

    def _sync(self) -> None:
        self.app.go("sync")
        self.app.screen("sync").sync_now()
