"""The kit's own words, in Simplified Chinese and English, and the lookup every app uses.

Plain Python on purpose: presenters (which never import Kivy) can turn a message id into text with the same
catalogue the screens use, and tests can check the catalogue without a window. The Kivy side that re-renders
labels when the language changes lives in ``ui.i18n``.

A message is ``msgid -> (zh, en)``; templates take ``str.format`` keyword parameters. Apps add their own
catalogues with ``Catalog.add`` (the POS and kiosk each keep theirs next to their screens).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ledger.errors import DeviceFault, LedgerError

log = logging.getLogger(__name__)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

# Keep the Chinese short and plain: many villagers read slowly, and a button label must fit one line.
MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("爱心超市", "Love Supermarket"),
    "ok": ("确定", "OK"),
    "cancel": ("取消", "Cancel"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "back": ("返回", "Back"),
    "close": ("关闭", "Close"),
    "confirm_title": ("请确认", "Please confirm"),
    "keypad_clear": ("清除", "Clear"),
    "keypad_backspace": ("退格", "Del"),
    "keypad_prompt": ("请输入数字", "Enter a number"),
    "pin_prompt": ("请输入密码", "Enter your PIN"),
    "quantity_prompt": ("请输入数量", "Enter the quantity"),
    "household_prompt": ("请输入户号", "Enter the household number"),
    # The button shows the language it switches *to*, written in that language, so a person who cannot
    # read the current one still finds their own.
    "language_switch": ("English", "中文"),
    "please_wait": ("请稍候……", "Please wait…"),
    "unexpected_error": (
        "出了点问题，这次操作没有完成。请重试，或联系管理员。",
        "Something went wrong and this was not done. Try again or call the administrator.",
    ),
    "status_ready": ("就绪", "Ready"),
    "status_offline": ("未联网", "Offline"),
    "scan_prompt": ("请扫描积分存折", "Please scan your passbook"),
}


def normalise_lang(lang: str) -> str:
    """``zh``, ``zh_CN``, ``zh-Hans`` → ``zh``; anything English → ``en``; the rest → the default.

    Settings files and environment variables spell languages many ways; the UI only knows two.
    """
    low = (lang or "").lower()
    if low.startswith("en"):
        return "en"
    return DEFAULT_LANG


class Catalog:
    """``msgid -> (zh, en)`` with app catalogues merged in; looks messages up in either language."""

    def __init__(self, messages: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._messages: dict[str, tuple[str, str]] = dict(MESSAGES if messages is None else messages)
        self._warned: set[str] = set()

    def add(self, messages: Mapping[str, tuple[str, str]]) -> None:
        """Merge an app's messages. The same id with *different* text is refused: two screens would
        silently disagree about what a word means, and whichever loaded last would win."""
        for msgid, pair in messages.items():
            if len(pair) != 2:
                raise ValueError(f"message {msgid!r} needs exactly (zh, en), got {pair!r}")
            known = self._messages.get(msgid)
            if known is not None and tuple(known) != tuple(pair):
                raise ValueError(f"message {msgid!r} is already defined differently: {known!r} vs {pair!r}")
            self._messages[msgid] = (pair[0], pair[1])

    def __contains__(self, msgid: object) -> bool:
        return msgid in self._messages

    def ids(self) -> list[str]:
        return sorted(self._messages)

    def text(self, msgid: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
        """The message in ``lang``, filled with ``params``.

        An unknown id comes back as the id itself (logged once) rather than raising: a missing translation
        must not take a till down in the middle of a sale, and the id on screen is easy to report.
        """
        pair = self._messages.get(msgid)
        if pair is None:
            if msgid not in self._warned:
                self._warned.add(msgid)
                log.warning("no translation for message id %r", msgid)
            return msgid
        template = pair[1] if normalise_lang(lang) == "en" else pair[0]
        if not params:
            return template
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            log.warning("message %r could not be filled with %r", msgid, sorted(params))
            return template


def error_text(error: BaseException, lang: str = DEFAULT_LANG, catalog: Catalog | None = None) -> str:
    """What to show a person for ``error``.

    Ledger refusals and device faults carry their own zh/en message (``.message(lang)``). Anything else is a
    bug or an environment problem whose text means nothing to a shopkeeper (and may leak paths), so it gets a
    generic message; the caller logs the exception for the technician.
    """
    if isinstance(error, LedgerError | DeviceFault):
        return error.message(normalise_lang(lang))
    return (catalog or Catalog()).text("unexpected_error", lang)
