"""Pictures of the goods (``lovemart.pictures``, ``lovemart items picture``): a photo becomes a small white
square once, the whole item kept and turned the way the camera held it; anything that is not a usable photo
is refused with nothing written and the earlier picture kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ledger.errors import LedgerError
from lovemart.pictures import PICTURE_PX, PictureShelf, picture_stem
from tests.cli_harness import run

WHITE = (255, 255, 255)
RED = (200, 30, 30)


def photo(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = RED, orientation: int = 1) -> Path:
    """A JPEG (or PNG, by the suffix) of one colour; ``orientation`` is the EXIF tag a phone writes."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x0112] = orientation
    if path.suffix == ".png":
        image.save(path)
    else:
        image.save(path, quality=95, exif=exif.tobytes())
    return path


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], slack: int = 30) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel[:3], colour, strict=True))


def test_a_landscape_photo_is_fitted_whole_into_a_small_white_square(tmp_path: Path) -> None:
    shelf = PictureShelf(tmp_path / "pictures")
    assert shelf.path_of("RICE") is None
    made = shelf.put("RICE", photo(tmp_path / "rice.jpg", (3000, 1000)))
    assert shelf.path_of("RICE") == str(made) and made.name.startswith("RICE@") and made.suffix == ".png"
    with Image.open(made) as square:
        assert square.size == (PICTURE_PX, PICTURE_PX) and square.format == "PNG"
        middle = PICTURE_PX // 2
        assert near(square.getpixel((middle, middle)), RED)
        assert near(square.getpixel((2, middle)), RED)  # the whole width is kept: nothing cropped off the sides
        assert square.getpixel((middle, 2)) == WHITE  # the bands above and below are white
    assert made.stat().st_size < 20_000  # kilobytes for the apps, not the photo's megabytes


def test_the_photo_is_turned_as_the_phone_held_it_and_a_small_one_is_enlarged(tmp_path: Path) -> None:
    shelf = PictureShelf(tmp_path / "pictures")
    # stored landscape, tagged "rotate 90°": shown upright, so its white bands are left and right
    made = shelf.put("OIL", photo(tmp_path / "oil.jpg", (600, 200), orientation=6))
    with Image.open(made) as square:
        middle = PICTURE_PX // 2
        assert square.getpixel((2, middle)) == WHITE
        assert near(square.getpixel((middle, 2)), RED)
    tiny = shelf.put("SOAP", photo(tmp_path / "soap.png", (16, 16)))
    with Image.open(tiny) as square:
        assert square.size == (PICTURE_PX, PICTURE_PX)
        assert near(square.getpixel((1, 1)), RED) and near(square.getpixel((PICTURE_PX - 2, PICTURE_PX - 2)), RED)


def test_what_is_not_a_usable_photo_is_refused_and_the_earlier_picture_stays(tmp_path: Path) -> None:
    shelf = PictureShelf(tmp_path / "pictures", max_bytes=200_000, max_pixels=2_000_000)
    kept = shelf.put("RICE", photo(tmp_path / "rice.jpg", (400, 300)))
    before = kept.read_bytes()
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a picture")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photo(tmp_path / "whole.jpg", (800, 600)).read_bytes()[:600])
    huge_file = tmp_path / "huge.png"
    huge_file.write_bytes(b"\x89PNG" + b"\0" * 300_000)
    refusals = {
        "picture_unreadable": [text_file, truncated],
        "picture_missing": [tmp_path / "nowhere.jpg"],
        "picture_too_big": [huge_file, photo(tmp_path / "wide.png", (3000, 1000))],  # bytes, then pixels
    }
    for code, sources in refusals.items():
        for source in sources:
            with pytest.raises(LedgerError) as refused:
                shelf.put("RICE", source)
            assert refused.value.code == code, source
            assert str(source) in refused.value.message("zh")
    assert kept.read_bytes() == before
    assert [p.name for p in shelf.folder.iterdir()] == [kept.name]  # no partial file left behind


def test_a_retaken_photo_gets_a_new_name_so_the_apps_load_it_and_the_old_file_goes(tmp_path: Path) -> None:
    shelf = PictureShelf(tmp_path / "pictures")
    first = shelf.put("RICE", photo(tmp_path / "a.jpg", (300, 300), (200, 30, 30)))
    other = shelf.put("RICE-5", photo(tmp_path / "b.jpg", (300, 300), (30, 30, 200)))  # a longer SKU alike
    second = shelf.put("RICE", photo(tmp_path / "c.jpg", (300, 300), (30, 160, 30)))
    assert second != first and not first.exists()  # the apps keep textures by file name
    assert shelf.path_of("RICE") == str(second) and shelf.path_of("RICE-5") == str(other)
    assert shelf.put("RICE", tmp_path / "c.jpg") == second  # the same photo again: the same file
    assert sorted(p.name for p in shelf.folder.iterdir()) == sorted([second.name, other.name])
    assert shelf.remove("RICE") is True and shelf.path_of("RICE-5") == str(other)


def test_a_sku_can_never_name_a_file_outside_the_folder(tmp_path: Path) -> None:
    shelf = PictureShelf(tmp_path / "pictures")
    for sku in ("../../etc/passwd", "..", ".hidden", "大米", "A/B", "RICE@1"):
        stem = picture_stem(sku)
        assert "/" not in stem and "@" not in stem and not stem.startswith("."), sku
    made = shelf.put("../ESCAPE", photo(tmp_path / "x.jpg", (50, 50)))
    assert made.parent == shelf.folder
    assert shelf.path_of("../ESCAPE") == str(made) and shelf.path_of("ESCAPE") is None
    assert shelf.remove("../ESCAPE") is True and shelf.remove("../ESCAPE") is False
    assert shelf.path_of("../ESCAPE") is None


def test_items_picture_puts_and_removes_by_the_command_line(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    source = photo(tmp_path / "soap.jpg", (800, 600))
    code, put, err = run(capsys, home, "items", "picture", "soap", str(source))
    assert code == 0, err
    made = Path(put["picture"])
    assert put["sku"] == "SOAP" and made.parent == home / "pictures" and made.name.startswith("SOAP@")
    assert made.is_file()

    code, refused, _ = run(capsys, home, "items", "picture", "NOSUCH", str(source))
    assert code == 1 and refused["error"]["code"] == "unknown_sku"
    code, refused, _ = run(capsys, home, "items", "picture", "SOAP")
    assert code == 1 and refused["error"]["code"] == "picture_file_needed"
    assert "--remove" in refused["error"]["message"]
    code, refused, _ = run(capsys, home, "--lang", "en", "items", "picture", "SOAP", str(tmp_path / "none.jpg"))
    assert code == 1 and refused["error"]["message"] == f"There is no picture file {tmp_path / 'none.jpg'}."
    assert made.is_file()  # a refusal leaves the picture there was

    code, removed, _ = run(capsys, home, "items", "picture", "SOAP", "--remove")
    assert code == 0 and removed["removed"] is True
    assert not made.exists() and not list((home / "pictures").iterdir())
    code, again, _ = run(capsys, home, "items", "picture", "SOAP", "--remove")
    assert code == 0 and again["removed"] is False
