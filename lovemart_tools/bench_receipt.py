"""How long a receipt takes to build: part of ``lovemart bench scan``.

The counter prints after every redemption, so building the bytes must never be what the villager
waits for. The baseline is encoding the same text to GB18030 with nothing else, in the same run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ledger.receipts import ReceiptContent, ReceiptKind, ReceiptLine
from lovemart_tools.measure import median_ms

GOODS = (
    ("金龙鱼食用油 5L", "桶", 60),
    ("五常大米 10kg", "袋", 55),
    ("立白洗衣粉 1.5kg", "袋", 18),
    ("舒肤佳香皂", "块", 5),
    ("作业本（16开）", "本", 1),
    ("中华牙膏", "支", 8),
    ("毛巾", "条", 6),
    ("酱油 500ml", "瓶", 7),
    ("食盐", "袋", 2),
    ("卫生纸 10卷", "提", 15),
)


def sample_receipt(lines: int = 20) -> ReceiptContent:
    goods = tuple(
        ReceiptLine(GOODS[i % len(GOODS)][0], 1 + i % 3, GOODS[i % len(GOODS)][1], GOODS[i % len(GOODS)][2])
        for i in range(lines)
    )
    total = sum(g.points for g in goods)
    return ReceiptContent(
        kind=ReceiptKind.REDEEM,
        shop_id="S01",
        shop_name="幸福村爱心超市",
        village_name="幸福村",
        receipt_no="S01-P1-000123",
        when="2026-11-22 10:31:05",
        operator="王秀兰 (01)",
        hash8="3fa9c2d1",
        household_id="XF0001",
        household_name="张秀英",
        lines=goods,
        total_points=total,
        redeemable_before=total + 120,
        redeemable_after=120,
        balance_after=220,
    )


def run_receipt_bench(runs: int = 300) -> dict[str, Any]:
    from hardware.profiles import PrinterProfile, profile_for
    from hardware.receipt_layout import build_receipt

    content = sample_receipt(20)
    # Every receipt has its own number (and so its own QR code): nothing may come from a cache.
    contents = [replace(content, receipt_no=f"S01-P1-{i:06d}") for i in range(1, 2 * runs + 2)]
    figures: dict[str, Any] = {}
    for n, width in enumerate((58, 80)):
        profile = profile_for(width)
        build_receipt(contents[-1], profile)  # the first build loads libraries, as the till does at start-up

        def build(i: int, p: PrinterProfile = profile, base: int = n * runs) -> bytes:
            return build_receipt(contents[base + i], p)

        figures[f"receipt_build_ms_{width}"] = median_ms(build, runs)
    text = "\n".join(f"{g.name} ×{g.qty} {g.points}" for g in content.lines)
    figures["receipt_build_ms"] = max(figures["receipt_build_ms_58"], figures["receipt_build_ms_80"])
    figures["baseline_gb18030_encode_ms"] = median_ms(lambda i: text.encode("gb18030"), runs)
    return figures
