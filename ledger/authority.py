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
from typing import Any, Protocol

from ledger.model import FEN, POINTS, Transaction, TxnKind, household_account, shop_account

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

# rule -> (Simplified Chinese, English), for the township's exception list and the shop's correction.
RULES: dict[str, tuple[str, str]] = {
    "township_only": (
        "{kind} 只能由乡镇（村委会评议后）发放，店里不能做。",
        "{kind} is made by the township only, never at a shop.",
    ),
    "wrong_shop": ("业务写的是别的店（{shop_id}）。", "The transaction names another shop ({shop_id})."),
    "household_unknown": ("乡镇没有户号 {household_id}。", "The township has no household {household_id}."),
    "foreign_account": (
        "{kind} 动了不该动的账户：{account}。",
        "{kind} touches an account it may not: {account}.",
    ),
    "points_not_allowed": (
        "{kind} 不能动积分（{account}）。",
        "{kind} may not move points ({account}).",
    ),
    "redeem_postings": (
        "兑换只能从本户扣分、记入本店兑换账：{detail}。",
        "A redemption moves points only from its own household to this shop's redeemed account: {detail}.",
    ),
    "redeem_lines": ("兑换的商品行不对：{detail}。", "The redemption's goods lines are wrong: {detail}."),
    "unknown_sku": ("乡镇商品目录里没有 {sku}。", "The township's catalogue has no item {sku}."),
    "wrong_price": (
        "{sku} 按 {points_each} 分计，当时的价格是 {price} 分。",
        "{sku} is priced at {points_each} points; its price at the time was {price}.",
    ),
    "void_orphan": (
        "作废的原业务 {ref} 不是本店已上报的兑换。",
        "The voided transaction {ref} is not a redemption of this shop that the township has.",
    ),
    "void_twice": ("原兑换 {ref} 已经作废过了。", "The redemption {ref} was already voided."),
    "void_mismatch": ("作废与原兑换 {ref} 不完全相反。", "The void is not the exact reverse of {ref}."),
    "goods_lines": ("{kind} 的商品行不对：{detail}。", "The goods lines of {kind} are wrong: {detail}."),
    "day_close_postings": ("日结不能有记账。", "A day close has no postings."),
}


@dataclass(frozen=True)
class Violation:
    """Why a shop transaction is held: a stable ``rule`` code and the facts that fill its message."""

    rule: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "zh") -> str:
        zh, en = RULES.get(self.rule, ("{rule}", "{rule}"))
        try:
            return (zh if lang.startswith("zh") else en).format(rule=self.rule, **self.params)
        except (KeyError, IndexError):
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
    return account == shop_account(shop_id, "fund") or account.startswith(("supplier:", "donor:"))


def _postings_text(txn: Transaction) -> str:
    return ", ".join(f"{p.account} {p.amount:+d}{'' if p.unit == POINTS else ' ' + p.unit}" for p in txn.postings)[:300]
