"""Whole-ledger checks: recompute everything from the journal and report each thing that does not add up.

The audit is a list of small checks, as beancount's validations are: each takes the ledger as the audit
loaded it (a ``Replay``) and returns the problems it finds, and ``verify`` runs them all. A new rule is a
new function in one of the lists below, tested on its own, rather than another branch in one long loop.

The checks return problems rather than stopping at the first, because an auditor wants the whole picture
(a deleted transaction shows as a sequence gap *and* wrong balances) and because a shop must be able to
say exactly what is wrong when it asks the township to restore its ledger. A problem names the
transaction that caused it when there is one (``TxnRef``), so the township console can link to it and a
person can find the paper receipt.

The journal is read once, as a stream, so memory stays flat however long the shop has traded: checks
that look at one transaction run as it passes (``CHAIN_CHECKS``, ``TXN_CHECKS``), with the state
recomputed so far; checks that compare totals run once the walk is done (``LEDGER_CHECKS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
class TxnRef:
    """The transaction behind a problem: its id for links, and what a person uses to find it."""

    txn_id: str
    receipt_no: str
    device_id: str
    seq: int
    kind: str

    @classmethod
    def of(cls, txn: Transaction) -> TxnRef:
        return cls(txn.txn_id, txn.receipt_no, txn.device_id, txn.seq, str(txn.kind))


@dataclass(frozen=True)
class Problem:
    """One thing that does not add up. ``kind`` is stable (scripts and tests match it); ``detail`` says it in
    plain words with the numbers; ``txn`` is the transaction that caused it, when one did (a cache edited by
    hand has no transaction behind it)."""

    kind: str
    detail: str
    txn: TxnRef | None = None

    def to_json(self) -> dict[str, Any]:
        """The shape of ``lovemart audit verify --json``: ``kind`` and ``detail``, then the transaction's keys."""
        data: dict[str, Any] = {"kind": self.kind, "detail": self.detail}
        if self.txn is not None:
            data.update(
                txn_id=self.txn.txn_id,
                receipt_no=self.txn.receipt_no,
                device_id=self.txn.device_id,
                seq=self.txn.seq,
                txn_kind=self.txn.kind,
            )
        return data


NO_PROBLEMS: Sequence[Problem] = ()  # what a check returns when all is well (shared: nothing to allocate)


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

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.to_json() for p in self.problems], "transactions": self.transactions}


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


_START = (0, GENESIS_HASH)  # where every device's chain begins


class Replay:
    """The ledger as the audit loaded it: storage's caches, and what the walk over the journal recomputed.

    During the walk it holds the state *before* the transaction being checked (each device's last link,
    the totals so far); after it, the whole recomputation. ``recompute=False`` walks the chains only (the
    start-up check, ``ledger.integrity``, which must stay cheap and compares no totals).
    """

    def __init__(
        self,
        cached: CachedState,
        fetch: Callable[[str], Transaction | None],
        heads: dict[str, tuple[int, str]] | None = None,
        recompute: bool = True,
    ) -> None:
        self.cached = cached
        self.fetch = fetch
        self.heads: dict[str, tuple[int, str]] = dict(heads or {})  # device -> last (seq, hash) walked
        self.totals = Totals()
        self.voids: dict[str, list[Transaction]] = {}  # voided txn id -> the voids naming it, in journal order
        self.transactions = 0
        self.recompute = recompute
        self.authority = _AuditFacts(cached, fetch) if cached.township_id else None

    def head_before(self, txn: Transaction) -> tuple[int, str]:
        """The link ``txn`` must follow: its device's last transaction, moved on over held places."""
        head = self.heads.get(txn.device_id, _START)
        links = self.cached.links.get(txn.device_id)
        return through_links(head, links) if links else head  # (most devices have no held places)

    def head_of(self, device_id: str) -> tuple[int, str]:
        """Where the walk left ``device_id``'s chain (held places after it included)."""
        return through_links(self.heads.get(device_id, (0, GENESIS_HASH)), self.cached.links.get(device_id))

    def count_in(self, txn: Transaction) -> None:
        """Add the effects of a transaction that counts (not one the township held and corrected)."""
        if txn.kind == TxnKind.VOID and txn.ref_txn_id:
            self.voids.setdefault(txn.ref_txn_id, []).append(txn)
        self.totals.apply(effects_of(txn, self.cached.stock_shop))


TxnCheck = Callable[[Transaction, Replay], Sequence[Problem]]
LedgerCheck = Callable[[Replay], Sequence[Problem]]


# ----- checks of one transaction, as the journal passes -------------------------------------------------


def through_links(head: tuple[int, str], links: dict[int, str] | None) -> tuple[int, str]:
    """A device's head moved on over the held transactions (known here only by number and hash) after it."""
    seq, digest = head
    while links and seq + 1 in links:
        seq += 1
        digest = links[seq]
    return seq, digest


def hash_problem(txn: Transaction) -> Sequence[Problem]:
    """The content against its chain hash: an edited posting, line, memo or household shows here."""
    if chain_hash(txn.prev_hash, txn, txn.device_id, txn.seq) == txn.hash:
        return NO_PROBLEMS
    return [Problem("hash_mismatch", f"{txn.receipt_no}: content differs from its hash", TxnRef.of(txn))]


def link_problems(txn: Transaction, head: tuple[int, str]) -> list[Problem]:
    """Whether ``txn`` comes right after ``head`` (its device's last (seq, hash)) and matches its own hash."""
    last_seq, last_hash = head
    problems: list[Problem] = []
    if txn.seq != last_seq + 1:
        kind = "sequence_gap" if txn.seq > last_seq + 1 else "sequence_order"
        previous = receipt_number(txn.shop_id, txn.device_id, last_seq) if last_seq else "the start"
        problems.append(Problem(kind, f"{txn.receipt_no} follows {previous} on device {txn.device_id}", TxnRef.of(txn)))
    if txn.prev_hash != last_hash:
        problems.append(Problem("chain_break", f"{txn.receipt_no}: previous hash does not match", TxnRef.of(txn)))
    problems.extend(hash_problem(txn))
    return problems


def follows_its_chain(txn: Transaction, replay: Replay) -> Sequence[Problem]:
    """Each device's transactions form a gap-free hash chain: a deleted, inserted, reordered or edited
    transaction breaks it, and the printed hash prefixes on villagers' receipts can prove which."""
    head = replay.head_before(txn)
    if (
        txn.seq == head[0] + 1
        and txn.prev_hash == head[1]
        and chain_hash(txn.prev_hash, txn, txn.device_id, txn.seq) == txn.hash
    ):
        return NO_PROBLEMS  # the common case, without building a list (it runs once per transaction)
    return link_problems(txn, head)


def postings_balance(txn: Transaction, replay: Replay | None = None) -> Sequence[Problem]:
    """A transaction's postings sum to zero in each unit: points and money are moved, never made up.

    The central record refuses a pushed transaction that fails this (``sync.server``), with no replay.
    """
    total = 0
    unit: str | None = None
    for posting in txn.postings:
        if posting.unit != unit:
            if unit is not None:
                return _unbalanced_units(txn)  # several units (rare): sum each on its own
            unit = posting.unit
        total += posting.amount
    if total == 0:
        return NO_PROBLEMS
    return [Problem("unbalanced", f"{txn.receipt_no}: postings in {unit} sum to {total}", TxnRef.of(txn))]


def _unbalanced_units(txn: Transaction) -> list[Problem]:
    sums: dict[str, int] = {}
    for posting in txn.postings:
        sums[posting.unit] = sums.get(posting.unit, 0) + posting.amount
    return [
        Problem("unbalanced", f"{txn.receipt_no}: postings in {unit} sum to {total}", TxnRef.of(txn))
        for unit, total in sums.items()
        if total != 0
    ]


def redemption_priced(txn: Transaction, replay: Replay | None = None) -> Sequence[Problem]:
    """A redemption takes from the household exactly the points its goods lines are worth, and takes goods:
    a till that charged less (or handed out goods for nothing) shows here."""
    if txn.kind != TxnKind.REDEEM:
        return NO_PROBLEMS
    spent = -txn.points_of(household_account(txn.household_id or ""))
    priced = sum(-line.qty * line.points_each for line in txn.lines)
    if spent == priced and spent > 0 and all(line.qty < 0 for line in txn.lines):
        return NO_PROBLEMS
    return [
        Problem("redeem_mismatch", f"{txn.receipt_no}: {spent} points taken for goods worth {priced}", TxnRef.of(txn))
    ]


def within_authority(txn: Transaction, replay: Replay) -> Sequence[Problem]:
    """In a ledger tied to a township, a shop's transaction moves only what a shop may move (DESIGN §4): a
    shop that awarded itself points, or redeemed another shop's household, shows here."""
    if replay.authority is None or txn.shop_id == replay.cached.township_id:
        return NO_PROBLEMS
    violation = check_shop_transaction(txn, txn.shop_id, replay.authority, check_prices=False)
    if violation is None:
        return NO_PROBLEMS
    return [Problem("authority", f"{txn.receipt_no}: {violation.message('en')}", TxnRef.of(txn))]


def check_transaction(txn: Transaction) -> list[Problem]:
    """The checks that need nothing but the transaction itself, for a caller holding one (tests, a push)."""
    return [*postings_balance(txn), *redemption_priced(txn)]


# Run on every stored transaction, corrected ones too: a held transaction keeps its place in the chain.
CHAIN_CHECKS: tuple[TxnCheck, ...] = (follows_its_chain,)
# Run on each transaction that counts (one the township held and corrected has no effect and no standing).
TXN_CHECKS: tuple[TxnCheck, ...] = (postings_balance, redemption_priced, within_authority)


# ----- checks of the whole ledger, once the journal has been walked -------------------------------------


def append_only_guards_present(replay: Replay) -> Sequence[Problem]:
    """The database triggers that refuse UPDATE and DELETE on ledger tables are there: without them a
    careless edit leaves no trace until the next audit."""
    return guard_problems(replay.cached.missing_guards)


def guard_problems(missing: Iterable[str]) -> list[Problem]:
    return [Problem("append_only_guard", f"missing: {name}") for name in missing]


def voids_reverse_redemptions(replay: Replay) -> Sequence[Problem]:
    """A void names a redemption, mirrors it exactly (points and goods back), and is the only one: points
    given back twice, or goods back that never left, are the classic refund fraud of a till."""
    problems: list[Problem] = []
    for ref, voids in replay.voids.items():
        if len(voids) > 1:
            numbers = ", ".join(v.receipt_no for v in voids)
            problems.append(Problem("double_void", f"{ref} voided {len(voids)} times: {numbers}", TxnRef.of(voids[1])))
        problems.extend(_reverses(voids[0], replay.fetch(ref)))
    return problems


def _reverses(void: Transaction, original: Transaction | None) -> list[Problem]:
    if original is None or original.kind != TxnKind.REDEEM:
        return [
            Problem(
                "void_orphan", f"{void.receipt_no} voids {void.ref_txn_id}, which is not a redemption", TxnRef.of(void)
            )
        ]
    mirrored = sorted((p.account, p.unit, -p.amount) for p in original.postings) == sorted(
        (p.account, p.unit, p.amount) for p in void.postings
    ) and sorted((ln.sku, -ln.qty) for ln in original.lines) == sorted((ln.sku, ln.qty) for ln in void.lines)
    if not mirrored:
        return [
            Problem(
                "void_mismatch", f"{void.receipt_no} does not reverse {original.receipt_no} exactly", TxnRef.of(void)
            )
        ]
    return []


def cache_problem(kind: str, what: str, key: str, stored: int, expected: int) -> Problem:
    """A cached figure that differs from the journal (one wording for the audit and the tamper checks)."""
    return Problem(kind, f"{what} {key}: stored {stored}, journal says {expected}")


def _compare(kind: str, what: str, recomputed: dict[str, int], cached: dict[str, int]) -> list[Problem]:
    problems = []
    for key in sorted(set(recomputed) | set(cached)):
        expected, stored = recomputed.get(key, 0), cached.get(key, 0)
        if expected != stored:
            problems.append(cache_problem(kind, what, key, stored, expected))
    return problems


def balances_match(replay: Replay) -> Sequence[Problem]:
    """Each household's cached balance is the sum of its postings: the till spends the cache, so a cache
    raised by hand would hand out points nobody awarded."""
    return _compare("balance_mismatch", "balance of household", replay.totals.balance, replay.cached.balance)


def earned_matches(replay: Replay) -> Sequence[Problem]:
    """Points earned in the cycle (the public ranking, 红榜) add up: a raised rank is as much a fraud as
    raised points."""
    return _compare("earned_mismatch", "points earned by household", replay.totals.earned, replay.cached.earned)


def stock_matches(replay: Replay) -> Sequence[Problem]:
    """Each item's cached stock is the sum of its goods lines: goods that left without a transaction show."""
    return _compare("stock_mismatch", "stock of", replay.totals.stock, replay.cached.stock)


def stock_not_negative(replay: Replay) -> Sequence[Problem]:
    """No item was handed out that was not on the shelf (the services refuse it; the journal must agree)."""
    return [Problem("negative_stock", f"{sku}: {n} on hand") for sku, n in sorted(replay.totals.stock.items()) if n < 0]


def status_matches(replay: Replay) -> Sequence[Problem]:
    """A household frozen by a clearing stays frozen until an unfreeze: an edited status would let a
    zero-tolerance household spend again."""
    problems = []
    recomputed, cached = replay.totals.status, replay.cached.status
    for household_id in sorted(set(recomputed) | set(cached)):
        status = recomputed.get(household_id, HouseholdStatus.ACTIVE)
        if cached.get(household_id, HouseholdStatus.ACTIVE) != status:
            problems.append(Problem("status_mismatch", f"household {household_id} should be {status}"))
    return problems


def device_heads_match(replay: Replay) -> Sequence[Problem]:
    """Each device's stored head (the next sequence number and hash it will chain to) is the end of its
    chain in the journal: a cut-off journal tail, or a head moved back to rewrite it, shows here."""
    problems = []
    for device_id, (seq, digest) in sorted(replay.cached.device_heads.items()):
        if replay.head_of(device_id) != (seq, digest):
            problems.append(
                Problem("device_head", f"device {device_id}: stored head seq {seq} does not match the journal")
            )
    return problems


# Run before the walk: the storage itself.
STORAGE_CHECKS: tuple[LedgerCheck, ...] = (append_only_guards_present,)
# Run after the walk, on the whole recomputation.
LEDGER_CHECKS: tuple[LedgerCheck, ...] = (
    voids_reverse_redemptions,
    balances_match,
    earned_matches,
    stock_matches,
    stock_not_negative,
    status_matches,
    device_heads_match,
)


# ----- running them --------------------------------------------------------------------------------------


def walk(
    journal: Iterable[Transaction],
    replay: Replay,
    chain_checks: Sequence[TxnCheck] = CHAIN_CHECKS,
    txn_checks: Sequence[TxnCheck] = TXN_CHECKS,
) -> list[Problem]:
    """Run the per-transaction checks over ``journal`` (in storage order), moving ``replay`` on as it goes."""
    problems: list[Problem] = []
    corrected = replay.cached.corrected
    heads = replay.heads
    recompute = replay.recompute
    for txn in journal:
        replay.transactions += 1
        for check in chain_checks:
            found = check(txn, replay)
            if found:
                problems.extend(found)
        heads[txn.device_id] = (txn.seq, txn.hash)
        if txn.txn_id in corrected:
            continue  # held by the township and corrected: in the chain, with no effect and no standing
        for check in txn_checks:
            found = check(txn, replay)
            if found:
                problems.extend(found)
        if recompute:
            replay.count_in(txn)
    return problems


def run(checks: Sequence[LedgerCheck], replay: Replay) -> list[Problem]:
    problems: list[Problem] = []
    for check in checks:
        problems.extend(check(replay))
    return problems


def verify(
    journal: Iterable[Transaction],
    cached: CachedState,
    fetch: Callable[[str], Transaction | None],
) -> AuditReport:
    """Run every check: chains, posting sums, balances, points earned, stock and status against the caches.

    ``journal`` yields every transaction in the order it was stored; ``fetch`` finds one by id (for
    the few transactions that voids refer to).
    """
    replay = Replay(cached, fetch)
    problems = run(STORAGE_CHECKS, replay)
    problems.extend(walk(journal, replay))
    problems.extend(run(LEDGER_CHECKS, replay))
    return AuditReport(problems, replay.transactions)


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
