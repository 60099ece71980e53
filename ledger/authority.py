"""Who may move which points: the rule the central record enforces on every transaction a shop pushes.

Points are created by the township (awards, deductions, base grants, clearings, cycle closes); a shop
only spends them, against goods, for the household in front of it. A shop device holds the key to its
own hash chain, so a correctly chained transaction proves only *which device* made it, not that the
device was allowed to. This module says, per kind, which accounts, signs and references a shop device
may use (DESIGN §4, docs/sync.md "Authority"). It is pure: what it needs to know of the central record
(the catalogue's prices, the households, the redemptions a void may refer to) comes in through
``AuthorityFacts``, so the server at push and bundle apply, the audit and the tests share one rule.

A transaction that breaks the rule is not refused (that would break the device's chain for good) but
*held*: see ``sync/server/record.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ledger.messages import Coded
from ledger.model import (
    DONOR_PREFIX,
    FEN,
    POINTS,
    SUPPLIER_PREFIX,
    Transaction,
    TxnKind,
    household_account,
    shop_account,
)

# What a shop may put in its own journal. Everything else is the township's.
SHOP_KINDS = frozenset(
    {
        TxnKind.REDEEM,
        TxnKind.VOID,
        TxnKind.STOCK_IN,
        TxnKind.STOCK_ADJUST,
        TxnKind.WRITE_OFF,
        TxnKind.DONATION,
        TxnKind.DAY_CLOSE,
    }
)
GOODS_KINDS = frozenset({TxnKind.STOCK_IN, TxnKind.STOCK_ADJUST, TxnKind.WRITE_OFF, TxnKind.DONATION})


@dataclass(frozen=True)
class Violation(Coded):
    """Why a shop transaction is held: a stable ``rule`` code and the facts that fill its message.

    Its message id is ``authority.<rule>`` (the rule's codes would otherwise meet the ledger's refusals of
    the same name, which say something else: ``household_unknown`` at the counter is not the township's).
    """

    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    key_prefix: ClassVar[str] = "authority."

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.rule


class AuthorityFacts(Protocol):
    """What the rule needs to know of the central record (or of the ledger being audited)."""

    def price_at(self, sku: str, cursor: int) -> int | None:
        """The item's points price as the township had published it up to change ``cursor``; None if unknown."""

    def household_known(self, household_id: str) -> bool: ...

    def redemption(self, txn_id: str) -> Transaction | None:
        """An accepted (not held) redemption, stored or earlier in the same push."""

    def voided(self, txn_id: str) -> bool:
        """Whether an accepted void of ``txn_id`` exists, stored or earlier in the same push."""


def check_shop_transaction(
    txn: Transaction, shop_id: str, facts: AuthorityFacts, *, check_prices: bool = True
) -> Violation | None:
    """The first way ``txn``, pushed by a device of ``shop_id``, breaks the authority rule; None if it does not.

    ``check_prices`` is off where the catalogue's price history is not known (a ledger's audit: only the
    central record's change log holds it); SKUs must still be known.
    """
    kind = txn.kind
    if kind not in SHOP_KINDS:
        return Violation("township_only", {"kind": str(kind)})
    if txn.shop_id != shop_id:
        return Violation("wrong_shop", {"shop_id": txn.shop_id})
    if kind == TxnKind.REDEEM:
        return _check_redeem(txn, shop_id, facts, check_prices)
    if kind == TxnKind.VOID:
        return _check_void(txn, shop_id, facts)
    if kind == TxnKind.DAY_CLOSE:
        if txn.postings or txn.lines:
            return Violation("day_close_postings")
        return None
    return _check_goods(txn, shop_id, facts)


def _check_redeem(txn: Transaction, shop_id: str, facts: AuthorityFacts, check_prices: bool) -> Violation | None:
    household_id = txn.household_id
    if not household_id or not facts.household_known(household_id):
        return Violation("household_unknown", {"household_id": household_id or "-"})
    if not txn.lines:
        return Violation("redeem_lines", {"detail": "no goods"})
    total = 0
    for line in txn.lines:
        if line.qty >= 0:
            return Violation("redeem_lines", {"detail": f"{line.sku} quantity {line.qty}"})
        price = facts.price_at(line.sku, txn.pull_cursor)
        if price is None:
            return Violation("unknown_sku", {"sku": line.sku})
        if check_prices and line.points_each != price:
            return Violation("wrong_price", {"sku": line.sku, "points_each": line.points_each, "price": price})
        total += -line.qty * line.points_each
    wanted = sorted(
        [(household_account(household_id), POINTS, -total), (shop_account(shop_id, "redeemed"), POINTS, total)]
    )
    given = sorted((p.account, p.unit, p.amount) for p in txn.postings)
    if given != wanted:
        return Violation("redeem_postings", {"detail": _postings_text(txn)})
    return None


def _check_void(txn: Transaction, shop_id: str, facts: AuthorityFacts) -> Violation | None:
    ref = txn.ref_txn_id or ""
    original = facts.redemption(ref) if ref else None
    if original is None or original.kind != TxnKind.REDEEM or original.shop_id != shop_id:
        return Violation("void_orphan", {"ref": ref or "-"})
    if facts.voided(ref):
        return Violation("void_twice", {"ref": original.receipt_no})
    mirrored = (
        sorted((p.account, p.unit, -p.amount) for p in original.postings)
        == sorted((p.account, p.unit, p.amount) for p in txn.postings)
        and sorted((ln.sku, -ln.qty, ln.points_each) for ln in original.lines)
        == sorted((ln.sku, ln.qty, ln.points_each) for ln in txn.lines)
        and txn.household_id == original.household_id
    )
    if not mirrored:
        return Violation("void_mismatch", {"ref": original.receipt_no})
    return None


def _check_goods(txn: Transaction, shop_id: str, facts: AuthorityFacts) -> Violation | None:
    """Stock in, counts, write-offs and donations: goods lines and this shop's money, never points."""
    kind = str(txn.kind)
    if txn.household_id:
        return Violation("foreign_account", {"kind": kind, "account": household_account(txn.household_id)})
    for posting in txn.postings:
        if posting.unit != FEN:
            return Violation("points_not_allowed", {"kind": kind, "account": posting.account})
        if not _money_account_allowed(posting.account, shop_id):
            return Violation("foreign_account", {"kind": kind, "account": posting.account})
    for line in txn.lines:
        if facts.price_at(line.sku, txn.pull_cursor) is None:
            return Violation("unknown_sku", {"sku": line.sku})
        if line.qty == 0 or line.points_each < 0:
            return Violation("goods_lines", {"kind": kind, "detail": f"{line.sku} {line.qty} × {line.points_each}"})
        if txn.kind in (TxnKind.STOCK_IN, TxnKind.DONATION) and line.qty < 0:
            return Violation("goods_lines", {"kind": kind, "detail": f"{line.sku} quantity {line.qty}"})
        if txn.kind == TxnKind.WRITE_OFF and line.qty > 0:
            return Violation("goods_lines", {"kind": kind, "detail": f"{line.sku} quantity {line.qty}"})
    return None


def _money_account_allowed(account: str, shop_id: str) -> bool:
    """This shop's fund, a supplier or a donor: the accounts a stock intake or a donation pays from or to."""
    return account == shop_account(shop_id, "fund") or account.startswith((SUPPLIER_PREFIX, DONOR_PREFIX))


def _postings_text(txn: Transaction) -> str:
    return ", ".join(f"{p.account} {p.amount:+d}{'' if p.unit == POINTS else ' ' + p.unit}" for p in txn.postings)[:300]
