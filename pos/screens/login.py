"""Login: pick your name from big buttons, then your PIN on the keypad. Also the screen of a locked till."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from pos.screens.base import PosScreen
from ui.widgets import BigButton


class PosOperatorButton(BigButton):
    """A name button: the operator's name and role; the chosen one is highlighted."""

    operator_id = StringProperty("")
    chosen = BooleanProperty(False)


class PosLoginScreen(PosScreen):
    title_id = StringProperty(N_("pos.login_title"))
    chosen_id = StringProperty("")
    chosen_name = StringProperty("")
    locked_by = StringProperty("")  # a locked till: whose it is ("" at a plain login)

    def refresh(self) -> None:
        session = self.app.session
        grid = self.ids.operators
        grid.clear_widgets()
        choices = session.operators()
        for choice in choices:
            button = PosOperatorButton(
                operator_id=choice.operator_id,
                text=f"{choice.name}\n{self.tr(choice.role_msgid)}",
            )
            button.bind(on_release=lambda b, c=choice: self.choose(c.operator_id, c.name))
            grid.add_widget(button)
        # A locked till shows its operator ready for the PIN; with a single operator there is nothing to pick.
        current = session.operator
        self.locked_by = current.name if current is not None and session.locked else ""
        self.title_id = N_("pos.locked_title") if self.locked_by else N_("pos.login_title")
        if current is not None:
            self.choose(current.operator_id, current.name)
        elif len(choices) == 1:
            self.choose(choices[0].operator_id, choices[0].name)
        else:
            self.choose("", "")
        self.ids.keypad.clear()

    def choose(self, operator_id: str, name: str) -> None:
        self.chosen_id = operator_id
        self.chosen_name = name
        for button in self.ids.operators.children:
            button.chosen = button.operator_id == operator_id
        self.ids.keypad.clear()

    def submit(self, pin: str) -> None:
        keypad = self.ids.keypad
        if not self.chosen_id:
            self.notify(self.tr("pos.login_pick_first"), "warning")
            keypad.clear()
            return
        try:
            result = self.app.session.login(self.chosen_id, pin)
        except LedgerError as refusal:
            keypad.clear()
            self.refuse(refusal)
            return
        keypad.clear()
        self.app.root.ids.banner.hide()
        self.app.logged_in(result.same_operator)

    def handle_scan(self, text: str, source: str) -> bool:
        self.notify(self.tr("pos.login_first"), "warning")
        return True
