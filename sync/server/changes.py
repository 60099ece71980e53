"""Change-log entries: what a pull hands to the shops, made here so every writer makes them the same way.

A ``txn`` entry carries the compact transaction with its device (``txn_to_wire(t, with_device=True)``);
a master entry carries the record's whole new state (``master_to_wire``). The JSON text is stored as it
will be sent, so a pull page is assembled from stored text without parsing it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ledger.model import Household, Item, PassbookCard, Policy, Shop, Township, Transaction, Village
from ledger.storage.central import CentralUnit, LogEntry
from sync.protocol import master_to_wire, txn_to_wire

MasterRecord = Township | Policy | Village | Shop | Household | PassbookCard | Item


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def txn_entry(txn: Transaction, origin_device: str) -> LogEntry:
    return LogEntry("txn", txn.txn_id, dumps(txn_to_wire(txn, with_device=True)), origin_device)


def master_key(record: MasterRecord) -> str:
    if isinstance(record, Township):
        return record.township_id
    if isinstance(record, Policy):
        return str(record.version)
    if isinstance(record, Village):
        return record.village_id
    if isinstance(record, Shop):
        return record.shop_id
    if isinstance(record, Household):
        return record.household_id
    if isinstance(record, PassbookCard):
        return f"{record.household_id}:{record.card_no}"
    return record.sku


def master_entry(record: MasterRecord) -> LogEntry:
    kind, data = master_to_wire(record)
    return LogEntry(kind, master_key(record), dumps(data))


def log_txns(unit: CentralUnit, txns: Iterable[Transaction], origin_device: str, when: str) -> None:
    """Send transactions the central record made itself to the shops, and count them in the running figures
    (every such transaction passes here; pushed ones are counted as they are ingested)."""
    made = list(txns)
    unit.log([txn_entry(t, origin_device) for t in made], when)
    unit.count_figures(made)


def log_masters(unit: CentralUnit, records: Iterable[MasterRecord], when: str) -> None:
    unit.log([master_entry(r) for r in records], when)
