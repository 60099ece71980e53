"""The maintenance screen, reached by the hidden corner gesture: a manager picks their name and types
their PIN on the kit's keypad to close the kiosk. Anything else (返回, a timeout) goes back to idle.

The App checks the PIN (``app.maintenance_pin(operator_id, pin)``) and says whether it was refused;
this screen only shows the managers, the keypad and the refusal (in the keypad's display, which is
cleared after every try). Layout in ``maintenance.kv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.access import Manager


class KioskMaintenanceScreen(Screen):
    fs = NumericProperty(1.0)
    wide = BooleanProperty(True)
    message = StringProperty("")
    selected = StringProperty("")

    def show(self, managers: Sequence[Manager], message: str = "") -> None:
        """Offer ``managers`` (the only one is chosen already) and an empty keypad."""
        self.ids.managers.set_rows([{"text": m.name, "operator_id": m.operator_id} for m in managers])
        for button in self.ids.managers.rows:
            button.unbind(on_release=self._choose)
            button.bind(on_release=self._choose)
        self.select(managers[0].operator_id if len(managers) == 1 else "")
        self.message = message
        self.ids.keypad.clear()

    def select(self, operator_id: str) -> None:
        self.selected = operator_id
        for button in self.ids.managers.rows:
            button.selected = button.operator_id == operator_id

    def _choose(self, button: Any) -> None:
        self.select(button.operator_id)
        self.message = ""

    def confirm(self, pin: str) -> None:
        """The keypad's OK: ask the App, show its refusal, always clear the digits."""
        keypad = self.ids.keypad
        keypad.clear()
        app = App.get_running_app()
        refusal = app.maintenance_pin(self.selected, pin) if app is not None else None
        self.message = refusal or ""

    def clear(self) -> None:
        self.message = ""
        self.selected = ""
        self.ids.keypad.clear()
        self.ids.managers.clear_rows()
