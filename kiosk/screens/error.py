"""The error screen: what went wrong and what to do, in plain words; it goes back to idle by itself.

One screen for every kind (unknown, revoked, forged, frozen, camera, unexpected); ``kind`` picks its
colour band. ``clear()`` empties it (a frozen household's name is on it). Layout in ``error.kv``.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.presenter import ErrorView


class KioskErrorScreen(Screen):
    fs = NumericProperty(1.0)
    wide = BooleanProperty(True)
    kind = StringProperty("")
    title_text = StringProperty("")
    message = StringProperty("")
    back_note = StringProperty("")

    def show(self, view: ErrorView, back_note: str) -> None:
        self.kind = view.kind
        self.title_text = view.title
        self.message = view.message
        self.back_note = back_note

    def clear(self) -> None:
        self.kind = ""
        self.title_text = ""
        self.message = ""
        self.back_note = ""
