"""The few ESC/POS commands our receipts use, as bytes, and a builder that strings them together.

We write the bytes ourselves instead of calling python-escpos' ``text()``/``set()``: its text path
picks a single-byte code page for any string without a Chinese character (so "￥12.00" prints as
"?12.00"), and every call is a separate write to the device. Building one ``bytes`` value keeps the
layout pure (golden-file tests) and lets a printer send a whole receipt in one write.

Everything here is pure: no I/O, no clock, no device library. PIL appears only in a type hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

ESC = b"\x1b"
FS = b"\x1c"
GS = b"\x1d"
LF = b"\n"

#: ESC @ — reset the printer to its power-on state, so a half-finished earlier job cannot leave it in
#: double size or bold.
INIT = ESC + b"@"
#: FS & — Chinese character mode: bytes 0x81..0xFE start a two-byte GB code drawn from the 24-dot font.
CHINESE_ON = FS + b"&"
#: FS . — back to single-byte characters.
CHINESE_OFF = FS + b"."
#: GS V 1 — partial cut (function A). Every cutter model accepts it; a full cut would drop the
#: receipt on the floor on printers without a presenter.
CUT_PARTIAL = GS + b"V\x01"

#: Raster images are sent in bands of at most this many rows: cheap printers have small receive
#: buffers and some refuse a ``GS v 0`` taller than a few hundred rows.
RASTER_BAND_ROWS = 256


class Align(IntEnum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


QrLevel = Literal["L", "M", "Q", "H"]
_QR_LEVELS: dict[str, int] = {"L": 48, "M": 49, "Q": 50, "H": 51}


def align(how: Align) -> bytes:
    """ESC a n. The printer applies it to the line being started, text, QR codes and images alike."""
    return ESC + b"a" + bytes((int(how),))


def bold(on: bool) -> bytes:
    """ESC E n."""
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def char_size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: magnify characters 1..8 times. Applies to Chinese characters as well as ASCII."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"character size {width}x{height} is outside 1..8")
    return GS + b"!" + bytes((((width - 1) << 4) | (height - 1),))


def feed(lines: int) -> bytes:
    """ESC d n: print what is buffered and feed ``lines`` lines."""
    if not 0 <= lines <= 255:
        raise ValueError(f"feed of {lines} lines is outside 0..255")
    return ESC + b"d" + bytes((lines,))


def encode_text(text: str) -> bytes:
    """GB18030 bytes for text printed in Chinese mode.

    The caller must pass only printable characters that encode to one or two bytes (see
    ``receipt_layout``): the printer's font has no four-byte GB18030 characters, and a control
    character inside a name would be taken as a command.
    """
    return text.encode("gb18030")


def _block(cn: int, fn: int, payload: bytes) -> bytes:
    """GS ( k pL pH cn fn [payload]: the length covers cn, fn and the payload."""
    size = len(payload) + 2
    if size > 0xFFFF:
        raise ValueError("2D code data is too long")
    return GS + b"(k" + bytes((size & 0xFF, size >> 8, cn, fn)) + payload


def qr_native(data: str, module: int = 6, level: QrLevel = "M") -> bytes:
    """GS ( k: select model 2, set the module size and error level, store the data, print it.

    The data is sent as UTF-8 (our codes are ASCII; QR byte mode carries UTF-8 anyway).
    """
    if not 1 <= module <= 16:
        raise ValueError(f"QR module size {module} is outside 1..16")
    payload = data.encode("utf-8")
    if not payload:
        raise ValueError("QR code without data")
    return b"".join(
        (
            _block(49, 65, b"\x32\x00"),  # fn 165: model 2
            _block(49, 67, bytes((module,))),  # fn 167: module size in dots
            _block(49, 69, bytes((_QR_LEVELS[level],))),  # fn 169: error correction level
            _block(49, 80, b"\x30" + payload),  # fn 180: store the data
            _block(49, 81, b"\x30"),  # fn 181: print the stored symbol
        )
    )


def raster(width_bytes: int, height: int, data: bytes) -> bytes:
    """GS v 0: one raster image, ``width_bytes`` bytes per row, most significant bit leftmost, 1 = black.

    Tall images are split into bands of ``RASTER_BAND_ROWS`` rows (one command each).
    """
    if width_bytes <= 0 or height <= 0 or len(data) != width_bytes * height:
        raise ValueError(f"raster of {width_bytes} bytes x {height} rows does not match {len(data)} bytes")
    parts: list[bytes] = []
    row_bytes = width_bytes
    for top in range(0, height, RASTER_BAND_ROWS):
        rows = min(RASTER_BAND_ROWS, height - top)
        header = GS + b"v0\x00" + bytes((width_bytes & 0xFF, width_bytes >> 8, rows & 0xFF, rows >> 8))
        parts.append(header + data[top * row_bytes : (top + rows) * row_bytes])
    return b"".join(parts)


def raster_from_matrix(matrix: Sequence[Sequence[bool]], scale: int, width_dots: int) -> bytes:
    """A raster image of a black/white module matrix (a QR code), each module ``scale`` dots square,
    centred on a ``width_dots`` wide image.

    Centring in the image rather than with ``ESC a`` because many 58 mm printers ignore alignment for
    raster images. No PIL: packing the bits directly is fast and the same on every machine.
    """
    if not matrix:
        raise ValueError("empty matrix")
    modules = len(matrix[0])
    if modules * scale > width_dots:
        raise ValueError(f"{modules} modules x {scale} dots do not fit {width_dots} dots")
    width_bytes = (width_dots + 7) // 8
    left = (width_bytes * 8 - modules * scale) // 2
    rows: list[bytes] = []
    for row in matrix:
        bits = 0
        for dark in row:
            bits = (bits << scale) | (((1 << scale) - 1) if dark else 0)
        line = (bits << (width_bytes * 8 - left - modules * scale)).to_bytes(width_bytes, "big")
        rows.extend([line] * scale)
    return raster(width_bytes, len(rows), b"".join(rows))


def raster_from_image(image: Image.Image, max_width: int) -> bytes:
    """GS v 0 from a PIL image: converted to 1 bit (dark = print), padded on the right to whole bytes.

    Refuses an image wider than the printer (``max_width`` dots): the printer would wrap or drop it.
    """
    if image.width > max_width:
        raise ValueError(f"image {image.width} dots wide does not fit {max_width} dots")
    mono = image if image.mode == "1" else image.convert("1")
    width_bytes = (mono.width + 7) // 8
    if mono.width != width_bytes * 8:
        # Pad with white so the padding bits print nothing.
        from PIL import Image as PilImage

        padded = PilImage.new("1", (width_bytes * 8, mono.height), 1)
        padded.paste(mono, (0, 0))
        mono = padded
    # PIL packs mode "1" with 1 = white; the printer wants 1 = black.
    data = bytes(b ^ 0xFF for b in mono.tobytes())
    return raster(width_bytes, mono.height, data)


def code128(data: str, module: int = 2, height: int = 80) -> bytes:
    """GS k (function B, CODE128) in code set B, without printed digits (HRI off: we print the text
    ourselves, in the same font as the rest of the card).

    Code set B covers printable ASCII; ``{`` is the escape character of ``GS k`` and is doubled.
    """
    if not data or any(not 32 <= ord(ch) < 127 for ch in data):
        raise ValueError("Code 128 set B takes printable ASCII only")
    if not 1 <= module <= 6 or not 1 <= height <= 255:
        raise ValueError("barcode module width 1..6 and height 1..255")
    body = b"{B" + data.replace("{", "{{").encode("ascii")
    if len(body) > 255:
        raise ValueError("barcode data is too long")
    return b"".join(
        (
            GS + b"H\x00",  # no human-readable digits
            GS + b"h" + bytes((height,)),
            GS + b"w" + bytes((module,)),
            GS + b"k\x49" + bytes((len(body),)) + body,
        )
    )


def code128_modules(data: str) -> int:
    """Width in modules of a set-B Code 128 symbol: start, one symbol per character, check, stop."""
    return 11 * (len(data) + 2) + 13


class EscposBuilder:
    """Collects commands and text for one print job; ``build()`` returns the bytes.

    A thin convenience over the functions above so layout code reads top to bottom like the paper.
    """

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> EscposBuilder:
        self._parts.append(data)
        return self

    def init(self) -> EscposBuilder:
        """Reset the printer and enter Chinese mode: every job starts from a known state."""
        self._parts.append(INIT + CHINESE_ON)
        return self

    def align(self, how: Align) -> EscposBuilder:
        self._parts.append(align(how))
        return self

    def bold(self, on: bool) -> EscposBuilder:
        self._parts.append(bold(on))
        return self

    def size(self, width: int = 1, height: int = 1) -> EscposBuilder:
        self._parts.append(char_size(width, height))
        return self

    def line(self, text: str = "") -> EscposBuilder:
        """One printed line: the text in GB18030 and a line feed."""
        self._parts.append(encode_text(text) + LF)
        return self

    def line_bytes(self, encoded: bytes) -> EscposBuilder:
        """One printed line already encoded (the layout caches encoded rows)."""
        self._parts.append(encoded + LF)
        return self

    def feed(self, lines: int) -> EscposBuilder:
        self._parts.append(feed(lines))
        return self

    def cut(self) -> EscposBuilder:
        self._parts.append(CUT_PARTIAL)
        return self

    def qr(self, data: str, module: int = 6, level: QrLevel = "M") -> EscposBuilder:
        self._parts.append(qr_native(data, module, level))
        return self

    def raster(self, width_bytes: int, height: int, data: bytes) -> EscposBuilder:
        self._parts.append(raster(width_bytes, height, data))
        return self

    def image(self, image: Image.Image, max_width: int) -> EscposBuilder:
        self._parts.append(raster_from_image(image, max_width))
        return self

    def build(self) -> bytes:
        return b"".join(self._parts)
