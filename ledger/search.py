"""Finding goods by the first letters of their pinyin: "DM" finds 大米, "XYF" finds 洗衣粉.

A shopkeeper who cannot see an item among forty tiles types what any Chinese phone user types on a
keyboard: the first letter of each syllable. No one types Chinese at the till (DESIGN §7), and a letter pad
of 26 keys is as large as a touch keypad can be and still be used by an older finger.

Why a list of spellings and not one: a character read two ways (行 xíng/háng, 长 cháng/zhǎng) gets both
initials, unless pypinyin's phrase table knows the word (长城 is only "CC"), so a shopkeeper's reading is
found either way. Letters and digits in a name (A4纸, 5号电池) stand for themselves; spaces and
punctuation are skipped, as they are when typing.

pypinyin is imported on first use: its tables take about 0.1 s to load, which a till pays once, on a
worker, before anyone searches (``Catalog.warm``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

MAX_SPELLINGS = 16  # a name of many two-way characters would multiply out; these cover every real item
MAX_QUERY = 12


def query_letters(text: str) -> str:
    """What a search means: the ASCII letters and digits of ``text``, upper case ("d m" → "DM")."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())[:MAX_QUERY]


def initials(name: str) -> tuple[str, ...]:
    """Every spelling of ``name`` by first letters ("大米 10kg袋" → ("DM10KGD",)), most likely first."""
    from pypinyin import Style, pinyin  # lazily: see the module's docstring

    choices: list[list[str]] = []
    for syllables in pinyin(name, style=Style.FIRST_LETTER, heteronym=True, errors="default"):
        letters: list[str] = []
        for syllable in syllables:
            spelled = query_letters(syllable)
            if spelled and spelled not in letters:
                letters.append(spelled)
        if letters:
            choices.append(letters)
    spellings = ("".join(parts) for parts in itertools.product(*choices))
    return tuple(itertools.islice(spellings, MAX_SPELLINGS))


@dataclass(frozen=True)
class Searchable:
    """One item as the search sees it: its name's spellings, its sku and its product barcode."""

    spellings: tuple[str, ...]
    sku: str
    barcode: str

    @classmethod
    def of(cls, name: str, sku: str, barcode: str | None) -> Searchable:
        return cls(initials(name), sku.upper(), (barcode or "").strip())

    def rank(self, query: str) -> int | None:
        """How well ``query`` (from ``query_letters``) names this item, lower is better; None: it does not.

        0: the name starts with it (DM → 大米); 1: a word inside the name does (M → 大米);
        2: the sku starts with it; 3: the digits are part of the product barcode (a worn label).
        """
        if not query:
            return None
        if any(s.startswith(query) for s in self.spellings):
            return 0
        if any(query in s for s in self.spellings):
            return 1
        if self.sku.startswith(query):
            return 2
        if query.isdigit() and len(query) >= 4 and query in self.barcode:
            return 3
        return None
