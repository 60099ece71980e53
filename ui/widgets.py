"""Common widgets for both apps: big debounced buttons, the numeric keypad, banners, dialogs, toasts, header.

Behaviour lives here, layout and looks in ``widgets.kv`` (loaded by ``install_kit``, which every widget's
constructor calls, so a widget built from Python or from an app's ``.kv`` always finds its rule).

Debounce (why ``DebounceBehavior`` exists): cheap resistive and some capacitive panels report one firm tap as
two taps a few tens of milliseconds apart, and an elderly finger resting unsteadily does the same. A second
press of the *same* button within ``debounce_s`` of the last accepted one is swallowed (counted in
``bounces``). Buttons that commit something (OK, Yes, Redeem) use ``BUTTON_DEBOUNCE_S`` = 0.4 s: a
double-commit is the costly mistake. Keypad digits use ``DIGIT_DEBOUNCE_S`` = 0.15 s: PINs and quantities
legitimately repeat digits ("1122") at a brisk 3–4 taps a second, panel bounce comes well inside 150 ms, and a
doubled digit is visible on the display and fixed with Delete, unlike a doubled sale. Different buttons never
debounce each other. Programmatic presses (``trigger_action``) are not debounced.
"""

from __future__ import annotations

import logging
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView

from ledger.messages import LANGS
from ui import theme as _theme
from ui.fonts import register_fonts
from ui.i18n import install_kv_globals, translator
from ui.scanning import ENTER_KEYS
from ui.wrap_label import WrapLabel

log = logging.getLogger(__name__)

KV_FILE = Path(__file__).with_name("widgets.kv")
BUTTON_DEBOUNCE_S = 0.4
DIGIT_DEBOUNCE_S = 0.15
INFO_TIMEOUT_S = 4.0
ERROR_TIMEOUT_S = 10.0  # errors must be read to the end by slow readers; a tap on the banner hides it sooner
TOAST_S = 2.5
PIN_MASK = "●"

_kit_installed = False


def install_kit() -> None:
    """Everything the kit's widgets need, once per process: the CJK font as Kivy's default, the ``_`` and
    ``theme`` names for ``.kv`` rules, and ``widgets.kv``.

    Called by ``KitApp`` before ``build`` and by every kit widget's constructor, so the order in which an app
    imports things cannot leave a label without Chinese glyphs or a rule without its globals.
    """
    global _kit_installed
    if _kit_installed:
        return
    register_fonts()
    install_kv_globals()
    _quiet_clipboard()
    from kivy.lang import global_idmap

    global_idmap["theme"] = _theme.theme()
    if str(KV_FILE) not in Builder.files:
        Builder.load_file(str(KV_FILE))
    _kit_installed = True


def _quiet_clipboard() -> None:
    """Load Kivy's clipboard before any text box does, with its log muted.

    On Linux a ``TextInput`` looks for ``xclip`` or ``xsel`` (middle-click paste) and, when neither is
    installed, logs a CRITICAL line and two tracebacks on the shopkeeper's terminal. Nothing here needs that
    paste; the clipboard itself falls back to SDL's, which works."""
    import logging

    kivy_log = logging.getLogger("kivy")
    level = kivy_log.level
    kivy_log.setLevel(logging.CRITICAL + 1)
    try:
        import kivy.core.clipboard  # noqa: F401
    finally:
        kivy_log.setLevel(level)


def _now() -> float:
    return time.monotonic()


class DebounceBehavior:
    """Mixin (put it before ``Button``/``ButtonBehavior``): swallow a second press within ``debounce_s``.

    Timing uses the moment the touch reaches the widget (monotonic clock), so a UI stall that delivers a
    queued bounce late only shrinks the gap — the bounce is still caught. ``debounce_clock`` may be replaced
    per instance (tests advance a fake clock instead of sleeping).
    """

    debounce_s = NumericProperty(BUTTON_DEBOUNCE_S)
    bounces = NumericProperty(0)

    def __init__(self, **kwargs: Any) -> None:
        self._last_press_at: float | None = None
        self.debounce_clock: Callable[[], float] = _now
        super().__init__(**kwargs)

    def on_touch_down(self, touch: Any) -> bool:
        if (
            self.debounce_s <= 0
            or self.disabled
            or getattr(touch, "is_mouse_scrolling", False)
            or not self.collide_point(*touch.pos)
        ):
            return bool(super().on_touch_down(touch))
        now = self.debounce_clock()
        last = self._last_press_at
        # A clock that went backwards (a replaced test clock) must not block presses forever.
        if last is not None and 0 <= now - last < self.debounce_s:
            self.bounces += 1
            log.debug("debounced a second press on %r after %.3f s", self, now - last)
            return True
        handled = bool(super().on_touch_down(touch))
        if handled and self in touch.ud:  # ButtonBehavior marks the touches it took as presses
            self._last_press_at = now
        return handled


class BigButton(DebounceBehavior, Button):
    """A large, high-contrast, debounced button. ``role`` picks colours from ``ui.theme.ROLES``."""

    role = StringProperty("primary")
    fill = ColorProperty(_theme.PRIMARY)
    fill_down = ColorProperty(_theme.pressed(_theme.PRIMARY))
    text_colour = ColorProperty(_theme.ON_FILL)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self.on_role(self, self.role)

    def on_role(self, _instance: object, role: str) -> None:
        fill, text = _theme.role_colours(role)
        self.fill = fill
        self.fill_down = _theme.pressed(fill)
        self.text_colour = text


class KeypadKey(BigButton):
    """One key of ``NumericKeypad``: a shorter debounce (see the module docstring). A ``word`` key (清除,
    退格) has the buttons' text size, a digit the titles'."""

    debounce_s = NumericProperty(DIGIT_DEBOUNCE_S)
    word = BooleanProperty(False)


class LanguageButton(BigButton):
    """Switches 中文 ↔ English. Shows the language it switches *to*, written in that language."""

    def on_release(self) -> None:
        from kivy.app import App

        t = translator()
        new = next(lang for lang in LANGS if lang != t.lang)  # the other one
        app = App.get_running_app()
        if app is not None and hasattr(app, "lang"):
            app.lang = new  # KitApp forwards it to the translator
        else:
            t.switch(new)


class NumericKeypad(BoxLayout):
    """Digits 0–9, Clear, Delete and OK, with its own display. The only way anyone types in these apps.

    ``masked`` shows ● for each digit (PINs). ``max_length`` refuses more digits (a quantity of 9999999 is a
    finger resting on a key, not an order). OK dispatches ``on_confirm(text)`` once per press and only when
    something was typed; the screen decides what the digits mean and whether to ``clear()``.
    """

    text = StringProperty("")
    display_text = StringProperty("")
    prompt = StringProperty("")
    masked = BooleanProperty(False)
    max_length = NumericProperty(8)
    # Letters shown before the digits (a household's village, "XF"), chosen by the holder, never typed here.
    prefix = StringProperty("")

    __events__ = ("on_confirm",)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self._refresh_display()

    def on_text(self, *_args: Any) -> None:
        self._refresh_display()

    def on_masked(self, *_args: Any) -> None:
        self._refresh_display()

    def on_prefix(self, *_args: Any) -> None:
        self._refresh_display()

    def _refresh_display(self) -> None:
        shown = PIN_MASK * len(self.text) if self.masked else self.text
        self.display_text = f"{self.prefix}{shown}"

    def press_digit(self, digit: str) -> None:
        if len(digit) != 1 or not digit.isdigit():
            raise ValueError(f"not a digit: {digit!r}")
        if len(self.text) >= self.max_length:
            return
        self.text += digit

    def backspace(self) -> None:
        self.text = self.text[:-1]

    def clear(self) -> None:
        self.text = ""

    def confirm(self) -> None:
        if self.text:
            self.dispatch("on_confirm", self.text)

    def on_confirm(self, text: str) -> None:
        """Default handler; bind ``on_confirm`` to act on the digits."""


class LetterKeypad(GridLayout):
    """A to Z in alphabetical order: the pinyin initials that find goods (``ledger.search``).

    Alphabetical, not a phone's QWERTY: a shopkeeper who rarely types finds a letter by reading along the
    rows, and 26 keys fill a 7 × 4 grid with keys as large as the numeric keypad's. Delete and Clear are
    the holder's buttons (``backspace``, ``clear``), where there is room for their words. There is no OK:
    what is typed finds goods at once (``text`` changes); ``on_confirm(text)`` is a physical keyboard's Enter.
    """

    text = StringProperty("")
    max_length = NumericProperty(12)

    __events__ = ("on_confirm",)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        kwargs.setdefault("cols", 7)
        super().__init__(**kwargs)
        for letter in string.ascii_uppercase:
            key = KeypadKey(text=letter)
            key.bind(on_release=lambda k: self.press_letter(k.text))
            self.add_widget(key)
            self.ids[f"key_{letter}"] = key.proxy_ref  # as a .kv rule stores its ids

    def press_letter(self, letter: str) -> None:
        if len(letter) != 1 or letter.upper() not in string.ascii_uppercase:
            raise ValueError(f"not a letter: {letter!r}")
        if len(self.text) < self.max_length:
            self.text += letter.upper()

    def backspace(self) -> None:
        self.text = self.text[:-1]

    def clear(self) -> None:
        self.text = ""

    def confirm(self) -> None:
        self.dispatch("on_confirm", self.text)

    def on_confirm(self, text: str) -> None:
        """Default handler; bind ``on_confirm``."""


class KeyboardToKeypad:
    """A physical keyboard types into the keypad on screen: digits, letters on a letter pad, Backspace
    (delete one), Enter (OK).

    For a till on an ordinary PC with no touchscreen, where clicking keys one by one is slow. Typing
    reaches us through the wedge scanner's detector, which hands a person's slow keys back (``typed``)
    and tells a scanner's bursts apart; Enter and Backspace come through ``key`` (``WedgeBinding``'s
    ``on_other_key``). The keypad is the topmost one in the window: an open dialog's before the screen's
    (a screen manager holds only the screen that shows). A numeric keypad takes digits and a letter pad
    letters; anything else is ignored: no field in these apps takes it.
    """

    BACKSPACE_KEYS = frozenset({8})

    def __init__(self, window: Any = None) -> None:
        self._window = window
        self.typed_digits = 0  # digits that reached a keypad (tests)

    def keypad(self) -> NumericKeypad | LetterKeypad | None:
        window = self._window
        if window is None:
            from kivy.core.window import Window

            window = Window
        for top in window.children:  # the last one added (an open dialog) comes first
            for widget in top.walk(restrict=True):
                if isinstance(widget, NumericKeypad | LetterKeypad) and not widget.disabled:
                    return widget
        return None

    def typed(self, text: str) -> None:
        keypad = self.keypad()
        if keypad is None:
            return
        for char in text:
            if not char.isascii():
                continue
            if isinstance(keypad, NumericKeypad) and char.isdigit():
                keypad.press_digit(char)
                self.typed_digits += 1
            elif isinstance(keypad, LetterKeypad) and char.isalpha():
                keypad.press_letter(char)

    def key(self, key: int) -> bool:
        """Enter or Backspace for the keypad on screen; True when one took it."""
        if key not in ENTER_KEYS and key not in self.BACKSPACE_KEYS:
            return False
        keypad = self.keypad()
        if keypad is None:
            return False
        if key in ENTER_KEYS:
            keypad.confirm()
        else:
            keypad.backspace()
        return True


class MessageBanner(WrapLabel):
    """A message strip: ``show(text, kind)``; hides itself after ``timeout_s`` (Clock) or on a tap.

    ``full_text`` is the message (``text`` is it broken into lines). It fades out rather than going away: its
    holder lays it over something (the POS: its header) so that nothing moves when a message comes and
    goes, which would move the button under an elderly finger. ``kind`` is a theme role: info, success,
    warning, error.
    """

    kind = StringProperty("info")
    shown = BooleanProperty(False)
    fill = ColorProperty(_theme.INFO)
    text_colour = ColorProperty(_theme.ON_FILL)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        self._hide_event: Any = None
        super().__init__(**kwargs)
        self.on_kind(self, self.kind)

    def on_kind(self, _instance: object, kind: str) -> None:
        self.fill, self.text_colour = _theme.role_colours(kind)

    def show(self, text: str, kind: str = "info", timeout_s: float | None = None) -> None:
        """Show ``text``; ``timeout_s`` None picks the default for the kind, 0 keeps it until ``hide()``."""
        self._cancel_timer()
        self.kind = kind
        self.full_text = text
        self.shown = True
        if timeout_s is None:
            timeout_s = ERROR_TIMEOUT_S if kind in ("error", "warning") else INFO_TIMEOUT_S
        if timeout_s > 0:
            self._hide_event = Clock.schedule_once(self._timed_out, timeout_s)

    def show_error(self, error: BaseException | str, timeout_s: float | None = None) -> None:
        """An exception (ledger refusal, device fault: their own message; anything else: a generic one)."""
        text = error if isinstance(error, str) else translator().error(error)
        self.show(text, "error", timeout_s)

    def hide(self) -> None:
        self._cancel_timer()
        self.shown = False

    def _timed_out(self, _dt: float) -> None:
        self._hide_event = None
        self.shown = False

    def _cancel_timer(self) -> None:
        if self._hide_event is not None:
            self._hide_event.cancel()
            self._hide_event = None

    def on_touch_down(self, touch: Any) -> bool:
        if self.shown and self.collide_point(*touch.pos):
            self.hide()
            return True
        return bool(super().on_touch_down(touch))


class ConfirmDialog(ModalView):
    """A modal question with big Yes/No buttons; dispatches ``on_answer(bool)`` exactly once.

    No tap outside and no Escape dismisses it (``auto_dismiss`` False): a question about points must get an
    explicit answer. It opens and closes without animation: a fading dialog invites a second tap.
    """

    title = StringProperty("")
    message = StringProperty("")
    yes_text = StringProperty("")
    no_text = StringProperty("")
    yes_role = StringProperty("confirm")

    __events__ = ("on_answer",)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        kwargs.setdefault("auto_dismiss", False)
        self._answered = False
        super().__init__(**kwargs)
        tr = translator()
        if not self.title:
            self.title = tr("ui.confirm_title")
        if not self.yes_text:
            self.yes_text = tr("ui.yes")
        if not self.no_text:
            self.no_text = tr("ui.no")

    def open(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("animation", False)
        self._answered = False
        super().open(*args, **kwargs)

    def answer(self, value: bool) -> None:
        # Two fingers (or a bounce that slipped past the buttons) can reach both buttons: first answer wins.
        if self._answered:
            return
        self._answered = True
        self.dismiss(animation=False)
        self.dispatch("on_answer", bool(value))

    def on_answer(self, value: bool) -> None:
        """Default handler; bind ``on_answer`` (or pass ``on_answer`` to ``ask``)."""


def ask(
    message: str,
    on_answer: Callable[[bool], Any],
    *,
    title: str = "",
    yes_text: str = "",
    no_text: str = "",
    yes_role: str = "confirm",
) -> ConfirmDialog:
    """Open a ``ConfirmDialog`` and call ``on_answer(True/False)`` when a button is pressed."""
    dialog = ConfirmDialog(title=title, message=message, yes_text=yes_text, no_text=no_text, yes_role=yes_role)
    dialog.bind(on_answer=lambda _dialog, value: on_answer(value))
    dialog.open()
    return dialog


class Toast(Label):
    """A short notice floating over the screen. Not modal: taps go through to what is underneath."""

    kind = StringProperty("info")
    fill = ColorProperty(_theme.INFO)
    text_colour = ColorProperty(_theme.ON_FILL)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self.on_kind(self, self.kind)

    def on_kind(self, _instance: object, kind: str) -> None:
        self.fill, self.text_colour = _theme.role_colours(kind)

    def dismiss(self, *_args: Any) -> None:
        if self.parent is not None:
            self.parent.remove_widget(self)


class GoodsPicture(Image):
    """An item's picture (``lovemart items picture``) in a row of goods: a square as tall as its row, before
    the name, so a villager who reads little finds the rice by its bag. With no ``source`` it takes no room."""

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)


def toast(text: str, duration_s: float = TOAST_S, kind: str = "info") -> Toast:
    """Show ``text`` for ``duration_s`` seconds at the bottom of the window."""
    from kivy.core.window import Window

    note = Toast(text=text, kind=kind)
    Window.add_widget(note)
    Clock.schedule_once(note.dismiss, duration_s)
    return note


class HeaderBar(BoxLayout):
    """Title on the left, status text, the time, and a language button on the right.

    The clock is refreshed every second through a bound method, which Kivy's Clock holds weakly: a header
    that is thrown away with its screen stops ticking by itself.
    """

    title = StringProperty("")
    status = StringProperty("")
    status_kind = OptionProperty("ok", options=["ok", "warning", "error"])
    status_colour = ColorProperty(_theme.ON_FILL)
    clock_text = StringProperty("")
    clock_format = StringProperty("%H:%M")
    show_language = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        install_kit()
        super().__init__(**kwargs)
        self._update_clock()
        self.on_status_kind(self, self.status_kind)
        Clock.schedule_interval(self._update_clock, 1.0)

    def on_status_kind(self, _instance: object, kind: str) -> None:
        # On the dark header fill: white for "ok", amber for trouble (plus the words in ``status``).
        self.status_colour = _theme.ON_FILL if kind == "ok" else _theme.WARNING

    def on_clock_format(self, *_args: Any) -> None:
        self._update_clock()

    def _update_clock(self, *_args: Any) -> None:
        self.clock_text = time.strftime(self.clock_format)
