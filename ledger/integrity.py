"""Tampering found before it is spent (issue 11 §4): cheap checks that run where points are spent.

The full audit (``ledger.audit.verify``) recomputes everything, but it reads the whole journal (seconds
on a busy year) so it cannot run before every sale. Someone with the ledger file and the ``sqlite3``
shell can drop the append-only triggers, raise a posting by 5,000 and the cached balance with it, and
until the next audit the till would spend those points. So the till checks, cheaply:

1. **At start-up** (``check_at_start``): the hash chain of every device from the last *checkpoint* (the
   chain heads and journal position recorded when a full audit last passed) to the head, with every hash
   recomputed from the content (postings and lines included); that the checkpointed heads still carry the
   hashes verified then; that the cached device heads agree; that the households' cached balances add up
   to the checkpoint's total plus what was posted to them since; and that the append-only triggers are there.
   A failure is recorded in ``meta`` (``integrity:stop``) and from then on **every** redemption is
   refused until a full audit passes again: a journal that was rewritten cannot say which points are real.
2. **Before each redemption** (``refuse_if_tampered``): the household's balance recomputed from its
   postings must equal the cached balance, and every transaction touching the household since the
   checkpoint must still match its hash. A mismatch refuses that household only (the chain passed at
   start-up, so the rest of the ledger stands) with a message to call the township.
3. **After the day close** (``full_audit``): the whole audit; its result goes into ``meta``
   (``integrity:audit``) and, when it passes, a new checkpoint (``integrity:checkpoint``). When it finds the
   journal wrong, selling stops as after a failed start-up check (README: "audit verify reports problems:
   stop selling"); cached balances alone that differ from their postings stop only those households.

Everything here is only as safe as the ``meta`` table, which the same person could edit as well: these
checks catch a careless or hasty edit at the counter; the printed receipts (hash prefixes), the audit and
the central record remain the proof against a careful one (docs/ledger.md "Tampering").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ledger.audit import (
    AuditReport,
    CachedState,
    Problem,
    Replay,
    cache_problem,
    device_heads_match,
    follows_its_chain,
    guard_problems,
    hash_problem,
    postings_balance,
    walk,
)
from ledger.chain import chain_hash
from ledger.errors import LedgerError
from ledger.model import Household, Transaction, household_account, receipt_number
from ledger.ports import LedgerStore, LedgerUnit

CHECKPOINT_KEY = "integrity:checkpoint"  # the last position a full audit vouched for
STOP_KEY = "integrity:stop"  # set when a start-up check or an audit failed: selling stops until an audit passes
AUDIT_KEY = "integrity:audit"  # the last full audit's time, result and problem count
CHECKPOINT_PK_KEY = "integrity:checkpoint_pk"  # the checkpoint's journal position alone, read before each sale

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Checkpoint:
    """Where the journal was when a full audit last passed: rows up to ``pk`` and each device's head."""

    at: str
    pk: int
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    transactions: int = 0
    balances: int | None = None  # the points all households held then (their cached balances, summed)

    def to_json(self) -> str:
        return json.dumps(
            {
                "at": self.at,
                "pk": self.pk,
                "heads": {d: list(h) for d, h in self.heads.items()},
                "n": self.transactions,
                "balances": self.balances,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> Checkpoint | None:
        """None for a missing or unreadable checkpoint: the check then starts from the beginning."""
        if not text:
            return None
        try:
            data = json.loads(text)
            heads = {str(d): (int(h[0]), str(h[1])) for d, h in dict(data["heads"]).items()}
            balances = data.get("balances")
            return cls(
                str(data["at"]),
                int(data["pk"]),
                heads,
                int(data.get("n", 0)),
                None if balances is None else int(balances),
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return None


@dataclass(frozen=True)
class ChainCheck:
    """The start-up check's verdict: ``checked`` transactions after the checkpoint (or from the start)."""

    problems: list[Problem]
    checked: int
    checkpoint: Checkpoint | None
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AuditRecord:
    """What ``meta`` keeps of the last full audit (``lovemart doctor`` reports its age and result)."""

    at: str
    ok: bool
    problems: int
    transactions: int
    first: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"at": self.at, "ok": self.ok, "problems": self.problems, "n": self.transactions, "first": self.first},
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> AuditRecord | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(
                str(data["at"]),
                bool(data["ok"]),
                int(data["problems"]),
                int(data.get("n", 0)),
                str(data.get("first", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


# ----- pure checks ---------------------------------------------------------------------------------------


def verify_segment(
    start: dict[str, tuple[int, str]],
    journal: Iterable[Transaction],
    cached_heads: dict[str, tuple[int, str]],
    links: dict[str, dict[int, str]] | None = None,
) -> tuple[list[Problem], int]:
    """Check each device's chain from ``start`` (its head at the checkpoint) through ``journal``.

    ``journal`` holds the transactions stored after the checkpoint, in storage order. Every hash is
    recomputed from the content, so an edited posting, line, memo or household shows as
    ``hash_mismatch``; a deleted, inserted or reordered transaction as a gap, an order or a chain break;
    a cut-off head as ``device_head``. Returns the problems and the number of transactions checked.
    """
    # The audit's own chain and posting checks, on a replay that starts at the checkpoint and sums nothing.
    replay = Replay(CachedState(device_heads=cached_heads, links=links or {}), _nothing, start, recompute=False)
    problems = walk(journal, replay, (follows_its_chain,), (postings_balance,))
    problems.extend(device_heads_match(replay))
    return problems, replay.transactions


def _nothing(txn_id: str) -> Transaction | None:
    return None  # the chain walk never looks a transaction up


def check_household(
    household_id: str, cached_balance: int, posted: int, since_checkpoint: Iterable[Transaction]
) -> list[Problem]:
    """A household's cached balance against the sum of its postings, and its recent transactions' hashes.

    ``posted`` is the sum of the household's point postings (transactions the township corrected left
    out); ``since_checkpoint`` are the transactions posting to its account after the checkpoint.
    """
    problems = []
    if posted != cached_balance:
        problems.append(cache_problem("balance_mismatch", "balance of household", household_id, cached_balance, posted))
    for txn in since_checkpoint:
        problems.extend(hash_problem(txn))
    return problems


def check_total(checkpoint: Checkpoint, cached: int, posted_since: int, corrections_since: int) -> list[Problem]:
    """All households' cached balances together against the checkpoint's total plus what was posted since.

    This is what catches a posting raised *before* the checkpoint together with its cached balance (the
    household's own sum then agrees, and its transaction is not re-hashed at start-up): the points it
    made up are in the caches but in no transaction since the checkpoint. It reads the balance cache and
    the postings since the checkpoint only, so it stays cheap. A township correction since the checkpoint
    recomputes caches from the whole journal, so the comparison waits for the next audit then.
    """
    if checkpoint.balances is None or corrections_since:
        return []
    expected = checkpoint.balances + posted_since
    if cached == expected:
        return []
    return [
        Problem(
            "balance_total",
            f"households hold {cached} points by their balances; the audit of {checkpoint.at[:16]} and the "
            f"transactions since make {expected}",
        )
    ]


def _explained_by_caches(
    drift: list[tuple[str, int, int]], checkpoint: Checkpoint, cached: int, posted_since: int
) -> bool:
    """True when households whose cache differs from their own postings account for the whole difference.

    Then the journal itself adds up and only caches were edited: those households are refused one by one
    (``refuse_if_tampered``) and the others may trade. Run only once the total is off (one aggregate over
    every posting: too slow for every start, cheap enough for a failed one).
    """
    if checkpoint.balances is None:
        return False
    return sum(stored - posted for _, stored, posted in drift) == cached - (checkpoint.balances + posted_since)


# ----- use cases ------------------------------------------------------------------------------------------


def checkpoint_of(unit: LedgerUnit) -> Checkpoint | None:
    return Checkpoint.from_json(unit.meta(CHECKPOINT_KEY))


def last_audit(unit: LedgerUnit) -> AuditRecord | None:
    return AuditRecord.from_json(unit.meta(AUDIT_KEY))


def stopped(unit: LedgerUnit) -> AuditRecord | None:
    """The failed start-up check or audit that stopped selling, or None when selling is allowed."""
    record = AuditRecord.from_json(unit.meta(STOP_KEY))
    return record if record is not None and not record.ok else None


def check_chain(store: LedgerStore) -> ChainCheck:
    """The start-up check, read-only (``lovemart doctor`` runs it too): see the module doc, point 1."""
    started = time.perf_counter()
    with store.read() as unit:
        checkpoint = checkpoint_of(unit)
        start = dict(checkpoint.heads) if checkpoint else {}
        problems = guard_problems(unit.missing_guards())
        links = unit.chain_links()
        for device_id, (seq, digest) in sorted(start.items()):
            anchor = unit.transaction_at(device_id, seq)
            if anchor is None:
                whole = links.get(device_id, {}).get(seq) == digest  # a held transaction's place
            else:
                whole = anchor.hash == digest == chain_hash(anchor.prev_hash, anchor, device_id, seq)
            if not whole:
                when = checkpoint.at if checkpoint else ""
                problems.append(
                    Problem(
                        "checkpoint_break",
                        f"{receipt_number(anchor.shop_id, device_id, seq) if anchor else f'{device_id} {seq}'}: "
                        f"no longer the transaction the audit of {when} verified",
                    )
                )
        if checkpoint is not None and checkpoint.balances is not None:
            cached, posted_since, corrections_since = unit.balance_totals(checkpoint.pk)
            total = check_total(checkpoint, cached, posted_since, corrections_since)
            if total and _explained_by_caches(unit.balance_drift(), checkpoint, cached, posted_since):
                total = []  # only cached balances were edited: the household check refuses those households
            problems.extend(total)
        found, count = verify_segment(
            start, unit.journal_after(checkpoint.pk if checkpoint else 0), unit.device_heads(), links
        )
        problems.extend(found)
    return ChainCheck(problems, count, checkpoint, (time.perf_counter() - started) * 1000)


def check_at_start(store: LedgerStore, clock: Clock = _now) -> ChainCheck:
    """Run by the POS and by ``lovemart redeem`` before selling. With no checkpoint yet (a ledger older
    than this check), the first start runs the full audit once, which records one.

    A failure is recorded (``integrity:stop``) so that every later redemption, in any process, is
    refused until a full audit passes.
    """
    with store.read() as unit:
        has_checkpoint = checkpoint_of(unit) is not None
    if not has_checkpoint:
        full_audit(store, clock)
    result = check_chain(store)
    if not result.ok:
        with store.write() as unit:
            if stopped(unit) is None:
                record = AuditRecord(
                    clock().isoformat(timespec="seconds"),
                    False,
                    len(result.problems),
                    result.checked,
                    result.problems[0].detail,
                )
                unit.set_meta(STOP_KEY, record.to_json())
    return result


def full_audit(store: LedgerStore, clock: Clock = _now) -> AuditReport:
    """The whole audit, recorded: its result in ``meta`` and, when it passes, a new checkpoint.

    The checkpoint is taken *before* the audit reads the journal: the audit then covers at least every
    row up to it, so a pass vouches for it (rows appended meanwhile are after it, and the start-up check
    covers them). A failure stops selling (unless only households' cached balances are off: those households
    are refused one by one); a pass lifts any stop: the whole audit has the last word.
    """
    from ledger import services  # services call this module before each redemption

    with store.read() as unit:
        pk = unit.journal_head_pk()
        heads = unit.device_heads()
        balances = unit.balance_totals(pk)[0]
    report = services.audit(store)
    when = clock().isoformat(timespec="seconds")
    record = AuditRecord(
        when, report.ok, len(report.problems), report.transactions, report.problems[0].detail if report.problems else ""
    )
    with store.write() as unit:
        unit.set_meta(AUDIT_KEY, record.to_json())
        if _stops_selling(report) and stopped(unit) is None:
            unit.set_meta(STOP_KEY, record.to_json())
        if report.ok:
            unit.set_meta(CHECKPOINT_KEY, Checkpoint(when, pk, heads, report.transactions, balances).to_json())
            unit.set_meta(CHECKPOINT_PK_KEY, str(pk))  # a shop's checkpoint lists every device of the township
            if unit.meta(STOP_KEY) is not None:
                unit.set_meta(STOP_KEY, AuditRecord(when, True, 0, report.transactions).to_json())
    return report


CACHE_ONLY = frozenset({"balance_mismatch"})  # the journal stands; the household check refuses those households


def _stops_selling(report: AuditReport) -> bool:
    """Any problem with the journal itself stops selling; households' cached balances that differ from their
    postings, alone, are refused household by household (``refuse_if_tampered``)."""
    return any(problem.kind not in CACHE_ONLY for problem in report.problems)


def refuse_if_stopped(unit: LedgerUnit) -> None:
    """Refuse to move points while a failed check has stopped selling (a redemption, and a void too: on a
    journal that does not check out, the redemption a void reverses may itself be made up)."""
    stop = stopped(unit)
    if stop is not None:
        raise LedgerError("ledger_tampered", detail=stop.first)


def refuse_if_tampered(unit: LedgerUnit, household: Household, cached_balance: int) -> None:
    """Before a redemption, inside its unit: refuse when selling is stopped, or when this household's
    postings do not match its cached balance or its recent transactions their hashes (see module doc)."""
    refuse_if_stopped(unit)
    text = unit.meta(CHECKPOINT_PK_KEY)
    after = int(text) if text and text.isdigit() else 0
    account = household_account(household.household_id)
    posted = unit.points_posted(account)
    if posted != cached_balance:
        # Transactions the township held and corrected are in the journal but count for nothing: leave them
        # out and look again (rare, and dearer: the plain sum is one index range).
        posted = unit.points_posted(account, leave_out_corrected=True)
    problems = check_household(household.household_id, cached_balance, posted, unit.touching_after(account, after))
    if problems:
        raise LedgerError("household_tampered", name=household.head_name, detail=problems[0].detail)


def balance_drift(store: LedgerStore) -> list[Problem]:
    """Households whose cached balance differs from the sum of their postings (one SQL aggregate)."""
    with store.read() as unit:
        return [
            cache_problem("balance_mismatch", "balance of household", hid, stored, posted)
            for hid, stored, posted in unit.balance_drift()
        ]
