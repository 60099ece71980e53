"""Finding a font with Simplified Chinese glyph forms, for cards and for receipt lines printed as images.

WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, installed by ``make install``) comes first:
Noto CJK's ``.ttc`` opens its Japanese face by default and draws some characters in Japanese forms.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from hardware.errors import HardwareError

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@cache
def cjk_font_path() -> Path:
    """The CJK font to use; ``LOVEMART_CJK_FONT`` overrides the search. Raises ``font_missing``."""
    override = os.environ.get("LOVEMART_CJK_FONT")
    for candidate in ([override] if override else []) + list(CANDIDATES):
        path = Path(candidate)
        if path.is_file():
            return path
    raise HardwareError("font_missing")
