"""Passbook cards: a credit-card-sized card with the household's name, a QR code and a Code 128 barcode.

One layout, in millimetres from the card's top-left corner, drives both renderers: the PIL image (for
the thermal printer and for tests) and the A4 PDF sheet (for the township office's laser printer). The
two symbols carry the same ``LM1:...`` text: the QR code is what a webcam reads at any angle, the Code 128
is what a USB wedge scanner reads, and the text under the bars is what a shopkeeper types when both fail.

Symbol sizes are whole printer dots (``PRINT_DPI`` for the sheet, the image's dpi for images): a bar
that is 3.5 dots wide prints as 3 or 4 dots at random, and that unevenness is what makes cheap scanners
give up. The QR code and Code 128 are drawn module by module from reportlab's encoders, so the sheet
stays vector and the image and the sheet show the very same symbols.

Device libraries (PIL, reportlab, pypdfium2) are imported inside the functions that use them: importing
this module must stay cheap for code that only wants the layout.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware.fonts import cjk_font_path

if TYPE_CHECKING:
    from PIL import Image

CARD_WIDTH_MM = 85.6  # ISO/IEC 7810 ID-1, the size of a bank card: fits a wallet and a passbook sleeve
CARD_HEIGHT_MM = 54.0
PRINT_DPI = 300  # module widths are whole dots at 300 dpi, so also at 600 and 1200 dpi
QR_LEVEL = "M"  # 15 % recovery; "Q" would push a typical code from version 1 to 2 and shrink every module
QR_QUIET_MODULES = 4
BAR_QUIET_MODULES = 10

# A4 sheet: 2 columns x 5 rows, with gaps wide enough to cut between cards with scissors.
PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
COLUMNS = 2
ROWS = 5
CARDS_PER_PAGE = COLUMNS * ROWS
COLUMN_GAP_MM = 6.0
ROW_GAP_MM = 3.0
SHEET_LEFT_MM = (PAGE_WIDTH_MM - COLUMNS * CARD_WIDTH_MM - (COLUMNS - 1) * COLUMN_GAP_MM) / 2
SHEET_TOP_MM = (PAGE_HEIGHT_MM - ROWS * CARD_HEIGHT_MM - (ROWS - 1) * ROW_GAP_MM) / 2

PDF_FONT_NAME = "LoveMartCJK"


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres from the card's top-left corner (y grows downwards, as on paper)."""

    x: float
    y: float
    w: float
    h: float


# Fixed regions of the card. The QR area includes its quiet zone; nothing else is drawn inside it.
QR_AREA = Box(52.6, 2.0, 31.0, 31.0)
BAR_TOP_MM = 35.0
BAR_HEIGHT_MM = 13.5  # tall bars let a scan line cross the whole symbol when the card is held a little askew
BAR_SIDE_MARGIN_MM = 1.0
CODE_TEXT_BASELINE_MM = 52.0
CODE_TEXT_SIZE_MM = 2.6
TEXT_LEFT_MM = 4.0
TEXT_RIGHT_MM = QR_AREA.x - 1.5
HEADER = "爱心超市积分存折"
HEADER_SIZE_MM = 3.2
HEADER_BASELINE_MM = 6.5
NAME_SIZE_MM = 8.5
NAME_BASELINE_MM = 17.0
DETAIL_SIZE_MM = 3.4
DETAIL_BASELINES_MM = (23.0, 28.0, 33.0)


@dataclass(frozen=True)
class CardFace:
    """What is printed on one passbook card. ``code`` is the passbook text from ``ledger.passbook.make_code``."""

    household_id: str
    household_name: str
    village_name: str
    card_no: int
    code: str

    def __post_init__(self) -> None:
        # Code 128 has no characters beyond ASCII and a QR code in byte mode would be larger and, read by
        # zbar, garbled: a code that does not fit both symbols is a bug upstream, not something to print.
        if not self.code or not self.code.isascii() or not self.code.isprintable():
            raise ValueError(f"a passbook code must be printable ASCII: {self.code!r}")


@dataclass(frozen=True)
class SymbolLayout:
    """Where the two symbols of one code go on the card, with module sizes in whole dots of ``dpi``."""

    qr: tuple[tuple[bool, ...], ...]
    qr_module_mm: float
    qr_x: float  # top-left corner of the first module (inside the quiet zone)
    qr_y: float
    bars: tuple[int, ...]  # widths in modules, alternately bar and space, starting with a bar
    bar_module_mm: float
    bar_x: float  # left edge of the first bar (inside the quiet zone)
    bar_y: float
    bar_height_mm: float

    @property
    def qr_box(self) -> Box:
        """The QR code with its quiet zone."""
        quiet = QR_QUIET_MODULES * self.qr_module_mm
        side = len(self.qr) * self.qr_module_mm + 2 * quiet
        return Box(self.qr_x - quiet, self.qr_y - quiet, side, side)

    @property
    def bar_box(self) -> Box:
        """The Code 128 bars with their quiet zones."""
        quiet = BAR_QUIET_MODULES * self.bar_module_mm
        width = sum(self.bars) * self.bar_module_mm + 2 * quiet
        return Box(self.bar_x - quiet, self.bar_y, width, self.bar_height_mm)


@lru_cache(maxsize=512)
def qr_matrix(text: str, level: str = QR_LEVEL) -> tuple[tuple[bool, ...], ...]:
    """The QR modules of ``text`` (True = dark). Uppercase ASCII with ':' is encoded in alphanumeric mode."""
    from reportlab.graphics.barcode import qrencoder  # type: ignore[import-untyped]

    symbol = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    symbol.addData(text)  # reportlab picks the densest mode the text allows (numeric, alphanumeric, bytes)
    symbol.make()
    return tuple(tuple(bool(module) for module in row) for row in symbol.modules)


@lru_cache(maxsize=512)
def code128_bars(text: str) -> tuple[int, ...]:
    """The Code 128 widths of ``text`` in modules, alternately bar and space, start to stop pattern."""
    from reportlab.graphics.barcode.code128 import Code128  # type: ignore[import-untyped]

    symbol = Code128(text, quiet=0)
    symbol.validate()
    symbol.encode()
    # reportlab spells each element as a letter: its width is the letter's rank, upper case for a bar.
    pattern: str = symbol.decompose()
    widths = tuple(ord(letter.lower()) - ord("a") + 1 for letter in pattern)
    if not all(letter.isupper() == (index % 2 == 0) for index, letter in enumerate(pattern)):
        raise ValueError(f"unexpected Code 128 pattern for {text!r}")
    return widths


def symbol_layout(code: str, dpi: float = PRINT_DPI) -> SymbolLayout:
    """Place both symbols of ``code`` on the card, snapping module sizes and origins to whole dots of ``dpi``."""
    dot = 25.4 / dpi

    def snap(value_mm: float) -> float:
        return round(value_mm / dot) * dot

    qr = qr_matrix(code)
    qr_span = len(qr) + 2 * QR_QUIET_MODULES
    qr_module = max(1, int(QR_AREA.w / qr_span / dot)) * dot
    qr_side = len(qr) * qr_module
    qr_x = snap(QR_AREA.x + (QR_AREA.w - qr_side) / 2)
    qr_y = snap(QR_AREA.y + (QR_AREA.h - qr_side) / 2)

    bars = code128_bars(code)
    bar_span = sum(bars) + 2 * BAR_QUIET_MODULES
    available = CARD_WIDTH_MM - 2 * BAR_SIDE_MARGIN_MM
    # The widest whole-dot module that keeps both quiet zones on the card; never under one dot.
    bar_module = max(1, int(available / bar_span / dot)) * dot
    bar_width = sum(bars) * bar_module
    bar_x = snap((CARD_WIDTH_MM - bar_width) / 2)
    return SymbolLayout(
        qr=qr,
        qr_module_mm=qr_module,
        qr_x=qr_x,
        qr_y=qr_y,
        bars=bars,
        bar_module_mm=bar_module,
        bar_x=bar_x,
        bar_y=snap(BAR_TOP_MM),
        bar_height_mm=BAR_HEIGHT_MM,
    )


def _qr_runs(layout: SymbolLayout) -> list[Box]:
    """The dark modules of the QR code as horizontal runs: fewer rectangles, no seams inside a run."""
    runs = []
    m = layout.qr_module_mm
    for r, row in enumerate(layout.qr):
        c = 0
        for dark, group in itertools.groupby(row):
            count = len(list(group))
            if dark:
                runs.append(Box(layout.qr_x + c * m, layout.qr_y + r * m, count * m, m))
            c += count
    return runs


def _bar_rects(layout: SymbolLayout) -> list[Box]:
    rects = []
    x = layout.bar_x
    for index, width in enumerate(layout.bars):
        w = width * layout.bar_module_mm
        if index % 2 == 0:
            rects.append(Box(x, layout.bar_y, w, layout.bar_height_mm))
        x += w
    return rects


def _detail_lines(face: CardFace) -> tuple[str, str, str]:
    return (f"户号 {face.household_id}", face.village_name, f"卡号 {face.card_no}")


# ----- the card as an image ----------------------------------------------------------------------


def render_card_image(face: CardFace, dpi: int = 300) -> Image.Image:
    """The card as a grey ('L') image at ``dpi``: 1011 x 638 pixels at 300 dpi."""
    from PIL import Image, ImageDraw, ImageFont

    px_per_mm = dpi / 25.4
    size = (round(CARD_WIDTH_MM * px_per_mm), round(CARD_HEIGHT_MM * px_per_mm))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font_path = str(cjk_font_path())

    def px(value_mm: float) -> int:
        return round(value_mm * px_per_mm)

    def font(size_mm: float) -> Any:
        return ImageFont.truetype(font_path, size=max(1, px(size_mm)), index=0)

    def fitted(text: str, size_mm: float, width_mm: float) -> Any:
        # Long names shrink to fit the column rather than run into the QR code's quiet zone.
        chosen = font(size_mm)
        length = float(chosen.getlength(text))
        if length > px(width_mm):
            chosen = font(size_mm * px(width_mm) / length)
        return chosen

    layout = symbol_layout(face.code, dpi)
    for box in _qr_runs(layout) + _bar_rects(layout):
        # Edges from rounded millimetres: module sizes are whole pixels, so every module keeps its width.
        draw.rectangle((px(box.x), px(box.y), px(box.x + box.w) - 1, px(box.y + box.h) - 1), fill=0)

    column = TEXT_RIGHT_MM - TEXT_LEFT_MM
    draw.text((px(TEXT_LEFT_MM), px(HEADER_BASELINE_MM)), HEADER, fill=0, font=font(HEADER_SIZE_MM), anchor="ls")
    name_font = fitted(face.household_name, NAME_SIZE_MM, column)
    draw.text((px(TEXT_LEFT_MM), px(NAME_BASELINE_MM)), face.household_name, fill=0, font=name_font, anchor="ls")
    for text, baseline in zip(_detail_lines(face), DETAIL_BASELINES_MM, strict=True):
        draw.text(
            (px(TEXT_LEFT_MM), px(baseline)), text, fill=0, font=fitted(text, DETAIL_SIZE_MM, column), anchor="ls"
        )
    code_font = fitted(face.code, CODE_TEXT_SIZE_MM, CARD_WIDTH_MM - 4)
    draw.text((px(CARD_WIDTH_MM / 2), px(CODE_TEXT_BASELINE_MM)), face.code, fill=0, font=code_font, anchor="ms")
    return image


# ----- the A4 sheet ------------------------------------------------------------------------------


def card_origin_mm(slot: int) -> tuple[float, float]:
    """Top-left corner of card ``slot`` (0 to CARDS_PER_PAGE - 1) on the page, mm from the page's top-left."""
    row, column = divmod(slot, COLUMNS)
    x = SHEET_LEFT_MM + column * (CARD_WIDTH_MM + COLUMN_GAP_MM)
    y = SHEET_TOP_MM + row * (CARD_HEIGHT_MM + ROW_GAP_MM)
    # On the 300 dpi grid, so module edges fall on printer dots on every card, not just the first.
    dot = 25.4 / PRINT_DPI
    return round(x / dot) * dot, round(y / dot) * dot


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    if PDF_FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        # subfontIndex 0 is WenQuanYi Micro Hei itself (1 is its monospaced sibling).
        pdfmetrics.registerFont(TTFont(PDF_FONT_NAME, str(cjk_font_path()), subfontIndex=0))
    return PDF_FONT_NAME


def write_cards_pdf(faces: Sequence[CardFace], out_path: str | Path, title: str = "") -> int:
    """Write the cards on A4 sheets, 10 to a page with cut lines; return the number of pages."""
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    if not faces:
        raise ValueError("no passbook cards to print")
    font = _pdf_font()
    page_height = PAGE_HEIGHT_MM * mm
    sheet = canvas.Canvas(str(out_path), pagesize=(PAGE_WIDTH_MM * mm, page_height))
    sheet.setTitle(title or "爱心超市积分存折卡")
    sheet.setAuthor("lovemart")
    pages = (len(faces) + CARDS_PER_PAGE - 1) // CARDS_PER_PAGE

    for page in range(pages):
        if title:
            sheet.setFillGray(0)
            sheet.setFont(font, 2.8 * mm)
            sheet.drawString(SHEET_LEFT_MM * mm, page_height - 4.5 * mm, f"{title}  第 {page + 1}/{pages} 页")
        for slot, face in enumerate(faces[page * CARDS_PER_PAGE : (page + 1) * CARDS_PER_PAGE]):
            ox, oy = card_origin_mm(slot)

            def x_pt(value_mm: float, ox: float = ox) -> float:
                return float((ox + value_mm) * mm)

            def y_pt(value_mm: float, oy: float = oy) -> float:
                return float(page_height - (oy + value_mm) * mm)

            # The cut line: a hairline in light grey, visible to scissors but not to a scanner.
            sheet.setStrokeGray(0.6)
            sheet.setLineWidth(0.25)
            sheet.rect(x_pt(0), y_pt(CARD_HEIGHT_MM), CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm, stroke=1, fill=0)

            layout = symbol_layout(face.code, PRINT_DPI)
            # All modules in one path, filled once: adjacent rectangles of one fill leave no anti-aliased seams.
            path = sheet.beginPath()
            for box in _qr_runs(layout) + _bar_rects(layout):
                path.rect(x_pt(box.x), y_pt(box.y + box.h), box.w * mm, box.h * mm)
            sheet.setFillGray(0)
            sheet.drawPath(path, stroke=0, fill=1)

            def text(value: str, x_mm: float, baseline_mm: float, size_mm: float, width_mm: float) -> None:
                width = pdfmetrics.stringWidth(value, font, size_mm * mm)
                if width > width_mm * mm:
                    size_mm = size_mm * width_mm * mm / width
                sheet.setFont(font, size_mm * mm)
                sheet.drawString(x_pt(x_mm), y_pt(baseline_mm), value)

            column = TEXT_RIGHT_MM - TEXT_LEFT_MM
            text(HEADER, TEXT_LEFT_MM, HEADER_BASELINE_MM, HEADER_SIZE_MM, column)
            text(face.household_name, TEXT_LEFT_MM, NAME_BASELINE_MM, NAME_SIZE_MM, column)
            for line, baseline in zip(_detail_lines(face), DETAIL_BASELINES_MM, strict=True):
                text(line, TEXT_LEFT_MM, baseline, DETAIL_SIZE_MM, column)
            size = CODE_TEXT_SIZE_MM
            width = pdfmetrics.stringWidth(face.code, font, size * mm)
            if width > (CARD_WIDTH_MM - 4) * mm:
                size = size * (CARD_WIDTH_MM - 4) * mm / width
            sheet.setFont(font, size * mm)
            sheet.drawCentredString(x_pt(CARD_WIDTH_MM / 2), y_pt(CODE_TEXT_BASELINE_MM), face.code)
        sheet.showPage()
    sheet.save()
    return pages


def rasterize_pdf(path: str | Path, dpi: int) -> list[Image.Image]:
    """Every page of the PDF as a grey ('L') image at ``dpi``, as a printer or a scan of the sheet would see it."""
    import pypdfium2  # type: ignore[import-untyped]

    document = pypdfium2.PdfDocument(str(path))
    try:
        images = []
        for index in range(len(document)):
            page = document[index]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                images.append(bitmap.to_pil().convert("L"))
            finally:
                page.close()
        return images
    finally:
        document.close()


def card_images_from_pdf(path: str | Path, dpi: int) -> list[Image.Image]:
    """Cut a sheet written by ``write_cards_pdf`` into card images, in the order the faces were given."""
    import numpy as np

    cards = []
    px_per_mm = dpi / 25.4
    width, height = round(CARD_WIDTH_MM * px_per_mm), round(CARD_HEIGHT_MM * px_per_mm)
    inset = 3.0  # look for ink inside the cut line only: an empty slot has none
    for page in rasterize_pdf(path, dpi):
        for slot in range(CARDS_PER_PAGE):
            ox, oy = card_origin_mm(slot)
            left, top = round(ox * px_per_mm), round(oy * px_per_mm)
            box = (left, top, left + width, top + height)  # every card the same size, whatever the rounding
            card = page.crop(box)
            margin = round(inset * px_per_mm)
            inside = np.asarray(card)[margin:-margin, margin:-margin]
            if inside.size and int(inside.min()) < 128:
                cards.append(card)
    return cards
