"""Pictures of the goods: one small square PNG per item in ``<home>/pictures/``, shown on the till's goods
tiles and in the kiosk's goods lists beside the name, for villagers and shopkeepers who read little.

Why files beside the ledger and not ledger rows: a picture is how this shop shows an item, not a fact of the
scheme. It never moves points or stock, needs no audit trail and is not synced; the shop takes its own photos
(the township's catalogue carries none). A missing picture only means the tile shows words alone.

Why the picture is made small once, when it is put on the shelf: a phone photo is 12 megapixels and several
megabytes; the apps should load a few kilobytes, never decode a photo at the counter, and a folder of them
stays small enough to copy with the shop's folder. The photo's own orientation (EXIF) is applied, transparency
goes on white, and the whole photo is kept (fitted into the square, never cropped: the item must stay
recognisable).

Why a file's name carries a digest of its content ("RICE@3fa2c19d0b.png"): Kivy keeps a texture by file name
for as long as it is shown, so a retaken photo under the old name would not appear until the apps restart.
A new picture is a new name; the old file is deleted once the new one is in place.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from PIL import Image

PICTURE_PX = 256  # the square's side: sharp on a 1280×800 tile (about 130 px) and a kiosk row
MAX_SOURCE_BYTES = 25 * 1024 * 1024  # a phone photo is a few MB; anything larger is not a photo of an item
MAX_SOURCE_PIXELS = 60_000_000  # width × height, checked before decoding (a "decompression bomb" is refused)
BACKGROUND = (255, 255, 255)
_PLAIN_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def picture_stem(sku: str) -> str:
    """The start of an item's picture file name: the SKU itself when it is a plain name ("RICE10"), so a person
    can find it in the folder; otherwise a digest, so no SKU can name a path outside the folder. Plain SKUs
    have no "@", so one item's files ("RICE@….png") never match another's."""
    if _PLAIN_SKU.match(sku) and ".." not in sku:
        return sku
    return f"sku-{hashlib.sha256(sku.encode('utf-8')).hexdigest()[:24]}"


class PictureShelf:
    """The pictures of one shop's goods, in ``folder`` (made when the first picture is put)."""

    def __init__(self, folder: Path, max_bytes: int = MAX_SOURCE_BYTES, max_pixels: int = MAX_SOURCE_PIXELS) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    def _files_of(self, sku: str) -> list[Path]:
        """Every file of ``sku``'s picture, newest last (one, unless a put was cut off before its clean-up)."""
        found = [p for p in self.folder.glob(f"{picture_stem(sku)}@*.png") if p.is_file()]
        return sorted(found, key=lambda p: p.stat().st_mtime_ns)

    def path_of(self, sku: str) -> str | None:
        """The picture of ``sku`` as a path the apps can load, or None when it has none."""
        return self.paths([sku]).get(sku)

    def paths(self, skus: Iterable[str]) -> dict[str, str]:
        """The pictures of those of ``skus`` that have one, by SKU, from one reading of the folder: the apps
        ask for a whole shelf at once, when they read the goods, never per row shown."""
        newest: dict[str, tuple[int, str]] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:  # no folder yet, or one the apps cannot read: the goods show their words alone
            return {}
        for entry in entries:
            stem, at, _digest = entry.name.partition("@")
            if not at or not entry.name.endswith(".png") or not entry.is_file():
                continue
            stamp = entry.stat().st_mtime_ns
            if stem not in newest or stamp > newest[stem][0]:
                newest[stem] = (stamp, entry.path)
        found = {sku: newest.get(picture_stem(sku)) for sku in skus}
        return {sku: hit[1] for sku, hit in found.items() if hit is not None}

    def put(self, sku: str, source: Path) -> Path:
        """Make ``source`` (a JPEG, PNG, WebP… photo) the picture of ``sku``, replacing any earlier one.

        Refused (``picture_missing``, ``picture_unreadable``, ``picture_too_big``) before anything is written;
        the new file takes the old one's place in one rename, so the apps never load half a picture.
        """
        from PIL import Image, ImageOps, UnidentifiedImageError

        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise LedgerError("picture_missing", file=str(source)) from None
        except OSError:
            raise LedgerError("picture_unreadable", file=str(source)) from None
        too_big = LedgerError("picture_too_big", file=str(source), limit_mb=self.max_bytes // (1024 * 1024))
        if size > self.max_bytes:
            raise too_big
        try:
            with Image.open(source) as opened:
                if opened.width * opened.height > self.max_pixels:
                    raise too_big
                opened.load()
                picture = _square(ImageOps.exif_transpose(opened) or opened)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
            # SyntaxError and ValueError are what Pillow raises on some truncated or malformed files; its own
            # words are English and technical, so the message says only what to do
            raise LedgerError("picture_unreadable", file=str(source)) from None
        encoded = io.BytesIO()
        picture.save(encoded, format="PNG", optimize=True)
        content = encoded.getvalue()
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{picture_stem(sku)}@{hashlib.sha256(content).hexdigest()[:10]}.png"
        partial = self.folder / f".{target.name}.partial"
        try:
            with open(partial, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        for older in self._files_of(sku):
            if older != target:
                older.unlink(missing_ok=True)
        return target

    def remove(self, sku: str) -> bool:
        """Take the picture of ``sku`` off the shelf; False when it had none."""
        files = self._files_of(sku)
        for path in files:
            path.unlink(missing_ok=True)
        return bool(files)


def _square(image: Image.Image) -> Image.Image:
    """``image`` fitted whole into a white ``PICTURE_PX`` square, centred (a small one is enlarged)."""
    from PIL import Image

    rgba = image.convert("RGBA")
    scale = PICTURE_PX / max(rgba.width, rgba.height)
    fitted = rgba.resize(
        (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.Resampling.LANCZOS
    )
    square = Image.new("RGB", (PICTURE_PX, PICTURE_PX), BACKGROUND)
    square.paste(fitted, ((PICTURE_PX - fitted.width) // 2, (PICTURE_PX - fitted.height) // 2), fitted)
    return square
