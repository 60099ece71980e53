"""The menu: one big button per task. A passbook scanned here opens the redemption straight away."""

from __future__ import annotations

from kivy.properties import StringProperty

from ledger.messages import N_
from pos.screens.base import PosScreen
from ui.widgets import ask


class PosHomeScreen(PosScreen):
    title_id = StringProperty(N_("pos.home_title"))

    def open(self, name: str) -> None:
        from pos.app import MANAGER_SCREENS

        if name in MANAGER_SCREENS and not self.app.session.is_manager:
            self.app.ask_manager(lambda _manager: self.app.go(name))
            return
        self.app.go(name)

    def lock(self) -> None:
        self.app.lock()

    def switch_operator(self) -> None:
        self.app.switch_operator()

    def exit(self) -> None:
        """Close the till: a manager's PIN, then a yes (a locked-down till has no other way out)."""

        def confirmed(yes: bool) -> None:
            if yes:
                self.app.request_exit()

        self.app.ask_manager(
            lambda _manager: ask(self.tr("pos.exit_question"), confirmed, yes_role="danger"), N_("pos.exit_pin")
        )

    def handle_scan(self, text: str, source: str) -> bool:
        return False  # the app hands passbooks and product codes to the redemption screen
