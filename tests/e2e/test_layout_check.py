"""The layout checker (``lovemart_tools.layout_check``) on small widget trees built by hand in the shared
offscreen window: every rule fires on a bad case and stays silent on its good twin.

Kivy is imported inside the tests: ``tests.kivy_harness`` must set the offscreen environment before the first
``import kivy`` (see ``tests/e2e/test_ui_kit.py``). ``install_kit`` registers the CJK font as Kivy's default
before any label renders, so the widths measured here are those of the shop's Chinese text.
"""

from __future__ import annotations

from typing import Any

import pytest

from lovemart_tools.layout_check import LayoutProblem, check_window, format_problems
from tests import kivy_harness as kh
from ui.widgets import install_kit

FONT = 24  # above both minimums, so only the rule under test can fire


@pytest.fixture(autouse=True)
def window() -> Any:
    win = kh.reset_window()
    install_kit()
    yield win
    kh.reset_window()


def show(root: Any, **minimums: float) -> list[LayoutProblem]:
    """Put ``root`` alone in the window, let layouts and textures settle, check it."""
    from kivy.core.window import Window

    Window.add_widget(root)
    kh.pump(3)
    return check_window(**minimums)


def kinds(problems: list[LayoutProblem]) -> list[str]:
    return [p.kind for p in problems]


def label(text: str, **kwargs: Any) -> Any:
    from kivy.uix.label import Label

    return Label(text=text, font_size=kwargs.pop("font_size", FONT), **kwargs)


def test_text_longer_than_its_label_is_cut() -> None:
    from kivy.lang import Builder

    tree = """
BoxLayout:
    Label:
        id: total
        text: '本次兑换已经完成，谢谢您的支持'
        font_size: 24
        size_hint_x: None
        width: {width}
"""
    problems = show(Builder.load_string(tree.format(width=120)))  # no text_size: the texture is 360 px wide
    assert kinds(problems) == ["cut"], format_problems(problems)
    assert problems[0].widget_path == "BoxLayout>Label#total"
    assert problems[0].text == "本次兑换已经完成，谢谢您的支持"

    kh.reset_window()
    assert show(Builder.load_string(tree.format(width=400))) == []


def test_lines_dropped_by_a_fixed_text_size_are_cut() -> None:
    from kivy.uix.boxlayout import BoxLayout

    def boxed(height: int) -> Any:
        # text_size bounds the height: Kivy drops the lines that do not fit and texture_size equals text_size.
        box = BoxLayout()
        box.add_widget(label("请把存折放在扫描口下面，听到响声后再拿开", size_hint=(None, None), size=(200, height)))
        box.children[0].text_size = (200, height)
        return box

    problems = show(boxed(40))
    assert kinds(problems) == ["cut"], format_problems(problems)
    kh.reset_window()
    assert show(boxed(120)) == []


def test_a_line_taller_than_its_text_size_is_cut_only_where_glyphs_are_lost() -> None:
    from kivy.uix.boxlayout import BoxLayout

    def one_line(height: int) -> Any:
        # Kivy keeps a first line that does not fit text_size's height and crops the texture to it.
        box = BoxLayout()
        box.add_widget(label("可兑换积分", valign="bottom", size_hint_y=None, height=height, text_size=(300, height)))
        return box

    problems = show(one_line(20))  # the 29 px line box loses 9 px at the top: the tops of the glyphs
    assert kinds(problems) == ["cut"] and "cropped" in problems[0].detail, format_problems(problems)
    kh.reset_window()
    assert show(one_line(27)) == []  # 2 px of the line box lost, but they are blank: nothing is cut


def test_a_shortened_label_may_hide_words_but_not_digits() -> None:
    from kivy.uix.boxlayout import BoxLayout

    def narrow(text: str) -> tuple[Any, Any]:
        box = BoxLayout()
        shortened = label(text, shorten=True, size_hint_x=None, width=150)
        shortened.bind(size=lambda w, size: setattr(w, "text_size", size))
        box.add_widget(shortened)
        return box, shortened

    box, numbers = narrow("本次用了 14 分，剩余 169 分")
    problems = show(box)
    assert numbers.is_shortened and kinds(problems) == ["elided_number"], format_problems(problems)
    assert "14" in problems[0].detail

    kh.reset_window()
    box, words = narrow("谢谢您的支持，欢迎下次再来本店")
    assert show(box) == [] and words.is_shortened  # elided too, but only words


def test_lines_dropped_at_max_lines_are_cut_even_without_digits() -> None:
    from kivy.uix.boxlayout import BoxLayout

    def capped(text: str) -> tuple[Any, Any]:
        # A cart line as it was: name, then quantity, in two lines at most; a long name took a third.
        box = BoxLayout()
        line = label(text, size_hint=(None, None), size=(150, 90))
        line.text_size = (150, None)
        line.max_lines = 2  # set after construction, as a RecycleView sets its rows' properties
        box.add_widget(line)
        return box, line

    box, line = capped("洗衣粉 1.5kg袋\n×2")
    problems = show(box)
    assert kinds(problems) == ["cut"] and "max_lines=2" in problems[0].detail, format_problems(problems)
    kh.reset_window()
    box, line = capped("肥皂 块\n×2")
    assert show(box) == []


def test_overlapping_labels_in_a_float_layout_but_not_side_by_side_or_under_a_banner() -> None:
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.floatlayout import FloatLayout

    float_layout = FloatLayout()
    float_layout.add_widget(label("可兑换积分", size_hint=(None, None), size=(200, 50), pos=(100, 100)))
    float_layout.add_widget(label("本周获得", size_hint=(None, None), size=(200, 50), pos=(150, 120)))
    problems = show(float_layout)
    assert kinds(problems) == ["overlap"], format_problems(problems)

    kh.reset_window()
    side_by_side = BoxLayout()
    side_by_side.add_widget(label("可兑换积分"))
    side_by_side.add_widget(label("本周获得"))
    assert show(side_by_side) == []

    # A banner is a branch of its own over the content: meant to cover it, not an overlap. It straddles
    # both labels, so neither box contains the other and only the common-ancestor rule keeps it silent.
    kh.reset_window()
    screen = FloatLayout()
    content = BoxLayout()
    content.add_widget(label("可兑换积分"))
    content.add_widget(label("本周获得"))
    banner = BoxLayout(size_hint=(0.5, None), height=80, pos_hint={"center_x": 0.5, "center_y": 0.5})
    banner.add_widget(label("已打印"))
    screen.add_widget(content)
    screen.add_widget(banner)
    assert show(screen) == []


def test_a_list_row_cut_at_the_bottom_of_its_view() -> None:
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.gridlayout import GridLayout
    from kivy.uix.scrollview import ScrollView

    def rows_in_view(view_height: int) -> Any:
        grid = GridLayout(cols=1, size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for i in range(5):
            grid.add_widget(label(f"张三家 {i + 1} 号", size_hint_y=None, height=100))
        view = ScrollView(size_hint=(None, None), size=(400, view_height), pos=(0, 100))
        view.add_widget(grid)
        root = FloatLayout()
        root.add_widget(view)
        return root

    problems = show(rows_in_view(250))  # at the top: rows 1 and 2 whole, row 3 half shown
    assert kinds(problems) == ["row_cut"], format_problems(problems)
    assert problems[0].text == "张三家 3 号" and "bottom" in problems[0].detail

    kh.reset_window()
    assert show(rows_in_view(300)) == []  # three whole rows


def test_small_text() -> None:
    from kivy.uix.boxlayout import BoxLayout

    def one(size: int) -> Any:
        box = BoxLayout()
        box.add_widget(label("剩余 169 分", font_size=size))
        return box

    problems = show(one(12))
    assert kinds(problems) == ["too_small"], format_problems(problems)
    # The window is 600 px high: 18 px is under the body minimum (20 by default, the caller may change it).
    kh.reset_window()
    assert kinds(show(one(18))) == ["too_small"]
    kh.reset_window()
    assert show(one(18), min_body_px=18) == []
    kh.reset_window()
    assert show(one(24)) == []


def test_a_wrapped_line_that_starts_with_a_comma() -> None:
    from kivy.core.text import Label as CoreLabel
    from kivy.uix.boxlayout import BoxLayout

    text = "本次兑换已经完成，谢谢您的支持"

    def wrapped(first_line: str) -> tuple[Any, Any]:
        # Just wider than ``first_line`` and narrower than it plus one more glyph: Kivy breaks right after it.
        width = CoreLabel(font_size=FONT).get_extents(first_line)[0] + 4
        box = BoxLayout()
        wrapping = label(text, size_hint_x=None, width=width, text_size=(width, None))
        box.add_widget(wrapping)
        return box, wrapping

    box, bad = wrapped("本次兑换已经完成")
    problems = show(box)
    lines = ["".join(w.text for w in line.words) for line in bad._label._cached_lines]
    assert lines[1].startswith("，")  # the case is really made
    assert kinds(problems) == ["line_break"], format_problems(problems)

    kh.reset_window()
    box, good = wrapped("本次兑换已经完成，")
    assert show(box) == []
    assert ["".join(w.text for w in line.words) for line in good._label._cached_lines][1].startswith("谢")


def test_hidden_text_is_not_checked() -> None:
    from kivy.uix.boxlayout import BoxLayout

    box = BoxLayout(opacity=0)  # the cut label of the first test, inside a hidden box
    box.add_widget(label("本次兑换已经完成，谢谢您的支持", size_hint_x=None, width=120))
    assert show(box) == []


def scrolled_list(rows: int, padding: tuple[int, int, int, int], bar_width: int = 2) -> Any:
    """A ScrollView 400×300 (at x 0) over ``rows`` rows 100 px high (three show whole): in each, a name
    flush left and a figure flush right of the list's ``padding`` (left, top, right, bottom)."""
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.gridlayout import GridLayout
    from kivy.uix.scrollview import ScrollView

    grid = GridLayout(cols=1, size_hint_y=None, padding=padding)
    grid.bind(minimum_height=grid.setter("height"))
    for i in range(rows):
        row = BoxLayout(size_hint_y=None, height=100)
        for text, side in ((f"张三家 {i + 1} 号", "left"), (f"{335 - i}分", "right")):
            part = label(text, halign=side, valign="middle")
            part.bind(size=lambda w, size: setattr(w, "text_size", size))
            row.add_widget(part)
        grid.add_widget(row)
    view = ScrollView(size_hint=(None, None), size=(400, 300), pos=(0, 100), do_scroll_x=False, bar_width=bar_width)
    view.add_widget(grid)
    root = FloatLayout()
    root.add_widget(view)
    return root


def test_list_text_flush_with_the_sides_of_its_scroll_view() -> None:
    # Two rows: nothing to scroll, no bar. The names touch the left side, the figures the right one.
    problems = show(scrolled_list(2, (0, 0, 0, 0)))
    assert kinds(problems) == ["at_edge"] * 4, format_problems(problems)
    assert {p.text[:2] for p in problems if "left side" in p.detail} == {"张三"}
    assert {p.text for p in problems if "right side" in p.detail} == {"335分", "334分"}

    kh.reset_window()
    assert show(scrolled_list(2, (10, 0, 10, 0))) == []  # a gutter of 10 px on each side
    kh.reset_window()
    assert show(scrolled_list(2, (0, 0, 0, 0)), scroll_edges=False) == []  # the caller may leave it out


def test_list_text_under_the_scroll_bar_or_against_it() -> None:
    # Five rows in a view for three: Kivy draws the bar, 16 px wide here, over the right of every row.
    problems = show(scrolled_list(5, (10, 0, 10, 0), bar_width=16))
    assert kinds(problems) == ["under_bar"] * 3, format_problems(problems)  # the three rows in sight
    assert [p.text for p in problems] == ["335分", "334分", "333分"]

    kh.reset_window()  # the same gutter with nothing to scroll: no bar, so nothing under it
    assert show(scrolled_list(2, (10, 0, 10, 0), bar_width=16)) == []
    kh.reset_window()  # clear of the bar but touching it: crowded, measured from the bar's inner edge
    problems = show(scrolled_list(5, (10, 0, 17, 0), bar_width=16))
    assert kinds(problems) == ["at_edge"] * 3 and "scroll bar on the right" in problems[0].detail
    kh.reset_window()  # the bar in its own strip, then the gutter
    assert show(scrolled_list(5, (10, 0, 26, 0), bar_width=16)) == []
