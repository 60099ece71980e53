"""The household screen: whose passbook, the redeemable points in very large digits, balance, points earned,
its items on a current notice (公示), the last ten movements in words, what the points buy now, how fresh
the figures are.

``clear()`` empties every text on it (and its lists) when the kiosk returns to idle: the screen object
lives on, out of sight, and must not keep the last household's figures. Layout in ``household.kv``.
"""

from __future__ import annotations

from dataclasses import asdict

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.presenter import HouseholdView

_TEXTS = (
    "name",
    "redeemable",
    "balance",
    "earned",
    "movements_empty",
    "affordable_note",
    "freshness",
    "notice_items_title",
)


class KioskHouseholdScreen(Screen):
    fs = NumericProperty(1.0)
    wide = BooleanProperty(True)
    name_text = StringProperty("")
    redeemable = StringProperty("")
    balance = StringProperty("")
    earned = StringProperty("")
    balance_note = StringProperty("")
    earned_note = StringProperty("")
    movements_empty = StringProperty("")
    affordable_note = StringProperty("")
    freshness = StringProperty("")
    notice_items_title = StringProperty("")
    voice_available = BooleanProperty(False)
    figure_font = NumericProperty(20)  # the balance's and the points earned's font size (household.kv)

    def show(self, view: HouseholdView) -> None:
        """Everything at once (tests, language switch). The App shows the figures first, then the lists."""
        self.show_figures(view)
        self.show_movements(view)
        self.show_affordable(view)

    def show_figures(self, view: HouseholdView) -> None:
        """Name and numbers: what the villager came for, drawn in the first frame after the scan."""
        self.name_text = view.name
        self.redeemable = view.redeemable
        self.balance = view.balance
        self.earned = view.earned
        self.balance_note = view.balance_note
        self.earned_note = view.earned_note
        self.movements_empty = view.movements_empty
        self.affordable_note = view.affordable_note
        self.freshness = view.freshness
        self.notice_items_title = view.notice_items_title

    def show_movements(self, view: HouseholdView) -> None:
        self.ids.notice_items.set_rows([asdict(line) for line in view.notice_items])
        self.ids.movements.set_rows([asdict(line) for line in view.movements])
        self.ids.movements_scroll.scroll_y = 1

    def show_affordable(self, view: HouseholdView) -> None:
        self.ids.affordable.set_rows([asdict(line) for line in view.affordable])
        self.ids.affordable_scroll.scroll_y = 1

    def clear(self) -> None:
        for name in _TEXTS:
            setattr(self, "name_text" if name == "name" else name, "")
        self.ids.notice_items.clear_rows()
        self.ids.movements.clear_rows()
        self.ids.affordable.clear_rows()
