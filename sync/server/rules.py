"""The central record's rules for facts that arrive late (docs/sync.md, "Rules the central record applies").

A shop's redemption is a fact: goods left the shelf. The central record never refuses one; it puts it
in its own order and, when it does not fit, makes the shortfall visible and recoverable:

- **Overdraft.** Two shops offline can both redeem the same points. When a pushed redemption takes a
  household below the policy's redeemable floor, a central ``overdraft`` transaction covers the
  shortfall (at most that redemption's points) from the household's overdraft account, and an
  exception lists the redemptions involved. The next award repays the debt first (``overdraft_repay``);
  points earned, and so the ranking, still count the whole award.
- **Late after clearing.** A redemption of a frozen household either came from a shop that had not yet
  pulled the clearing (its recorded pull cursor is below the clearing's change-log ``seq``) or from one
  that knew. The cursor, not a clock, tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.model import (
    POINTS,
    HouseholdStatus,
    Posting,
    Transaction,
    TxnDraft,
    TxnKind,
    account_household,
    household_account,
    overdraft_account,
)
from ledger.services import new_txn_id
from ledger.storage.central import CentralUnit
from sync.server.changes import log_txns

SYSTEM_OPERATOR = "system"
MAX_LISTED_TXNS = 50


@dataclass
class _Pending:
    kind: str
    household_id: str | None
    detail: dict[str, Any]
    txn_ids: list[str] = field(default_factory=list)


def after_push(unit: CentralUnit, fresh: Sequence[Transaction], when: str) -> int:
    """Apply the rules to a push's new transactions (already ingested and logged); return exceptions made."""
    pending: list[_Pending] = []
    households = list(dict.fromkeys(t.household_id for t in fresh if t.kind == TxnKind.REDEEM and t.household_id))
    drafts: list[TxnDraft] = []
    if households:
        # One query for every household of the push; the walk below runs in memory, and only a household
        # that was frozen or went below the floor costs more queries.
        floor = unit.ledger.policy().redeemable_floor
        states = unit.household_states(households)
        moves = _moves_by_household(fresh, set(households))
        for household_id in households:
            balance_after, status = states.get(household_id, (0, str(HouseholdStatus.ACTIVE)))
            frozen = status == str(HouseholdStatus.FROZEN)
            drafts += _check_household(
                unit, household_id, moves[household_id], balance_after, frozen, floor, when, pending
            )
    if drafts:
        log_txns(unit, unit.ledger.append_many(drafts), unit.ledger.identity().device_id, when)
    for p in pending:
        unit.add_exception(p.kind, p.household_id, p.detail, p.txn_ids, when)
    return len(pending)


def _moves_by_household(fresh: Sequence[Transaction], wanted: set[str]) -> dict[str, list[tuple[Transaction, int]]]:
    """Each wanted household's movements in the push, in order, with the change of its balance."""
    moves: dict[str, list[tuple[Transaction, int]]] = {h: [] for h in wanted}
    for txn in fresh:
        touched: dict[str, int] = {}
        for posting in txn.postings:
            household_id = account_household(posting.account)
            if household_id in wanted and posting.unit == POINTS:
                touched[household_id] = touched.get(household_id, 0) + posting.amount
        if txn.household_id in wanted:
            touched.setdefault(txn.household_id, 0)
        for household_id, delta in touched.items():
            moves[household_id].append((txn, delta))
    return moves


def _check_household(
    unit: CentralUnit,
    household_id: str,
    moves: list[tuple[Transaction, int]],
    balance_after: int,
    frozen: bool,
    floor: int,
    when: str,
    pending: list[_Pending],
) -> list[TxnDraft]:
    """Walk the push's movements of one household in order, from its balance before the push."""
    balance = balance_after - sum(delta for _txn, delta in moves)
    drafts: list[TxnDraft] = []
    for txn, delta in moves:
        balance += delta
        if txn.kind != TxnKind.REDEEM:
            continue
        if frozen:
            pending.append(_late(unit, household_id, txn))
        if delta < 0 and balance < floor:
            shortfall = min(floor - balance, -delta)
            draft = _overdraft_draft(unit, household_id, shortfall, txn, when)
            drafts.append(draft)
            involved = unit.household_txns_logged_after(household_id, [TxnKind.REDEEM], txn.pull_cursor)
            ids = list(dict.fromkeys([*involved[-MAX_LISTED_TXNS:], txn.txn_id, draft.txn_id]))
            pending.append(
                _Pending(
                    "overdraft",
                    household_id,
                    {
                        "receipt_no": txn.receipt_no,
                        "shop_id": txn.shop_id,
                        "points": -delta,
                        "balance_before": balance - delta,
                        "floor": floor,
                        "shortfall": shortfall,
                    },
                    ids,
                )
            )
            balance += shortfall
    return drafts


def _late(unit: CentralUnit, household_id: str, txn: Transaction) -> _Pending:
    clearing_seq = unit.clearing_seq(household_id)
    knew = clearing_seq is not None and txn.pull_cursor >= clearing_seq
    return _Pending(
        "redeemed_while_frozen" if knew else "late_after_clearing",
        household_id,
        {
            "receipt_no": txn.receipt_no,
            "shop_id": txn.shop_id,
            "points": -txn.points_of(household_account(household_id)),
            "pull_cursor": txn.pull_cursor,
            "clearing_seq": clearing_seq,
        },
        [txn.txn_id],
    )


def _overdraft_draft(unit: CentralUnit, household_id: str, shortfall: int, txn: Transaction, when: str) -> TxnDraft:
    return TxnDraft(
        txn_id=new_txn_id(),
        kind=TxnKind.OVERDRAFT,
        created_at=when,
        shop_id=unit.ledger.identity().shop_id,
        operator=SYSTEM_OPERATOR,
        household_id=household_id,
        postings=(
            Posting(household_account(household_id), shortfall),
            Posting(overdraft_account(household_id), -shortfall),
        ),
        memo=f"透支 {txn.receipt_no}",
        ref_txn_id=txn.txn_id,
    )


def debt_of(unit: CentralUnit, household_id: str) -> int:
    """Points a household owes for past overdrafts."""
    return max(0, -unit.account_total(overdraft_account(household_id)))


def repay_after_award(unit: CentralUnit, award: Transaction, when: str) -> Transaction | None:
    """After an award, repay the household's overdraft debt from it first (``overdraft_repay``)."""
    household_id = award.household_id
    if not household_id:
        return None
    points = award.points_of(household_account(household_id))
    debt = debt_of(unit, household_id)
    if points <= 0 or debt <= 0:
        return None
    repaid = min(points, debt)
    txn = unit.ledger.append(
        TxnDraft(
            txn_id=new_txn_id(),
            kind=TxnKind.OVERDRAFT_REPAY,
            created_at=when,
            shop_id=unit.ledger.identity().shop_id,
            operator=SYSTEM_OPERATOR,
            household_id=household_id,
            postings=(
                Posting(household_account(household_id), -repaid),
                Posting(overdraft_account(household_id), repaid),
            ),
            memo=f"归还透支（{award.receipt_no}）",
            ref_txn_id=award.txn_id,
        )
    )
    log_txns(unit, [txn], unit.ledger.identity().device_id, when)
    return txn
