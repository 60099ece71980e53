"""怎样得积分: the rules that apply to the village, in large print, one item a line under its class.

Public facts only (``RulesView``), so it needs no clearing when the kiosk returns to idle. Layout in
``rules.kv``.
"""

from __future__ import annotations

from dataclasses import asdict

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.presenter import RulesView


class KioskRulesScreen(Screen):
    fs = NumericProperty(1.0)
    wide = BooleanProperty(True)
    title_text = StringProperty("")
    subtitle = StringProperty("")
    empty = StringProperty("")
    as_of = StringProperty("")

    def show(self, view: RulesView) -> None:
        self.title_text = view.title
        self.subtitle = view.subtitle
        self.empty = view.empty
        self.as_of = view.as_of
        self.ids.rules.set_rows([asdict(line) for line in view.lines])
        self.ids.rules_scroll.scroll_y = 1
