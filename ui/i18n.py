"""Runtime translation for Kivy: ``_('msgid')`` in ``.kv`` files that re-renders when the language changes.

How it works: Kivy's kv parser treats ``_(`` specially — any rule whose expression calls ``_(...)`` also
watches the global name ``_`` (this is how Kivy's own i18n example works). ``Translator`` is installed as that
global; it is callable (``_('ui.ok')`` returns the text) and has a Kivy property literally named ``_`` that it
bumps whenever ``lang`` changes, so every watching rule re-evaluates and every label re-renders. Unlike an
observer list, property bindings are removed with their widgets, so nothing leaks when screens come and go.

In ``.kv``::

    Label:
        text: _('ui.pin_prompt')
    Label:
        text: _('kiosk.balance', balance=root.points)   # also re-renders when root.points changes

In Python, bind to ``translator.lang`` (or the app's ``lang``) and set texts again in the callback, or set
texts from a ``.kv`` rule so this happens for you.

The words are looked up in the gettext catalogues by ``ledger.messages.text``, which presenters use
without Kivy.
"""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import NumericProperty, OptionProperty

from ledger.messages import DEFAULT_LANG, LANGS, pick_language, text
from ui.messages import error_text


class Translator(EventDispatcher):  # type: ignore[misc]  # Kivy has no types: EventDispatcher is Any
    """Callable translator: ``translator('ui.ok')`` → "确定" or "OK" depending on ``lang``."""

    lang = OptionProperty(DEFAULT_LANG, options=list(LANGS))
    # Bumped on every language change; kv rules that call _() are bound to it (see the module docstring).
    _ = NumericProperty(0)

    def __call__(self, msgid: str, **params: Any) -> str:
        return text(msgid, self.lang, **params)

    tr = __call__

    def error(self, error: BaseException) -> str:
        """The person-facing text of an exception (ledger refusal, device fault, or a generic message)."""
        return error_text(error, self.lang)

    def switch(self, lang: str) -> None:
        """Change language; accepts any spelling ``pick_language`` knows (``zh_CN``, ``en-GB``…)."""
        self.lang = pick_language(lang)

    def refresh(self) -> None:
        """Make every ``_()`` rule evaluate again (after a language change, or ``ledger.messages.reload``)."""
        self._ += 1

    def on_lang(self, _instance: object, _value: str) -> None:
        self.refresh()


_translator: Translator | None = None


def translator() -> Translator:
    """The process-wide translator that ``.kv`` rules see as ``_`` (made on first use, not at import)."""
    global _translator
    if _translator is None:
        _translator = Translator()
    return _translator


def install_kv_globals() -> Translator:
    """Expose the translator to every ``.kv`` rule as ``_``. Idempotent.

    Only under ``_``: the kv parser watches ``_(`` and nothing else, so a rule written ``tr('ui.ok')`` would
    show the right text once and then never follow a language change — better not to offer that name.
    """
    from kivy.lang import global_idmap

    t = translator()
    global_idmap["_"] = t
    return t
