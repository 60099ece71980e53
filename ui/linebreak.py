"""Line breaking for Chinese (and mixed Chinese/Latin) text, by the CJK rules (禁则). Pure Python, no Kivy.

Why this exists: Kivy's ``Label`` breaks lines at spaces and, when a run without spaces is longer than the
line, cuts it at any character. Chinese has no spaces, so Kivy cuts a sentence wherever the width runs out:
a line can start with "，" or "、", end with "（", or a number such as 169 or a receipt number S01-P1-003012
can be cut in two. ``wrap`` breaks the text itself, so the label only ever receives lines that fit
(``ui.wrap_label.WrapLabel`` is the Kivy side). The rules, simplified from UAX #14 and the Chinese/Japanese
typesetting conventions (GB/T 15834, JIS X 4051):

- a hard break "\\n" always breaks ("\\r\\n", "\\r", U+2028 and U+2029 count as one too);
- a run of spaces is a break opportunity and is dropped when the line breaks there;
- a break is allowed between two characters when at least one of them is wide (Han, kana, Hangul, CJK
  punctuation, full-width forms: East Asian Width W or F);
- never inside a run of Latin letters, digits and their punctuation: "169", "12.50", "S01-P1-003012",
  "5kg", "×2", "+50", "−3" stay whole; such a run is cut only when it is wider than the line by itself
  (the last resort), and then preferably where the cut breaks no other rule;
- 禁则: a line never starts with a closing mark (``CLOSING``: "，。、；：？！）」』】》…·%,.;:?!)]" and the like)
  nor ends with an opening mark (``OPENING``: "（「『【《〈“‘([" and the like), not even across spaces. When
  the natural break falls before a closing mark, the break moves earlier and the last character of the line
  goes down with the mark ("push-out": never squeezing the mark into a full line);
- a number stays with its currency or sign before it ("￥12", "＋50") and with a unit after it ("5件",
  "169分", "3公斤"), and "第" stays with its number ("第3名");
- combining marks, variation selectors and joiners (ZWJ, WJ) are never separated from their neighbours;
  U+200B (zero-width space) is a break opportunity; no-break spaces (U+00A0, U+202F, U+2007) are not.

Speed: ``measure`` is called once per unbreakable unit and once per run of spaces (a line's width is the sum
of its pieces; Chinese fonts have no kerning worth re-measuring whole lines for), and per character only
for the last-resort cut. Caching ``measure`` (per font, size and string) is the caller's business.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache

Measure = Callable[[str], float]

#: A line must not start with one of these (line-start prohibited, "行首禁则").
CLOSING = frozenset(
    "，。、；：？！）」』】》〉〕〗〙〛｝］｠｣’”…‥·・％‰℃°′″々〻ゝゞヽヾーｰ"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "．｡､﹐﹑﹒﹔﹕﹖﹗︰﹚﹜﹞"
    ",.;:?!)]}%"
)
#: A line must not end with one of these (line-end prohibited, "行尾禁则").
OPENING = frozenset("（「『【《〈〔〖〘〚｛［｟｢“‘﹙﹛﹝([{")
#: Signs and currency symbols that stay with the digit after them (ASCII ones are inside a Latin run anyway).
PREFIXES = frozenset("￥＄￡￦＃＋－±$¥£€#+−-×第")
#: Units and measure words that stay with the number before them; several characters stay together.
UNITS = (
    "公斤",
    "千克",
    "毫升",
    "厘米",
    "毫米",
    "公里",
    "小时",
    "分钟",
    "周岁",
    *"元角分件个斤两克吨米升瓶袋包盒箱桶罐只支条根份张块双套本次位名人户口天周年月日时秒号岁点倍折度样",
)
_UNIT_FIRST = frozenset(unit[0] for unit in UNITS)
_UNITS_LONGEST_FIRST = tuple(sorted(UNITS, key=len, reverse=True))
HARD_BREAKS = ("\r\n", "\r", "\u2028", "\u2029")

_SPACE = 1  # a break opportunity, dropped at a break
_WIDE = 2  # East Asian Width W or F: breaks allowed around it
_DIGIT = 4
_CLOSE = 8
_OPEN = 16
_JOIN_BEFORE = 32  # never separated from the character before it (combining marks, selectors, ZWJ, WJ)
_JOIN_AFTER = 64  # never separated from the character after it (ZWJ, WJ)
_PREFIX = 128
_FULLWIDTH_ALNUM = 256  # Ａ–Ｚ, ａ–ｚ, ０–９: wide, but a run of them is a word like a Latin one
_NO_BREAK = 512  # no-break spaces: never a break on either side

_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")
_JOINERS = frozenset("\u200d\u2060\ufeff")  # ZWJ, word joiner, ZWNBSP


@lru_cache(maxsize=16384)
def _flags(ch: str) -> int:
    """The properties of one character that the rules look at, as a bit set."""
    flags = 0
    if ch == "\u200b" or ch == "\t" or (ch not in _NO_BREAK_SPACES and unicodedata.category(ch) == "Zs"):
        return _SPACE
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        flags |= _WIDE
    if "0" <= ch <= "9" or "０" <= ch <= "９":
        flags |= _DIGIT
    if "０" <= ch <= "９" or "Ａ" <= ch <= "Ｚ" or "ａ" <= ch <= "ｚ":
        flags |= _FULLWIDTH_ALNUM
    if ch in CLOSING:
        flags |= _CLOSE
    if ch in OPENING:
        flags |= _OPEN
    if ch in PREFIXES:
        flags |= _PREFIX
    if ch in _NO_BREAK_SPACES:
        flags |= _NO_BREAK
    if ch in _JOINERS:
        flags |= _JOIN_BEFORE | _JOIN_AFTER
    elif (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin-tone modifiers
        or "\U000e0100" <= ch <= "\U000e01ef"  # ideographic variation selectors
    ):
        flags |= _JOIN_BEFORE
    return flags


def _glued(a: int, b: int) -> bool:
    """True when no line may end between characters with flags ``a`` and ``b`` (neither of them a space),
    the number/unit rule aside (it needs to look further ahead)."""
    if b & (_CLOSE | _JOIN_BEFORE | _NO_BREAK) or a & (_OPEN | _JOIN_AFTER | _NO_BREAK):
        return True
    if not (a | b) & _WIDE:
        return True  # inside a run of Latin letters, digits and their punctuation
    if a & _PREFIX and b & _DIGIT:
        return True
    return bool(a & b & _FULLWIDTH_ALNUM)


def _split_paragraph(p: str) -> tuple[list[str], list[str]]:
    """``p`` (no hard breaks) as unbreakable units and the separator before each: "" where the break
    opportunity has nothing to drop (between two Chinese characters, and before the first unit), else the
    run of spaces dropped when the line breaks there. Trailing spaces come as a last unit "" after them."""
    n = len(p)
    flags = [_flags(ch) for ch in p]
    seps: list[str] = []
    units: list[str] = []
    sep = ""
    start = 0
    i = 0
    while i < n and flags[i] & _SPACE:  # leading spaces: an indent, part of the first unit
        i += 1
    glue_until = 0  # boundaries before this index are inside a number's unit ("公斤")
    if i < n:
        i += 1
    while i < n:
        f = flags[i]
        if f & _SPACE:
            j = i
            while j < n and flags[j] & _SPACE:
                j += 1
            if j == n:  # trailing spaces: kept when they fit, dropped (a break) when they do not
                seps.append(sep)
                units.append(p[start:i])
                sep, start = p[i:j], j
                break
            before, after = flags[i - 1], flags[j]
            if before & (_OPEN | _JOIN_AFTER | _NO_BREAK) or after & (_CLOSE | _JOIN_BEFORE | _NO_BREAK):
                i = j + 1  # "（ x" and "x ，": the spaces stay inside the unit, no break there
                continue
            seps.append(sep)
            units.append(p[start:i])
            sep, start = p[i:j], j
            i = j + 1
            continue
        before = flags[i - 1]
        if before & _SPACE or i < glue_until or _glued(before, f):
            i += 1
            continue
        if before & _DIGIT and p[i] in _UNIT_FIRST:
            unit = next((u for u in _UNITS_LONGEST_FIRST if p.startswith(u, i)), "")
            if unit:
                glue_until = i + len(unit)
                i += 1
                continue
        seps.append(sep)
        units.append(p[start:i])
        sep, start = "", i
        i += 1
    seps.append(sep)
    units.append(p[start:])
    return seps, units


def _paragraphs(text: str) -> list[str]:
    for hard in HARD_BREAKS:
        if hard in text:
            text = text.replace(hard, "\n")
    return text.split("\n")


def _clusters(unit: str) -> list[str]:
    """``unit`` as characters, each with the combining marks and joined characters that follow it."""
    out: list[str] = []
    for ch in unit:
        if out and (_flags(ch) & _JOIN_BEFORE or _flags(out[-1][-1]) & _JOIN_AFTER):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _cut(unit: str, width: float, measure: Measure) -> list[tuple[str, float]]:
    """The last resort: ``unit`` is wider than a line by itself, so cut it into pieces that fit (at least one
    character each), choosing, within what fits, the last cut that starts no piece with a closing mark and
    ends none with an opening mark, and that does not split a number when another cut would do."""
    clusters = _clusters(unit)
    widths = [measure(c) for c in clusters]
    pieces: list[tuple[str, float]] = []
    s = 0
    n = len(clusters)
    while s < n:
        total = widths[s]
        e = s + 1
        while e < n and total + widths[e] <= width + _EPS:
            total += widths[e]
            e += 1
        if e < n:
            e = _best_cut(clusters, s, e)
        piece = clusters[s:e]
        pieces.append(("".join(piece), sum(widths[s:e])))
        s = e
        while s < n and _flags(clusters[s][0]) & _SPACE:
            s += 1  # spaces kept inside the unit ("x ，") are dropped where the cut breaks the line
    return pieces


def _best_cut(clusters: list[str], s: int, e: int) -> int:
    """Among the cuts s+1..e (all of them fit), the last one that keeps the 禁则, moved back to keep the digits
    of a number together if that costs at most half the piece; ``e`` when no cut keeps the 禁则."""
    kinsoku_ok = 0
    floor = s + (e - s) // 2
    for k in range(e, s, -1):
        before, after = _flags(clusters[k - 1][-1]), _flags(clusters[k][0])
        if before & _OPEN or after & _CLOSE:
            continue
        if not before & after & _DIGIT:
            return k
        if not kinsoku_ok:
            kinsoku_ok = k
        if k <= floor:
            break
    return kinsoku_ok or e


_EPS = 1e-6


def _wrap_paragraph(p: str, width: float, measure: Measure, lines: list[tuple[str, float]]) -> None:
    seps, units = _split_paragraph(p)
    parts: list[str] = []
    line_w = 0.0
    for k, (sep, unit) in enumerate(zip(seps, units, strict=True)):
        unit_w = measure(unit) if unit else 0.0
        if k:
            sep_w = measure(sep) if sep else 0.0
            if line_w + sep_w + unit_w <= width + _EPS:
                parts.append(sep)
                parts.append(unit)
                line_w += sep_w + unit_w
                continue
            if not unit:
                continue  # trailing spaces that do not fit: the paragraph ends, so they are dropped at a break
            lines.append(("".join(parts), line_w))
        if unit_w <= width + _EPS or len(unit) <= 1:
            parts, line_w = [unit], unit_w
            continue
        pieces = _cut(unit, width, measure)
        lines.extend(pieces[:-1])
        parts, line_w = [pieces[-1][0]], pieces[-1][1]
    lines.append(("".join(parts), line_w))


def wrap_measured(text: str, width: float, measure: Measure) -> list[tuple[str, float]]:
    """``wrap``, with each line's width as the sum of its measured pieces."""
    lines: list[tuple[str, float]] = []
    for p in _paragraphs(text):
        _wrap_paragraph(p, width, measure, lines)
    return lines


def wrap(text: str, width: float, measure: Measure) -> list[str]:
    """``text`` broken into lines no wider than ``width``, by the rules in the module docstring.

    ``measure(s)`` gives the rendered width of ``s`` (in the same unit as ``width``). Hard breaks are kept
    (each gives a line; an empty text gives ``[""]``), so ``"\\n".join(wrap(...))`` is what to render. A line
    is wider than ``width`` only when a single character is. The spaces at a break are dropped; nothing else
    is added or removed.
    """
    return [line for line, _width in wrap_measured(text, width, measure)]


def unbreakable_units(text: str) -> list[str]:
    """The pieces of ``text`` that no line break may split (by the rules; the last resort aside), in order,
    without the spaces at the break opportunities between them."""
    out: list[str] = []
    for p in _paragraphs(text):
        out.extend(unit for unit in _split_paragraph(p)[1] if unit)
    return out


def min_width(text: str, measure: Measure) -> float:
    """The narrowest line ``text`` can be wrapped to without the last-resort cut: its widest unbreakable unit."""
    return max((measure(unit) for unit in unbreakable_units(text)), default=0.0)


def line_starts_badly(line: str) -> bool:
    """True when ``line`` starts with a closing mark ("，", "。", "）"…) or a combining mark: 禁则 broken."""
    return bool(line) and bool(_flags(line[0]) & (_CLOSE | _JOIN_BEFORE))


def line_ends_badly(line: str) -> bool:
    """True when ``line`` ends with an opening mark ("（", "「", "“"…): 禁则 broken."""
    return bool(line) and bool(_flags(line[-1]) & (_OPEN | _JOIN_AFTER))
