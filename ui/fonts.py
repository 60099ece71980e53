"""Make Kivy draw Simplified Chinese: find a CJK font and register it as Kivy's default font.

Why the default font and not a ``font_name`` on every label: Kivy's own widgets (buttons, popups, the
settings panel, anything an app forgets) all ask for the default font name, ``Roboto``, which has no Chinese
glyphs and draws boxes. Registering our font *under that name* fixes every label at once. It must happen
before the first widget renders text; ``KitApp`` does it in its constructor, before ``build``.

Which font: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``). Noto CJK's ``.ttc`` would open its first
face, the Japanese one, and draw 直, 角, 骨 in Japanese forms; Kivy cannot pick another face of a collection.
``LOVEMART_CJK_FONT`` overrides the search (the same variable the receipt printer's font lookup reads).

Bold: Micro Hei has one weight and Kivy's SDL2 text provider does not embolden synthetically (measured: a
bold label renders the very same pixels), so the same file is registered for bold. ``[b]`` markup therefore
shows regular weight; the kit emphasises with size and colour instead.

Kivy is imported inside ``register_fonts`` only, so ``lovemart doctor`` can call ``find_cjk_font`` without
loading Kivy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "LOVEMART_CJK_FONT"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian, Ubuntu
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora, Arch
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # the other WenQuanYi face: also Simplified forms
)
FONT_NAME = "LoveMartCJK"  # our own name too, for kv rules that want to say which font explicitly
KIVY_DEFAULT_FONT = "Roboto"  # the name kivy.core.text.DEFAULT_FONT has; checked in register_fonts

_registered: str | None = None


class FontMissingError(RuntimeError):
    """No font with Simplified Chinese glyphs: the apps would show boxes instead of words."""

    def __init__(self, tried: list[str]) -> None:
        self.tried = tried
        super().__init__(
            "no Simplified Chinese font found (tried: "
            + ", ".join(tried)
            + "). Install it with: sudo apt-get install fonts-wqy-microhei, or set "
            + ENV_VAR
        )


def find_cjk_font() -> str | None:
    """Path of the font to use, or None. ``LOVEMART_CJK_FONT`` first (when it names a file), then the
    usual places of WenQuanYi Micro Hei."""
    override = os.environ.get(ENV_VAR)
    if override and not Path(override).is_file():
        log.warning("%s=%s is not a file; looking in the usual places", ENV_VAR, override)
    for candidate in ([override] if override else []) + list(CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    return None


def registered_font() -> str | None:
    """The font file registered by ``register_fonts``, or None before it ran."""
    return _registered


def register_fonts(path: str | None = None) -> str:
    """Register the CJK font as Kivy's default (regular, italic, bold, bold italic) and as ``FONT_NAME``.

    Idempotent: calling it again with the same font does nothing, so every app and test may call it.
    Returns the font file. Raises ``FontMissingError`` when there is none: an app that cannot write Chinese
    is worse than one that does not start with a message saying which package to install.
    """
    global _registered
    chosen = path or find_cjk_font()
    if chosen is None:
        raise FontMissingError([os.environ.get(ENV_VAR, "")] + list(CANDIDATES))
    if not Path(chosen).is_file():
        raise FontMissingError([chosen])
    if _registered == chosen:
        return chosen

    from kivy.core.text import DEFAULT_FONT, LabelBase

    if DEFAULT_FONT != KIVY_DEFAULT_FONT:
        # A Kivy configured with another default_font: register under that name, which is what widgets ask for.
        log.info("Kivy's default font name is %r; registering the CJK font under it", DEFAULT_FONT)
    for name in {DEFAULT_FONT, KIVY_DEFAULT_FONT, FONT_NAME}:
        LabelBase.register(name, fn_regular=chosen, fn_italic=chosen, fn_bold=chosen, fn_bolditalic=chosen)
    _registered = chosen
    log.info("registered %s as the default font", chosen)
    return chosen
