"""What the receipt layout needs to know about a thermal printer, and the two kinds villages buy.

python-escpos has its own capability database, but the layout only needs four facts (paper width in
characters and in dots, whether there is a cutter, whether the printer draws QR codes itself), and
reading that database costs a third of a second at first use. So the layout works from this small
value instead, and the settings choose it by paper width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from hardware.errors import HardwareError

#: Width of one font A character in dots. Both paper widths print 12 x 24 dot characters (a Chinese
#: character is 24 x 24, two columns), so ``columns * CHAR_DOTS == dots`` for the built-in profiles.
CHAR_DOTS = 12
#: Height of one text line in dots (font A and the 24-dot Chinese font), used to draw lines as images.
LINE_DOTS = 24


@dataclass(frozen=True)
class PrinterProfile:
    """One printer model as the layout sees it.

    ``columns`` counts display columns of font A: an ASCII character takes one, a Chinese character
    (two bytes in GB18030) takes two. ``dots`` is the printable width, the widest raster image the
    printer accepts. ``native_qr`` means the printer understands ``GS ( k``; otherwise QR codes are
    sent as raster images, which every printer can print.
    """

    name: str
    paper_mm: Literal[58, 80]
    columns: int
    dots: int
    has_cutter: bool
    native_qr: bool

    def __post_init__(self) -> None:
        # A wrong profile would print garbled receipts on every sale; refuse it when it is made.
        if self.paper_mm not in (58, 80):
            raise HardwareError("printer_config", detail=f"paper width {self.paper_mm} mm (58 or 80)")
        if self.columns <= 0 or self.dots <= 0 or self.dots % 8:
            detail = f"profile {self.name}: {self.columns} columns, {self.dots} dots"
            raise HardwareError("printer_config", detail=detail)


#: The common 58 mm printer (POS-5890 and its many clones): no cutter, QR codes only as images.
POS_58 = PrinterProfile(name="58mm POS-5890", paper_mm=58, columns=32, dots=384, has_cutter=False, native_qr=False)
#: A generic 80 mm printer: partial cutter and native QR codes.
GENERIC_80 = PrinterProfile(name="80mm generic", paper_mm=80, columns=48, dots=576, has_cutter=True, native_qr=True)

BUILT_IN: dict[int, PrinterProfile] = {58: POS_58, 80: GENERIC_80}


def profile_for(width_mm: int, cutter: bool | None = None) -> PrinterProfile:
    """The built-in profile for a paper width; ``cutter`` overrides the model's default when known.

    Raises ``HardwareError("printer_config")`` for any width other than 58 or 80 mm, because the
    column count of other widths is not known and guessing it would misalign every receipt.
    """
    if isinstance(width_mm, bool) or width_mm not in BUILT_IN:
        raise HardwareError("printer_config", detail=f"width = {width_mm!r} (58 or 80)")
    profile = BUILT_IN[width_mm]
    if cutter is None or cutter == profile.has_cutter:
        return profile
    suffix = "with cutter" if cutter else "no cutter"
    return replace(profile, name=f"{profile.name} ({suffix})", has_cutter=cutter)
