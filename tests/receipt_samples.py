"""A receipt of every kind, as the ledger would describe it, and where their golden ESC/POS bytes are kept.

Shared by the layout tests (``tests/unit/test_receipt_layout.py``), the stored-receipt tests and the printer tests.
"""

from __future__ import annotations

from pathlib import Path

from hardware.receipt_layout import money
from ledger.receipts import ReceiptContent, ReceiptKind, ReceiptLine

GOLDEN = Path(__file__).parent / "golden" / "receipts"
WIDTHS = (58, 80)
CODE = "LM1:XF0001:1:K7Q2ZD"

OIL = ReceiptLine("金龙鱼食用油 5L", 1, "桶", 50)
POWDER = ReceiptLine("洗衣粉", 2, "袋", 15)
BOOKS = ReceiptLine("作业本", 10, "本", 2)
TWENTY = tuple(
    ReceiptLine(name, k % 3 + 1, unit, 5 + k)
    for k, (name, unit) in enumerate(
        [
            ("金龙鱼食用油 5L", "桶"),
            ("洗衣粉", "袋"),
            ("作业本", "本"),
            ("五常大米 10kg", "袋"),
            ("舒肤佳香皂", "块"),
            ("中华牙膏", "支"),
            ("纯棉毛巾", "条"),
            ("海天酱油", "瓶"),
            ("加碘食盐", "袋"),
            ("绵白糖", "袋"),
            ("龙须挂面", "把"),
            ("立白洗洁精", "瓶"),
            ("卫生纸", "提"),
            ("HB 铅笔", "支"),
            ("雕牌肥皂", "块"),
            ("山西老陈醋", "瓶"),
            ("土鸡蛋", "斤"),
            ("纯牛奶", "箱"),
            ("苏打饼干", "包"),
            ("拖把", "把"),
        ]
    )
)


def receipt(kind: ReceiptKind = ReceiptKind.REDEEM, **changes: object) -> ReceiptContent:
    """A receipt of ``kind`` as the ledger would describe it, for 幸福村爱心超市 and household 张三 XF0001."""
    common: dict[str, object] = dict(
        kind=kind,
        shop_id="S1",
        shop_name="幸福村爱心超市",
        receipt_no="S1-P1-000123",
        when="2024-05-01 10:23:45",
        operator="王秀兰 (01)",
        hash8="3f9a0c7e",
        village_name="幸福村",
    )
    if kind is ReceiptKind.REDEEM:
        common.update(
            household_id="XF0001",
            household_name="张三",
            lines=(OIL, POWDER, BOOKS),
            total_points=100,
            redeemable_before=180,
            redeemable_after=80,
            balance_after=180,
        )
    elif kind is ReceiptKind.VOID:
        common.update(
            receipt_no="S1-P1-000124",
            ref_receipt_no="S1-P1-000123",
            memo="顾客退货",
            household_id="XF0001",
            household_name="张三",
            lines=(OIL, POWDER, BOOKS),
            total_points=100,
            redeemable_before=80,
            redeemable_after=180,
            balance_after=280,
        )
    elif kind is ReceiptKind.DONATION:
        common.update(
            receipt_no="S1-P1-000125",
            party="幸福村乡贤李四",
            amount_fen=100_000,
            lines=(ReceiptLine("洗衣粉", 20, "袋"), ReceiptLine("作业本", 100, "本")),
            memo="用于助学",
        )
    elif kind is ReceiptKind.STOCK_IN:
        common.update(
            receipt_no="S1-P1-000126",
            party="镇供销社",
            amount_fen=356_050,
            lines=(ReceiptLine("金龙鱼食用油 5L", 10, "桶"), ReceiptLine("洗衣粉", 50, "袋")),
        )
    else:
        common.update(
            receipt_no="",
            hash8="",
            summary=(
                ("兑换笔数", "12"),
                ("兑换积分", "860"),
                ("作废笔数", "1"),
                ("入库笔数", "2"),
                ("捐赠金额", money(100_000)),
            ),
            lines=(OIL, POWDER, BOOKS),
        )
    common.update(changes)
    return ReceiptContent(**common)  # type: ignore[arg-type]
