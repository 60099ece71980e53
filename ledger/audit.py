"""Whole-ledger checks: recompute everything from the journal and report each thing that does not add up.

The checks return a list of problems rather than stopping at the first, because an auditor wants
the whole picture (a deleted transaction shows as a sequence gap *and* wrong balances) and because
a shop must be able to say exactly what is wrong when it asks the township to restore its ledger.
The journal is read as a stream, so memory stays flat however long the shop has traded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ledger.authority import check_shop_transaction
from ledger.chain import chain_hash
from ledger.effects import Totals, effects_of
from ledger.model import (
    GENESIS_HASH,
    HouseholdStatus,
    Transaction,
    TxnDraft,
    TxnKind,
    household_account,
    receipt_number,
)


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str


@dataclass
class CachedState:
    """What storage keeps as caches, to be compared with the recomputation."""

    balance: dict[str, int] = field(default_factory=dict)
    earned: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    status: dict[str, HouseholdStatus] = field(default_factory=dict)
    device_heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    missing_guards: list[str] = field(default_factory=list)
    stock_shop: str | None = None  # whose shelves the stock caches count (see ``effects_of``)
    # Places in other devices' chains whose transactions the township held: device -> seq -> hash.
    links: dict[str, dict[int, str]] = field(default_factory=dict)
    # This shop's own transactions that the township held and corrected: they count for nothing.
    corrected: set[str] = field(default_factory=set)
    # In a ledger tied to a township (the central record, or a provisioned shop), every transaction a
    # shop made must obey the authority rule; ``township_id`` tells the township's own ones apart.
    township_id: str | None = None
    catalogue: set[str] = field(default_factory=set)


@dataclass
class AuditReport:
    problems: list[Problem]
    transactions: int

    @property
    def ok(self) -> bool:
        return not self.problems


def as_draft(txn: Transaction) -> TxnDraft:
    return TxnDraft(
        txn_id=txn.txn_id,
        kind=txn.kind,
        created_at=txn.created_at,
        shop_id=txn.shop_id,
        operator=txn.operator,
        household_id=txn.household_id,
        postings=txn.postings,
        lines=txn.lines,
        memo=txn.memo,
        ref_txn_id=txn.ref_txn_id,
        party=txn.party,
        pull_cursor=txn.pull_cursor,
    )


def check_transaction(txn: Transaction) -> list[Problem]:
    """Checks that need nothing but the transaction itself."""
    problems = []
    sums: dict[str, int] = {}
    for posting in txn.postings:
        sums[posting.unit] = sums.get(posting.unit, 0) + posting.amount
    for unit, total in sums.items():
        if total != 0:
            problems.append(Problem("unbalanced", f"{txn.receipt_no}: postings in {unit} sum to {total}"))
    if txn.kind == TxnKind.REDEEM:
        account = household_account(txn.household_id or "")
        spent = -txn.points_of(account)
        priced = sum(-line.qty * line.points_each for line in txn.lines)
        if spent != priced or spent <= 0 or any(line.qty >= 0 for line in txn.lines):
            problems.append(
                Problem("redeem_mismatch", f"{txn.receipt_no}: {spent} points taken for goods worth {priced}")
            )
    return problems


def check_void(void: Transaction, original: Transaction | None) -> list[Problem]:
    if original is None or original.kind != TxnKind.REDEEM:
        return [Problem("void_orphan", f"{void.receipt_no} voids {void.ref_txn_id}, which is not a redemption")]
    mirrored = sorted((p.account, p.unit, -p.amount) for p in original.postings) == sorted(
        (p.account, p.unit, p.amount) for p in void.postings
    ) and sorted((ln.sku, -ln.qty) for ln in original.lines) == sorted((ln.sku, ln.qty) for ln in void.lines)
    if not mirrored:
        return [Problem("void_mismatch", f"{void.receipt_no} does not reverse {original.receipt_no} exactly")]
    return []


def verify(
    journal: Iterable[Transaction],
    cached: CachedState,
    fetch: Callable[[str], Transaction | None],
) -> AuditReport:
    """Recompute chains, posting sums, balances, points earned, stock and status; compare with caches.

    ``journal`` yields every transaction in the order it was stored; ``fetch`` finds one by id (for
    the few transactions that voids refer to).
    """
    problems: list[Problem] = [Problem("append_only_guard", f"missing: {name}") for name in cached.missing_guards]
    heads: dict[str, tuple[int, str]] = {}
    totals = Totals()
    voids: dict[str, list[Transaction]] = {}
    count = 0
    facts = _AuditFacts(cached, fetch) if cached.township_id else None
    for txn in journal:
        count += 1
        problems.extend(check_link(txn, heads, cached.links.get(txn.device_id)))
        if txn.txn_id in cached.corrected:
            continue  # held by the township and corrected: in the chain, with no effect and no standing
        problems.extend(check_transaction(txn))
        if facts is not None and txn.shop_id != cached.township_id:
            violation = check_shop_transaction(txn, txn.shop_id, facts, check_prices=False)
            if violation is not None:
                problems.append(Problem("authority", f"{txn.receipt_no}: {violation.message('en')}"))
        if txn.kind == TxnKind.VOID and txn.ref_txn_id:
            voids.setdefault(txn.ref_txn_id, []).append(txn)
        totals.apply(effects_of(txn, cached.stock_shop))

    for ref, void_txns in voids.items():
        if len(void_txns) > 1:
            numbers = ", ".join(v.receipt_no for v in void_txns)
            problems.append(Problem("double_void", f"{ref} voided {len(void_txns)} times: {numbers}"))
        problems.extend(check_void(void_txns[0], fetch(ref)))

    problems.extend(_compare("balance_mismatch", "balance of household", totals.balance, cached.balance))
    problems.extend(_compare("earned_mismatch", "points earned by household", totals.earned, cached.earned))
    problems.extend(_compare("stock_mismatch", "stock of", totals.stock, cached.stock))
    for sku, on_hand in sorted(totals.stock.items()):
        if on_hand < 0:
            problems.append(Problem("negative_stock", f"{sku}: {on_hand} on hand"))
    for household_id in sorted(set(totals.status) | set(cached.status)):
        status = totals.status.get(household_id, HouseholdStatus.ACTIVE)
        if cached.status.get(household_id, HouseholdStatus.ACTIVE) != status:
            problems.append(Problem("status_mismatch", f"household {household_id} should be {status}"))
    for device_id, (seq, digest) in sorted(cached.device_heads.items()):
        if through_links(heads.get(device_id, (0, GENESIS_HASH)), cached.links.get(device_id)) != (seq, digest):
            problems.append(
                Problem("device_head", f"device {device_id}: stored head seq {seq} does not match the journal")
            )
    return AuditReport(problems, count)


class _AuditFacts:
    """What the audit can tell the authority rule from the ledger alone.

    Prices are not checked here (only the central record's change log holds the catalogue's history, and
    the server checks them at push). Double voids have their own check (``double_void``).
    """

    def __init__(self, cached: CachedState, fetch: Callable[[str], Transaction | None]) -> None:
        self.cached = cached
        self.fetch = fetch

    def price_at(self, sku: str, cursor: int) -> int | None:
        """Known or not; the price itself is not checked here (``check_prices=False``)."""
        return 0 if sku in self.cached.catalogue else None

    def household_known(self, household_id: str) -> bool:
        return household_id in self.cached.status

    def redemption(self, txn_id: str) -> Transaction | None:
        return self.fetch(txn_id)

    def voided(self, txn_id: str) -> bool:
        return False


def through_links(head: tuple[int, str], links: dict[int, str] | None) -> tuple[int, str]:
    """A device's head moved on over the held transactions (known here only by number and hash) after it."""
    seq, digest = head
    while links and seq + 1 in links:
        seq += 1
        digest = links[seq]
    return seq, digest


def check_link(txn: Transaction, heads: dict[str, tuple[int, str]], links: dict[int, str] | None) -> list[Problem]:
    """Whether ``txn`` comes next in its device's chain and matches its hash; moves the device's head on.

    ``heads`` holds each device's last (seq, hash) seen so far; ``links`` the places of the device's held
    transactions, walked through as transactions without content.
    """
    last_seq, last_hash = through_links(heads.get(txn.device_id, (0, GENESIS_HASH)), links)
    problems = []
    if txn.seq != last_seq + 1:
        kind = "sequence_gap" if txn.seq > last_seq + 1 else "sequence_order"
        previous = receipt_number(txn.shop_id, txn.device_id, last_seq) if last_seq else "the start"
        problems.append(Problem(kind, f"{txn.receipt_no} follows {previous} on device {txn.device_id}"))
    if txn.prev_hash != last_hash:
        problems.append(Problem("chain_break", f"{txn.receipt_no}: previous hash does not match"))
    if chain_hash(txn.prev_hash, txn, txn.device_id, txn.seq) != txn.hash:
        problems.append(Problem("hash_mismatch", f"{txn.receipt_no}: content differs from its hash"))
    heads[txn.device_id] = (txn.seq, txn.hash)
    return problems


def _compare(kind: str, what: str, recomputed: dict[str, int], cached: dict[str, int]) -> list[Problem]:
    problems = []
    for key in sorted(set(recomputed) | set(cached)):
        expected, stored = recomputed.get(key, 0), cached.get(key, 0)
        if expected != stored:
            problems.append(Problem(kind, f"{what} {key}: stored {stored}, journal says {expected}"))
    return problems
