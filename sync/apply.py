"""Applying pulled changes to a shop ledger: one page and its cursor in one local transaction.

A page from ``GET /v1/pull`` (or from a reply bundle off a USB stick) is applied whole or not at all,
together with the new ``pull_cursor``: a crash in the middle leaves the shop where it was, and the next
pull asks for the same page again. Changes at or below the cursor the ledger already holds are skipped,
so a page applied twice, a bundle imported twice, or two processes pulling at once change nothing twice.

Master data goes in with the ``put_*`` methods; transactions of other devices (the township's awards,
other shops' redemptions) with ``ingest(create_devices=True)``, which checks each device's sequence and
hash chain and stores each transaction exactly once.

The changes come validated (``protocol.PullReply``, which ``sync.client.read_page`` checks a page against):
here they are only turned into records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.model import (
    GENESIS_HASH,
    Household,
    Item,
    PassbookCard,
    Policy,
    Shop,
    Township,
    Transaction,
    TxnKind,
    Village,
)
from ledger.ports import LedgerStore, LedgerUnit
from sync.errors import SyncError
from sync.protocol import Change, LinkWire, TxnWire, master_of, txn_of

CURSOR_KEY = "pull_cursor"


@dataclass(frozen=True)
class Applied:
    """What one page did: changes newer than the ledger's cursor, the transactions among them, the new cursor."""

    changes: int
    txns: int
    cursor: int
    corrected: int = 0  # this shop's transactions the township held, now corrected here (docs/sync.md "Authority")


def pull_cursor(unit: LedgerUnit) -> int:
    return int(unit.meta(CURSOR_KEY) or 0)


def apply_page(store: LedgerStore, changes: Sequence[Change], next_cursor: int) -> Applied:
    """Apply ``changes`` (in ``seq`` order) and move the cursor to ``next_cursor``, in one write unit."""
    with store.write() as unit:
        return apply_in(unit, changes, next_cursor)


def apply_in(unit: LedgerUnit, changes: Sequence[Change], next_cursor: int) -> Applied:
    """The same inside a unit the caller holds (provisioning sets up the shop in the same unit)."""
    current = pull_cursor(unit)
    pending: list[Transaction] = []
    # Hash of the newest transaction seen per device in this page: the next one's previous hash. The
    # wire leaves ``prev_hash`` out (it is implied by the chain), so it is looked up once per device.
    heads: dict[str, tuple[int, str]] = {}
    applied = stored = 0
    # Runs of households and cards (a register of thousands comes as household, card, household, ...)
    # are stored together, households first: a card's household is always earlier in the log.
    households: list[Household] = []
    cards: list[PassbookCard] = []
    shop_id = unit.identity().shop_id if unit.meta("shop_id") else ""
    corrected = 0

    def flush() -> int:
        nonlocal corrected
        if households or cards:
            unit.replicate_households(households)
            unit.replicate_cards(cards)
            households.clear()
            cards.clear()
        if not pending:
            return 0
        fresh = unit.ingest(pending, create_devices=True)
        pending.clear()
        corrected += sum(1 for t in fresh if t.kind == TxnKind.CORRECTION and t.party == shop_id)
        return len(fresh)

    for change in changes:
        seq = change["seq"]
        if seq <= current:
            continue  # already applied by an earlier pull, bundle or process
        applied += 1
        if change["type"] == "link":
            stored += flush()
            _link(unit, change["data"], heads)
            continue
        if change["type"] == "txn":
            txn = _transaction(unit, change["data"], heads)
            if households or cards:
                stored += flush()
            pending.append(txn)
            continue
        record = master_of(change["type"], change["data"])
        if isinstance(record, Household | PassbookCard):
            stored += flush() if pending else 0
            if isinstance(record, Household):
                households.append(record)
            else:
                cards.append(record)
            continue
        stored += flush()
        _put_master(unit, record)
    stored += flush()
    cursor = max(current, next_cursor)
    if cursor != current:
        unit.set_meta(CURSOR_KEY, str(cursor))
    return Applied(applied, stored, cursor, corrected)


def _transaction(unit: LedgerUnit, data: TxnWire, heads: dict[str, tuple[int, str]]) -> Transaction:
    device = data.get("d")
    if not device:
        raise SyncError("payload_malformed", detail="a pulled transaction needs its device")
    prev_hash = _previous_hash(unit, device, data["q"], heads)
    txn = txn_of(data, device, prev_hash)
    heads[device] = (txn.seq, txn.hash)
    return txn


def _link(unit: LedgerUnit, data: LinkWire, heads: dict[str, tuple[int, str]]) -> None:
    """A transaction of another device that the township held: only its place in that device's chain.

    The device's next transactions chain onto it; it has no effect here (docs/sync.md "Authority").
    """
    device, seq, digest = data["d"], data["q"], data["x"]
    unit.put_chain_link(device, data.get("s", ""), seq, digest)
    heads[device] = (seq, digest)


def _previous_hash(unit: LedgerUnit, device: str, seq: int, heads: dict[str, tuple[int, str]]) -> str:
    """The hash of ``device``'s transaction ``seq - 1``; a guess the ledger then refuses if there is a gap.

    When the previous transaction is missing, the genesis hash goes in and ``ingest`` refuses the
    transaction as a gap (it checks the number before the chain), which is the honest error.
    """
    if seq <= 1:
        return GENESIS_HASH
    known = heads.get(device)
    if known is not None and known[0] == seq - 1:
        return known[1]
    previous = unit.hash_at(device, seq - 1)  # a transaction, or the link of a held one
    return previous if previous is not None else GENESIS_HASH


def _put_master(unit: LedgerUnit, record: Township | Policy | Village | Shop | Item) -> None:
    """One master record; households and cards go in runs (``replicate_households``, ``replicate_cards``)."""
    if isinstance(record, Township):
        unit.put_township(record)
    elif isinstance(record, Policy):
        unit.put_policy(record)
    elif isinstance(record, Village):
        unit.put_village(record)
    elif isinstance(record, Shop):
        unit.put_shop(record)
    else:
        unit.put_item(record)
