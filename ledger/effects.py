"""What a transaction does to the cached state: balances, points earned, stock, household status.

Storage applies these effects to its caches in the same database transaction as the append; the
audit folds them over the whole journal and compares. One definition serves both, so the cache and
the recomputation cannot drift apart by construction, only by corruption, which is what the audit
is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.model import (
    EARNED_RESET_KINDS,
    EARNING_KINDS,
    POINTS,
    HouseholdStatus,
    TxnContent,
    TxnKind,
    account_household,
)

# A township release re-issues a held transaction's points; it counts as earned when what it re-issues
# would have (its ``party`` names the held transaction's kind).
EARNING_KIND_NAMES = frozenset(str(k) for k in EARNING_KINDS)


@dataclass
class Effects:
    balance: dict[str, int] = field(default_factory=dict)
    earned: dict[str, int] = field(default_factory=dict)
    earned_reset: set[str] = field(default_factory=set)
    stock: dict[str, int] = field(default_factory=dict)
    status: dict[str, HouseholdStatus] = field(default_factory=dict)


def effects_of(draft: TxnContent, stock_shop: str | None = None) -> Effects:
    """The effects of one transaction on a ledger whose shelves belong to ``stock_shop``.

    A shop's ledger also holds other shops' transactions (pulled from the central record, so that a
    household's balance counts what it spent elsewhere); their goods lines moved *their* shelves, so
    only lines of ``stock_shop``'s own transactions count. ``None`` counts every line (a ledger that
    only ever holds one shop's transactions, e.g. in tests).
    """
    fx = Effects()
    for posting in draft.postings:
        if posting.unit != POINTS:
            continue
        household_id = account_household(posting.account)
        if household_id is None:
            continue
        fx.balance[household_id] = fx.balance.get(household_id, 0) + posting.amount
        if draft.kind in EARNING_KINDS or (draft.kind == TxnKind.RELEASE and draft.party in EARNING_KIND_NAMES):
            fx.earned[household_id] = fx.earned.get(household_id, 0) + posting.amount
    if draft.kind in EARNED_RESET_KINDS and draft.household_id:
        fx.earned_reset.add(draft.household_id)
    if stock_shop is None or draft.shop_id == stock_shop:
        for line in draft.lines:
            fx.stock[line.sku] = fx.stock.get(line.sku, 0) + line.qty
    if draft.household_id:
        if draft.kind == TxnKind.CLEARING:
            fx.status[draft.household_id] = HouseholdStatus.FROZEN
        elif draft.kind == TxnKind.UNFREEZE:
            fx.status[draft.household_id] = HouseholdStatus.ACTIVE
    return fx


@dataclass
class Totals:
    """The state recomputed from the journal alone."""

    balance: dict[str, int] = field(default_factory=dict)
    earned: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    status: dict[str, HouseholdStatus] = field(default_factory=dict)

    def apply(self, fx: Effects) -> None:
        for household_id in fx.earned_reset:
            self.earned[household_id] = 0
        for household_id, amount in fx.balance.items():
            self.balance[household_id] = self.balance.get(household_id, 0) + amount
        for household_id, amount in fx.earned.items():
            self.earned[household_id] = self.earned.get(household_id, 0) + amount
        for sku, qty in fx.stock.items():
            self.stock[sku] = self.stock.get(sku, 0) + qty
        self.status.update(fx.status)
