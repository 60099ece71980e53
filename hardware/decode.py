"""Reading passbook codes from camera frames: one interface, two backends (zxing-cpp and zbar).

Both backends look for QR codes and Code 128 only: every other symbology is time spent per frame and a
chance of reading a product's EAN as something. Results come back as the backends decoded them, with the
format names made the same ("QRCode", "Code128"), and identical results within one frame reported once.
Checking a text against the township key is the ledger's job (``ledger.passbook.verify_code``), not ours.

zbar reads only the first channel of a colour array, so frames are made grey here, once, before either
backend sees them. The libraries are imported when a decoder is made, not when this module is imported:
a till without libzbar still starts, and says which decoder is missing when asked for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from hardware.errors import HardwareError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Frame = NDArray[np.uint8]

QRCODE = "QRCode"
CODE128 = "Code128"


@dataclass(frozen=True)
class Decoded:
    """One symbol read from a frame: its text exactly as decoded and its format (``QRCODE`` or ``CODE128``)."""

    text: str
    format: str


class Decoder(Protocol):
    """A barcode reader for grey or BGR frames."""

    @property
    def name(self) -> str: ...

    def decode(self, frame: Frame) -> list[Decoded]: ...


def to_grey(frame: Frame) -> Frame:
    """A contiguous 8-bit single-channel view of ``frame`` (grey, BGR or BGRA, as OpenCV captures)."""
    import cv2
    import numpy as np

    if frame.dtype != np.uint8:
        raise ValueError(f"frames are 8-bit images, not {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cast("Frame", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cast("Frame", cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY))
    raise ValueError(f"not an image frame: shape {frame.shape}")


def read_image(path: str | Path) -> Frame:
    """A picture file as a grey frame. Raises ``image_unreadable`` for a missing file or one that is no picture."""
    import cv2
    import numpy as np

    try:
        # Read the bytes ourselves: cv2.imread cannot open non-ASCII paths on Windows (村民照片/张三.png).
        data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    except OSError as exc:
        raise HardwareError("image_unreadable", path=str(path)) from exc
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise HardwareError("image_unreadable", path=str(path))
    return cast("Frame", image)


def _unique(found: Iterable[Decoded]) -> list[Decoded]:
    """Drop repeats (the same symbol found twice, e.g. at two scales), keeping the first one's place."""
    return list(dict.fromkeys(found))


def _flatten(grey: Frame) -> Frame:
    """``grey`` divided by its own heavy blur: light falling off across the card and the haze of a highlight
    go, local contrast stays. Blurred at an eighth of the size, which is cheaper and blurs just as well."""
    import cv2

    height, width = grey.shape[:2]
    small = cv2.resize(grey, (max(1, width // 8), max(1, height // 8)), interpolation=cv2.INTER_AREA)
    light = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (width, height), interpolation=cv2.INTER_LINEAR)
    return cast("Frame", cv2.divide(grey, light, scale=160))


@lru_cache(maxsize=1)
def _gamma_3() -> Frame:
    import numpy as np

    return np.array([round(255 * (i / 255) ** 3) for i in range(256)], dtype=np.uint8)


def _darken_enlarge(grey: Frame) -> Frame:
    """Gamma 3, then twice the size. The gamma stretches the top of the range, so modules washed out by a
    highlight (220 against 255) stand out again (150 against 255); the size gives a QR code held far away
    pixels to spare for its finder patterns."""
    import cv2

    darkened = cv2.LUT(grey, _gamma_3())
    return cast("Frame", cv2.resize(darkened, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR))


@dataclass(frozen=True)
class _Pass:
    prepare: Callable[[Frame], Frame] | None
    binarizer: str  # a zxingcpp.Binarizer member name
    formats: tuple[str, ...]  # zxingcpp.BarcodeFormat member names


# zxing-cpp's passes, run in order only while a frame has given nothing: a frame with a card in it is
# nearly always read by the first, and an empty frame costs all four (about 5 ms for 640 x 480 on a
# 2-core box, against 1.3 ms for the first alone). Measured on the degraded frames of ``lovemart bench
# scan`` (three seeds), the fallbacks take the decode rate from 0.991 to 0.996; each rescues frames of
# one kind that the first pass gives up on:
ZXING_PASSES = (
    _Pass(None, "LocalAverage", ("QRCode", "Code128")),  # local thresholds: uneven light, glare, most frames
    _Pass(None, "FixedThreshold", ("QRCode", "Code128")),  # noisy or shaken frames the local thresholds break up
    _Pass(_darken_enlarge, "LocalAverage", ("QRCode",)),  # a highlight over the QR code, small ones enlarged
    _Pass(_flatten, "LocalAverage", ("QRCode", "Code128")),  # low contrast with light falling off across the bars
)


@dataclass(frozen=True)
class _ZxingNative:
    passes: list[tuple[Callable[[Frame], Frame] | None, dict[str, Any]]]
    names: dict[Any, str]


class ZxingDecoder:
    """zxing-cpp, tuned on the project's degraded 640 x 480 frames (``lovemart bench scan``).

    ``try_invert`` is off: cards are printed dark on light. ``try_downscale`` is off: it read no frame
    more and cost half as much time again. ``try_rotate`` is off, which halves the time of a pass: it
    only helps a Code 128 held upright, which a 480-pixel-high frame shows too small to read anyway,
    while the QR code beside it is read at any angle. Then the fallback passes of ``ZXING_PASSES``
    (``fallbacks=False`` runs the first pass alone).
    """

    name = "zxing"

    def __init__(
        self,
        *,
        try_rotate: bool = False,
        try_downscale: bool = False,
        try_invert: bool = False,
        fallbacks: bool = True,
    ) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise HardwareError("decoder_missing", detail=f"zxing-cpp ({exc})") from exc
        self._zxing = zxingcpp
        self._flags = {"try_rotate": try_rotate, "try_downscale": try_downscale, "try_invert": try_invert}
        self._steps = ZXING_PASSES if fallbacks else ZXING_PASSES[:1]
        self._native: _ZxingNative | None = None  # zxing-cpp's own objects, made at the first decode

    def _made(self) -> _ZxingNative:
        zxingcpp = self._zxing
        options = {**self._flags, "text_mode": zxingcpp.TextMode.Plain}  # the text itself, not a rendering of it
        passes = [
            (
                step.prepare,
                {
                    **options,
                    "binarizer": getattr(zxingcpp.Binarizer, step.binarizer),
                    "formats": zxingcpp.BarcodeFormats([getattr(zxingcpp.BarcodeFormat, f) for f in step.formats]),
                },
            )
            for step in self._steps
        ]
        names = {zxingcpp.BarcodeFormat.QRCode: QRCODE, zxingcpp.BarcodeFormat.Code128: CODE128}
        return _ZxingNative(passes, names)

    def close(self) -> None:
        """Let go of zxing-cpp's own objects (made again by the next ``decode``).

        A scanner calls this when it stops. Objects of a native extension still alive when Python exits
        make nanobind print dozens of "leaked instance" lines on the shopkeeper's terminal, and the apps
        stay referenced by Kivy's clock until then."""
        self._native = None

    def decode(self, frame: Frame) -> list[Decoded]:
        grey = to_grey(frame)
        native = self._native
        if native is None:
            native = self._native = self._made()
        for prepare, options in native.passes:
            image = grey if prepare is None else prepare(grey)
            found = _unique(
                # zxing-cpp 3 reports the variant as ``format`` and the family as ``symbology``; 2.x only ``format``.
                Decoded(result.text, native.names.get(getattr(result, "symbology", result.format), str(result.format)))
                for result in self._zxing.read_barcodes(image, **options)
                if result.valid
            )
            if found:
                return found
        return []


class ZbarDecoder:
    """pyzbar over the system's libzbar: QR code and Code 128 only."""

    name = "zbar"

    def __init__(self) -> None:
        try:
            # pyzbar loads libzbar when its wrapper is imported: a missing library is an ImportError here.
            from pyzbar import pyzbar  # type: ignore[import-untyped]
        except (ImportError, OSError) as exc:
            raise HardwareError("decoder_missing", detail=f"pyzbar / libzbar0 ({exc})") from exc
        self._decode: Callable[..., list[Any]] = pyzbar.decode
        self._symbols = [pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128]
        self._names = {"QRCODE": QRCODE, "CODE128": CODE128}

    def decode(self, frame: Frame) -> list[Decoded]:
        grey = to_grey(frame)
        results = self._decode(grey, symbols=self._symbols)
        # zbar hands back bytes it has already converted to UTF-8; a code is ASCII, so nothing is lost,
        # and a garbled non-ASCII read stays visibly garbled instead of raising.
        return _unique(
            Decoded(result.data.decode("utf-8", errors="replace"), self._names.get(result.type, result.type))
            for result in results
        )


_BACKENDS: dict[str, Callable[[], Decoder]] = {"zxing": ZxingDecoder, "zbar": ZbarDecoder}


def decoder_names() -> list[str]:
    """The decoder names ``make_decoder`` accepts, in settings order (not all need be installed)."""
    return list(_BACKENDS)


def make_decoder(name: str) -> Decoder:
    """The decoder called ``name``. Raises ``decoder_unknown``, or ``decoder_missing`` when its library won't load."""
    backend = _BACKENDS.get(name.strip().lower())
    if backend is None:
        raise HardwareError("decoder_unknown", name=name, available=", ".join(_BACKENDS))
    return backend()
