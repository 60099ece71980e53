"""What a paper receipt says, independent of any printer.

The ledger decides *what* a receipt shows (which figures, which names, which labels, in Chinese);
``hardware`` decides *how* it is drawn on a given paper width. Keeping the content a plain value
means the layout is a pure function that tests compare byte for byte with golden files, and a
reprint months later shows the same figures as the first print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReceiptKind(StrEnum):
    REDEEM = "redeem"  # 兑换小票
    VOID = "void"  # 作废小票
    DONATION = "donation"  # 捐赠凭证
    STOCK_IN = "stock_in"  # 入库单
    DAY_CLOSE = "day_close"  # 日结单


@dataclass(frozen=True)
class ReceiptLine:
    """One goods line as printed: always a positive quantity; ``points_each`` is 0 where points do not apply."""

    name: str
    qty: int
    unit: str = ""
    points_each: int = 0

    @property
    def points(self) -> int:
        return self.qty * self.points_each


@dataclass(frozen=True)
class ReceiptContent:
    """Everything one receipt prints. Fields that do not apply to a kind are left empty or None.

    - ``redeem``: household, lines, ``total_points``, ``redeemable_before``/``after``, ``balance_after``.
    - ``void``: like redeem (points returned), plus ``ref_receipt_no`` (the voided receipt) and ``memo`` (reason).
    - ``donation``: ``party`` (donor), ``amount_fen`` (money), lines (goods), ``memo``.
    - ``stock_in``: ``party`` (supplier), ``amount_fen`` (cost), lines.
    - ``day_close``: ``summary`` rows of (label, value) and ``lines`` (goods redeemed that day).
    """

    kind: ReceiptKind
    shop_id: str
    shop_name: str
    receipt_no: str
    when: str  # local "YYYY-MM-DD HH:MM:SS"
    operator: str  # "王秀兰 (01)"
    hash8: str  # first 8 hex digits of the chain hash
    reprint: bool = False
    household_id: str | None = None
    household_name: str | None = None
    lines: tuple[ReceiptLine, ...] = ()
    total_points: int = 0
    redeemable_before: int | None = None
    redeemable_after: int | None = None
    balance_after: int | None = None
    party: str | None = None
    amount_fen: int = 0
    memo: str = ""
    ref_receipt_no: str | None = None
    summary: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    village_name: str = ""
