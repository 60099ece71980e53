"""Every word the software says to a person, looked up by key in the gettext catalogues under ``locale/``.

One mechanism for the CLI, both apps, the server's error bodies and the console:

- Code says *what* to say, never the words: a refusal carries a stable ``code`` and parameters
  (``LedgerError("insufficient_points", needed=30, redeemable=12)``), a screen asks for a key
  (``text("pos.next_customer", lang)``). Error codes are their own message ids (no dot); every other text
  has a dotted key naming where it belongs (``ui.ok``, ``pos.redeemed``, ``kiosk.balance``).
- The words live in ``locale/zh_CN/LC_MESSAGES/lovemart.po`` and ``locale/en/LC_MESSAGES/lovemart.po``, both
  complete, with ``str.format`` placeholders (``{needed}``); ``make messages`` extracts the keys with Babel,
  merges them into both catalogues and compiles the ``.mo`` files read here with the standard library.
- One way to pick a language: ``pick_language`` turns any spelling (``zh_CN``, ``zh-Hans``, ``en_US.UTF-8``)
  into ``"zh"`` or ``"en"``. Nothing else looks at a language string.

A parameter that is itself a message (a ``Message``, a refusal, anything with ``message(lang)``) is said in
the same language as the text around it, so "sync conflict: <the ledger's reason>" reads in one language.

Lookups are a dictionary access on a catalogue loaded once per language and process (the kiosk and the POS
look texts up on every redraw). A key missing from a catalogue comes back as the key itself, logged once:
a missing word must not stop a till in the middle of a sale (``tests/unit/test_messages.py`` keeps it from
happening).

The core imports only the standard library, so this module does too; Babel is a development tool.
"""

from __future__ import annotations

import gettext
import logging
import os
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

log = logging.getLogger(__name__)

DOMAIN = "lovemart"
LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
# The language codes the program uses -> the catalogue directory under locale/ (gettext's names).
CATALOGUE_DIRS = {"zh": "zh_CN", "en": "en"}
LOCALE_ENV = "LOVEMART_LOCALE_DIR"  # where the catalogues are, when not beside the code (an unusual install)


def pick_language(value: object) -> str:
    """The program's language for any spelling of one: ``"zh"`` or ``"en"``.

    ``zh``, ``zh_CN``, ``zh-Hans``, ``zh_TW`` -> ``"zh"`` (the catalogue is Simplified Chinese);
    ``en``, ``en_US``, ``en-GB``, ``en_US.UTF-8`` -> ``"en"``; anything else (empty, ``C``, ``fr``, None) is
    the default, Simplified Chinese, which every villager and shopkeeper reads.
    """
    low = str(value or "").strip().lower().replace("-", "_")
    if low == "en" or low.startswith("en_") or low.startswith("en."):
        return "en"
    return DEFAULT_LANG


def locale_dir() -> Path:
    """The ``locale/`` directory: ``$LOVEMART_LOCALE_DIR``, else the one at the top of the source tree."""
    configured = os.environ.get(LOCALE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "locale"


def N_(key: str) -> str:
    """Mark a key for extraction where it is named but not yet looked up (a table, a default). Returns it."""
    return key


_lock = threading.Lock()
_catalogues: dict[str, Mapping[str, str]] = {}
_warned: set[str] = set()


def _load(lang: str) -> Mapping[str, str]:
    path = locale_dir() / CATALOGUE_DIRS[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as fp:
            translations = gettext.GNUTranslations(fp)
    except OSError:
        log.error("no message catalogue at %s: texts show as their keys", path)
        return {}
    # GNUTranslations keeps the parsed catalogue in ``_catalog``; a plain dict makes each lookup one ``get``.
    catalogue: dict[str, str] = {}
    for key, value in getattr(translations, "_catalog", {}).items():
        if isinstance(key, str) and key:  # skip the header (msgid "") and plural tuples
            catalogue[key] = value
    return catalogue


def catalogue(lang: str) -> Mapping[str, str]:
    """Key -> template for a language (any spelling), loaded from its ``.mo`` once per process."""
    code = pick_language(lang)
    found = _catalogues.get(code)
    if found is None:
        with _lock:
            found = _catalogues.get(code)
            if found is None:
                found = _catalogues[code] = _load(code)
    return found


def reload() -> None:
    """Forget the loaded catalogues (after ``make messages`` in a long-running process, or in tests)."""
    with _lock:
        _catalogues.clear()
        _warned.clear()


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalogue(lang)


def template(key: str, lang: str = DEFAULT_LANG) -> str:
    """The unfilled text of ``key``; the key itself (logged once) if the catalogue lacks it."""
    found = catalogue(lang).get(key)
    if found is None:
        if key not in _warned:
            _warned.add(key)
            log.warning("no text for message %r in %s", key, pick_language(lang))
        return key
    return found


def text(key: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
    """The text of ``key`` in ``lang``, filled with ``params`` (messages among them said in ``lang`` too).

    A template that cannot be filled (a parameter missing) is returned unfilled and logged, never raised:
    the words may be wrong, the sale must not fail.
    """
    found = template(key, lang)
    if not params:
        return found
    try:
        return found.format_map(_said(params, lang))
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        log.warning("message %r could not be filled with %r", key, sorted(params))
        return found


@runtime_checkable
class Spoken(Protocol):
    """Anything that can say itself in a language: a ``Message``, a refusal, a device fault."""

    def message(self, lang: str = DEFAULT_LANG) -> str: ...


def _said(params: Mapping[str, Any], lang: str) -> dict[str, Any]:
    return {name: _in(value, lang) for name, value in params.items()}


def _in(value: Any, lang: str) -> Any:
    if isinstance(value, str | int):  # nearly every parameter: no protocol check on the kiosk's redraws
        return value
    return value.message(lang) if isinstance(value, Spoken) else value


class Message:
    """A key and its parameters, said later in whatever language the reader has (``message(lang)``).

    What a presenter returns for a screen to show, or what a refusal passes as a parameter of another:
    ``Message("history.award", memo="志愿服务")``.
    """

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return text(self.key, lang, **self.params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (other.key, other.params) == (self.key, self.params)

    __hash__ = None  # type: ignore[assignment]  # parameters may be lists

    def __repr__(self) -> str:
        return f"Message({self.key!r}, **{self.params!r})"

    def __str__(self) -> str:
        return self.message(DEFAULT_LANG)


@dataclass(frozen=True)
class Listing:
    """Several texts said as one list in the reader's language: "大米、食用油" or "rice, oil"."""

    items: tuple[Any, ...]
    separator: str = N_("list.separator")  # a key: "、" in Chinese, ", " in English

    @classmethod
    def of(cls, items: Iterable[Any], separator: str = N_("list.separator")) -> Listing:
        return cls(tuple(items), separator)

    def message(self, lang: str = DEFAULT_LANG) -> str:
        parts = [str(_in(item, lang)) for item in self.items]
        return template(self.separator, lang).join(parts)


class Said:
    """Words another process already said in both languages: a text on the wire or in a stored record.

    Only for boundaries where text arrives already said (a remote kiosk's history from an older server, the
    sync failure an earlier run recorded); everything made in this process is a ``Message`` or a refusal.
    """

    def __init__(self, zh: str, en: str = "") -> None:
        self.texts = {"zh": zh or en, "en": en or zh}

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return self.texts[pick_language(lang)]

    def __repr__(self) -> str:
        return f"Said({self.texts['zh']!r}, {self.texts['en']!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Said) and other.texts == self.texts

    def __hash__(self) -> int:
        return hash((self.texts["zh"], self.texts["en"]))


class Coded:
    """The one message implementation of every refusal and fault: a stable ``code`` and its ``params``.

    The code is the message id (prefixed by the class's ``key_prefix`` where codes of different kinds could
    share a name, as the authority rule's do). Subclasses say nothing of words; the catalogues do.
    """

    code: str
    params: dict[str, Any]
    key_prefix: ClassVar[str] = ""

    @property
    def key(self) -> str:
        return self.key_prefix + self.code

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return text(self.key, lang, **{"code": self.code, **self.params})

    def placeholders(self) -> set[str]:
        """The parameter names the catalogue's text for this code uses (tests, and clients that fill them)."""
        return placeholders(template(self.key, DEFAULT_LANG))


class CodedError(Coded, Exception):
    """An exception that is a ``Coded`` message; ``str()`` is the English text (logs, tracebacks)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    def __str__(self) -> str:
        return self.message("en")


def placeholders(template_text: str) -> set[str]:
    """The field names of a ``str.format`` template: ``"{name} × {qty:d}"`` -> ``{"name", "qty"}``."""
    names = set()
    for _literal, name, _spec, _conversion in string.Formatter().parse(template_text):
        if name:
            names.add(name.split(".")[0].split("[")[0])
    return names
