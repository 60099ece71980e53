"""Receipts, the test page and the thermal passbook card, laid out as ESC/POS bytes.

Pure functions: the same content and profile give the same bytes on every machine and every day (no
clock is read; the time printed comes from the content), so tests compare them with golden files and
a reprint months later matches the first print.

Columns are counted in *display* columns. In Chinese mode the printer draws every two-byte GB18030
code from its 24-dot Chinese font, two columns wide, and every ASCII byte from the 12-dot font, one
column wide; so a character's width on paper is the length of its GB18030 encoding, which matches
``unicodedata.east_asian_width`` (W/F = 2) for Chinese and also gets ambiguous characters such as
"×" or "·" right. A character that needs a four-byte GB18030 sequence (emoji, rare characters) is
not in the printer's font at all: a line holding one is drawn with the CJK font and sent as an image,
so a villager's name is never dropped or printed as "?".
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from hardware import escpos_commands as cmd
from hardware.errors import HardwareError
from hardware.escpos_commands import Align, EscposBuilder
from hardware.profiles import CHAR_DOTS, LINE_DOTS, PrinterProfile
from ledger.receipts import ReceiptContent, ReceiptKind, ReceiptLine

if TYPE_CHECKING:
    from PIL import ImageFont

log = logging.getLogger(__name__)

TITLES: dict[ReceiptKind, str] = {
    ReceiptKind.REDEEM: "兑换小票",
    ReceiptKind.VOID: "作废小票",
    ReceiptKind.DONATION: "捐赠凭证",
    ReceiptKind.STOCK_IN: "入库单",
    ReceiptKind.DAY_CLOSE: "日结单",
}
REPRINT_MARK = "【重印】"
YUAN = "￥"  # full-width: the half-width ¥ is not in GBK and prints as "?"
#: Lines fed after the last text on a printer without a cutter, so the text clears the tear bar.
TEAR_FEED = 5
#: Lines fed before a cut, so the last text clears the blade.
CUT_FEED = 4
QR_MODULE_NATIVE = 6
QR_MODULE_CARD = 8
BARCODE_MODULE = 2  # dots per narrow bar: 0.25 mm, what handheld scanners read reliably
BARCODE_HEIGHT = 80
BARCODE_QUIET = 10  # modules of white on each side
CONTINUATION_INDENT = 2

# ---------------------------------------------------------------------------------------------------
# Display width


_CHAR_INFO: dict[str, tuple[int, bool]] = {}


def _char_info(ch: str) -> tuple[int, bool]:
    """(display columns, printable as text) for one character; cached, receipts repeat few characters."""
    info = _CHAR_INFO.get(ch)
    if info is None:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            # Marks and format characters (variation selectors, joiners) take no column of their own.
            info = (0, False)
        else:
            size = len(ch.encode("gb18030"))
            if size <= 2 and unicodedata.category(ch) != "Cc":
                info = (size, True)
            else:
                wide = unicodedata.east_asian_width(ch) in ("W", "F")
                info = (2 if wide else 1, False)
        _CHAR_INFO[ch] = info
    return info


def char_width(ch: str) -> int:
    """Display columns of one character on the printer (see the module notes)."""
    return _char_info(ch)[0]


#: Characters known to print as text; checking a line against it is one C-level set operation.
_PRINTABLE: set[str] = {chr(code) for code in range(0x20, 0x7F)}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # exactly the Unicode "Cc" category


def text_printable(text: str) -> bool:
    """True when the printer can print ``text`` from its own fonts (every character one or two bytes)."""
    chars = set(text)
    if chars <= _PRINTABLE:
        return True
    for ch in chars - _PRINTABLE:
        if not _char_info(ch)[1]:
            return False
        _PRINTABLE.add(ch)
    return True


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    if text_printable(text):
        return len(text.encode("gb18030"))  # one column per byte in Chinese mode
    return sum(_char_info(ch)[0] for ch in text)


def clean(text: str) -> str:
    """One line of text with control characters (tabs, stray ESC bytes from a pasted name) made spaces.

    A control byte inside a name would be read by the printer as a command.
    """
    return _CONTROL.sub(" ", text)


def wrap(text: str, width: int, rest_width: int | None = None) -> list[str]:
    """Split ``text`` into lines of at most ``width`` display columns (``rest_width`` after the first
    line, for hanging indents), never inside a character.

    Breaks between any two Chinese characters; an ASCII word ("5L", "A4") is kept whole when the
    line has a space to break at instead. Always returns at least one line.
    """
    rest_width = width if rest_width is None else rest_width
    if min(width, rest_width) < 2:
        raise ValueError("a wrapped column must be at least 2 columns wide")
    text = clean(text)
    if display_width(text) <= width:
        return [text]
    lines: list[str] = []
    cur: list[str] = []
    cur_w = 0
    limit = width
    for ch in text:
        w = char_width(ch)
        if cur and cur_w + w > limit:
            carry: list[str] = []
            if _wordy(ch) and _wordy(cur[-1]) and " " in cur:
                cut = len(cur) - 1 - cur[::-1].index(" ")
                if cut > 0:
                    carry, cur = cur[cut + 1 :], cur[:cut]
            lines.append("".join(cur).rstrip())
            limit = rest_width
            cur = carry
            cur_w = sum(char_width(c) for c in cur)
            if not cur and ch == " ":
                continue
        cur.append(ch)
        cur_w += w
    if cur:
        lines.append("".join(cur).rstrip())
    return lines or [""]


def _wordy(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def truncate(text: str, width: int) -> str:
    """The longest prefix of ``text`` that fits ``width`` display columns."""
    text = clean(text)
    if display_width(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def rjust(text: str, width: int) -> str:
    return " " * (width - display_width(text)) + text


def ljust(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def money(fen: int) -> str:
    """Integer fen as full-width yuan with two decimals: 123456 -> "￥1,234.56"."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{YUAN}{yuan:,}.{cents:02d}"


def unit_with_name(line: ReceiptLine) -> bool:
    """A unit that starts with a figure ("400g袋", "5L桶") is part of what the item is: it goes with the
    name, never after the quantity, where "1" and "400g袋" would read as "1400g袋"."""
    unit = clean(line.unit)
    return bool(unit) and unit[0].isascii() and unit[0].isalnum()


def qty_text(line: ReceiptLine, width: int, units: bool = True) -> str:
    """Quantity with its unit ("2袋") when ``units`` (all of a receipt's fit) and the unit is a measure
    word; the bare number otherwise."""
    if not units or unit_with_name(line) or not line.unit:
        return str(line.qty)
    return f"{line.qty}{clean(line.unit)}"


def _unit_fits(line: ReceiptLine, width: int) -> bool:
    if unit_with_name(line) or not line.unit:
        return True
    with_unit = f"{line.qty}{clean(line.unit)}"
    return display_width(with_unit) <= width and text_printable(with_unit)


# ---------------------------------------------------------------------------------------------------
# Lines drawn as images


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    from hardware.fonts import cjk_font_path

    return ImageFont.truetype(str(cjk_font_path()), size)


def _line_image(text: str, profile: PrinterProfile, how: Align, scale: int) -> bytes:
    """One text line drawn with the CJK font as a full-width raster image.

    Each character is placed at its own column (12 dots per column, like the printer's font A) so
    an image line lines up with the text lines around it; ``scale`` doubles it like ``GS !``.
    """
    from PIL import Image, ImageDraw

    cols = profile.columns // scale
    used = display_width(text)
    left = {Align.LEFT: 0, Align.CENTER: (cols - used) // 2, Align.RIGHT: cols - used}[how]
    base = Image.new("1", (cols * CHAR_DOTS, LINE_DOTS), 1)
    draw = ImageDraw.Draw(base)
    wide_font, narrow_font = _font(LINE_DOTS), _font(LINE_DOTS - 4)
    baseline = LINE_DOTS - 4
    col = max(0, left)
    for ch in text:
        w = char_width(ch)
        if ch != " " and w:
            draw.text((col * CHAR_DOTS, baseline), ch, font=wide_font if w == 2 else narrow_font, fill=0, anchor="ls")
        col += w
    image = base if scale == 1 else base.resize((base.width * scale, base.height * scale), Image.Resampling.NEAREST)
    if image.width < profile.dots:
        full = Image.new("1", (profile.dots, image.height), 1)
        full.paste(image, (0, 0))
        image = full
    return cmd.raster_from_image(image, profile.dots)


# ---------------------------------------------------------------------------------------------------
# QR codes and barcodes as images (for printers that cannot draw them)


@lru_cache(maxsize=64)
def _qr_matrix(data: str, level: str) -> tuple[tuple[bool, ...], ...]:
    import qrcode  # type: ignore[import-untyped]
    import qrcode.constants  # type: ignore[import-untyped]

    levels = {
        "L": qrcode.constants.ERROR_CORRECT_L,
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
        "H": qrcode.constants.ERROR_CORRECT_H,
    }
    # A fixed mask: choosing the best of eight is most of the build time on 58 mm, and any mask scans.
    code = qrcode.QRCode(version=None, error_correction=levels[level], border=4, mask_pattern=2)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(dark) for dark in row) for row in code.get_matrix())


@lru_cache(maxsize=64)
def _qr_raster(data: str, level: str, max_module: int, dots: int) -> bytes:
    matrix = _qr_matrix(data, level)
    scale = max(1, min(max_module, dots // len(matrix)))
    return cmd.raster_from_matrix(matrix, scale, dots)


@lru_cache(maxsize=16)
def _code128_raster(data: str, dots: int) -> bytes:
    """A Code 128 symbol turned a quarter turn (bars across the paper), as a raster image.

    For 58 mm paper: the symbol of a passbook code is about 250 modules, too long across 384 dots at
    the 2-dot module width scanners need, but it fits easily along the paper.
    """
    from barcode.codex import Code128  # type: ignore[import-untyped]

    modules: str = Code128(data).build()[0]
    quiet = "0" * BARCODE_QUIET
    bar_dots = min(dots - 64, 2 * BARCODE_HEIGHT)  # bars as long as on 80 mm, with white at both edges
    width_bytes = dots // 8
    left = (dots - bar_dots) // 2
    black = ((1 << bar_dots) - 1) << (dots - left - bar_dots)
    dark_row = black.to_bytes(width_bytes, "big")
    white_row = bytes(width_bytes)
    rows = [dark_row if m == "1" else white_row for m in quiet + modules + quiet for _ in range(BARCODE_MODULE)]
    return cmd.raster(width_bytes, len(rows), b"".join(rows))


# ---------------------------------------------------------------------------------------------------
# The paper


def _placeholder(ch: str) -> str:
    """What stands for a character the printer lacks when it cannot be drawn: same width, plain mark."""
    return {0: "", 1: "*", 2: "□"}[char_width(ch)]


class _Paper:
    """Writes lines for one profile; a line the printer cannot print as text becomes an image."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.cols = profile.columns
        self.out = EscposBuilder().init()
        self._align = Align.LEFT

    def set_align(self, how: Align) -> None:
        if how != self._align:
            self.out.align(how)
            self._align = how

    def line(self, text: str = "", *, how: Align = Align.LEFT, bold: bool = False, scale: int = 1) -> None:
        """One line that must already fit ``columns // scale`` display columns."""
        if text_printable(text):
            self.set_align(how)
            if bold:
                self.out.bold(True)
            if scale != 1:
                self.out.size(scale, scale)
            self.out.line(text)
            if scale != 1:
                self.out.size(1, 1)
            if bold:
                self.out.bold(False)
            return
        try:
            image = _line_image(text, self.profile, how, scale)
        except (HardwareError, ImportError, OSError) as exc:
            # No CJK font (or no Pillow): print the line with a box for each character the printer
            # lacks rather than failing the receipt of a sale that is already committed.
            log.warning("cannot draw a receipt line as an image (%s); printing placeholders", exc)
            fallback = "".join(ch if _char_info(ch)[1] else _placeholder(ch) for ch in text)
            self.line(fallback, how=how, bold=bold, scale=scale)
            return
        self.set_align(Align.LEFT)
        self.out.raw(image)

    def lines(self, texts: Sequence[str], *, how: Align = Align.LEFT, bold: bool = False, scale: int = 1) -> None:
        for text in texts:
            self.line(text, how=how, bold=bold, scale=scale)

    def title(self, text: str, *, scale: int) -> None:
        self.lines(wrap(text, self.cols // scale), how=Align.CENTER, bold=True, scale=scale)

    def rule(self, ch: str = "-") -> None:
        self.line(ch * self.cols)

    def field(self, label: str, value: str) -> None:
        """Write "label：value", wrapped with continuation lines indented under the value."""
        head = f"{label}："
        indent = display_width(head)
        if self.cols - indent < 8:
            # A label too long to indent under: the value goes on lines of its own.
            self.line(head)
            self.lines(wrap(value, self.cols))
            return
        parts = wrap(value, self.cols - indent)
        self.line(head + parts[0])
        self.lines([" " * indent + part for part in parts[1:]])

    def pair(self, label: str, value: str) -> None:
        """Label on the left, value right-aligned to the edge of the paper (on its own line if need be)."""
        label_lines = wrap(label, self.cols)
        last = label_lines[-1]
        value = clean(value)
        value_w = display_width(value)
        for part in label_lines[:-1]:
            self.line(part)
        if display_width(last) + 1 + value_w <= self.cols:
            self.line(last + rjust(value, self.cols - display_width(last)))
        else:
            self.line(last)
            self.line(rjust(truncate(value, self.cols), self.cols))

    def paragraph(self, text: str, how: Align = Align.LEFT) -> None:
        for part in text.splitlines() or [""]:
            self.lines(wrap(part, self.cols), how=how)

    def table(self, lines: Sequence[ReceiptLine], points: bool, name_header: str) -> None:
        """Goods lines: the name wraps in its column, numbers are right-aligned in theirs.

        With points: quantity and points (58 mm), or quantity, points each and points (80 mm).
        """
        widths = self._widths(points)
        name_w = self.cols - sum(widths)
        headers = [name_header, "数量"]
        if points:
            headers.extend(["单价", "积分"] if len(widths) == 3 else ["积分"])
        self.line(self._row(headers, name_w, widths))
        # Every line with its unit, or none: "2块" beside a bare "3" reads as if the 3 had no unit.
        units = all(_unit_fits(item, widths[0] - 1) for item in lines)
        for item in lines:
            cells: list[str] = [qty_text(item, widths[0] - 1, units)]
            if points:
                if len(widths) == 3:
                    cells.append(str(item.points_each))
                cells.append(str(item.points))
            # Continuation lines are indented so they do not read as another item.
            name = f"{item.name} {clean(item.unit)}" if unit_with_name(item) else item.name
            names = wrap(name, name_w, name_w - CONTINUATION_INDENT)
            self.line(self._row((names[0], *cells), name_w, widths))
            self.lines([" " * CONTINUATION_INDENT + extra for extra in names[1:]])

    def table_total(self, points: bool, qty: int, total: int | None) -> None:
        widths = self._widths(points)
        cells: list[str] = [str(qty)]
        if points:
            if len(widths) == 3:
                cells.append("")
            cells.append(str(total if total is not None else 0))
        self.line(self._row(("合计", *cells), self.cols - sum(widths), widths))

    def _widths(self, points: bool) -> tuple[int, ...]:
        if not points:
            return (10,) if self.cols < 40 else (12,)
        return (7, 8) if self.cols < 40 else (8, 8, 8)

    @staticmethod
    def _row(cells: Sequence[str], name_w: int, widths: Sequence[int]) -> str:
        # Numbers keep one column of gap on their left so they never touch a name that fills its column.
        parts = [ljust(truncate(cells[0], name_w), name_w)]
        parts.extend(rjust(truncate(cell, width - 1), width) for cell, width in zip(cells[1:], widths, strict=True))
        return "".join(parts)

    def qr(self, data: str, module: int) -> None:
        if not data:
            return
        if self.profile.native_qr and data.isascii():
            self.set_align(Align.CENTER)
            self.out.qr(data, module, "M")
            self.out.raw(cmd.LF)
        else:
            self.set_align(Align.LEFT)
            self.out.raw(_qr_raster(data, "M", module, self.profile.dots))

    def barcode(self, data: str) -> None:
        modules = cmd.code128_modules(data) + 2 * BARCODE_QUIET
        if modules * BARCODE_MODULE <= self.profile.dots:
            self.set_align(Align.CENTER)
            self.out.raw(cmd.code128(data, BARCODE_MODULE, BARCODE_HEIGHT))
            self.out.raw(cmd.LF)
        else:
            self.set_align(Align.LEFT)
            self.out.raw(_code128_raster(data, self.profile.dots))

    def finish(self) -> bytes:
        self.set_align(Align.LEFT)
        if self.profile.has_cutter:
            self.out.feed(CUT_FEED).cut()
        else:
            self.out.feed(TEAR_FEED)
        return self.out.build()


# ---------------------------------------------------------------------------------------------------
# Receipts


def build_receipt(content: ReceiptContent, profile: PrinterProfile) -> bytes:
    """The bytes of one receipt of any kind, ending with a cut (or a feed past the tear bar)."""
    paper = _Paper(profile)
    paper.title(content.shop_name, scale=2)
    paper.lines([TITLES[content.kind]], how=Align.CENTER, bold=True)
    if content.reprint:
        paper.line(REPRINT_MARK, how=Align.CENTER, bold=True, scale=2)
    paper.rule()
    if content.receipt_no:
        paper.field("单号", content.receipt_no)
    paper.field("时间", content.when)
    _BODIES[content.kind](paper, content)
    paper.rule()
    if content.operator:
        paper.field("操作员", content.operator)
    if content.hash8:
        paper.field("校验码", content.hash8)
    if content.kind in (ReceiptKind.REDEEM, ReceiptKind.VOID, ReceiptKind.DONATION) and content.receipt_no:
        paper.qr(content.receipt_no, QR_MODULE_NATIVE)
        paper.line("凭单号可查询核对", how=Align.CENTER)
    return paper.finish()


def _household(paper: _Paper, content: ReceiptContent) -> None:
    if content.household_id:
        paper.field("户号", content.household_id)
    if content.household_name:
        paper.field("户主", content.household_name)


def _points_footer(paper: _Paper, content: ReceiptContent, before: str, after: str) -> None:
    if content.redeemable_before is not None:
        paper.pair(before, str(content.redeemable_before))
    if content.redeemable_after is not None:
        paper.pair(after, str(content.redeemable_after))
    if content.balance_after is not None:
        paper.pair("积分余额", str(content.balance_after))


def _redeem(paper: _Paper, content: ReceiptContent) -> None:
    _household(paper, content)
    paper.rule()
    paper.table(content.lines, True, "商品")
    paper.rule()
    paper.table_total(True, sum(item.qty for item in content.lines), content.total_points)
    paper.rule()
    _points_footer(paper, content, "兑换前可兑换积分", "兑换后可兑换积分")


def _void(paper: _Paper, content: ReceiptContent) -> None:
    if content.ref_receipt_no:
        paper.field("原小票", content.ref_receipt_no)
    if content.memo:
        paper.field("原因", content.memo)
    _household(paper, content)
    paper.rule()
    paper.table(content.lines, True, "退回商品")
    paper.rule()
    paper.pair("退回积分", str(content.total_points))
    _points_footer(paper, content, "作废前可兑换积分", "作废后可兑换积分")


def _donation(paper: _Paper, content: ReceiptContent) -> None:
    if content.party:
        paper.field("捐赠人", content.party)
    paper.rule()
    if content.amount_fen:
        paper.pair("捐赠金额", money(content.amount_fen))
    if content.lines:
        paper.table(content.lines, False, "捐赠物资")
    if content.memo:
        paper.field("备注", content.memo)
    paper.rule()
    paper.paragraph("衷心感谢您对爱心超市的支持！", Align.CENTER)


def _stock_in(paper: _Paper, content: ReceiptContent) -> None:
    if content.party:
        paper.field("供货方", content.party)
    paper.rule()
    paper.table(content.lines, False, "商品")
    paper.rule()
    paper.table_total(False, sum(item.qty for item in content.lines), None)
    if content.amount_fen:
        paper.pair("进货金额", money(content.amount_fen))
    if content.memo:
        paper.field("备注", content.memo)


def _day_close(paper: _Paper, content: ReceiptContent) -> None:
    paper.rule()
    for label, value in content.summary:
        paper.pair(label, value)
    if content.lines:
        paper.rule()
        paper.lines(["今日兑换商品"], bold=True)
        paper.table(content.lines, True, "商品")
        paper.rule()
        paper.table_total(True, sum(item.qty for item in content.lines), sum(item.points for item in content.lines))
    if content.memo:
        paper.field("备注", content.memo)


_BODIES = {
    ReceiptKind.REDEEM: _redeem,
    ReceiptKind.VOID: _void,
    ReceiptKind.DONATION: _donation,
    ReceiptKind.STOCK_IN: _stock_in,
    ReceiptKind.DAY_CLOSE: _day_close,
}


# ---------------------------------------------------------------------------------------------------
# Test page and passbook card


def column_ruler(columns: int) -> str:
    """The ruler "1234567890123…", exactly ``columns`` wide: shows at a glance whether the width setting is right."""
    return "".join(str(i % 10) for i in range(1, columns + 1))


def build_test_page(profile: PrinterProfile, when: str) -> bytes:
    """A page to check a newly connected printer: Chinese text, ￥, bold, big text, a QR code, a ruler."""
    paper = _Paper(profile)
    paper.title("打印测试", scale=2)
    paper.rule()
    paper.field("打印机", profile.name)
    paper.field("纸宽", f"{profile.paper_mm} mm，{profile.columns} 列，{profile.dots} 点")
    paper.field("切刀", "有" if profile.has_cutter else "无（手撕）")
    paper.field("时间", when)
    paper.rule()
    paper.paragraph("中文：爱心超市积分兑换，文明新风积分制。")
    paper.pair("金额", money(1250))
    paper.line("粗体 Bold", bold=True)
    paper.line("大字", how=Align.CENTER, scale=2)
    paper.line("列宽标尺：")
    paper.line(column_ruler(profile.columns))
    paper.qr("LOVEMART TEST", QR_MODULE_NATIVE)
    paper.line("看到二维码和完整标尺即正常", how=Align.CENTER)
    return paper.finish()


def build_passbook_card(
    household_id: str,
    household_name: str,
    village_name: str,
    card_no: int,
    code_text: str,
    profile: PrinterProfile,
) -> bytes:
    """The passbook card on thermal paper, between two cut lines: name, id, QR and Code 128 of the code.

    The code is ASCII (see DESIGN §5), so it fits QR alphanumeric/byte mode and Code 128 set B.
    """
    paper = _Paper(profile)
    cut_line = truncate(" - - - 沿虚线剪下 " + "- " * profile.columns, profile.columns)
    paper.line(cut_line)
    paper.title("积分存折", scale=2)
    if village_name:
        paper.lines(wrap(village_name, profile.columns), how=Align.CENTER)
    paper.rule()
    paper.field("户主", household_name)
    paper.field("户号", household_id)
    paper.field("卡号", f"第 {card_no} 号")
    paper.qr(code_text, QR_MODULE_CARD)
    paper.barcode(code_text)
    paper.lines(wrap(code_text, profile.columns), how=Align.CENTER)
    paper.line("遗失请及时到村委会挂失", how=Align.CENTER)
    paper.line(cut_line)
    return paper.finish()
