"""Colours and sizes for elderly users on a 7–10 inch touchscreen, typically 1024×600.

Sizes follow the window height, not Kivy's ``dp``: a cheap kiosk panel reports a made-up DPI, but its height
in pixels is what a finger and an eye meet. At 600 px a touch target is 66 px (≥ 64 px asked for), body text
27 px, and balance digits are drawn at a fifth of the height so the digit glyphs themselves (about 0.73 em in
WenQuanYi Micro Hei) stand taller than 1/8 of the screen. A floor in ``dp`` keeps targets usable when a
developer runs the app in a small window.

Colours: dark text on a warm off-white, and saturated fills with white text, every pair at WCAG contrast
≥ 4.5:1 (body text ≥ 7:1) — checked by ``contrast_ratio`` in the tests. Meaning never rides on colour
alone (red/green look alike to many older men): buttons also carry words.

``Theme`` is a Kivy ``EventDispatcher``; ``.kv`` files read it as the global name ``theme`` (installed by
``ui.app.install_kit``), and bindings such as ``font_size: theme.font_body`` follow window resizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from kivy.event import EventDispatcher
from kivy.metrics import dp
from kivy.properties import NumericProperty

Rgba = tuple[float, float, float, float]


def rgba(hex_colour: str, alpha: float = 1.0) -> Rgba:
    """``"#1A1A1A"`` → Kivy's 0..1 RGBA."""
    h = hex_colour.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"expected #RRGGBB, got {hex_colour!r}")
    r, g, b = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


def _luminance(colour: Rgba) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: Rgba, bg: Rgba) -> float:
    """WCAG 2 contrast ratio of two opaque colours, 1..21."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# ---------------------------------------------------------------- palette

BACKGROUND = rgba("#FAF7F0")  # warm off-white: less glare than pure white on a bright panel
SURFACE = rgba("#FFFFFF")
TEXT = rgba("#1A1A1A")
TEXT_MUTED = rgba("#454545")
ON_FILL = rgba("#FFFFFF")  # text on the saturated fills below

PRIMARY = rgba("#A8231C")  # festive red, the colour villagers associate with 红榜 and the scheme
CONFIRM = rgba("#1E6B35")  # green: go ahead
NEUTRAL = rgba("#37474F")  # slate: keypad digits, secondary actions
INFO = rgba("#0B4F8A")
DANGER = rgba("#8E1616")  # darker than PRIMARY so "delete/void" does not look like the main action
WARNING = rgba("#F2B705")  # amber, with TEXT on it (white on amber is unreadable)
DISABLED = rgba("#BDBDBD")
DISABLED_TEXT = rgba("#333333")
HEADER = rgba("#7A1712")

# role -> (fill, text). Widgets take a role name rather than raw colours, so screens stay consistent.
ROLES: dict[str, tuple[Rgba, Rgba]] = {
    "primary": (PRIMARY, ON_FILL),
    "confirm": (CONFIRM, ON_FILL),
    "neutral": (NEUTRAL, ON_FILL),
    "info": (INFO, ON_FILL),
    "danger": (DANGER, ON_FILL),
    "warning": (WARNING, TEXT),
    "error": (DANGER, ON_FILL),
    "success": (CONFIRM, ON_FILL),
    "header": (HEADER, ON_FILL),
    "disabled": (DISABLED, DISABLED_TEXT),
    "plain": (SURFACE, TEXT),
}
ROLE_NAMES = tuple(ROLES)


def role_colours(role: str) -> tuple[Rgba, Rgba]:
    """(fill, text) for a role; an unknown role falls back to ``neutral`` (a typo must not crash a screen)."""
    return ROLES.get(role, ROLES["neutral"])


def pressed(colour: Rgba, amount: float = 0.25) -> Rgba:
    """A darker shade for the pressed state: the finger must see that the button took the tap."""
    r, g, b, a = colour
    k = 1.0 - amount
    return (r * k, g * k, b * k, a)


# ---------------------------------------------------------------- sizes

REFERENCE_SIZE = (1024, 600)


@dataclass(frozen=True)
class Metrics:
    """Pixel sizes for a window; pure so it can be checked without a window."""

    height: float
    touch: float  # minimum height (and width) of anything tapped
    touch_large: float  # the main action of a screen
    spacing: float
    padding: float
    font_small: float
    font_body: float
    font_button: float
    font_title: float
    font_huge: float  # balance digits
    header_height: float
    banner_height: float


def metrics_for(height: float) -> Metrics:
    """Sizes for a window ``height`` pixels tall (see the module docstring for the reasons)."""
    h = float(height)
    touch = max(dp(56), round(h * 0.11))
    return Metrics(
        height=h,
        touch=touch,
        touch_large=max(dp(64), round(h * 0.15)),
        spacing=max(dp(6), round(h * 0.015)),
        padding=max(dp(8), round(h * 0.025)),
        font_small=max(dp(16), round(h * 0.035)),
        font_body=max(dp(18), round(h * 0.045)),
        font_button=max(dp(20), round(h * 0.05)),
        font_title=max(dp(24), round(h * 0.065)),
        font_huge=max(dp(48), round(h * 0.2)),
        header_height=touch,
        banner_height=touch,
    )


class Theme(EventDispatcher):  # type: ignore[misc]  # Kivy has no types: EventDispatcher is Any
    """The current sizes as Kivy properties, recomputed when the window height changes.

    One per process (``ui.theme.theme()``), followed by every ``.kv`` rule through the global name ``theme``.
    The palette is repeated as class attributes so ``.kv`` rules need only that one name (``theme.TEXT``).
    """

    BACKGROUND = BACKGROUND
    SURFACE = SURFACE
    TEXT = TEXT
    TEXT_MUTED = TEXT_MUTED
    ON_FILL = ON_FILL
    PRIMARY = PRIMARY
    CONFIRM = CONFIRM
    NEUTRAL = NEUTRAL
    INFO = INFO
    DANGER = DANGER
    WARNING = WARNING
    HEADER = HEADER
    DISABLED = DISABLED
    DISABLED_TEXT = DISABLED_TEXT

    height = NumericProperty(REFERENCE_SIZE[1])
    touch = NumericProperty(0)
    touch_large = NumericProperty(0)
    spacing = NumericProperty(0)
    padding = NumericProperty(0)
    font_small = NumericProperty(0)
    font_body = NumericProperty(0)
    font_button = NumericProperty(0)
    font_title = NumericProperty(0)
    font_huge = NumericProperty(0)
    header_height = NumericProperty(0)
    banner_height = NumericProperty(0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._window: object | None = None
        self._apply(metrics_for(self.height))

    def on_height(self, _instance: object, value: float) -> None:
        self._apply(metrics_for(value))

    def _apply(self, m: Metrics) -> None:
        for name in (
            "touch",
            "touch_large",
            "spacing",
            "padding",
            "font_small",
            "font_body",
            "font_button",
            "font_title",
            "font_huge",
            "header_height",
            "banner_height",
        ):
            setattr(self, name, getattr(m, name))

    def follow_window(self, window: object) -> None:
        """Track ``window.height`` from now on (idempotent per window)."""
        if self._window is window:
            return
        self.unfollow_window()
        self._window = window
        window.bind(height=self._on_window_height)  # type: ignore[attr-defined]
        self.height = window.height  # type: ignore[attr-defined]

    def unfollow_window(self) -> None:
        if self._window is not None:
            self._window.unbind(height=self._on_window_height)  # type: ignore[attr-defined]
            self._window = None

    def _on_window_height(self, _window: object, height: float) -> None:
        self.height = height


_theme: Theme | None = None


def theme() -> Theme:
    """The process-wide theme that ``.kv`` rules see as ``theme`` (made on first use, not at import)."""
    global _theme
    if _theme is None:
        _theme = Theme()
    return _theme


def whole_fit(available: float, target: float, spacing: float) -> tuple[int, float]:
    """How many things of about ``target`` size fit in ``available`` with ``spacing`` between them, and the
    size that makes exactly that many fill it: a list or a row of tabs then shows whole rows or tabs, never
    one cut in half at its edge (which reads as a different word or number: "洗" for 洗护)."""
    if target <= 0 or available < target:
        return 1, target  # not even one fits: the thing keeps its size (and the view scrolls)
    count = max(1, int((available + spacing) // (target + spacing)))
    return count, (available - (count - 1) * spacing) / count
