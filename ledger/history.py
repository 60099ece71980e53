"""A household's points movements in words, for the villager at the kiosk (群众随时核对).

An elderly villager checks "what were my points for, and where did I spend them", not account
names: so each movement is told as a sentence (``history.*`` in the catalogues), with the shop's name
rather than its id and the goods rather than SKUs, said in the reader's language when shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.messages import N_, Listing, Message, Spoken
from ledger.model import Transaction, TxnKind, household_account
from ledger.ports import LedgerStore, LedgerUnit
from ledger.workflow import notice_number


@dataclass(frozen=True)
class Movement:
    when: str  # local "YYYY-MM-DD HH:MM"
    points: int  # signed change of the household's balance
    said: Spoken  # the sentence, said in the reader's language (a ``Message`` of ``history.*``)
    receipt_no: str

    def words(self, lang: str = "zh") -> str:
        return self.said.message(lang)

    def __eq__(self, other: object) -> bool:
        """The same movement, however it was made: here, or said by the central record and read off the wire."""
        if not isinstance(other, Movement):
            return NotImplemented
        mine = (self.when, self.points, self.receipt_no, self.zh, self.en)
        return mine == (other.when, other.points, other.receipt_no, other.zh, other.en)

    def __hash__(self) -> int:
        return hash((self.when, self.points, self.receipt_no))

    @property
    def zh(self) -> str:
        return self.words("zh")

    @property
    def en(self) -> str:
        return self.words("en")


def _goods(unit: LedgerUnit, txn: Transaction) -> Listing:
    parts = []
    for line in txn.lines:
        item = unit.item(line.sku)
        parts.append(f"{item.name if item else line.sku}×{abs(line.qty)}")
    return Listing.of(parts)


# Kinds told by a sentence of their own with no parameters.
_PLAIN = {
    TxnKind.BASE_GRANT: Message("history.base_grant"),
    TxnKind.UNFREEZE: Message("history.unfreeze"),
    TxnKind.CYCLE_CLOSE: Message("history.cycle_close"),
}


NOTICE_WORDS = {
    TxnKind.AWARD: N_("history.award_notice"),
    TxnKind.DEDUCT: N_("history.deduct_notice"),
    TxnKind.CLEARING: N_("history.clearing_notice"),
}


def describe(unit: LedgerUnit, txn: Transaction, household_id: str) -> Movement:
    points = txn.points_of(household_account(household_id))
    shop = unit.shop(txn.shop_id)
    shop_name = shop.name if shop else txn.shop_id
    memo: str | Message = txn.memo.strip()
    kind = txn.kind
    notice = notice_number(txn.party)
    if notice is not None and kind in (TxnKind.AWARD, TxnKind.DEDUCT, TxnKind.CLEARING):
        # Issued after a public notice: the rule item it was scored under, and which notice.
        said = Message(NOTICE_WORDS[kind], item=memo, batch=notice)
    elif kind == TxnKind.AWARD:
        said = Message("history.award", memo=memo or Message("history.by_committee"))
    elif kind == TxnKind.DEDUCT:
        said = Message("history.deduct", memo=memo or Message("history.by_committee"))
    elif kind in _PLAIN:
        said = _PLAIN[kind]
    elif kind == TxnKind.REDEEM:
        said = Message("history.redeem", shop=shop_name, goods=_goods(unit, txn))
    elif kind == TxnKind.VOID:
        said = Message("history.void", shop=shop_name)
    elif kind == TxnKind.CLEARING:
        said = Message("history.clearing", memo=memo)
    elif kind == TxnKind.CORRECTION:
        # A correction carries no postings: what it undid is the transaction it names, in this shop.
        corrected = unit.transaction(txn.ref_txn_id) if txn.ref_txn_id else None
        reverses = corrected.receipt_no if corrected else (txn.ref_txn_id or "")
        points = -corrected.points_of(household_account(household_id)) if corrected else 0
        said = Message("history.correction", receipt_no=reverses)
    elif kind == TxnKind.RELEASE:
        said = Message("history.release", memo=memo)
    else:
        said = Message("history.other", kind=str(kind))
    return Movement(txn.created_at[:16].replace("T", " "), points, said, txn.receipt_no)


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
