"""What every POS screen shares: the app, the banner, refusals in words, scans, refresh on entry and on a
language switch."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import N_

log = logging.getLogger(__name__)


class PosScreen(Screen):
    """Base of the POS screens. ``title_id`` is the header's title (a message id)."""

    title_id = StringProperty(N_("ui.app_title"))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The app that built this screen, not whichever app runs when a late callback (a print finishing on a
        # worker) reaches it: a test process starts many apps one after another.
        app = App.get_running_app()
        self._app: Callable[[], Any] = weakref.ref(app) if app is not None else App.get_running_app

    @property
    def app(self) -> Any:
        return self._app()

    def on_pre_enter(self, *_args: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Read what the screen shows from its presenter (on entry and after a language switch)."""

    def on_language(self) -> None:
        if self.manager is not None and self.manager.current_screen is self:
            self.refresh()

    def handle_scan(self, text: str, source: str) -> bool:
        """A scan while this screen is shown; False when the screen has no use for it."""
        return False

    def tr(self, msgid: str, **params: Any) -> str:
        return str(self.app.tr(msgid, **params))

    def notify(self, text: str, kind: str = "info") -> None:
        self.app.notify(text, kind)

    def refuse(self, error: BaseException) -> None:
        """Show a refusal in words; anything that is not a refusal is a bug, logged for the technician."""
        if not isinstance(error, LedgerError | DeviceFault):
            log.error("unexpected error on %s", self.name, exc_info=error)
        self.app.notify(self.app.error_text(error), "error")
