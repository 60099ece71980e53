"""Make Kivy draw Simplified Chinese: find a CJK font and register it as Kivy's default font.

Why the default font and not a ``font_name`` on every label: Kivy's own widgets (buttons, popups, the
settings panel, anything an app forgets) all ask for the default font name, ``Roboto``, which has no Chinese
glyphs and draws boxes. Registering our font *under that name* fixes every label at once. It must happen
before the first widget renders text; ``KitApp`` does it in its constructor, before ``build``.

Which font: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``). Noto CJK's ``.ttc`` would open its first
face, the Japanese one, and draw 直, 角, 骨 in Japanese forms; Kivy cannot pick another face of a collection.
``LOVEMART_CJK_FONT`` overrides the search (the same variable the receipt printer's font lookup reads).

Bold: Micro Hei has one weight, and Kivy's SDL2 text provider does not embolden synthetically (measured: a
bold label renders the very same pixels). The bold face is Noto Sans CJK SC Bold, from Debian's
``fonts-noto-cjk``: its ``.ttc`` holds the Japanese, Korean, Simplified and Traditional faces and Kivy opens
the first, so ``find_bold_font`` copies the Simplified Chinese face out once (fontTools, about a second,
17 MB) into the user's cache and registers that file for ``bold: True`` and ``[b]``. Without the package,
or if the copy cannot be written (a full disk), bold shows the regular weight and the apps still work;
``LOVEMART_CJK_BOLD_FONT`` names another bold file.

Kivy is imported inside ``register_fonts`` only, so ``find_cjk_font`` can be called without loading Kivy.
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
BOLD_ENV_VAR = "LOVEMART_CJK_BOLD_FONT"
BOLD_COLLECTIONS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",  # Debian, Ubuntu (fonts-noto-cjk)
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",  # Arch, Fedora
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
)
BOLD_FACE = "Noto Sans CJK SC"  # the collection's face with Simplified Chinese glyph forms (name ID 1)
BOLD_FILE = "NotoSansCJKsc-Bold.otf"
FONT_NAME = "LoveMartCJK"  # our own name too, for kv rules that want to say which font explicitly
KIVY_DEFAULT_FONT = "Roboto"  # the name kivy.core.text.DEFAULT_FONT has; checked in register_fonts

_registered: str | None = None
_registered_bold: str | None = None


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


def font_cache_dir() -> Path:
    """Where the bold face is copied to: ``$XDG_CACHE_HOME/lovemart/fonts`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lovemart" / "fonts"


def find_bold_font() -> str | None:
    """Path of a bold font with Simplified Chinese forms, copying it out of Noto CJK's collection the first
    time; None when there is none (bold then shows the regular weight)."""
    override = os.environ.get(BOLD_ENV_VAR)
    if override:
        if Path(override).is_file():
            return override
        log.warning("%s=%s is not a file; looking in the usual places", BOLD_ENV_VAR, override)
    collection = next((Path(c) for c in BOLD_COLLECTIONS if Path(c).is_file()), None)
    if collection is None:
        return None
    face = font_cache_dir() / BOLD_FILE
    if face.is_file() and face.stat().st_mtime >= collection.stat().st_mtime:
        return str(face)
    try:
        extract_face(collection, BOLD_FACE, face)
    except (OSError, ValueError, ImportError) as error:  # a full disk, an unexpected collection: no bold
        log.warning("no bold Chinese font: could not copy %s out of %s: %s", BOLD_FACE, collection, error)
        return None
    return str(face)


def extract_face(collection: Path, family: str, out: Path) -> None:
    """Write the face of ``collection`` (a .ttc) whose family name is ``family`` to ``out``, atomically:
    two apps starting at once each write their own temporary file and the last rename wins."""
    from fontTools.ttLib import TTCollection

    fonts = TTCollection(str(collection), lazy=True).fonts
    chosen = next((f for f in fonts if f["name"].getDebugName(1) == family), None)
    if chosen is None:
        raise ValueError(f"no face named {family!r} in {collection}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        chosen.save(str(partial))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def registered_font() -> str | None:
    """The font file registered by ``register_fonts``, or None before it ran."""
    return _registered


def registered_bold_font() -> str | None:
    """The bold font file registered by ``register_fonts`` (the regular one when there is no bold)."""
    return _registered_bold


def register_fonts(path: str | None = None, bold: str | None = None) -> str:
    """Register the CJK font as Kivy's default (regular and italic; ``bold``, else ``find_bold_font``, for
    bold and bold italic) and as ``FONT_NAME``.

    Idempotent: calling it again with the same font does nothing, so every app and test may call it.
    Returns the font file. Raises ``FontMissingError`` when there is none: an app that cannot write Chinese
    is worse than one that does not start with a message saying which package to install.
    """
    global _registered, _registered_bold
    chosen = path or find_cjk_font()
    if chosen is None:
        raise FontMissingError([os.environ.get(ENV_VAR, "")] + list(CANDIDATES))
    if not Path(chosen).is_file():
        raise FontMissingError([chosen])
    if _registered == chosen and (bold is None or bold == _registered_bold):
        return chosen
    heavy = bold or find_bold_font() or chosen

    from kivy.core.text import DEFAULT_FONT, LabelBase

    if DEFAULT_FONT != KIVY_DEFAULT_FONT:
        # A Kivy configured with another default_font: register under that name, which is what widgets ask for.
        log.info("Kivy's default font name is %r; registering the CJK font under it", DEFAULT_FONT)
    for name in {DEFAULT_FONT, KIVY_DEFAULT_FONT, FONT_NAME}:
        LabelBase.register(name, fn_regular=chosen, fn_italic=chosen, fn_bold=heavy, fn_bolditalic=heavy)
    _registered, _registered_bold = chosen, heavy
    log.info("registered %s as the default font (bold: %s)", chosen, heavy)
    return chosen
