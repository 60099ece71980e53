"""Holding what a shop device had no right to push (docs/sync.md "Authority"; the rule is ``ledger.authority``).

A held transaction is stored only as its place in the device's chain (``chain_link``), so the device's
later transactions still chain and the device is never stuck; it moves no balance, points earned,
ranking, stock or total, and other shops receive only that place (a ``link`` change), never the
transaction. The township gets one exception naming it and the rule it broke; the shop that made it
gets a township-authored ``correction`` on its next pull, which takes its effect out of that shop's
ledger, so shop and township agree again. The township may later keep it held or release it: a
release re-issues its points under the township's own authority (a ``release`` transaction), recorded
with who and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.authority import Violation, check_shop_transaction
from ledger.errors import LedgerError
from ledger.model import EARNED_RESET_KINDS, Transaction, TxnDraft, TxnKind
from ledger.services import new_txn_id
from ledger.storage.central import CentralDevice, CentralUnit, HeldRecord, LogEntry
from sync.errors import SyncError
from sync.protocol import txn_from_wire, txn_to_wire
from sync.server.changes import dumps, log_txns
from sync.server.rules import SYSTEM_OPERATOR

# Kinds whose effect is more than moving points (a freeze, a reset of points earned): a release cannot
# re-issue them; the township uses its own clearing, unfreeze or cycle close instead.
NOT_RELEASABLE = frozenset({TxnKind.CLEARING, TxnKind.UNFREEZE, *EARNED_RESET_KINDS})


class PushFacts:
    """``ledger.authority.AuthorityFacts`` for one push, over the central record as it was before it.

    The catalogue's price history and the push's households are read once; what the push itself
    accepts (a redemption a later void in the same push refers to) is remembered as the walk goes.
    """

    def __init__(self, unit: CentralUnit, txns: Sequence[Transaction], known: set[str] | None = None) -> None:
        self.unit = unit
        skus = {line.sku for t in txns for line in t.lines}
        self.prices = unit.item_prices(sorted(skus)) if skus else {}
        # Households are never deleted: once seen, a household id stays known (``known`` lives as long as
        # the server process), so a shop's pushes after its first look up only households new to it.
        self.households = known if known is not None else set()
        if not self.households:  # the first push a server process judges: every household in one read
            self.households.update(unit.household_ids())
        wanted = sorted({t.household_id for t in txns if t.household_id} - self.households)
        if wanted:
            self.households.update(unit.household_states(wanted))
        self.accepted: dict[str, Transaction] = {}
        self.voided_ids: set[str] = set()

    def price_at(self, sku: str, cursor: int) -> int | None:
        price = None
        for seq, points in self.prices.get(sku, ()):
            if seq > cursor:
                break
            price = points
        return price

    def household_known(self, household_id: str) -> bool:
        return household_id in self.households

    def redemption(self, txn_id: str) -> Transaction | None:
        return self.accepted.get(txn_id) or self.unit.ledger.transaction(txn_id)

    def voided(self, txn_id: str) -> bool:
        return txn_id in self.voided_ids or self.unit.ledger.voiding(txn_id) is not None

    def accept(self, txn: Transaction) -> None:
        if txn.kind == TxnKind.REDEEM:
            self.accepted[txn.txn_id] = txn
        elif txn.kind == TxnKind.VOID and txn.ref_txn_id:
            self.voided_ids.add(txn.ref_txn_id)


def verdicts(
    unit: CentralUnit, device: CentralDevice, txns: Sequence[Transaction], known: set[str] | None = None
) -> dict[str, Violation]:
    """The push's new transactions that break the authority rule, by id, judged in chain order.

    ``known`` is a set of household ids known to exist, read and extended (see ``PushFacts``).
    """
    head = unit.device_head(device.device_id)
    last_seq = head[0] if head else 0
    candidates = [t for t in txns if t.seq > last_seq]
    if not candidates:
        return {}
    facts = PushFacts(unit, candidates, known)
    found: dict[str, Violation] = {}
    for txn in candidates:
        violation = check_shop_transaction(txn, device.shop_id, facts)
        if violation is None:
            facts.accept(txn)
        else:
            found[txn.txn_id] = violation
    return found


def link_entry(txn: Transaction) -> LogEntry:
    """What other shops learn of a held transaction: its place in the device's chain, nothing more."""
    payload = {"d": txn.device_id, "q": txn.seq, "x": txn.hash, "s": txn.shop_id}
    return LogEntry("link", f"{txn.device_id}:{txn.seq}", dumps(payload), txn.device_id)


def hold(
    unit: CentralUnit,
    held: Sequence[Transaction],
    found: Mapping[str, Violation],
    wires: Mapping[str, Any],
    when: str,
) -> int:
    """Correct each newly held transaction in its shop, keep what was pushed, raise one exception each."""
    if not held:
        return 0
    township_id = unit.ledger.identity().shop_id
    drafts = [
        TxnDraft(
            txn_id=new_txn_id(),
            kind=TxnKind.CORRECTION,
            created_at=when,
            shop_id=township_id,
            operator=SYSTEM_OPERATOR,
            household_id=txn.household_id,
            memo=f"更正 {txn.receipt_no}：{found[txn.txn_id].message('zh')}"[:500],
            ref_txn_id=txn.txn_id,
            party=txn.shop_id,
        )
        for txn in held
    ]
    corrections = unit.ledger.append_many(drafts)
    log_txns(unit, corrections, unit.ledger.identity().device_id, when)
    for txn, correction in zip(held, corrections, strict=True):
        violation = found[txn.txn_id]
        detail = {
            "receipt_no": txn.receipt_no,
            "kind": str(txn.kind),
            "shop_id": txn.shop_id,
            "device_id": txn.device_id,
            "rule": violation.rule,
            "message": violation.message("zh"),
            "message_en": violation.message("en"),
            "correction": correction.receipt_no,
        }
        wire = wires.get(txn.txn_id)
        content = dict(wire) if isinstance(wire, dict) else txn_to_wire(txn)
        unit.add_held(
            HeldRecord(
                txn_id=txn.txn_id,
                device_id=txn.device_id,
                seq=txn.seq,
                shop_id=txn.shop_id,
                kind=str(txn.kind),
                household_id=txn.household_id,
                rule=violation.rule,
                detail=detail,
                content=content | {"d": txn.device_id},
                correction_txn_id=correction.txn_id,
                status="held",
                created_at=when,
                decided_at=None,
                decided_by=None,
                decision_reason=None,
                release_txn_id=None,
            )
        )
        unit.add_exception("held", txn.household_id, detail, [txn.txn_id, correction.txn_id], when)
    return len(held)


def held_json(record: HeldRecord) -> dict[str, Any]:
    return {
        "txn_id": record.txn_id,
        "receipt_no": record.detail.get("receipt_no"),
        "shop_id": record.shop_id,
        "device_id": record.device_id,
        "kind": record.kind,
        "household_id": record.household_id,
        "rule": record.rule,
        "message": record.detail.get("message"),
        "message_en": record.detail.get("message_en"),
        "correction": record.detail.get("correction"),
        "status": record.status,
        "created_at": record.created_at,
        "decided_at": record.decided_at,
        "decided_by": record.decided_by,
        "decision_reason": record.decision_reason,
        "release_txn_id": record.release_txn_id,
        "content": record.content,
    }


def decide(unit: CentralUnit, txn_id: str, release: bool, by: str, reason: str, when: str) -> HeldRecord:
    """Keep a held transaction held for good, or release it: its points re-issued by the township."""
    by, reason = by.strip(), reason.strip()
    if not by or not reason:
        raise SyncError("invalid", detail="say who decides and why")
    record = unit.held(txn_id)
    if record is None:
        raise SyncError("not_found", what=f"held transaction {txn_id}")
    if record.status != "held":
        raise SyncError("invalid", detail=f"{record.detail.get('receipt_no')} was already decided ({record.status})")
    release_id = None
    if release:
        release_id = _release(unit, record, by, reason, when).txn_id
    unit.decide_held(txn_id, "released" if release else "kept", by, reason, when, release_id)
    verdict = "放行" if release else "维持扣留"
    for exception in unit.open_exceptions_first_naming("held", txn_id):
        unit.resolve_exception(exception.id, f"{verdict}（{by}）：{reason}", when)
    decided = unit.held(txn_id)
    assert decided is not None
    return decided


def _release(unit: CentralUnit, record: HeldRecord, by: str, reason: str, when: str) -> Transaction:
    txn = txn_from_wire(record.content, record.device_id, "")
    if txn.kind in NOT_RELEASABLE:
        raise SyncError(
            "invalid",
            detail=f"a {txn.kind} cannot be released; the township makes its own clearing, unfreeze or cycle close",
        )
    if not txn.postings:
        raise SyncError("invalid", detail=f"{record.detail.get('receipt_no')} moves no points: nothing to release")
    if txn.household_id and unit.ledger.household(txn.household_id) is None:
        raise LedgerError("household_unknown", household_id=txn.household_id)
    released = unit.ledger.append(
        TxnDraft(
            txn_id=new_txn_id(),
            kind=TxnKind.RELEASE,
            created_at=when,
            shop_id=unit.ledger.identity().shop_id,
            operator=SYSTEM_OPERATOR,
            household_id=txn.household_id,
            postings=txn.postings,
            memo=f"放行 {record.detail.get('receipt_no')}（{by}）：{reason}"[:500],
            ref_txn_id=txn.txn_id,
            party=str(txn.kind),
        )
    )
    log_txns(unit, [released], unit.ledger.identity().device_id, when)
    return released
