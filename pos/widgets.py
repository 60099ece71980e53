"""POS widgets: keypad and choice dialogs, the item grid with category tabs, and line lists with +/−.

Behaviour here, layout in ``widgets.kv`` (loaded by ``pos.screens.load_kv``). Every class name starts with
``Pos``: Kivy's Factory and ``.kv`` rules match classes by bare name, and the kiosk may run in the same
process (a test worker), where a second ``ItemGrid`` would silently take the first one's rule.

Dialogs are the only way the shopkeeper enters anything: digits on a keypad, or one big button out of a
list — never typed text.

Refusals raised by a dialog's callback (``LedgerError``, ``DeviceFault``) are shown *inside* the dialog and
it stays open with the keypad cleared: the modal overlay hides the screen's banner, and a PIN typed wrong
should be typed again where it was typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kivy.clock import Clock
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.modalview import ModalView
from kivy.uix.recycleview import RecycleView
from kivy.uix.widget import Widget

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import N_
from ui import theme as _theme
from ui.i18n import translator
from ui.widgets import DIGIT_DEBOUNCE_S, DebounceBehavior, install_kit
from ui.wrap_label import text_block

log = logging.getLogger(__name__)

OnDigits = Callable[[str], Any]


class PosDialog(ModalView):
    """A modal that opens and closes without animation (a fading dialog invites a second tap) and that only
    its own buttons close (no tap outside, no Escape)."""

    title = StringProperty("")
    error = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        kwargs.setdefault("auto_dismiss", False)
        super().__init__(**kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("animation", False)
        super().open(*args, **kwargs)

    def close(self) -> None:
        self.dismiss(animation=False)

    def show_error(self, error: BaseException | str) -> None:
        self.error = error if isinstance(error, str) else translator().error(error)


class PosKeypadDialog(PosDialog):
    """Digits for one question (a PIN, a quantity, a household number, an amount in yuan).

    ``on_digits(text)`` runs at OK; if it raises a refusal the dialog shows it and stays open, otherwise the
    dialog closes. Each OK press is handled once (the keypad's own OK is debounced).
    """

    prompt = StringProperty("")
    detail = StringProperty("")  # what to type, in words, beside the keypad ("" for none)
    masked = BooleanProperty(False)
    max_length = NumericProperty(8)
    # Letters that may go before the digits (village prefixes of household numbers: "XF", "GL"), one button
    # each; the one chosen is shown in the keypad's display and handed over with the digits ("XF23").
    prefixes = ListProperty([])

    def __init__(self, on_digits: OnDigits, **kwargs: Any) -> None:
        self.on_digits = on_digits
        self._busy = False
        super().__init__(**kwargs)
        self._show_prefixes()

    def _show_prefixes(self) -> None:
        row = self.ids.prefixes
        row.clear_widgets()
        for prefix in self.prefixes:
            button = PosPrefixButton(text=prefix)
            button.bind(on_release=lambda b: self.choose_prefix(b.text))
            row.add_widget(button)
        self._mark_prefixes()

    def choose_prefix(self, prefix: str) -> None:
        """A prefix button: that prefix before the digits; the chosen one again: none."""
        keypad = self.ids.keypad
        keypad.prefix = "" if keypad.prefix == prefix else prefix
        self._mark_prefixes()

    def _mark_prefixes(self) -> None:
        for button in self.ids.prefixes.children:
            button.selected = button.text == self.ids.keypad.prefix

    def submit(self, text: str) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self.on_digits(self.ids.keypad.prefix + text)
        except (LedgerError, DeviceFault) as refusal:
            self.show_error(refusal)
            self.ids.keypad.clear()
            return
        finally:
            self._busy = False
        self.close()


def ask_digits(
    title: str,
    on_digits: OnDigits,
    *,
    prompt: str = "",
    masked: bool = False,
    max_length: int = 8,
    initial: str = "",
    detail: str = "",
    prefixes: Sequence[str] = (),
    prefix: str = "",
) -> PosKeypadDialog:
    """A keypad dialog; with ``prefixes``, buttons that put one of them before the digits (``prefix`` chosen)."""
    dialog = PosKeypadDialog(
        on_digits,
        title=title,
        prompt=prompt,
        masked=masked,
        max_length=max_length,
        detail=detail,
        prefixes=list(prefixes),
    )
    if prefix:
        dialog.choose_prefix(prefix)
    dialog.ids.keypad.text = initial
    dialog.open()
    return dialog


class PosButton(DebounceBehavior, Button):
    """A debounced button like the kit's ``BigButton``, whose text size is chosen by ``text_scale``.

    Why not ``BigButton`` with another ``font_size``: its rule binds ``font_size`` to the theme, and a second
    rule binding it too (ours) makes the two race whenever the theme changes (a window resize), so the size
    on screen would depend on the order of Kivy's callbacks. Here one rule decides, from ``text_scale``.
    """

    role = StringProperty("primary")
    fill = ColorProperty(_theme.PRIMARY)
    fill_down = ColorProperty(_theme.pressed(_theme.PRIMARY))
    text_colour = ColorProperty(_theme.ON_FILL)
    text_scale = OptionProperty("body", options=["small", "body", "button", "title"])

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self.on_role(self, self.role)

    def on_role(self, _instance: object, role: str) -> None:
        fill, text = _theme.role_colours(role)
        self.fill = fill
        self.fill_down = _theme.pressed(fill)
        self.text_colour = text


class PosChoiceButton(PosButton):
    """One answer of a ``PosChoiceDialog``; ``value`` is what the dialog hands back."""

    value = ObjectProperty(None, allownone=True)


class PosPrefixButton(PosButton):
    """A village prefix beside the household-number keypad (``PosKeypadDialog.prefixes``)."""

    selected = BooleanProperty(False)


class PosChoiceDialog(PosDialog):
    """One big button per answer; ``on_choice(value)`` after the dialog has closed."""

    cols = NumericProperty(2)
    detail = BooleanProperty(False)  # the title is a paragraph (body size, left-aligned), not a heading

    def __init__(self, choices: Sequence[tuple[Any, str]], on_choice: Callable[[Any], Any], **kwargs: Any) -> None:
        self.on_choice = on_choice
        self._chosen = False
        super().__init__(**kwargs)
        grid = self.ids.grid
        for value, label in choices:
            button = PosChoiceButton(text=label, value=value)
            button.bind(on_release=self._pressed)
            grid.add_widget(button)

    def _pressed(self, button: PosChoiceButton) -> None:
        if self._chosen:  # two fingers on two answers: the first wins
            return
        self._chosen = True
        self.close()
        self.on_choice(button.value)


def choose(
    title: str,
    choices: Sequence[tuple[Any, str]],
    on_choice: Callable[[Any], Any],
    cols: int = 2,
    detail: bool = False,
) -> PosChoiceDialog:
    dialog = PosChoiceDialog(choices, on_choice, title=title, cols=cols, detail=detail)
    dialog.open()
    return dialog


class PosRoot(FloatLayout):
    """The window's layout: header and screens, the banner over the header. The app mirrors its state here
    (see ``pos.kv``)."""

    title_id = StringProperty(N_("ui.app_title"))
    status_text = StringProperty("")
    status_kind = StringProperty("ok")
    show_menu = BooleanProperty(False)


# ----- the item grid ------------------------------------------------------------------------------


class PosItemTile(PosButton):
    """A goods tile in the grid (recycled: its ``sku`` and text come from the grid's data)."""

    sku = StringProperty("")
    owner = ObjectProperty(None, allownone=True)
    low = BooleanProperty(False)
    picture = StringProperty("")  # a path to the item's picture, shown above its words ("" for none)
    picture_room = NumericProperty(0)  # the room above the words for the picture (0 without one)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fbind("picture", self._make_room)
        self.fbind("size", self._make_room)
        self.fbind("text", self._make_room)
        self.fbind("font_size", self._make_room)

    def _make_room(self, *_args: Any) -> None:
        """The picture's room: the tile's height less its words' (measured as Kivy will wrap them) and the
        margins. It becomes the words' top padding, so Kivy still centres one block of picture and words; the
        words are measured apart from the texture, which that padding changes (a binding loop otherwise)."""
        room = 0.0
        if self.picture:
            spacing = _theme.theme().spacing
            words = text_block(self.text, self.font_size, max(1.0, self.width - 2 * spacing))[1]
            room = max(0.0, self.height - 2 * spacing - words)
        self.picture_room = room

    def on_release(self) -> None:
        if self.owner is not None and self.sku:
            self.owner.dispatch("on_item", self.sku)


class PosCategoryTab(PosButton):
    category = StringProperty("")
    selected = BooleanProperty(False)


class PosItemGrid(BoxLayout):
    """Category tabs and 查找 over a scrolling grid of goods tiles; dispatches ``on_item(sku)`` when one is tapped.

    ``tiles`` is a list of dicts ``{"sku", "text", "low", "picture"}`` set by the screen (which knows whether to show
    points or stock); ``categories`` the tab names with ``""`` meaning all. ``query`` is the pinyin initials
    typed on the find pad ("" for none): while there is one, the grid shows what it finds instead of a
    category, and the screen is told (``on_find``) to refill ``tiles``. ``example_of`` gives an item's name
    and its letters (("大米", "DM"), or None) for the pad's explanation when it opens.
    """

    category = StringProperty("")
    query = StringProperty("")
    example_of = ObjectProperty(None, allownone=True)
    cols = NumericProperty(2)
    categories = ListProperty([])
    tiles = ListProperty([])
    with_pictures = BooleanProperty(False)  # some goods shown have a picture: the rows are taller to hold it
    all_label = StringProperty("")

    __events__ = ("on_item", "on_category", "on_find")

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self.bind(
            categories=self._build_tabs, category=self._mark_tabs, query=self._mark_tabs, all_label=self._build_tabs
        )

    def _build_tabs(self, *_args: Any) -> None:
        tabs = self.ids.tabs
        tabs.clear_widgets()
        for category in self.categories:
            tab = PosCategoryTab(category=category, text=category or self.all_label)
            tab.bind(on_release=lambda t: self.select(t.category))
            tabs.add_widget(tab)
        self.size_tabs()
        self._mark_tabs()

    def size_tabs(self, *_args: Any) -> None:
        """Tabs all alike, as wide as the longest name needs, as many as fit whole in the row (the others
        are scrolled to): never a tab cut at the edge."""
        tabs = list(self.ids.tabs.children)
        if not tabs:
            return
        theme = _theme.theme()
        # from the text's length, not its texture: a button's text_size follows its width (a loop otherwise)
        needed = max(max(theme.font_body * (len(t.text) + 1.6) for t in tabs), theme.touch * 1.4)
        width = _theme.whole_fit(self.ids.tabs_view.width, needed, theme.spacing)[1]
        for tab in tabs:
            tab.width = width

    def _mark_tabs(self, *_args: Any) -> None:
        for tab in self.ids.tabs.children:
            tab.selected = not self.query and tab.category == self.category

    def select(self, category: str) -> None:
        """A tab: that category, and the end of any search."""
        self.query = ""
        self.category = category
        self.dispatch("on_category", category)

    def find(self, query: str) -> None:
        """Show what ``query`` finds ("" shows the category again)."""
        if query != self.query:
            self.query = query
            self.dispatch("on_find", query)

    def open_find(self) -> PosFindDialog:
        dialog = PosFindDialog(self)
        dialog.open()
        return dialog

    def on_tiles(self, *_args: Any) -> None:
        self.with_pictures = any(tile.get("picture") for tile in self.tiles)
        self.ids.rv.data = [dict({"picture": ""}, **tile, owner=self) for tile in self.tiles]

    def on_item(self, sku: str) -> None:
        """Default handler; bind ``on_item``."""

    def on_category(self, category: str) -> None:
        """Default handler; the screen refills ``tiles`` for the category."""

    def on_find(self, query: str) -> None:
        """Default handler; the screen refills ``tiles`` with what ``query`` finds."""


class PosFindDialog(PosDialog):
    """The find pad: letters on the left, what they find on the right, as tiles that put the item in.

    The letters drive the grid's ``query``, so the grid behind shows the same goods when the pad closes
    (完成), ready for more taps; a tapped result goes in as a tap on the grid would, and closes the pad.
    """

    found = ListProperty([])
    example = ListProperty([])  # an item's name and its letters, or [] (the pad then gives a general one)

    __events__ = ("on_item",)

    def __init__(self, grid: PosItemGrid, **kwargs: Any) -> None:
        self.grid = grid
        kwargs.setdefault("example", list((grid.example_of and grid.example_of()) or ()))
        super().__init__(**kwargs)
        pad = self.ids.letters
        pad.text = grid.query
        pad.bind(text=lambda _pad, text: grid.find(text), on_confirm=lambda *_a: self.close())
        grid.bind(tiles=self._show_found)
        self._show_found()

    def _show_found(self, *_args: Any) -> None:
        self.found = [dict(tile, owner=self) for tile in self.grid.tiles] if self.grid.query else []
        self.ids.results.data = self.found

    def on_item(self, sku: str) -> None:
        self.close()
        self.grid.dispatch("on_item", sku)

    def close(self) -> None:
        self.grid.unbind(tiles=self._show_found)
        super().close()


# ----- lines with +/- ----------------------------------------------------------------------------


class PosLineRow(BoxLayout):
    """One line of a cart or a delivery: its name, then a detail (points), −, the quantity (tap to type
    it) and +; ``text`` is the name wrapped as ``PosLineList`` measured it, ``name_height`` its height."""

    sku = StringProperty("")
    label = StringProperty("")
    qty = StringProperty("")
    detail = StringProperty("")
    text = StringProperty("")
    name_height = NumericProperty(0)
    owner = ObjectProperty(None, allownone=True)
    debounce_s = NumericProperty(DIGIT_DEBOUNCE_S)

    def press(self, event: str) -> None:
        if self.owner is not None and self.sku:
            self.owner.dispatch(event, self.sku)


class PosLineGap(Widget):
    """Blank room in a ``PosLineList`` before a row that would otherwise be cut at the bottom."""


class PosLineList(RecycleView):
    """Lines ``{"sku", "label", "qty", "detail"}``; dispatches ``on_plus``, ``on_minus`` and ``on_qty`` with the sku.

    A line is as tall as its words: a long name wraps by the CJK rules above the points and the − qty +
    stepper, and the row grows, rather than losing the name to a cut. The rows are measured here, in the
    name's font and width, because a recycled row cannot tell its list how tall it has become. A blank gap
    (``PosLineGap``) before the first row that would be cut at the bottom of the view moves it just below:
    the view shows whole lines only, and scrolls to the rest.
    """

    lines = ListProperty([])

    __events__ = ("on_plus", "on_minus", "on_qty")

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        self._measure: Any = None
        super().__init__(**kwargs)
        # Measured again a frame after a resize, when the theme (font and touch sizes) has followed it too.
        refill = Clock.create_trigger(self._refill, -1)
        self.fbind("width", refill)
        self.fbind("height", refill)
        theme = _theme.theme()
        theme.fbind("font_small", refill)
        theme.fbind("touch", refill)

    def on_lines(self, *_args: Any) -> None:
        self._refill()

    def _refill(self, *_args: Any) -> None:
        theme = _theme.theme()
        if self._measure is None:
            from ui.wrap_label import WrapLabel

            self._measure = WrapLabel()
        measure = self._measure
        measure.font_size = theme.font_small
        # The name's width: the row less the gutter of the scroll bar and the label's margins (<PosLineRow>).
        width = self.width - 2 * theme.spacing - theme.spacing
        data = []
        used, cut = 0.0, False
        for index, line in enumerate(self.lines):
            name = "\n".join(measure.wrap_lines(line["label"], width)) if width > theme.font_small else line["label"]
            measure.text = name
            measure.texture_update()
            name_height = measure.texture_size[1] + theme.spacing * 0.5
            height = name_height + theme.spacing * 0.5 + theme.touch
            if not cut and index > 0 and used + height > self.height:
                cut = True
                gap = self.height - used - theme.spacing  # the gap's own spacing comes after it
                if gap > 0:
                    data.append({"viewclass": "PosLineGap", "row_size": (None, gap)})
            used += height + theme.spacing
            row = dict(line, viewclass="PosLineRow", owner=self, text=name, name_height=name_height)
            data.append(dict(row, row_size=(None, height)))
        self.data = data

    def on_plus(self, sku: str) -> None:
        """Default handler."""

    def on_minus(self, sku: str) -> None:
        """Default handler."""

    def on_qty(self, sku: str) -> None:
        """Default handler."""


class PosTextRow(ButtonBehavior, BoxLayout):
    """A selectable row of a plain list (today's receipts, the stock list, the count); a tap dispatches
    the list's ``on_row(key)``. ``ButtonBehavior`` grabs the touch, so the release still reaches the row
    when the list (a ScrollView) holds the touch to see whether it becomes a scroll."""

    key = StringProperty("")
    text = StringProperty("")
    detail = StringProperty("")
    selected = BooleanProperty(False)
    marked = BooleanProperty(False)  # drawn in the warning colour (voided, low stock, a count difference)
    detail_share = NumericProperty(0.45)  # the detail column's share of the row's width
    owner = ObjectProperty(None, allownone=True)

    def on_release(self) -> None:
        if self.owner is not None and self.key:
            self.owner.dispatch("on_row", self.key)


class PosRowList(RecycleView):
    """Rows ``{"key", "text", "detail", "selected", "marked"}``; dispatches ``on_row(key)`` on a tap."""

    rows = ListProperty([])

    __events__ = ("on_row",)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)

    def on_rows(self, *_args: Any) -> None:
        self.data = [dict(row, owner=self) for row in self.rows]

    def on_row(self, key: str) -> None:
        """Default handler."""


class FormRow(BoxLayout):
    """One answer of a form: its label, the box to type in (``FormTextRow``) or a choice of two
    (``FormChoiceRow``), and under it a hint or, once checked, the problem in red. ``on_change(name, value)``
    hears every change; a change clears the problem."""

    field = ObjectProperty(None)  # the ``pos.presenters.common.Question``
    label_text = StringProperty("")
    hint_text = StringProperty("")
    problem = StringProperty("")
    value = StringProperty("")
    kind = StringProperty("text")
    choices = ListProperty([("", ""), ("", "")])  # a choice row's two (value, label key)
    on_change = ObjectProperty(None)

    def filter(self, typed: str, _from_undo: bool = False) -> str:
        """What a number box or a phone box lets through of a keystroke (or a paste)."""
        allowed = "0123456789" + (" -+" if self.kind == "phone" else "")
        return "".join(c for c in typed if c in allowed)

    def changed(self, value: str) -> None:
        self.value = value
        self.problem = ""
        if self.on_change is not None:
            self.on_change(self.field.name, value)


def mark_problems(fields: Any, scroll: Any, problems: Mapping[str, Any], words: Callable[[Any], str]) -> bool:
    """Put each problem in red under its ``FormRow`` in ``fields`` (and clear the others), and bring the first
    one into ``scroll``'s view, not below the fold; True when there were any. ``words`` says a problem."""
    rows = list(reversed(fields.children))
    for row in rows:
        name = row.field.name
        row.problem = words(problems[name]) if name in problems else ""
    first = next((row for row in rows if row.field.name in problems), None)
    if first is not None:
        scroll.scroll_to(first, animate=False)
    return bool(problems)
