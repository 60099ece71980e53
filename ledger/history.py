"""A household's points movements in words, for the villager at the kiosk (群众随时核对).

An elderly villager checks "what were my points for, and where did I spend them", not account
names: so each movement is told as a sentence in Chinese (and English), with the shop's name
rather than its id and the goods rather than SKUs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.model import Transaction, TxnKind, household_account
from ledger.ports import LedgerStore, LedgerUnit


@dataclass(frozen=True)
class Movement:
    when: str  # local "YYYY-MM-DD HH:MM"
    points: int  # signed change of the household's balance
    zh: str
    en: str
    receipt_no: str

    def words(self, lang: str = "zh") -> str:
        return self.zh if lang.startswith("zh") else self.en


def _goods(unit: LedgerUnit, txn: Transaction) -> tuple[str, str]:
    parts = []
    for line in txn.lines:
        item = unit.item(line.sku)
        parts.append(f"{item.name if item else line.sku}×{abs(line.qty)}")
    text = "、".join(parts)
    return text, ", ".join(parts)


def describe(unit: LedgerUnit, txn: Transaction, household_id: str) -> Movement:
    points = txn.points_of(household_account(household_id))
    shop = unit.shop(txn.shop_id)
    shop_name = shop.name if shop else txn.shop_id
    memo = txn.memo.strip()
    kind = txn.kind
    if kind == TxnKind.AWARD:
        zh, en = f"奖励：{memo or '村委会评定'}", f"Award: {memo or 'village committee'}"
    elif kind == TxnKind.DEDUCT:
        zh, en = f"扣分：{memo or '村委会评定'}", f"Deduction: {memo or 'village committee'}"
    elif kind == TxnKind.BASE_GRANT:
        zh, en = "年度基础积分", "Base points for the year"
    elif kind == TxnKind.REDEEM:
        goods_zh, goods_en = _goods(unit, txn)
        zh, en = f"在{shop_name}兑换 {goods_zh}", f"Spent at {shop_name}: {goods_en}"
    elif kind == TxnKind.VOID:
        zh, en = f"{shop_name}兑换作废，积分退回", f"Redemption voided at {shop_name}; points returned"
    elif kind == TxnKind.CLEARING:
        zh, en = f"零容忍清零：{memo}", f"Cleared (zero tolerance): {memo}"
    elif kind == TxnKind.UNFREEZE:
        zh, en = "解除冻结", "Unfrozen"
    elif kind == TxnKind.CYCLE_CLOSE:
        zh, en = "年度结束，未用积分清零", "Year end: unspent points expired"
    elif kind == TxnKind.CORRECTION:
        # A correction carries no postings: what it undid is the transaction it names, in this shop.
        corrected = unit.transaction(txn.ref_txn_id) if txn.ref_txn_id else None
        reverses = corrected.receipt_no if corrected else (txn.ref_txn_id or "")
        points = -corrected.points_of(household_account(household_id)) if corrected else 0
        zh, en = f"乡镇更正：撤销 {reverses}", f"Corrected by the township: {reverses} undone"
    elif kind == TxnKind.RELEASE:
        zh, en = f"乡镇放行：{memo}", f"Released by the township: {memo}"
    else:
        zh, en = str(kind), str(kind)
    return Movement(txn.created_at[:16].replace("T", " "), points, zh, en, txn.receipt_no)


def recent_movements(store: LedgerStore, household_id: str, limit: int = 10) -> list[Movement]:
    """The household's last ``limit`` movements, newest first."""
    with store.read() as unit:
        shop_id = unit.identity().shop_id
        return [
            describe(unit, txn, household_id)
            for txn in unit.recent_transactions(household_id, limit)
            if shown_here(unit, txn, shop_id)
        ]


def shown_here(unit: LedgerUnit, txn: Transaction, shop_id: str) -> bool:
    """A correction means something only in the shop whose transaction it undid (docs/sync.md "Authority")."""
    if txn.kind != TxnKind.CORRECTION:
        return True
    return txn.party == shop_id and txn.ref_txn_id is not None and unit.transaction(txn.ref_txn_id) is not None
