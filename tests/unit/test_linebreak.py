"""ui.linebreak: Chinese line breaking by the 禁则, measured with a fake font (no Kivy)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ui.linebreak import (
    CLOSING,
    OPENING,
    line_ends_badly,
    line_starts_badly,
    min_width,
    unbreakable_units,
    wrap,
)

SPACES = " \t\u3000\u200b"
SENTENCE = "本次兑换用了 14 分，剩余 169 分，小票号 S01-P1-003012。"


def measure(text: str) -> float:
    """A fake monospaced font: a wide (CJK) character is 1.0, anything else 0.5."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.5 for ch in text)


def counted(calls: list[str]):
    def m(text: str) -> float:
        calls.append(text)
        return measure(text)

    return m


def rejoin(text: str, lines: list[str]) -> list[int]:
    """Assert that ``lines`` are ``text`` in order, with only spaces dropped, and only where a line ends,
    and every hard break kept. Returns where each line starts in ``text``."""
    pos = 0
    starts: list[int] = []
    for n, line in enumerate(lines):
        assert "\n" not in line
        assert text.startswith(line, pos), (text[pos:], line)
        starts.append(pos)
        pos += len(line)
        if n == len(lines) - 1:
            break
        while pos < len(text) and text[pos] in SPACES:
            pos += 1
        if pos < len(text) and text[pos] == "\n":
            pos += 1
    while pos < len(text) and text[pos] in SPACES:
        pos += 1  # trailing spaces that did not fit
    assert pos == len(text)
    assert len(lines) >= text.count("\n") + 1
    return starts


# ---------------------------------------------------------------- examples


def test_no_line_starts_with_a_comma_even_when_the_natural_break_falls_before_it() -> None:
    text = "我们今天去了超市，买了很多东西。"
    # "我们今天去了超市" fills 8: a naive break puts the comma first on the second line. Push-out: "市" goes
    # down with it; "西。" likewise.
    assert wrap(text, 8, measure) == ["我们今天去了超", "市，买了很多东", "西。"]
    for comma in "，。、；：？！）」』】》…":
        text = "一二三四五六七八" + comma + "九十"
        lines = wrap(text, 8, measure)
        assert lines == ["一二三四五六七", "八" + comma + "九十"], comma
        rejoin(text, lines)


def test_an_opening_bracket_never_ends_a_line() -> None:
    for bracket, close in ("（）", "「」", "《》", "【】", "“”", "()"):
        text = "一二三四五六七" + bracket + "备注" + close
        lines = wrap(text, 8, measure)
        assert not any(line_ends_badly(line) for line in lines), lines
        assert lines[0] == "一二三四五六七", bracket
        assert lines[1].startswith(bracket + "备")


def test_numbers_and_codes_stay_whole() -> None:
    for width in (3, 4, 5, 6, 7, 8, 10, 12, 20):
        lines = wrap(SENTENCE, width, measure)
        rejoin(SENTENCE, lines)
        if width >= 7.5:  # the receipt number with its full stop fits on a line
            assert any("S01-P1-003012" in line for line in lines), lines
        assert any("169" in line for line in lines), lines
        assert any("14" in line for line in lines), lines
        assert not any(line_starts_badly(line) for line in lines), (width, lines)
    for text in ("单价 12.50 元", "单价12.50元", "可乐×2，雪碧+50，积分−3", "大米5kg一袋"):
        for width in (3, 4, 5):
            joined = "|".join(wrap(text, width, measure))
            for token in ("12.50", "×2", "+50", "−3", "5kg"):
                if token in text:
                    assert token in joined, (token, width, joined)


def test_a_number_stays_with_its_unit_prefix_and_ordinal() -> None:
    assert unbreakable_units("共5公斤，合￥12.50元，第3名") == ["共", "5公斤，", "合", "￥12.50元，", "第3名"]
    assert "169分，" in unbreakable_units("剩余169分，谢谢")


def test_spaces_break_and_are_dropped_at_the_break() -> None:
    assert wrap("apple banana cherry", 4, measure) == ["apple", "banana", "cherry"]
    assert wrap("apple banana", 100, measure) == ["apple banana"]
    assert wrap("苹果  香蕉", 2, measure) == ["苹果", "香蕉"]
    # Not before a closing mark nor after an opening one, even across a space.
    assert wrap("一二三 ，四", 3.5, measure) == ["一二", "三 ，四"]
    assert wrap("一二（ 三四", 3.5, measure) == ["一二", "（ 三四"]


def test_hard_breaks_are_kept() -> None:
    assert wrap("第一行\n第二行", 10, measure) == ["第一行", "第二行"]
    assert wrap("甲\n\n乙", 10, measure) == ["甲", "", "乙"]
    assert wrap("甲\r\n乙\r丙", 10, measure) == ["甲", "乙", "丙"]
    assert wrap("", 10, measure) == [""]
    text = "一二三四五\n六七八九十，好"
    lines = wrap(text, 3, measure)
    assert lines == ["一二三", "四五", "六七八", "九十，", "好"]


def test_a_latin_run_longer_than_the_line_is_cut_as_a_last_resort() -> None:
    lines = wrap("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4, measure)
    assert lines == ["ABCDEFGH", "IJKLMNOP", "QRSTUVWX", "YZ"]
    # The cut prefers a place that splits no number and starts no line with a mark.
    assert wrap("号S01-P1-003012。", 3, measure) == ["号", "S01-P1", "-00301", "2。"]
    assert wrap("https://example.com/a/b", 100, measure) == ["https://example.com/a/b"]


def test_widths_are_never_exceeded_except_by_the_last_resort() -> None:
    text = SENTENCE * 3 + "\n" + "（备注：“今天”的积分、明天的积分。）" * 2
    for tenths in range(10, 200, 7):
        width = tenths / 10
        lines = wrap(text, width, measure)
        rejoin(text, lines)
        fits = min_width(text, measure) <= width
        for line in lines:
            assert measure(line) <= width or len(line) == 1
        if fits:
            assert not any(line_starts_badly(line) or line_ends_badly(line) for line in lines), (width, lines)


def test_combining_marks_and_joiners_stay_with_their_character() -> None:
    text = "一二三e\u0301\u0301四"  # e + two combining acute accents
    assert all(not line.startswith("\u0301") for w in (1, 2, 3) for line in wrap(text, w, measure))
    assert unbreakable_units("好\u2060好") == ["好\u2060好"]  # word joiner
    assert unbreakable_units("价\u00a0格") == ["价\u00a0格"]  # no-break space
    assert wrap("一二\u200b三四", 2, measure) == ["一二", "三四"]  # zero-width space: a break, dropped


def test_importing_linebreak_loads_no_kivy() -> None:
    code = "import sys, ui.linebreak; sys.exit(1 if 'kivy' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2]).returncode == 0


def test_helpers() -> None:
    assert line_starts_badly("，好") and line_starts_badly("、") and line_starts_badly(")x")
    assert not line_starts_badly("好，") and not line_starts_badly("")
    assert line_ends_badly("好（") and line_ends_badly("“") and not line_ends_badly("（好")
    assert not line_ends_badly("")
    assert set("，。、；：？！）」』】》〉…·%,.;:?!)]") <= CLOSING
    assert set("（「『【《〈“‘([") <= OPENING


def test_measure_is_called_per_unit_not_per_prefix() -> None:
    text = "本次兑换用了十四分，剩余一百六十九分，" * 10
    calls: list[str] = []
    wrap(text, 7, counted(calls))
    assert len(calls) <= len(text)  # one call per unit (or space run): no re-measuring of whole lines
    assert max(map(len, calls)) <= 2


# ---------------------------------------------------------------- property

CJK = "本次兑换用了分剩余小票号元件斤积分商品爱心超市"
MARKS = "，。、；：？！）」』】》〉…·%,.;:?!)]（「『【《〈“‘([￥\u3000\u200b"
LATIN = "0123456789abcXYZ-."
pieces = st.one_of(
    st.text(alphabet=CJK, min_size=1, max_size=4),
    st.sampled_from(list(MARKS)),
    st.text(alphabet=LATIN, min_size=1, max_size=8),
    st.sampled_from([" ", "  ", "\n", "×2", "+50", "12.50", "169", "5kg", "S01-P1-003012"]),
)
texts = st.lists(pieces, max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=texts, width=st.integers(min_value=2, max_value=40).map(lambda w: w / 2))
@example(text=SENTENCE, width=4.0)
@example(text="一二三四五六七八，九十", width=8.0)
def test_property_lines_fit_keep_the_rules_and_give_back_the_text(text: str, width: float) -> None:
    lines = wrap(text, width, measure)
    for line in lines:
        assert measure(line) <= width or len(line) == 1, (line, width)
    if min_width(text, measure) > width:
        return  # an unbreakable unit is cut: the rules may then be unkeepable
    starts = rejoin(text, lines)
    paragraph_starts = {0} | {i + 1 for i, ch in enumerate(text) if ch == "\n"}
    paragraph_ends = {len(text)} | {i for i, ch in enumerate(text) if ch == "\n"}
    for line, pos in zip(lines, starts, strict=True):
        if line_starts_badly(line):
            assert pos in paragraph_starts, (line, lines)  # only where the text itself starts a line so
        if line_ends_badly(line):
            end = pos + len(line)
            assert end in paragraph_ends or text[end:].lstrip(" ")[:1] in ("\n", ""), (line, lines)
