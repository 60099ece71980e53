"""ui.wrap_label.WrapLabel on a real offscreen Kivy window: Chinese lines broken by the 禁则, in the real font.

Kivy itself is imported inside the tests: ``tests.kivy_harness`` must set the offscreen environment before
the first ``import kivy`` (see tests/e2e/test_ui_kit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import kivy_harness as kh
from ui.linebreak import line_ends_badly, line_starts_badly
from ui.wrap_label import WrapLabel, measurer, register

SENTENCE = "本次兑换用了 14 分，剩余 169 分，小票号 S01-P1-003012。"
RECEIPT = "S01-P1-003012"
WIDTHS = (90, 121, 150, 173, 200, 237, 260, 300, 333, 401, 480, 560, 700)


@pytest.fixture
def win() -> Iterator[Any]:
    window = kh.reset_window()
    yield window
    kh.reset_window()


def rendered_lines(label: Any) -> list[str]:
    """The lines Kivy laid out, as its core label holds them after rendering."""
    return ["".join(word.text for word in line.words) for line in label._label._cached_lines]


def show(win: Any, **kwargs: Any) -> WrapLabel:
    label = WrapLabel(size_hint=(None, None), font_size=24, **kwargs)
    win.add_widget(label)
    kh.pump(2)
    return label


@pytest.mark.parametrize("text_size", [False, True], ids=["free", "text_size"])
@pytest.mark.parametrize("padding", [0, 9])
def test_lines_keep_the_rules_and_fit_at_every_width(win: Any, text_size: bool, padding: int) -> None:
    seen: set[tuple[str, ...]] = set()
    for width in WIDTHS:
        label = show(win, full_text=SENTENCE, width=width, padding=[padding, 4, padding, 4])
        if text_size:
            label.text_size = (width, None)
            kh.pump(2)
        lines = rendered_lines(label)
        # Kivy re-broke nothing: what it laid out is exactly what the label wrapped.
        assert lines == label.text.split("\n"), (width, lines)
        assert label.full_text == SENTENCE
        assert "".join(lines).replace(" ", "") == SENTENCE.replace(" ", "")
        for line in lines[1:]:
            assert not line_starts_badly(line), (width, lines)
        for line in lines:
            assert not line_ends_badly(line), (width, lines)
        assert any("169" in line for line in lines), (width, lines)
        assert any("14" in line for line in lines), (width, lines)
        _cached, exact = measurer(
            font_name=label.font_name,
            font_size=24,
            bold=False,
            italic=False,
            font_hinting=label.font_hinting,
            font_kerning=label.font_kerning,
        )
        if exact(RECEIPT + "。") <= label.wrap_width():
            assert any(RECEIPT in line for line in lines), (width, lines)
        assert label.texture_size[0] <= width, (width, label.texture_size)
        seen.add(tuple(lines))
        win.remove_widget(label)
    assert len(seen) >= 6  # the widths really gave different wrappings


def test_kivy_alone_cuts_the_receipt_number(win: Any) -> None:
    """Why the class exists: a plain Label at the same width cuts the code anywhere."""
    from kivy.uix.label import Label

    plain = Label(text=SENTENCE, font_size=24, size_hint=(None, None), width=150, text_size=(150, None))
    win.add_widget(plain)
    kh.pump(2)
    assert not any(RECEIPT in line for line in rendered_lines(plain))  # "S01-P1-00301" / "2。"
    ours = show(win, full_text=SENTENCE, width=150, text_size=(150, None))
    assert "S01-P1-" in rendered_lines(ours) and "003012。" in rendered_lines(ours)


def test_rewraps_when_width_font_or_text_change_and_adopts_a_text_set_directly(win: Any) -> None:
    label = show(win, full_text=SENTENCE, width=600)
    wide = rendered_lines(label)
    assert len(wide) == 2
    label.width = 200
    kh.pump(2)
    narrow = rendered_lines(label)
    assert len(narrow) > len(wide) and not any(line_starts_badly(line) for line in narrow[1:])
    label.font_size = 36
    kh.pump(2)
    assert len(rendered_lines(label)) > len(narrow)
    label.font_size = 24
    label.width = 600
    label.text = "剩余积分：169 分，谢谢！"  # someone sets text instead of full_text: it becomes the original
    kh.pump(2)
    assert label.full_text == "剩余积分：169 分，谢谢！" and label.text == label.full_text
    label.full_text = ""
    kh.pump(2)
    assert label.text == "" and label.texture_size[0] == 0
    label.full_text = SENTENCE
    label.width = 200
    label.rewrap()  # at once, without waiting for the frame
    assert label.text.split("\n") == narrow


def test_markup_is_left_to_kivy(win: Any) -> None:
    label = show(win, full_text="[b]本次兑换[/b]用了 14 分，剩余 169 分。", width=100, markup=True)
    assert label.text == label.full_text


def test_kv_rule_grows_with_its_lines_and_aligns(win: Any) -> None:
    from kivy.factory import Factory
    from kivy.lang import Builder

    register()
    register()  # idempotent
    assert Factory.get("WrapLabel") is WrapLabel
    root = Builder.load_string(
        """
BoxLayout:
    orientation: 'vertical'
    size_hint: None, None
    size: 230, 500
    WrapLabel:
        id: note
        full_text: '请保管好小票，小票号 S01-P1-003012。谢谢您对爱心超市的支持！'
        font_size: 24
        halign: 'center'
        text_size: self.width, None
        size_hint_y: None
        height: self.texture_size[1]
    Widget:
"""
    )
    win.add_widget(root)
    kh.pump(4)
    note = root.ids.note
    lines = rendered_lines(note)
    assert len(lines) >= 3 and lines == note.text.split("\n")
    assert not any(line_starts_badly(line) for line in lines[1:])
    assert note.height == note.texture_size[1] > 0 and note.texture_size[0] <= note.width == 230
    # centred: a short line starts further right than the longest one
    xs = [line.x for line in note._label._cached_lines]
    widths = [line.w for line in note._label._cached_lines]
    assert xs[widths.index(min(widths))] > xs[widths.index(max(widths))]
