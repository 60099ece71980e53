"""Reading our ESC/POS byte streams back: what would be printed, line by line.

Tests use it to check receipts by meaning (which Chinese lines, how wide, which lines are images,
does the job end with a cut) rather than only byte for byte, and ``lovemart receipt`` shows the lines of
the receipt it wrote. It understands every command ``escpos_commands`` emits, including
the payloads of ``GS ( k`` (QR) and ``GS v 0`` (raster images), and refuses anything else: a byte it
does not know would be a command the printer misreads, so it is a bug to surface, not to skip.

Raster images sent one after another (an image sent in bands, a QR code followed by a barcode on
58 mm paper) come back as one image, as they appear on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hardware.escpos_commands import Align

if TYPE_CHECKING:
    from PIL import Image

    from hardware.printers import MemoryPrinter

LineKind = Literal["text", "image", "qr", "barcode"]


@dataclass(frozen=True)
class RasterImage:
    """A raster image as sent: ``width`` dots (a multiple of 8), rows packed MSB first, 1 = black."""

    width: int
    height: int
    data: bytes

    def dark(self, x: int, y: int) -> bool:
        byte = self.data[y * (self.width // 8) + x // 8]
        return bool(byte & (0x80 >> (x % 8)))

    def to_image(self) -> Image.Image:
        """A PIL image (mode "1", black on white) for previews and for decoding in tests."""
        from PIL import Image

        return Image.frombytes("1", (self.width, self.height), bytes(b ^ 0xFF for b in self.data))


@dataclass(frozen=True)
class PrintedLine:
    """One thing printed: a text line, an image, a QR code or a barcode (``text`` holds its data)."""

    kind: LineKind
    text: str = ""
    bold: bool = False
    width: int = 1  # character magnification, GS !
    height: int = 1
    align: Align = Align.LEFT
    image: RasterImage | None = None


@dataclass(frozen=True)
class Printout:
    lines: tuple[PrintedLine, ...]
    cut: bool  # the job ends with a cut command
    trailing_feed: int  # lines fed after the last printed line (ESC d)

    @property
    def text_lines(self) -> list[str]:
        return [line.text for line in self.lines if line.kind == "text"]

    @property
    def images(self) -> list[RasterImage]:
        return [line.image for line in self.lines if line.image is not None]


@dataclass
class _State:
    bold: bool = False
    width: int = 1
    height: int = 1
    align: Align = Align.LEFT
    chinese: bool = False
    qr_data: bytes = b""
    buffer: bytearray = field(default_factory=bytearray)


class EscposParseError(ValueError):
    """The stream holds a byte or command that our layout never emits."""


def read_escpos(data: bytes) -> Printout:
    """Parse a job made by ``receipt_layout`` into printed lines."""
    lines: list[PrintedLine] = []
    st = _State()
    cut = False
    feed_after = 0
    i = 0
    n = len(data)

    def need(count: int) -> bytes:
        if i + count > n:
            raise EscposParseError(f"command at offset {i} is cut short")
        return data[i : i + count]

    def emit(line: PrintedLine) -> None:
        nonlocal cut, feed_after
        cut = False
        feed_after = 0
        if line.kind == "image" and lines and lines[-1].kind == "image" and line.image and lines[-1].image:
            # One image sent in bands is one image on paper.
            above = lines[-1].image
            if above.width == line.image.width:
                merged = RasterImage(above.width, above.height + line.image.height, above.data + line.image.data)
                lines[-1] = PrintedLine("image", image=merged)
                return
        lines.append(line)

    def flush_text(always: bool) -> None:
        if st.buffer or always:
            text = bytes(st.buffer).decode("gb18030", errors="replace")
            st.buffer.clear()
            emit(PrintedLine("text", text, st.bold, st.width, st.height, st.align))

    while i < n:
        b = data[i]
        if b == 0x0A:
            flush_text(always=True)
            i += 1
        elif b == 0x1B:
            op = need(2)[1:2]
            if op == b"@":
                flush_text(always=False)
                st = _State()
                i += 2
            elif op in (b"a", b"E", b"d"):
                arg = need(3)[2]
                if op == b"a":
                    st.align = Align(arg - 48 if arg >= 48 else arg)
                elif op == b"E":
                    st.bold = bool(arg & 1)
                else:
                    flush_text(always=False)
                    feed_after += arg
                    cut = False
                i += 3
            else:
                raise EscposParseError(f"unknown command ESC {op!r} at offset {i}")
        elif b == 0x1C:
            op = need(2)[1:2]
            if op == b"&":
                st.chinese = True
            elif op == b".":
                st.chinese = False
            else:
                raise EscposParseError(f"unknown command FS {op!r} at offset {i}")
            i += 2
        elif b == 0x1D:
            op = need(2)[1:2]
            if op == b"!":
                arg = need(3)[2]
                st.width, st.height = (arg >> 4) + 1, (arg & 0x0F) + 1
                i += 3
            elif op == b"V":
                mode = need(3)[2]
                flush_text(always=False)
                if mode in (0, 1, 48, 49):
                    i += 3
                elif mode in (65, 66):
                    need(4)
                    i += 4
                else:
                    raise EscposParseError(f"unknown cut mode {mode} at offset {i}")
                cut = True
            elif op in (b"H", b"h", b"w", b"f"):
                need(3)
                i += 3
            elif op == b"(":
                head = need(5)
                if head[2:3] != b"k":
                    raise EscposParseError(f"unknown command GS ( {head[2:3]!r} at offset {i}")
                size = head[3] | (head[4] << 8)
                body = need(5 + size)[5:]
                i += 5 + size
                cn, fn, payload = body[0], body[1], body[2:]
                if cn != 49:
                    raise EscposParseError(f"2D code type {cn} is not QR")
                if fn == 80:
                    st.qr_data = payload[1:]
                elif fn == 81:
                    flush_text(always=False)
                    emit(PrintedLine("qr", st.qr_data.decode("utf-8"), align=st.align))
                elif fn not in (65, 67, 69):
                    raise EscposParseError(f"unknown QR function {fn}")
            elif op == b"v":
                head = need(8)
                if head[2] not in (0x30, 0x00):
                    raise EscposParseError(f"unknown raster command at offset {i}")
                width_bytes = head[4] | (head[5] << 8)
                height = head[6] | (head[7] << 8)
                pixels = need(8 + width_bytes * height)[8:]
                i += 8 + width_bytes * height
                flush_text(always=False)
                emit(PrintedLine("image", image=RasterImage(width_bytes * 8, height, pixels)))
            elif op == b"k":
                kind = need(3)[2]
                if kind >= 65:
                    length = need(4)[3]
                    payload = need(4 + length)[4:]
                    i += 4 + length
                else:
                    end = data.find(b"\x00", i + 3)
                    if end < 0:
                        raise EscposParseError(f"unterminated barcode at offset {i}")
                    payload = data[i + 3 : end]
                    i = end + 1
                text = payload.decode("ascii")
                if text[:2] in ("{A", "{B", "{C"):
                    text = text[2:].replace("{{", "{")
                flush_text(always=False)
                emit(PrintedLine("barcode", text, align=st.align))
            else:
                raise EscposParseError(f"unknown command GS {op!r} at offset {i}")
        elif b < 0x20 or b == 0x7F:
            raise EscposParseError(f"control byte 0x{b:02x} at offset {i}")
        elif b < 0x80:
            st.buffer.append(b)
            i += 1
        else:
            if not st.chinese:
                raise EscposParseError(f"byte 0x{b:02x} outside Chinese mode at offset {i}")
            second = need(2)[1]
            size = 4 if 0x30 <= second <= 0x39 else 2
            st.buffer.extend(need(size))
            i += size
    flush_text(always=False)
    return Printout(tuple(lines), cut, feed_after)


def receipt_text_lines(data: bytes) -> list[str]:
    """The text lines a job prints, in order (images, QR codes and barcodes left out)."""
    return read_escpos(data).text_lines


def last_text(printer: MemoryPrinter) -> list[str]:
    """The text lines of a ``MemoryPrinter``'s last job (empty when nothing was printed)."""
    return receipt_text_lines(printer.jobs[-1]) if printer.jobs else []
