"""Small widgets shared by the kiosk's screens: header, row lists, their rows and their scrolling view, the
passbook picture, the root that watches for the maintenance gesture. Looks are in ``widgets.kv``.

Two measures for ``.kv`` rules whose size follows their words in either language: ``text_block`` (from
``ui.wrap_label``: the size Kivy draws a text at, wrapped to a width or not: a button as wide, or as tall, as
its words) and ``fit_font`` (the largest font at which a text takes at most a number of lines without a word cut in two:
"Scan your passbook" in a narrow column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.gesture import TapGesture, in_corner
from ui.linebreak import wrap_measured
from ui.widgets import BigButton
from ui.wrap_label import measurer

FIT_STEP_PX = 2.0  # fit_font tries sizes this far apart, from the largest down


def fit_font(text: str, width: float, largest: float, smallest: float, max_lines: int = 2, bold: bool = False) -> float:
    """The largest font size from ``largest`` down to ``smallest`` at which ``text`` wraps (by ``ui.linebreak``,
    as a ``WrapLabel`` does) into ``max_lines`` lines of ``width`` or fewer, none of its words cut in two;
    ``smallest`` when no size does. Only a word that cannot fit, or a text of many lines, makes it smaller:
    a short text keeps ``largest``."""
    if not text or width <= 1 or largest <= smallest:
        return largest
    size = largest
    while size > smallest:
        cached, _exact = measurer(font_size=size, bold=bold)
        lines = wrap_measured(text, width, cached)
        if len(lines) <= max_lines and all(line_width <= width for _line, line_width in lines):
            return size
        size = max(smallest, size - FIT_STEP_PX)
    return smallest


class KioskHeader(BoxLayout):
    """Title, a second line, and the language button: the kit's HeaderBar has a clock that crowds a
    portrait panel, and a kiosk needs no clock."""

    title = StringProperty("")
    subtitle = StringProperty("")
    fs = NumericProperty(1.0)  # font scale of the screen it sits on


class KioskRow(BoxLayout):
    """One line of a list. ``fields`` are the text properties a presenter line fills."""

    fields: tuple[str, ...] = ()
    fs = NumericProperty(1.0)
    fit_height = NumericProperty(0)  # set by a list that sizes its rows to fill its view (0: natural height)

    def clear(self) -> None:
        for name in self.fields:
            setattr(self, name, "")


class KioskRankRow(KioskRow):
    fields = ("rank", "name", "points")
    rank = StringProperty("")
    name = StringProperty("")
    points = StringProperty("")


class KioskGoodsRow(KioskRow):
    fields = ("name", "unit", "points", "stock", "picture")
    name = StringProperty("")
    unit = StringProperty("")
    points = StringProperty("")
    stock = StringProperty("")
    picture = StringProperty("")  # a path to the item's picture, shown before its name ("" for none)


class KioskGoodsCard(KioskRow):
    """The same facts as ``KioskGoodsRow`` on two lines, for a narrow column. Not a subclass of ``KioskGoodsRow``:
    Kivy would apply both classes' kv rules and draw the row twice."""

    fields = ("name", "unit", "points", "stock", "picture")
    name = StringProperty("")
    unit = StringProperty("")
    points = StringProperty("")
    stock = StringProperty("")
    picture = StringProperty("")


class KioskMovementRow(KioskRow):
    fields = ("when", "text", "points")
    when = StringProperty("")
    text = StringProperty("")
    points = StringProperty("")
    gain = BooleanProperty(False)

    def clear(self) -> None:
        super().clear()
        self.gain = False


class KioskNoticeRow(KioskRow):
    fields = ("text", "reason", "points")
    text = StringProperty("")
    reason = StringProperty("")
    points = StringProperty("")
    gain = BooleanProperty(False)

    def clear(self) -> None:
        super().clear()
        self.gain = False


class KioskRuleRow(KioskRow):
    """One line of 怎样得积分: an item and its value, or (``heading``) the class the next items belong to."""

    fields = ("name", "value")
    name = StringProperty("")
    value = StringProperty("")
    heading = BooleanProperty(False)
    penalty = BooleanProperty(False)  # drawn in red: "清零" has no minus sign to tell it by

    def clear(self) -> None:
        super().clear()
        self.heading = False
        self.penalty = False


class KioskRowList(BoxLayout):
    """A vertical list of ``row_class`` rows filled from mappings; row widgets are kept and reused.

    Why not a RecycleView: its cached row widgets keep the last texts they showed, out of sight but in
    memory, and a household's history must be gone when the kiosk returns to idle. Here every row that
    leaves the list is cleared. Lists are short (ten movements, a few dozen goods), so reusing a pool of
    widgets is as quick as recycling and costs no widget construction after the first visit.
    """

    row_class = StringProperty("KioskRankRow")
    row_height = NumericProperty(40)
    fs = NumericProperty(1.0)
    # Rows of one height (ranking, goods) fill the list's view exactly, so the last one shown is whole, not
    # cut in half (which hides a name or a figure): ``view_height`` is the view's, ``natural_row`` a row's.
    view_height = NumericProperty(0)
    natural_row = NumericProperty(0)
    fit_row = NumericProperty(0)
    # Rows of their own heights (notices, rules): with ``snap``, a blank gap before the first row that would
    # be cut at the bottom of the view moves it just below, so the view shows whole rows only.
    snap = BooleanProperty(False)
    snap_first = BooleanProperty(False)  # the list starts below other things in its view: even its first row

    def __init__(self, **kwargs: Any) -> None:
        from kivy.clock import Clock
        from kivy.uix.widget import Widget

        self._spare: list[Any] = []
        self._gap = Widget(size_hint_y=None, height=0)
        self._trigger_snap = Clock.create_trigger(self._snap, -1)
        super().__init__(**kwargs)
        self.bind(minimum_height=self._trigger_snap, view_height=self._trigger_snap, snap=self._trigger_snap)

    @property
    def rows(self) -> list[Any]:
        """The row widgets shown, top to bottom (each has ``fs`` and ``clear()``, like ``KioskRow``)."""
        return [row for row in reversed(self.children) if row is not self._gap]

    def _snap(self, *_args: Any) -> None:
        if self._gap.parent is not None:
            self.remove_widget(self._gap)
        if not self.snap or self.view_height <= 0:
            return
        rows, spacing = self.rows, float(self.spacing or 0)
        used = 0.0
        for index, row in enumerate(rows):
            if used + row.height > self.view_height:
                # A first row taller than the view cannot be shown whole: it scrolls. (Unless the list starts
                # below other things in the view, when the gap moves even the first row below the fold.)
                if index > 0 or self.snap_first:
                    self._gap.height = max(0.0, self.view_height - used - spacing)
                    self.add_widget(self._gap, index=len(rows) - index)
                return
            used += row.height + spacing

    def set_rows(self, lines: Sequence[Mapping[str, Any]]) -> None:
        shown = self.rows
        for row in shown[len(lines) :]:
            self.remove_widget(row)
            row.clear()
            self._spare.append(row)
        while len(self.rows) < len(lines):
            row = self._spare.pop() if self._spare else Factory.get(self.row_class)()
            row.fs = self.fs
            self.add_widget(row)
        for row, values in zip(self.rows, lines, strict=True):
            row.fit_height = self.fit_row
            for name, value in values.items():
                setattr(row, name, value)

    def on_view_height(self, *_args: Any) -> None:
        self._fit()

    def on_natural_row(self, *_args: Any) -> None:
        self._fit()

    def _fit(self) -> None:
        from ui.theme import whole_fit

        fit = 0.0
        if self.natural_row > 0 and self.view_height > 0:
            fit = whole_fit(self.view_height, self.natural_row, self.spacing if self.spacing else 0)[1]
        self.fit_row = fit
        for row in self.rows:
            row.fit_height = fit

    def clear_rows(self) -> None:
        self.set_rows(())

    def on_fs(self, _instance: object, fs: float) -> None:
        for row in self.rows:
            row.fs = fs


class KioskScroll(ScrollView):
    """The scrolling view of a list column. Its content takes ``gutters`` as padding (see ``widgets.kv``):
    a list has no border, so a figure flush with its side runs into the next column or the panel's edge,
    and Kivy draws the scroll bar over whatever lies under it, the right-aligned figures of every row."""

    fs = NumericProperty(1.0)  # font scale of the screen it sits on: the blank shrinks with the text
    gap = NumericProperty(0)  # the blank between the text and a side, or the bar
    gutters = ListProperty([0, 0, 0, 0])  # left, top, right, bottom


class KioskManagerButton(BigButton):
    """A manager's name on the maintenance screen; ``selected`` shows which one the PIN is for."""

    operator_id = StringProperty("")
    selected = BooleanProperty(False)
    fs = NumericProperty(1.0)

    def clear(self) -> None:
        self.text = ""
        self.operator_id = ""
        self.selected = False

    def on_selected(self, _instance: object, selected: bool) -> None:
        self.role = "info" if selected else "neutral"


class KioskPassbookPicture(Widget):
    """A drawing of a passbook held up under the scanner (canvas instructions in ``widgets.kv``), for
    villagers who cannot read the invitation."""


class KioskRoot(FloatLayout):
    """The window's root: holds the screens and sees every touch first.

    It counts taps in the top-left corner for the maintenance gesture (``on_maintenance``) and reports
    every touch as activity (``on_activity``: the household screen stays while someone is using it).
    Touches are never consumed here: the screens get them as usual.
    """

    __events__ = ("on_maintenance", "on_activity")

    def __init__(self, **kwargs: Any) -> None:
        self.gesture = TapGesture()
        super().__init__(**kwargs)

    def on_touch_down(self, touch: Any) -> bool:
        x, y = touch.pos
        if in_corner(x - self.x, y - self.y, self.width, self.height) and self.gesture.tap():
            self.dispatch("on_maintenance")
        self.dispatch("on_activity")
        return bool(super().on_touch_down(touch))

    def on_maintenance(self) -> None:
        """Default handler: the App binds it."""

    def on_activity(self) -> None:
        """Default handler: the App binds it."""
