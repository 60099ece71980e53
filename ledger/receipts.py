"""What a paper receipt says, independent of any printer.

The ledger decides *what* a receipt shows (which figures, which names, which labels, in Chinese);
``hardware`` decides *how* it is drawn on a given paper width. Keeping the content a plain value
means the layout is a pure function that tests compare byte for byte with golden files, and a
reprint months later shows the same figures as the first print.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

# The version of the stored receipt document (``ReceiptContent.to_json``). A reader refuses a version it
# does not know rather than print half a receipt; the print queue then rebuilds it from the journal.
RECEIPT_FORMAT = 1


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

    def to_json(self) -> dict[str, Any]:
        """The receipt as plain JSON values, stored with its print job at commit (``ledger.printing``).

        ``reprint`` is not stored: whether a copy is a reprint is decided when it prints.
        """
        data: dict[str, Any] = {"format": RECEIPT_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "reprint":
                continue
            if f.name == "lines":
                value = [[ln.name, ln.qty, ln.unit, ln.points_each] for ln in value]
            elif f.name == "summary":
                value = [[label, text] for label, text in value]
            elif f.name == "kind":
                value = str(value)
            data[f.name] = value
        return data

    @classmethod
    def from_json(cls, data: Any) -> ReceiptContent:
        """The stored document back; ``ValueError`` for anything that is not one this code wrote."""
        if not isinstance(data, dict) or data.get("format") != RECEIPT_FORMAT:
            raise ValueError("not a stored receipt of a known format")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "reprint" or f.name not in data:
                continue
            value = data[f.name]
            if f.name == "kind":
                value = ReceiptKind(value)
            elif f.name == "lines":
                value = tuple(ReceiptLine(_text(n), _int(q), _text(u), _int(p)) for n, q, u, p in _rows(value, 4))
            elif f.name == "summary":
                value = tuple((_text(label), _text(text)) for label, text in _rows(value, 2))
            elif f.name in _INTS:
                value = _int(value)
            elif f.name in _OPTIONAL_INTS:
                value = None if value is None else _int(value)
            elif f.name in _OPTIONAL_TEXTS:
                value = None if value is None else _text(value)
            else:
                value = _text(value)
            values[f.name] = value
        missing = _REQUIRED - values.keys()
        if missing:
            raise ValueError(f"stored receipt without {sorted(missing)}")
        return cls(**values)


_INTS = frozenset({"total_points", "amount_fen"})
_OPTIONAL_INTS = frozenset({"redeemable_before", "redeemable_after", "balance_after"})
_OPTIONAL_TEXTS = frozenset({"household_id", "household_name", "party", "ref_receipt_no"})
_REQUIRED = frozenset({"kind", "shop_id", "shop_name", "receipt_no", "when", "operator", "hash8"})


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a whole number: {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r}")
    return value


def _rows(value: Any, width: int) -> list[list[Any]]:
    if not isinstance(value, list) or not all(isinstance(row, list) and len(row) == width for row in value):
        raise ValueError(f"not a list of rows of {width}: {value!r}")
    return value
