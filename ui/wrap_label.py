"""``WrapLabel``: a Kivy ``Label`` that breaks Chinese lines by the CJK rules (禁则) of ``ui.linebreak``.

Why: Kivy breaks lines at spaces and cuts a longer run at any character, so a Chinese sentence (no spaces)
gets lines starting with "，" or "、" and numbers such as 169 cut in two. ``WrapLabel`` breaks the text itself
with ``ui.linebreak.wrap``, measured with Kivy's own text provider in the label's font, and hands Kivy lines
that already fit: Kivy then has nothing left to break.

Use: set ``full_text`` (the original); ``text`` is what is rendered, with "\\n" where the lines break. Setting
``text`` directly also works: anything not produced by the label itself is taken as the new ``full_text``. So
both of these work in a ``.kv`` rule::

    WrapLabel:
        full_text: _('kiosk.thanks')      # preferred
        size_hint_y: None
        height: self.texture_size[1]      # grow with the lines
        text_size: self.width, None       # only for halign, as with any Label

The label re-wraps (once per frame at most) when its width, ``text_size``, padding, font or ``full_text``
changes; ``rewrap()`` does it at once. It wraps to ``text_size[0]`` when set, else to its width, minus the
horizontal padding. Widths come from ``kivy.core.text.Label.get_extents``, cached per font and string
(``measurer``), and every wrapped line is checked once against the width Kivy itself measures, so that
Kivy never re-breaks a line. With ``markup`` on, the text is left to Kivy (tags would be measured as text).
Tests and other code that look a label up by its words should compare ``full_text``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.factory import Factory
from kivy.properties import StringProperty
from kivy.uix.label import Label

from ui.linebreak import wrap_measured

Measure = Callable[[str], float]

CHECK_SLACK = 3.0  # px: a line whose summed width is this close to the limit is measured whole (seen: ±1–3 px)
CACHE_LIMIT = 20_000  # strings per font; a label shows units (a character, a number, "分，"), not lines
_MEASURE_OPTIONS = ("font_name", "font_size", "bold", "italic", "font_hinting", "font_kerning")
_measurers: dict[tuple[Any, ...], tuple[Measure, Measure]] = {}


def measurer(**options: Any) -> tuple[Measure, Measure]:
    """``(cached, exact)`` width functions for a font: ``options`` are Kivy label options (``font_name``,
    ``font_size``, ``bold``…). ``cached`` remembers each string's width (up to ``CACHE_LIMIT`` strings, then
    starts again); ``exact`` measures every time (for whole lines, which rarely repeat)."""
    key = tuple(sorted(options.items()))
    found = _measurers.get(key)
    if found is not None:
        return found
    core = CoreLabel(**options)
    extents = core.get_extents
    widths: dict[str, float] = {}

    def exact(text: str) -> float:
        return float(extents(text)[0])

    def cached(text: str) -> float:
        width = widths.get(text)
        if width is None:
            if len(widths) >= CACHE_LIMIT:
                widths.clear()
            width = widths[text] = float(extents(text)[0])
        return width

    _measurers[key] = (cached, exact)
    return cached, exact


@lru_cache(maxsize=512)
def text_block(text: str, font_size: float, width: float | None = None, bold: bool = False) -> tuple[float, float]:
    """The size of ``text`` as Kivy's core label draws it in the default font: one line each (hard breaks
    aside), or wrapped as Kivy wraps it at ``width``. For a ``Button``, whose ``text_size`` follows its own
    size, so that its ``texture_size`` cannot say how much room its words want."""
    if not text:
        return (0.0, 0.0)
    wrap_at = (max(1.0, width), None) if width else (None, None)
    core = CoreLabel(text=text, font_size=font_size, bold=bold, text_size=wrap_at)
    core.refresh()
    w, h = core.content_size
    return (float(w), float(h))


class WrapLabel(Label):  # type: ignore[misc]  # Kivy has no types: Label is Any
    """A ``Label`` whose ``full_text`` is broken into lines by ``ui.linebreak`` and shown as ``text``."""

    full_text = StringProperty("")
    text: str  # Label's StringProperty, for mypy (an annotation only: it adds no class attribute)

    def __init__(self, **kwargs: Any) -> None:
        from ui.widgets import install_kit  # the CJK font must be Kivy's default before anything is measured

        install_kit()
        self._shown: str | None = None  # the last text this label rendered itself (not someone's new text)
        self._trigger_rewrap = Clock.create_trigger(self.rewrap, -1)
        super().__init__(**kwargs)  # a ``text=`` given here reaches ``on_text`` and becomes ``full_text``
        for name in ("full_text", "width", "text_size", "padding", "markup", *_MEASURE_OPTIONS):
            self.fbind(name, self._trigger_rewrap)
        self._trigger_rewrap()

    def on_text(self, _instance: Any, value: str) -> None:
        if value != self._shown:
            # Someone set ``text`` itself: it is the new original. (``full_text`` may already hold it while
            # ``text`` shows an older wrapping, so re-wrap even when ``full_text`` does not change.)
            self.full_text = value
            self._trigger_rewrap()

    def wrap_width(self) -> float:
        """The width the lines must fit: ``text_size[0]`` (or the width) minus the horizontal padding."""
        box = self.text_size[0] if self.text_size[0] is not None else self.width
        return float(box - self.padding[0] - self.padding[2])

    def rewrap(self, *_args: Any) -> None:
        """Wrap ``full_text`` to the current width and font now, and render it."""
        self._trigger_rewrap.cancel()
        text = self.full_text
        width = self.wrap_width()
        if self.markup or width < 1 or not text:
            shown = text
        else:
            shown = "\n".join(self.wrap_lines(text, width))
        self._shown = shown
        if shown != self.text:
            self.text = shown

    def wrap_lines(self, text: str, width: float) -> list[str]:
        """``text`` as lines for ``width`` in this label's font."""
        cached, exact = measurer(**{name: getattr(self, name) for name in _MEASURE_OPTIONS})
        lines = wrap_measured(text, width, cached)
        limit = width
        for _attempt in range(3):
            # A line's width summed from its parts may be a pixel or so off the whole line's (kerning,
            # rounding), and Kivy breaks a line it finds too wide wherever it likes: check the nearly full
            # lines as Kivy will measure them, and wrap tighter if one is over.
            over = max(
                (exact(line) - width for line, summed in lines if summed > width - CHECK_SLACK and len(line) > 1),
                default=0.0,
            )
            if over <= 0:
                break
            limit -= over
            lines = wrap_measured(text, limit, cached)
        return [line for line, _summed in lines]


def register() -> None:
    """Make ``WrapLabel`` known to Kivy's ``Factory`` for ``.kv`` rules. Idempotent. (Importing this module
    registers the class already, as for any Kivy widget class; this says so explicitly for callers.)"""
    Factory.register("WrapLabel", cls=WrapLabel)
