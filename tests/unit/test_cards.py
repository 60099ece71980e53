"""Passbook cards: the A4 sheet, the card image, and both decoders reading back every printed card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pypdfium2
import pytest

from hardware.cards import (
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    CARDS_PER_PAGE,
    NAME_BASELINE_MM,
    NAME_SIZE_MM,
    QR_QUIET_MODULES,
    TEXT_LEFT_MM,
    TEXT_RIGHT_MM,
    CardFace,
    card_images_from_pdf,
    qr_matrix,
    rasterize_pdf,
    render_card_image,
    symbol_layout,
    write_cards_pdf,
)
from hardware.decode import CODE128, QRCODE, Decoded, Decoder
from ledger.passbook import make_code, verify_code
from tests.conftest import TEST_KEY

NAMES = "张秀英 李建国 王桂兰 欧阳志强 陈玉珍 司马德明 赵春花 周国庆 吴海燕 孙长生 马小红 朱大山".split()


def face(n: int, name: str | None = None, card_no: int = 1) -> CardFace:
    household_id = f"XF{n:04d}"
    return CardFace(
        household_id, name or NAMES[n % len(NAMES)], "幸福村", card_no, make_code(TEST_KEY, household_id, card_no)
    )


FACES = [face(n, card_no=1 + (n % 5 == 2)) for n in range(1, 13)]  # 12 cards: a full page and two more


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cards") / "幸福村存折卡.pdf"  # a non-ASCII path, as an office would name it
    assert write_cards_pdf(FACES, path, title="幸福村") == 2
    return path


def name_area(image: np.ndarray, dpi: int) -> np.ndarray:
    px = dpi / 25.4
    top = round((NAME_BASELINE_MM - NAME_SIZE_MM) * px)
    return image[top : round((NAME_BASELINE_MM + 1) * px), round(TEXT_LEFT_MM * px) : round(TEXT_RIGHT_MM * px)]


# ----- the sheet -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, CARDS_PER_PAGE, CARDS_PER_PAGE + 1, 2 * CARDS_PER_PAGE + 3])
def test_sheet_has_as_many_pages_as_needed(tmp_path: Path, count: int) -> None:
    path = tmp_path / "sheet.pdf"
    pages = write_cards_pdf([face(n + 1) for n in range(count)], path)
    document = pypdfium2.PdfDocument(str(path))
    try:
        assert pages == len(document) == -(-count // CARDS_PER_PAGE)
        width, height = document[0].get_size()
    finally:
        document.close()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)  # A4


def test_no_cards_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_cards_pdf([], tmp_path / "empty.pdf")
    assert not (tmp_path / "empty.pdf").exists()


def test_sheet_is_cut_into_card_sized_pictures(sheet: Path) -> None:
    pages = rasterize_pdf(sheet, 100)
    assert len(pages) == 2 and all(page.mode == "L" for page in pages)
    cards = card_images_from_pdf(sheet, 100)
    assert len(cards) == len(FACES)  # the empty slots of the last page are not cards
    assert {card.size for card in cards} == {(round(CARD_WIDTH_MM / 25.4 * 100), round(CARD_HEIGHT_MM / 25.4 * 100))}


@pytest.mark.parametrize("dpi", [200, 300])
def test_every_printed_card_reads_back_as_its_own_household(sheet: Path, decoder: Decoder, dpi: int) -> None:
    cards = card_images_from_pdf(sheet, dpi)
    assert len(cards) == len(FACES)
    for card, printed in zip(cards, FACES, strict=True):
        found = decoder.decode(np.asarray(card))
        # Both symbols, each carrying exactly this card's code, and nothing else.
        assert sorted(found, key=lambda d: d.format) == [
            Decoded(printed.code, CODE128),
            Decoded(printed.code, QRCODE),
        ], f"{decoder.name} at {dpi} dpi, {printed.household_id}"
        code = verify_code(TEST_KEY, found[0].text)
        assert (code.household_id, code.card_no) == (printed.household_id, printed.card_no)


def test_chinese_name_is_printed_on_the_sheet(sheet: Path) -> None:
    cards = [np.asarray(card) for card in card_images_from_pdf(sheet, 200)]
    areas = [name_area(card, 200) for card in cards[:3]]
    for area in areas:
        assert (area < 128).mean() > 0.03  # ink in the name area: the name is there
    # Different names give different ink: missing glyphs would all print as the same empty boxes.
    assert not np.array_equal(areas[0], areas[1]) and not np.array_equal(areas[1], areas[2])


# ----- the card image --------------------------------------------------------------------------


def test_card_image_is_card_sized_grey_and_readable(decoder: Decoder) -> None:
    printed = face(7)
    image = render_card_image(printed, dpi=300)
    assert image.mode == "L" and image.size == (1011, 638)  # 85.6 x 54 mm at 300 dpi
    found = decoder.decode(np.asarray(image))
    assert set(found) == {Decoded(printed.code, QRCODE), Decoded(printed.code, CODE128)}


def test_card_image_shows_the_chinese_name() -> None:
    one = np.asarray(render_card_image(face(1, "张三"), dpi=200))
    other = np.asarray(render_card_image(face(1, "李四"), dpi=200))
    assert (name_area(one, 200) < 128).mean() > 0.03
    assert not np.array_equal(name_area(one, 200), name_area(other, 200))


def test_a_long_name_shrinks_instead_of_running_into_the_qr_code() -> None:
    short = np.asarray(render_card_image(face(3, "王"), dpi=200))
    long = np.asarray(render_card_image(face(3, "欧阳司马诸葛慕容长孙"), dpi=200))
    box = symbol_layout(face(3).code, 200).qr_box
    px = 200 / 25.4
    rows = slice(round(box.y * px), round((box.y + box.h) * px))
    columns = slice(round(box.x * px), round((box.x + box.w) * px))
    assert np.array_equal(short[rows, columns], long[rows, columns])
    assert (name_area(long, 200) < 128).mean() > 0.03


def test_symbols_have_their_quiet_zones_and_whole_dot_modules() -> None:
    printed = face(12)
    for dpi in (200, 300, 600):
        layout = symbol_layout(printed.code, dpi)
        dot = 25.4 / dpi
        for size in (layout.qr_module_mm, layout.bar_module_mm):
            assert size / dot == pytest.approx(round(size / dot)) and size >= dot
        assert layout.qr_box.x >= 0 and layout.qr_box.x + layout.qr_box.w <= CARD_WIDTH_MM
        assert layout.bar_box.x >= 0 and layout.bar_box.x + layout.bar_box.w <= CARD_WIDTH_MM
        assert layout.qr_box.y + layout.qr_box.h < layout.bar_box.y  # the QR's quiet zone ends above the bars
    # Uppercase ASCII with ':' fits alphanumeric mode: version 1 (21 modules) at level M for a usual code.
    assert len(qr_matrix(printed.code)) == 21
    assert QR_QUIET_MODULES >= 4


def test_a_code_that_cannot_be_printed_is_refused() -> None:
    with pytest.raises(ValueError):
        CardFace("XF0001", "张三", "幸福村", 1, "LM1:张三:1:ABCDEF")


def test_a_certificates_lines_never_start_with_a_closing_mark() -> None:
    from hardware.documents import _wrapped

    body = "在 2026 年度积分评比中获得 420 分，评为“4 星级文明户”。特发此证，以资鼓励。"
    for width in range(8, 40):
        lines = _wrapped(body, len, width)
        assert "".join(lines) == body
        assert all(line and line[0] not in "，。、”）" for line in lines[1:]), lines
        assert all(line[-1] not in "“（" for line in lines if line), lines
