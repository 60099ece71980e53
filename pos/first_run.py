"""``PosFirstRunApp``: the till on a PC with no shop yet, which sets one up by touch and then steps aside.

``lovemart pos`` runs it when the shop's folder has no ledger; once the shopkeeper taps 开始使用 it stops,
and ``lovemart`` opens the real till on the new ledger. Like ``PosApp`` it only composes: the presenter
(``pos.presenters.setup``) arrives made, with the port that writes the shop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.factory import Factory
from kivy.uix.screenmanager import NoTransition

from ledger.messages import DEFAULT_LANG
from pos.presenters.setup import FirstRunPresenter
from ui.app import KitApp


class PosFirstRunApp(KitApp):
    title = "爱心超市 POS"

    def __init__(
        self,
        first_run: FirstRunPresenter,
        lang: str = DEFAULT_LANG,
        leave: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(lang=lang, **kwargs)
        self.first_run = first_run
        self.ready = False  # the shop was made and the shopkeeper asked to start: the till opens next
        # What 开始使用 does after ``ready``: end this app's loop (``lovemart pos`` then opens the till); a
        # test's window outlives its apps, so a test hands in its own.
        self._leave = leave if leave is not None else self.stop

    def load_kv(self, filename: str | None = None) -> bool:
        from pos.screens import load_kv

        load_kv()
        return True

    def build(self) -> Any:
        import pos.screens.setup  # noqa: F401  - registers the screen's classes with Kivy's Factory
        import pos.widgets  # noqa: F401  - PosRoot

        root = Factory.PosRoot()
        root.title_id = "pos.setup.title"
        root.show_menu = False
        screens = root.ids.screens
        screens.transition = NoTransition()
        screens.add_widget(Factory.PosSetupScreen(name="setup"))
        screens.add_widget(Factory.PosSetupDoneScreen(name="done"))
        self.bind(lang=self._on_lang)
        return root

    def _on_lang(self, *_args: Any) -> None:
        self.root.ids.screens.current_screen.on_language()

    def notify(self, text: str, kind: str = "info") -> None:
        self.root.ids.banner.show(text, kind)

    def shop_ready(self) -> None:
        self.ready = True
        self._leave()
