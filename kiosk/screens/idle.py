"""The idle screen: a big invitation to scan, a picture of how, the village ranking (红榜) in turn with the
village's current notices (公示), the goods, and 怎样得积分 (the rules, on a screen of their own).

Shows public facts only (``IdleView``): whatever the last household saw is gone by the time this screen
is filled. Layout in ``idle.kv``: three columns on a landscape panel, stacked on a portrait one.
"""

from __future__ import annotations

from dataclasses import asdict

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.presenter import IdleView
from ui.preview import CameraPreview  # noqa: F401  (registers the widget for idle.kv)


class KioskIdleScreen(Screen):
    fs = NumericProperty(1.0)  # text scale: below 1 on a narrow portrait panel (see idle.kv)
    wide = BooleanProperty(True)
    ranking_title = StringProperty("")
    ranking_empty = StringProperty("")
    goods_empty = StringProperty("")
    shop = StringProperty("")
    freshness = StringProperty("")
    camera_note = StringProperty("")
    panel = StringProperty("ranking")  # or "notice": which the panel beside the invitation shows
    notice_title = StringProperty("")
    notice_window = StringProperty("")

    def on_enter(self, *_args: object) -> None:
        self.ids.preview.active = True  # the camera picture moves only while this screen shows

    def on_leave(self, *_args: object) -> None:
        self.ids.preview.active = False

    def show(self, view: IdleView) -> None:
        self.ranking_title = view.ranking_title
        self.ranking_empty = view.ranking_empty
        self.goods_empty = view.goods_empty
        self.shop = view.shop
        self.freshness = view.freshness
        self.camera_note = view.camera_note
        self.panel = view.panel
        self.notice_title = view.notice_title
        self.notice_window = view.notice_window
        self.ids.ranking.set_rows([asdict(line) for line in view.ranking])
        self.ids.notice.set_rows([asdict(line) for line in view.notice])
        self.ids.notice_scroll.scroll_y = 1
        self.ids.goods.set_rows([asdict(line) for line in view.goods])
