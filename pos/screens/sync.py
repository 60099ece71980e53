"""Sync status: last successful sync, transactions waiting, "sync now" (on a worker), the failure in words."""

from __future__ import annotations

import logging

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from ledger.messages import N_
from pos.presenters.sync import SyncView
from pos.screens.base import PosScreen
from ui.background import run_in_background

log = logging.getLogger(__name__)


class PosSyncScreen(PosScreen):
    title_id = StringProperty(N_("pos.sync_title"))
    headline = StringProperty("")
    last_text = StringProperty("")
    waiting = NumericProperty(0)
    error_text_ = StringProperty("")
    can_sync = BooleanProperty(False)
    running = BooleanProperty(False)
    why_not = StringProperty("")  # why the button is grey, in words ("" when it can be pressed)

    def refresh(self) -> None:
        if not self.running:
            self.show(self.app.sync.view())

    def show(self, view: SyncView) -> None:
        self.headline = self.tr(view.headline, waiting=view.waiting, when=view.last_success or "")
        self.last_text = (
            self.tr("pos.sync_last", when=view.last_success) if view.last_success else self.tr("pos.sync_last_never")
        )
        self.waiting = view.waiting
        self.error_text_ = view.error(self.app.lang) or ""
        self.can_sync = view.can_sync and not self.running
        self.why_not = self.tr(view.why_not) if view.why_not else ""
        self.app.sync_status_changed(view)

    def sync_now(self) -> None:
        presenter = self.app.sync
        if presenter.port is None:
            self.show(presenter.view())
            self.notify(self.tr("pos.sync_not_connected"), "warning")
            return
        if self.running:
            return
        self.running = True
        self.can_sync = False
        self.why_not = self.tr("pos.sync_why_running")
        self.headline = self.tr("pos.sync_running")
        run_in_background(presenter.sync_now, on_done=self._done, on_error=self._failed)

    def _done(self, view: SyncView) -> None:
        self.running = False
        self.show(view)
        if view.failure is not None:
            self.notify(view.error(self.app.lang) or "", "error")
        else:
            self.notify(self.tr("pos.sync_done"), "success")

    def _failed(self, error: Exception) -> None:
        self.running = False
        self.refresh()
        self.refuse(error)
