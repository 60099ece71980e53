"""Receipt layout: golden bytes for every kind at both paper widths, and the same bytes read back by meaning.

Regenerate the golden files after an intended layout change with
``LOVEMART_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_receipt_layout.py`` and review the diff of
the decoded lines (``lovemart_tools.escpos_reader.receipt_text_lines``) before committing them.
"""

from __future__ import annotations

import os
import statistics
import time
import unicodedata
from dataclasses import replace

import pytest

from hardware.errors import HardwareError
from hardware.profiles import PrinterProfile, profile_for
from hardware.receipt_layout import build_passbook_card, build_receipt, build_test_page, column_ruler, money, wrap
from ledger.receipts import ReceiptKind, ReceiptLine
from lovemart_tools.escpos_reader import PrintedLine, Printout, read_escpos, receipt_text_lines
from tests.receipt_samples import CODE, GOLDEN, OIL, TWENTY, WIDTHS, receipt

UPDATE = os.environ.get("LOVEMART_UPDATE_GOLDEN") == "1"


def document(name: str, profile: PrinterProfile) -> bytes:
    if name == "test_page":
        return build_test_page(profile, "2024-05-01 08:00:00")
    if name == "passbook_card":
        return build_passbook_card("XF0001", "张三", "幸福村", 1, CODE, profile)
    if name == "redeem_reprint":
        return build_receipt(receipt(ReceiptKind.REDEEM, reprint=True), profile)
    return build_receipt(receipt(ReceiptKind(name)), profile)


DOCUMENTS = [kind.value for kind in ReceiptKind] + ["redeem_reprint", "test_page", "passbook_card"]


def fits(line: PrintedLine, columns: int) -> bool:
    """Display width checked two ways: GB18030 bytes (what the printer counts in Chinese mode) and
    Unicode East Asian width (wide/full-width characters take two columns)."""
    by_bytes = len(line.text.encode("gb18030"))
    by_unicode = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line.text)
    return max(by_bytes, by_unicode) * line.width <= columns


# ---------------------------------------------------------------------------------------------------
# Golden files


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", DOCUMENTS)
def test_golden_bytes(name: str, width: int) -> None:
    data = document(name, profile_for(width))
    path = GOLDEN / f"{name}_{width}.bin"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"missing {path}: run with LOVEMART_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    if data != expected:
        # Show the difference by meaning first: it is far easier to read than bytes.
        assert receipt_text_lines(data) == receipt_text_lines(expected)
    assert data == expected


def test_layout_is_deterministic() -> None:
    profile = profile_for(58)
    assert build_receipt(receipt(), profile) == build_receipt(receipt(), profile)


# ---------------------------------------------------------------------------------------------------
# Read back by meaning


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_line_fits_and_nothing_is_garbled(name: str, width: int) -> None:
    profile = profile_for(width)
    out = read_escpos(document(name, profile))
    texts = [line for line in out.lines if line.kind == "text"]
    assert texts
    for line in texts:
        assert fits(line, profile.columns), f"{line.text!r} is wider than {profile.columns} columns"
        assert "?" not in line.text and "\ufffd" not in line.text
    assert not out.images or all(image.width <= profile.dots for image in out.images)


EXPECTED_LINES = {
    "redeem": [
        "兑换小票",
        "单号：S1-P1-000123",
        "时间：2024-05-01 10:23:45",
        "户号：XF0001",
        "户主：张三",
        "操作员：王秀兰 (01)",
        "校验码：3f9a0c7e",
    ],
    "void": ["作废小票", "原小票：S1-P1-000123", "原因：顾客退货", "户主：张三"],
    "donation": ["捐赠凭证", "捐赠人：幸福村乡贤李四", "备注：用于助学", "衷心感谢您对爱心超市的支持！"],
    "stock_in": ["入库单", "供货方：镇供销社"],
    "day_close": ["日结单", "时间：2024-05-01 10:23:45", "今日兑换商品"],
}


def starts(lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    assert found, f"no line starts with {prefix!r} in {lines}"
    return found[0]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(ReceiptKind))
def test_receipt_says_what_it_should(kind: ReceiptKind, width: int) -> None:
    profile = profile_for(width)
    lines = receipt_text_lines(build_receipt(receipt(kind), profile))
    assert lines[0] == "幸福村爱心超市"
    for expected in EXPECTED_LINES[kind.value]:
        assert expected in lines
    assert "【重印】" not in lines


@pytest.mark.parametrize("width", WIDTHS)
def test_redeem_rows_are_right_aligned_to_the_edge(width: int) -> None:
    columns = profile_for(width).columns
    lines = receipt_text_lines(build_receipt(receipt(), profile_for(width)))
    for prefix, value in [
        ("金龙鱼食用油 5L", "50"),
        ("洗衣粉", "30"),
        ("作业本", "20"),
        ("合计", "100"),
        ("兑换前可兑换积分", "180"),
        ("兑换后可兑换积分", "80"),
        ("积分余额", "180"),
    ]:
        row = starts(lines, prefix)
        assert row.endswith(" " + value)
        assert len(row.encode("gb18030")) == columns, row
    assert "1桶" in starts(lines, "金龙鱼食用油") and "10本" in starts(lines, "作业本")
    if width == 80:
        assert starts(lines, "洗衣粉").split()[-2:] == ["15", "30"]  # points each, then points


@pytest.mark.parametrize("width", WIDTHS)
def test_void_names_the_voided_receipt_and_points_returned(width: int) -> None:
    lines = receipt_text_lines(build_receipt(receipt(ReceiptKind.VOID), profile_for(width)))
    assert starts(lines, "退回积分").endswith(" 100")
    assert starts(lines, "作废后可兑换积分").endswith(" 180")


@pytest.mark.parametrize("width", WIDTHS)
def test_money_is_full_width_yuan_encoded_as_gb18030(width: int) -> None:
    data = build_receipt(receipt(ReceiptKind.DONATION), profile_for(width))
    assert starts(receipt_text_lines(data), "捐赠金额").endswith("￥1,000.00")
    assert "￥".encode("gb18030") == b"\xa3\xa4" and b"\xa3\xa41,000.00" in data
    stock = receipt_text_lines(build_receipt(receipt(ReceiptKind.STOCK_IN), profile_for(width)))
    assert starts(stock, "进货金额").endswith("￥3,560.50")
    assert money(5) == "￥0.05" and money(-1234) == "-￥12.34"


def test_reprint_is_marked_under_the_title() -> None:
    out = read_escpos(build_receipt(receipt(reprint=True), profile_for(58)))
    texts = [line for line in out.lines if line.kind == "text"]
    assert [line.text for line in texts[:3]] == ["幸福村爱心超市", "兑换小票", "【重印】"]
    assert texts[2].bold and texts[2].width == 2
    assert "【重印】".encode("gb18030") in build_receipt(receipt(reprint=True), profile_for(80))


def test_58mm_ends_with_a_feed_and_80mm_with_a_cut() -> None:
    narrow = read_escpos(build_receipt(receipt(), profile_for(58)))
    assert not narrow.cut and narrow.trailing_feed >= 4
    wide = read_escpos(build_receipt(receipt(), profile_for(80)))
    assert wide.cut
    with_cutter = read_escpos(build_receipt(receipt(), profile_for(58, cutter=True)))
    assert with_cutter.cut


def test_qr_code_of_the_receipt_number() -> None:
    wide = read_escpos(build_receipt(receipt(), profile_for(80)))
    assert [line.text for line in wide.lines if line.kind == "qr"] == ["S1-P1-000123"]
    narrow = read_escpos(build_receipt(receipt(), profile_for(58)))
    assert not [line for line in narrow.lines if line.kind == "qr"]  # the POS-5890 gets an image instead
    assert len(narrow.images) == 1


def decode(out: Printout) -> list[tuple[str, str]]:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import ImageOps

    found: list[tuple[str, str]] = []
    for image in out.images:
        picture = ImageOps.expand(image.to_image().convert("L"), 16, fill=255)
        found.extend((result.format.name, result.text) for result in zxingcpp.read_barcodes(picture))
    return found


def test_qr_image_on_58mm_scans_as_the_receipt_number() -> None:
    out = read_escpos(build_receipt(receipt(), profile_for(58)))
    assert decode(out) == [("QRCode", "S1-P1-000123")]


def test_long_names_wrap_by_display_width() -> None:
    name = "特别长的商品名称需要换行才能打印完整的 ABC 牌 500g 装"
    for width in WIDTHS:
        profile = profile_for(width)
        lines = receipt_text_lines(build_receipt(receipt(lines=(ReceiptLine(name, 3, "包", 7),)), profile))
        first = starts(lines, "特别长")
        assert first.endswith(" 21") and len(first.encode("gb18030")) == profile.columns
        rest = lines[lines.index(first) + 1 : lines.index(first) + 4]
        joined = first.split("  ")[0] + "".join(part.strip() for part in rest if part.startswith("  "))
        assert joined.replace(" ", "") == name.replace(" ", "")
        assert all(len(line.encode("gb18030")) <= profile.columns for line in lines)
    # never inside a character, ASCII words kept whole when there is a space to break at
    assert wrap("作业本作业本", 5) == ["作业", "本作", "业本"]
    assert wrap("油 5L 装", 5) == ["油 5L", "装"]
    assert wrap("金龙鱼食用油 500ml", 14) == ["金龙鱼食用油", "500ml"]


def test_unencodable_line_is_printed_as_an_image_not_dropped() -> None:
    try:
        from hardware.fonts import cjk_font_path

        cjk_font_path()
    except HardwareError:
        pytest.skip("no CJK font installed")
    content = receipt(household_name="张😀", lines=(OIL, ReceiptLine("𠮷野家拉面", 1, "碗", 8)))
    for width in WIDTHS:
        profile = profile_for(width)
        out = read_escpos(build_receipt(content, profile))
        texts = out.text_lines
        assert not any("张" in line and "户主" in line for line in texts)
        assert not any("野家" in line for line in texts)
        assert "户号：XF0001" in texts and starts(texts, "金龙鱼食用油")  # neighbours still text
        drawn = [line.image for line in out.lines if line.kind == "image" and line.image.height == 24]  # type: ignore[union-attr]
        assert len(drawn) == 2
        for image in drawn:
            assert image is not None and image.width == profile.dots
            assert any(image.dark(x, y) for x in range(0, 120) for y in range(24))
        assert all("?" not in line and "\ufffd" not in line for line in texts)


def test_control_characters_cannot_inject_commands() -> None:
    content = receipt(ReceiptKind.DONATION, party="坏\x1bE\x01人", memo="第一行\n第二行")
    out = read_escpos(build_receipt(content, profile_for(58)))
    assert "捐赠人：坏 E 人" in out.text_lines
    assert not any(line.bold for line in out.lines if line.text.startswith("捐赠人"))
    assert "备注：第一行 第二行" in out.text_lines


@pytest.mark.parametrize("width", WIDTHS)
def test_test_page_has_ruler_yuan_qr_and_profile_name(width: int) -> None:
    profile = profile_for(width)
    out = read_escpos(build_test_page(profile, "2024-05-01 08:00:00"))
    assert column_ruler(profile.columns) in out.text_lines
    assert len(column_ruler(profile.columns)) == profile.columns
    assert f"打印机：{profile.name}" in out.text_lines
    assert any(line.endswith("￥12.50") for line in out.text_lines)
    assert [line.text for line in out.lines if line.kind == "qr"] or out.images


@pytest.mark.parametrize("width", WIDTHS)
def test_passbook_card_scans_and_has_cut_lines(width: int) -> None:
    out = read_escpos(build_passbook_card("XF0001", "张三", "幸福村", 1, CODE, profile_for(width)))
    assert ["户主：张三", "户号：XF0001", CODE] == [
        t for t in out.text_lines if t in ("户主：张三", "户号：XF0001", CODE)
    ]
    assert sum("沿虚线剪下" in line for line in out.text_lines) == 2
    if width == 80:
        assert [(line.kind, line.text) for line in out.lines if line.kind in ("qr", "barcode")] == [
            ("qr", CODE),
            ("barcode", CODE),
        ]
    else:
        assert sorted(decode(out)) == [("Code128", CODE), ("QRCode", CODE)]


def test_twenty_line_receipt_builds_fast() -> None:
    profile = profile_for(80)
    contents = [receipt(receipt_no=f"S1-P1-{n:06d}", lines=TWENTY) for n in range(60)]
    times = []
    for content in contents:
        start = time.perf_counter()
        build_receipt(content, profile)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.005


def test_profiles() -> None:
    assert (profile_for(58).columns, profile_for(58).dots, profile_for(58).has_cutter) == (32, 384, False)
    assert (profile_for(80).columns, profile_for(80).dots, profile_for(80).native_qr) == (48, 576, True)
    assert replace(profile_for(80), name="x").columns == 48
    assert not profile_for(80, cutter=False).has_cutter
    with pytest.raises(HardwareError) as caught:
        profile_for(76)
    assert caught.value.code == "printer_config"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_quantity_never_runs_into_its_unit_and_units_are_all_or_none(width: int) -> None:
    """ "食盐 1400g袋" read as 1,400 g: a unit that starts with a figure goes with the name ("食盐 400g袋", qty 1);
    and on one receipt either every line shows its unit in the quantity column or none does."""
    salt = ReceiptLine("食盐", 1, "400g袋", 2)
    soap = ReceiptLine("肥皂", 2, "块", 3)
    long_unit = ReceiptLine("毛巾", 3, "条（大号）", 5)
    for goods in ((salt, soap), (soap, long_unit), (salt, soap, long_unit)):
        lines = receipt_text_lines(build_receipt(receipt(lines=goods), profile_for(width)))
        text = "\n".join(lines)
        assert "1400g" not in text
        salt_line = next((line for line in lines if line.startswith("食盐")), None)
        if salt_line is not None:
            assert salt_line.startswith("食盐 400g袋") and salt_line.split()[2] == "1"
        rows = [line for line in lines if line.startswith(("肥皂", "毛巾"))]
        with_unit = [("2块" in r) or ("3条" in r) for r in rows]
        assert all(with_unit) or not any(with_unit), rows
