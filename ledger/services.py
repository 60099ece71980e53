"""Use cases: the only way the apps, the command line and sync change a ledger.

Every service takes its store as an argument, validates everything first and appends last, inside
one ``store.write()`` unit: a refusal (``LedgerError``) or any crash leaves nothing behind. Each
business event is one ledger transaction whose postings sum to zero per unit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ledger import integrity, printing
from ledger.audit import AuditReport, verify
from ledger.errors import LedgerError
from ledger.model import (
    COMMAND_LINE_OPERATOR,
    FEN,
    TOWNSHIP_AWARDS,
    TOWNSHIP_BASE,
    TOWNSHIP_CLEARED,
    TOWNSHIP_EXPIRED,
    BalanceView,
    Household,
    HouseholdStatus,
    Item,
    Line,
    Operator,
    PassbookCard,
    Policy,
    Posting,
    Receipt,
    Role,
    Shop,
    Township,
    Transaction,
    TxnDraft,
    TxnKind,
    Village,
    donor_account,
    household_account,
    shop_account,
    supplier_account,
)
from ledger.passbook import make_code, verify_code
from ledger.ports import Holder, LedgerStore, LedgerUnit

Clock = Callable[[], datetime]

PIN_ITERATIONS = 120_000
# The administrator is whoever runs headless commands on the shop PC: they can read the ledger file
# anyway, so the command line acts as them and records it.
ADMIN = COMMAND_LINE_OPERATOR


def local_now() -> datetime:
    return datetime.now().astimezone()


def timestamp(clock: Clock) -> str:
    return clock().isoformat(timespec="seconds")


def new_txn_id() -> str:
    return str(uuid.uuid4())


# ----- operators -----------------------------------------------------------------------------


def hash_pin(pin: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), PIN_ITERATIONS).hex()


def check_pin_format(pin: str) -> None:
    """4 to 8 digits: typed on the till's keypad, never letters."""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise LedgerError("pin_format")


def _pin_hashed(pin: str) -> tuple[str, str]:
    check_pin_format(pin)
    salt = secrets.token_hex(16)
    return salt, hash_pin(pin, salt)


def add_operator(store: LedgerStore, operator_id: str, name: str, role: Role, pin: str) -> Operator:
    """A new operator. A number already given is refused (``operator_exists``): silently replacing someone's
    PIN would lock them out, or let a new PIN into their name. ``set_operator_pin`` changes a PIN."""
    operator_id = operator_id.strip()
    if not operator_id or not name.strip():
        raise LedgerError("operator_incomplete")
    salt, digest = _pin_hashed(pin)
    operator = Operator(operator_id, name.strip(), role, salt, digest)
    with store.write() as unit:
        existing = unit.operator(operator_id)
        if existing is not None:
            raise LedgerError("operator_exists", operator=operator_id, name=existing.name)
        unit.put_operator(operator)
    return operator


def set_operator_pin(store: LedgerStore, operator_id: str, pin: str) -> Operator:
    """A new PIN for an operator (forgotten, or seen by someone); a disabled operator stays disabled."""
    salt, digest = _pin_hashed(pin)
    with store.write() as unit:
        operator = unit.operator(operator_id)
        if operator is None:
            raise LedgerError("operator_unknown", operator=operator_id)
        changed = replace(operator, pin_salt=salt, pin_hash=digest)
        unit.put_operator(changed)
    return changed


def disable_operator(store: LedgerStore, operator_id: str) -> Operator:
    """Someone who left: their PIN no longer opens the till; their name stays on past receipts. The last
    active manager cannot be disabled (nobody could void, count stock or add an operator again)."""
    with store.write() as unit:
        operator = unit.operator(operator_id)
        if operator is None:
            raise LedgerError("operator_unknown", operator=operator_id)
        others = [o for o in unit.operators() if o.is_manager and o.active and o.operator_id != operator_id]
        if operator.is_manager and operator.active and not others:
            raise LedgerError("operator_last_manager", name=operator.name)
        changed = replace(operator, active=False)
        unit.put_operator(changed)
    return changed


def login(store: LedgerStore, operator_id: str, pin: str) -> Operator:
    with store.read() as unit:
        operator = unit.operator(operator_id)
    if operator is None:
        raise LedgerError("operator_unknown", operator=operator_id)
    if not hmac.compare_digest(hash_pin(pin, operator.pin_salt), operator.pin_hash):
        raise LedgerError("bad_pin")
    if not operator.active:  # said after the PIN check: a wrong PIN learns nothing about who is disabled
        raise LedgerError("operator_disabled", name=operator.name)
    return operator


def _require_manager(operator: Operator) -> None:
    if not operator.is_manager:
        raise LedgerError("manager_required")


# ----- households and passbooks ------------------------------------------------------------------


def register_household(store: LedgerStore, household: Household, clock: Clock = local_now) -> PassbookCard:
    """Add a household with its first passbook card."""
    card = PassbookCard(household.household_id, 1, True, timestamp(clock))
    with store.write() as unit:
        unit.put_household(household)
        if unit.active_card(household.household_id) is None:
            unit.put_card(card)
    return card


def reissue_passbook(store: LedgerStore, household_id: str, clock: Clock = local_now) -> PassbookCard:
    """A lost passbook: revoke every active card and issue the next card number."""
    when = timestamp(clock)
    with store.write() as unit:
        if unit.household(household_id) is None:
            raise LedgerError("household_unknown", household_id=household_id)
        current = unit.active_card(household_id)
        next_no = 1
        if current is not None:
            unit.revoke_card(household_id, current.card_no, when)
            next_no = current.card_no + 1
        while unit.card(household_id, next_no) is not None:
            next_no += 1
        card = PassbookCard(household_id, next_no, True, when)
        unit.put_card(card)
    return card


def lookup_passbook(unit: LedgerUnit, code_text: str) -> Holder:
    """The household behind a scanned code; refuses malformed, forged, unknown and revoked codes."""
    code = verify_code(unit.township().passbook_key, code_text)
    holder = unit.holder(code.household_id, code.card_no)
    if holder is None or holder.card is None:
        raise LedgerError("passbook_unknown", household_id=code.household_id)
    if not holder.card.active:
        raise LedgerError("passbook_revoked", card_no=holder.card.card_no)
    return holder


def passbook_code_of(store: LedgerStore, household_id: str) -> str:
    """The code of a household's current card, for a counter that typed the household number.

    Manual entry stands in for the card (the villager forgot it, the scanner is broken), so the
    apps ask a manager to confirm first; after that the redemption goes through the same checks
    as a scanned card.
    """
    with store.read() as unit:
        household = _household_or_refuse(unit, household_id.strip().upper())
        card = unit.active_card(household.household_id)
        if card is None:
            raise LedgerError("passbook_unknown", household_id=household.household_id)
        return make_code(unit.township().passbook_key, household.household_id, card.card_no)


def _offline_too_long(unit: LedgerUnit, policy: Policy, clock: Clock) -> bool:
    last = unit.meta("last_synced")
    if last is None:  # a standalone shop has no central record to fall behind
        return False
    return (clock() - datetime.fromisoformat(last)).days > policy.max_offline_days


def redeemable_points(
    unit: LedgerUnit, household: Household, balance: int, policy: Policy, clock: Clock = local_now
) -> int:
    """Balance above the policy's floor; bounded by the visitor limit away from home or long offline.

    The visitor limit bounds what this shop can hand out on points the central record has not
    confirmed: it counts everything the household redeemed here (less voids) since the last sync,
    so repeated small redemptions cannot add up past it.
    """
    if household.status == HouseholdStatus.FROZEN:
        return 0
    redeemable = max(0, balance - policy.redeemable_floor)
    visiting = household.home_shop_id != unit.identity().shop_id
    if visiting or _offline_too_long(unit, policy, clock):
        spent = _spent_here_since_sync(unit, household.household_id)
        redeemable = min(redeemable, max(0, policy.visitor_limit - spent))
    return redeemable


def _spent_here_since_sync(unit: LedgerUnit, household_id: str) -> int:
    return -unit.points_moved(
        household_account(household_id),
        frozenset({TxnKind.REDEEM, TxnKind.VOID}),
        unit.identity().shop_id,
        since=unit.meta("last_synced"),
    )


def _view(
    unit: LedgerUnit, household: Household, card_no: int | None, balance: int, earned: int, clock: Clock
) -> BalanceView:
    return BalanceView(
        household=household,
        balance=balance,
        redeemable=redeemable_points(unit, household, balance, unit.policy(), clock),
        earned_cycle=earned,
        last_synced=unit.meta("last_synced"),
        card_no=card_no,
    )


def balance_for_code(store: LedgerStore, code_text: str, clock: Clock = local_now) -> BalanceView:
    with store.read() as unit:
        holder = lookup_passbook(unit, code_text)
        card_no = holder.card.card_no if holder.card else None
        return _view(unit, holder.household, card_no, holder.balance, holder.earned_cycle, clock)


def balance_for_household(store: LedgerStore, household_id: str, clock: Clock = local_now) -> BalanceView:
    with store.read() as unit:
        household = unit.household(household_id)
        if household is None:
            raise LedgerError("household_unknown", household_id=household_id)
        card = unit.active_card(household_id)
        balance, earned = unit.balance(household_id)
        return _view(unit, household, card.card_no if card else None, balance, earned, clock)


# ----- validation helpers ------------------------------------------------------------------------


def check_quantity(value: object, policy: Policy) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= policy.max_quantity:
        raise LedgerError("bad_quantity", value=value, max=policy.max_quantity)
    return value


def check_points(value: object, policy: Policy) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= policy.max_points_per_award:
        raise LedgerError("bad_points", value=value, max=policy.max_points_per_award)
    return value


def _merge_cart(cart: Iterable[tuple[str, int]], policy: Policy) -> dict[str, int]:
    merged: dict[str, int] = {}
    for sku, qty in cart:
        check_quantity(qty, policy)
        merged[sku] = merged.get(sku, 0) + qty
    for sku, total in merged.items():
        if total > policy.max_quantity:  # each line was within the limit: say they were added up
            raise LedgerError("bad_quantity_total", sku=sku, total=total, max=policy.max_quantity)
    if not merged:
        raise LedgerError("empty_cart")
    return merged


def _offered_item(unit: LedgerUnit, sku: str, wanted: int) -> Item:
    """The item, if it is on offer and ``wanted`` of it are on the shelf."""
    found = unit.item_with_stock(sku)
    if found is None:
        raise LedgerError("unknown_sku", sku=sku)
    item, on_hand = found
    if not item.active:
        raise LedgerError("item_inactive", sku=sku)
    _require_stock(item, wanted, on_hand)
    return item


def _require_stock(item: Item, wanted: int, on_hand: int) -> None:
    if wanted > on_hand:
        raise LedgerError("out_of_stock", name=item.name, wanted=wanted, on_hand=on_hand)


def _pull_cursor(unit: LedgerUnit) -> int:
    return int(unit.meta("pull_cursor") or 0)


@dataclass(frozen=True)
class Context:
    """Who does it and when; the same for every service call of one request.

    The operator has no default: a caller that forgot to say who acts must fail at once, not pass the
    manager checks as the administrator. Headless commands name ``ADMIN`` themselves (DESIGN §10).
    """

    operator: Operator
    clock: Clock = local_now


def _draft(
    unit: LedgerUnit,
    ctx: Context,
    kind: TxnKind,
    *,
    txn_id: str | None = None,
    household_id: str | None = None,
    postings: Sequence[Posting] = (),
    lines: Sequence[Line] = (),
    memo: str = "",
    ref_txn_id: str | None = None,
    party: str | None = None,
) -> TxnDraft:
    return TxnDraft(
        txn_id=txn_id or new_txn_id(),
        kind=kind,
        created_at=timestamp(ctx.clock),
        shop_id=unit.identity().shop_id,
        operator=ctx.operator.operator_id,
        household_id=household_id,
        postings=tuple(postings),
        lines=tuple(lines),
        memo=memo,
        ref_txn_id=ref_txn_id,
        party=party,
        pull_cursor=_pull_cursor(unit),
    )


# ----- redemption and void -----------------------------------------------------------------------


def redeem(
    store: LedgerStore,
    code_text: str,
    cart: Sequence[tuple[str, int]],
    ctx: Context,
    txn_id: str | None = None,
) -> Receipt:
    """Exchange points for goods: all of the cart or nothing.

    ``txn_id`` is made once by the caller when the shopkeeper confirms: a retry of the same
    confirmation (a double tap, a resend after a crash) finds the committed transaction and
    returns its receipt instead of redeeming twice.
    """
    with store.write() as unit:
        if txn_id is not None:
            done = unit.transaction(txn_id)
            if done is not None:
                return _receipt(unit, done, ctx)
        holder = lookup_passbook(unit, code_text)
        household = holder.household
        if household.status == HouseholdStatus.FROZEN:
            raise LedgerError("household_frozen", name=household.head_name)
        # The balance about to be spent is recomputed from the postings first (issue 11 §4).
        integrity.refuse_if_tampered(unit, household, holder.balance)
        policy = unit.policy()
        merged = _merge_cart(cart, policy)
        lines: list[Line] = []
        items: list[Item] = []
        total = 0
        for sku, qty in merged.items():
            item = _offered_item(unit, sku, qty)
            items.append(item)
            lines.append(Line(sku, -qty, item.points))
            total += qty * item.points
        balance = holder.balance
        redeemable = redeemable_points(unit, household, balance, policy, ctx.clock)
        if total > redeemable:
            if total <= max(0, balance - policy.redeemable_floor):
                raise LedgerError("visitor_limit", limit=policy.visitor_limit)
            raise LedgerError("insufficient_points", needed=total, redeemable=redeemable)
        shop_id = unit.identity().shop_id
        txn = unit.append(
            _draft(
                unit,
                ctx,
                TxnKind.REDEEM,
                txn_id=txn_id,
                household_id=household.household_id,
                postings=(
                    Posting(household_account(household.household_id), -total),
                    Posting(shop_account(shop_id, "redeemed"), total),
                ),
                lines=lines,
            )
        )
        after = redeemable_points(unit, household, balance - total, policy, ctx.clock)
        _print_job(unit, txn, _receipt_facts(redeemable, after, balance - total), household=household, items=items)
        return Receipt(txn, household.head_name, redeemable, after, balance - total)


def _receipt_facts(before: int, after: int, balance_after: int) -> dict[str, int]:
    """The figures of this moment that the journal alone cannot give back (they depend on policy, visitor
    rules and the date), for the receipt stored with the print job."""
    return {"redeemable_before": before, "redeemable_after": after, "balance_after": balance_after}


def _print_job(
    unit: LedgerUnit,
    txn: Transaction,
    facts: dict[str, int] | None = None,
    *,
    household: Household | None = None,
    items: Sequence[Item] = (),
) -> None:
    """Queue the receipt of ``txn`` in the unit that commits it, with the receipt itself: printing and every
    reprint lay out what it says now, whatever names or prices change later (``ledger.printing``).
    ``household`` and ``items``, when the service has them at hand, spare reading them again."""
    receipt = printing.receipt_content(unit, txn, facts, household=household, items=items)
    unit.add_print_job(txn.txn_id, txn.created_at, receipt)


def _receipt(unit: LedgerUnit, txn: Transaction, ctx: Context) -> Receipt:
    """The receipt of an already committed transaction, with the household as it stands now."""
    household = unit.household(txn.household_id or "")
    if household is None:
        raise LedgerError("household_unknown", household_id=txn.household_id)
    balance, _ = unit.balance(household.household_id)
    redeemable = redeemable_points(unit, household, balance, unit.policy(), ctx.clock)
    delta = txn.points_of(household_account(household.household_id))
    return Receipt(txn, household.head_name, redeemable - delta, redeemable, balance)


def void(store: LedgerStore, receipt_no: str, reason: str, ctx: Context) -> Receipt:
    """Reverse a redemption: points back to the household, goods back to stock, naming the original."""
    _require_manager(ctx.operator)
    if not reason.strip():
        raise LedgerError("reason_required")
    with store.write() as unit:
        integrity.refuse_if_stopped(unit)
        original = printing.find_receipt(unit, receipt_no)
        if original.kind != TxnKind.REDEEM:
            raise LedgerError("not_voidable", receipt_no=original.receipt_no)
        already = unit.voiding(original.txn_id)
        if already is not None:
            raise LedgerError("already_voided", receipt_no=original.receipt_no, void_receipt_no=already.receipt_no)
        household_id = original.household_id or ""
        household = unit.household(household_id)
        balance_before, _ = unit.balance(household_id)
        policy = unit.policy()
        before = redeemable_points(unit, household, balance_before, policy, ctx.clock) if household else 0
        txn = unit.append(
            _draft(
                unit,
                ctx,
                TxnKind.VOID,
                household_id=household_id,
                postings=[Posting(p.account, -p.amount, p.unit) for p in original.postings],
                lines=[Line(ln.sku, -ln.qty, ln.points_each) for ln in original.lines],
                memo=reason.strip(),
                ref_txn_id=original.txn_id,
            )
        )
        balance_after, _ = unit.balance(household_id)
        after = redeemable_points(unit, household, balance_after, policy, ctx.clock) if household else 0
        _print_job(unit, txn, _receipt_facts(before, after, balance_after))
        return Receipt(txn, household.head_name if household else "", before, after, balance_after)


# ----- points from the village committee ---------------------------------------------------------


def require_points_authority(unit: LedgerUnit) -> None:
    """Refuse to make points in a shop connected to a central record: they come from the township.

    Points are awarded, deducted, granted, cleared and restarted by the village committee through the
    township (DESIGN §4); a connected shop only spends them, and the central record would hold anything
    else it pushed. A standalone shop (never provisioned) is its own township and keeps these commands.
    """
    if connected_to_township(unit):
        raise LedgerError("township_only")


def connected_to_township(unit: LedgerUnit) -> bool:
    """A shop provisioned from a central record (which keeps the points and the register); not the
    central record itself, nor a standalone shop, which is its own township."""
    return bool(unit.meta("server_url")) and unit.meta("role") != "central"


def _household_or_refuse(unit: LedgerUnit, household_id: str) -> Household:
    household = unit.household(household_id)
    if household is None:
        raise LedgerError("household_unknown", household_id=household_id)
    return household


def award(
    store: LedgerStore,
    household_id: str,
    points: int,
    reason: str,
    ctx: Context,
    txn_id: str | None = None,
    party: str | None = None,
) -> Transaction:
    """Points for civic behaviour (from the committee's score sheet, or issued after a public notice: then
    ``party`` names the notice, ``ledger.workflow.notice_party``). Never to a frozen household."""
    return _points_event(store, TxnKind.AWARD, household_id, points, reason, ctx, txn_id, party)


def deduct(
    store: LedgerStore,
    household_id: str,
    points: int,
    reason: str,
    ctx: Context,
    txn_id: str | None = None,
    party: str | None = None,
    *,
    allow_negative: bool = True,
) -> Transaction:
    """Points taken for misconduct. The balance may go below zero (nothing is redeemable until repaid), but
    a person typing a deduction is told first (``allow_negative=False``: ``deduct_below_zero`` with what the
    balance would become), since a slip of a digit is more likely than a penalty larger than the balance."""
    return _points_event(
        store, TxnKind.DEDUCT, household_id, points, reason, ctx, txn_id, party, allow_negative=allow_negative
    )


def _points_event(
    store: LedgerStore,
    kind: TxnKind,
    household_id: str,
    points: int,
    reason: str,
    ctx: Context,
    txn_id: str | None,
    party: str | None = None,
    *,
    allow_negative: bool = True,
) -> Transaction:
    if not reason.strip():
        raise LedgerError("reason_required")
    with store.write() as unit:
        require_points_authority(unit)
        check_points(points, unit.policy())
        household = _household_or_refuse(unit, household_id)
        if kind == TxnKind.AWARD and household.status == HouseholdStatus.FROZEN:
            raise LedgerError("household_frozen_no_award", household_id=household_id)
        if kind == TxnKind.DEDUCT and not allow_negative:
            balance, _earned = unit.balance(household_id)
            if balance - points < 0:
                raise LedgerError(
                    "deduct_below_zero", household_id=household_id, balance=balance, after=balance - points
                )
        sign = 1 if kind == TxnKind.AWARD else -1
        return unit.append(
            _draft(
                unit,
                ctx,
                kind,
                txn_id=txn_id,
                household_id=household_id,
                postings=(
                    Posting(household_account(household_id), sign * points),
                    Posting(TOWNSHIP_AWARDS, -sign * points),
                ),
                memo=reason.strip(),
                party=party,
            )
        )


@dataclass(frozen=True)
class PointsEntry:
    """One award or deduction of many posted together (``post_points_many``)."""

    kind: TxnKind  # AWARD or DEDUCT
    household_id: str
    points: int
    reason: str
    txn_id: str | None = None
    party: str | None = None


def post_points_many(store: LedgerStore, entries: Sequence[PointsEntry], ctx: Context) -> list[Transaction]:
    """Many awards and deductions in one write, each checked as ``award`` and ``deduct`` check one (issuing
    a notice's batch of thousands); all of them, or, on the first refusal, none."""
    with store.write() as unit:
        require_points_authority(unit)
        policy = unit.policy()
        drafts = []
        for entry in entries:
            if entry.kind not in (TxnKind.AWARD, TxnKind.DEDUCT):
                raise ValueError(f"post_points_many posts awards and deductions, not {entry.kind}")
            if not entry.reason.strip():
                raise LedgerError("reason_required")
            check_points(entry.points, policy)
            household = _household_or_refuse(unit, entry.household_id)
            if entry.kind == TxnKind.AWARD and household.status == HouseholdStatus.FROZEN:
                raise LedgerError("household_frozen_no_award", household_id=entry.household_id)
            sign = 1 if entry.kind == TxnKind.AWARD else -1
            drafts.append(
                _draft(
                    unit,
                    ctx,
                    entry.kind,
                    txn_id=entry.txn_id,
                    household_id=entry.household_id,
                    postings=(
                        Posting(household_account(entry.household_id), sign * entry.points),
                        Posting(TOWNSHIP_AWARDS, -sign * entry.points),
                    ),
                    memo=entry.reason.strip(),
                    party=entry.party,
                )
            )
        return unit.append_many(drafts)


def _cycle_no(unit: LedgerUnit) -> int:
    return int(unit.meta("cycle_no") or 1)


def grant_base(store: LedgerStore, ctx: Context) -> list[Transaction]:
    """Give every active household the policy's base points, once per cycle."""
    with store.write() as unit:
        require_points_authority(unit)
        policy = unit.policy()
        cycle = _cycle_no(unit)
        if policy.base_points <= 0 or unit.meta("base_granted_cycle") == str(cycle):
            raise LedgerError("nothing_to_do")
        done = []
        for row in unit.households():
            if row.household.status != HouseholdStatus.ACTIVE:
                continue
            hid = row.household.household_id
            done.append(
                unit.append(
                    _draft(
                        unit,
                        ctx,
                        TxnKind.BASE_GRANT,
                        household_id=hid,
                        postings=(
                            Posting(household_account(hid), policy.base_points),
                            Posting(TOWNSHIP_BASE, -policy.base_points),
                        ),
                        memo=f"cycle {cycle}",
                    )
                )
            )
        unit.set_meta("base_granted_cycle", str(cycle))
        return done


def close_cycle(store: LedgerStore, ctx: Context) -> list[Transaction]:
    """End the points year: unspent points expire and points earned restart from zero."""
    _require_manager(ctx.operator)
    with store.write() as unit:
        require_points_authority(unit)
        if unit.policy().cycle != "annual":
            raise LedgerError("policy_invalid", detail="points keep forever under this policy (cycle = none)")
        cycle = _cycle_no(unit)
        done = []
        for row in unit.households():
            hid = row.household.household_id
            if row.balance == 0 and row.earned_cycle == 0:
                continue
            postings: tuple[Posting, ...] = ()
            if row.balance > 0:
                postings = (
                    Posting(household_account(hid), -row.balance),
                    Posting(TOWNSHIP_EXPIRED, row.balance),
                )
            done.append(
                unit.append(
                    _draft(
                        unit,
                        ctx,
                        TxnKind.CYCLE_CLOSE,
                        household_id=hid,
                        postings=postings,
                        memo=f"cycle {cycle}",
                    )
                )
            )
        unit.set_meta("cycle_no", str(cycle + 1))
        return done


def clear_household(
    store: LedgerStore,
    household_id: str,
    reason: str,
    ctx: Context,
    txn_id: str | None = None,
    party: str | None = None,
) -> Transaction:
    """Zero tolerance: all points of the cycle are cleared and the household is frozen (``party`` as for
    ``award``)."""
    _require_manager(ctx.operator)
    if not reason.strip():
        raise LedgerError("reason_required")
    with store.write() as unit:
        require_points_authority(unit)
        household = _household_or_refuse(unit, household_id)
        if household.status == HouseholdStatus.FROZEN:  # cleared already: a second clearing changes nothing
            raise LedgerError("household_already_cleared", household_id=household_id)
        balance, _ = unit.balance(household_id)
        postings: tuple[Posting, ...] = ()
        if balance > 0:
            postings = (
                Posting(household_account(household_id), -balance),
                Posting(TOWNSHIP_CLEARED, balance),
            )
        return unit.append(
            _draft(
                unit,
                ctx,
                TxnKind.CLEARING,
                txn_id=txn_id,
                household_id=household_id,
                postings=postings,
                memo=reason.strip(),
                party=party,
            )
        )


def unfreeze(store: LedgerStore, household_id: str, reason: str, ctx: Context) -> Transaction:
    _require_manager(ctx.operator)
    if not reason.strip():
        raise LedgerError("reason_required")
    with store.write() as unit:
        require_points_authority(unit)
        if _household_or_refuse(unit, household_id).status != HouseholdStatus.FROZEN:
            raise LedgerError("nothing_to_do")
        return unit.append(_draft(unit, ctx, TxnKind.UNFREEZE, household_id=household_id, memo=reason.strip()))


# ----- goods ---------------------------------------------------------------------------------


def add_item(store: LedgerStore, item: Item) -> Item:
    if item.points <= 0:
        raise LedgerError("bad_points", value=item.points, max=10_000)
    with store.write() as unit:
        unit.put_item(item)
    return item


def _goods_lines(unit: LedgerUnit, goods: Sequence[tuple[str, int]], sign: int) -> list[Line]:
    merged = _merge_cart(goods, _intake_policy(unit))
    lines = []
    for sku, qty in merged.items():
        item = unit.item(sku)
        if item is None:
            raise LedgerError("unknown_sku", sku=sku)
        if sign < 0:
            _require_stock(item, qty, unit.stock(sku))
        lines.append(Line(sku, sign * qty, item.points))
    return lines


def _intake_policy(unit: LedgerUnit) -> Policy:
    # Deliveries come by the case: allow much larger quantities than one household's cart.
    policy = unit.policy()
    return replace(policy, max_quantity=max(policy.max_quantity, 100_000))


def stock_intake(
    store: LedgerStore,
    goods: Sequence[tuple[str, int]],
    supplier: str = "",
    cost_fen: int = 0,
    *,
    ctx: Context,
) -> Transaction:
    """Goods bought for the shop (from the fund). Donated goods go through ``record_donation``."""
    if isinstance(cost_fen, bool) or not isinstance(cost_fen, int) or cost_fen < 0:
        raise LedgerError("bad_amount", value=cost_fen)
    with store.write() as unit:
        lines = _goods_lines(unit, goods, +1)
        shop_id = unit.identity().shop_id
        postings: tuple[Posting, ...] = ()
        if cost_fen:
            postings = (
                Posting(shop_account(shop_id, "fund"), -cost_fen, FEN),
                Posting(supplier_account(supplier or "-"), cost_fen, FEN),
            )
        txn = unit.append(
            _draft(unit, ctx, TxnKind.STOCK_IN, postings=postings, lines=lines, party=supplier.strip() or None)
        )
        _print_job(unit, txn)
        return txn


def record_donation(
    store: LedgerStore,
    donor: str,
    amount_fen: int = 0,
    goods: Sequence[tuple[str, int]] = (),
    memo: str = "",
    *,
    ctx: Context,
) -> Transaction:
    """Money (fen) or goods given by a person, company or unit; the voucher (捐赠凭证) prints after."""
    if not donor.strip():
        raise LedgerError("donor_required")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise LedgerError("bad_amount", value=amount_fen)
    if amount_fen == 0 and not goods:  # nothing typed: say what a donation needs, not "amount 0"
        raise LedgerError("donation_empty")
    with store.write() as unit:
        lines = _goods_lines(unit, goods, +1) if goods else []
        shop_id = unit.identity().shop_id
        postings: tuple[Posting, ...] = ()
        if amount_fen:
            postings = (
                Posting(shop_account(shop_id, "fund"), amount_fen, FEN),
                Posting(donor_account(donor.strip()), -amount_fen, FEN),
            )
        txn = unit.append(
            _draft(
                unit,
                ctx,
                TxnKind.DONATION,
                postings=postings,
                lines=lines,
                memo=memo.strip(),
                party=donor.strip(),
            )
        )
        _print_job(unit, txn)
        return txn


@dataclass(frozen=True)
class CountDifference:
    sku: str
    name: str
    expected: int
    counted: int

    @property
    def difference(self) -> int:
        return self.counted - self.expected


def preview_count(store: LedgerStore, counted: dict[str, int]) -> list[CountDifference]:
    """What a stock count would change, before the shopkeeper confirms it."""
    with store.read() as unit:
        return _count_differences(unit, counted)


def _count_differences(unit: LedgerUnit, counted: dict[str, int]) -> list[CountDifference]:
    result = []
    for sku, qty in counted.items():
        item = unit.item(sku)
        if item is None:
            raise LedgerError("unknown_sku", sku=sku)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= 1_000_000:
            raise LedgerError("count_quantity", sku=sku, value=qty, max=1_000_000)
        result.append(CountDifference(sku, item.name, unit.stock(sku), qty))
    return result


def stock_count(
    store: LedgerStore, counted: dict[str, int], memo: str = "", *, ctx: Context
) -> tuple[Transaction, list[CountDifference]]:
    """Record a physical count; differences become adjustment lines in one transaction."""
    if not counted:
        raise LedgerError("empty_cart")
    with store.write() as unit:
        differences = _count_differences(unit, counted)
        lines = []
        for d in differences:
            if d.difference:
                item = unit.item(d.sku)
                lines.append(Line(d.sku, d.difference, item.points if item else 0))
        summary = json.dumps({d.sku: [d.expected, d.counted] for d in differences}, sort_keys=True)
        txn = unit.append(
            _draft(unit, ctx, TxnKind.STOCK_ADJUST, lines=lines, memo=(memo.strip() + " " + summary).strip())
        )
        return txn, differences


def write_off(store: LedgerStore, sku: str, qty: int, reason: str, ctx: Context) -> Transaction:
    """Goods spoiled, broken or lost: out of stock with a reason."""
    if not reason.strip():
        raise LedgerError("reason_required")
    with store.write() as unit:
        lines = _goods_lines(unit, [(sku, qty)], -1)
        return unit.append(_draft(unit, ctx, TxnKind.WRITE_OFF, lines=lines, memo=reason.strip()))


# ----- setting up a shop ledger ------------------------------------------------------------------


def set_up_shop(
    store: LedgerStore,
    township: Township,
    village: Village,
    shop: Shop,
    device_id: str,
    policy: Policy,
) -> None:
    """Make an empty ledger the ledger of ``shop``, written by ``device_id``."""
    with store.write() as unit:
        unit.put_township(township)
        unit.put_policy(policy)
        unit.put_village(village)
        unit.put_shop(shop)
        unit.put_device(device_id, shop.shop_id)
        unit.set_meta("shop_id", shop.shop_id)
        unit.set_meta("device_id", device_id)


def record_day_close(store: LedgerStore, day: str, totals: dict[str, object], ctx: Context) -> Transaction:
    """Put the day's totals into the chain, so a later rewrite of that day shows against them."""
    memo = json.dumps({"day": day, "totals": totals}, ensure_ascii=False, sort_keys=True, default=str)
    with store.write() as unit:
        txn = unit.append(_draft(unit, ctx, TxnKind.DAY_CLOSE, memo=memo))
        _print_job(unit, txn)
        return txn


def audit(store: LedgerStore) -> AuditReport:
    """Recompute every chain, sum, balance and stock level of the ledger (``lovemart audit verify``)."""
    with store.read() as unit:
        return verify(unit.journal(), unit.cached_state(), unit.transaction)
