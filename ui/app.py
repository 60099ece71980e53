"""``KitApp``: the App base class of the POS and the kiosk.

It does, in this order and before ``build``: register the CJK font as Kivy's default (a label built before
that would draw boxes), expose ``_`` and ``theme`` to ``.kv`` rules, load ``widgets.kv``. While running it
keeps the theme following the window height and forwards its ``lang`` property to the translator, so

    app.lang = "en"

re-renders every ``_('msgid')`` in every ``.kv`` rule. ``app.tr('msgid', **params)`` gives the same text in
Python (for logs, toasts, banners) — in ``.kv`` use ``_()``, which the kv parser knows to re-evaluate.

The POS and the kiosk name their classes ``PosApp`` / ``KioskApp`` so Kivy auto-loads ``pos.kv`` /
``kiosk.kv`` from their package (PITFALLS: the file is the class name, lower case, without ``App``).
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import ObjectProperty, OptionProperty

from ledger.messages import DEFAULT_LANG, LANGS, pick_language
from ui import theme as _theme
from ui.i18n import Translator, translator
from ui.widgets import install_kit


class KitApp(App):
    """App with the kit installed: fonts, translations (``lang``, ``tr``), theme, kit widgets."""

    lang = OptionProperty(DEFAULT_LANG, options=list(LANGS))
    translator = ObjectProperty(None, rebind=True)
    theme = ObjectProperty(None, rebind=True)

    def __init__(self, lang: str = DEFAULT_LANG, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self.translator = translator()
        self.theme = _theme.theme()
        self.lang = pick_language(lang)
        self.translator.lang = self.lang  # on_lang does not fire when the value equals the default

    def on_lang(self, _instance: object, lang: str) -> None:
        if self.translator is not None:
            self.translator.lang = lang

    def tr(self, msgid: str, **params: Any) -> str:
        """The message in the current language (Python side; ``.kv`` rules use ``_()``)."""
        return str(self.translator(msgid, **params))

    def error_text(self, error: BaseException) -> str:
        """Person-facing text for an exception (see ``ui.messages.error_text``)."""
        t: Translator = self.translator
        return t.error(error)

    def on_start(self) -> None:
        from kivy.core.window import Window

        Window.clearcolor = _theme.BACKGROUND
        self.theme.follow_window(Window)

    def on_stop(self) -> None:
        self.theme.unfollow_window()
