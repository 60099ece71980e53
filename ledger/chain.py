"""Canonical form and hash chain of transactions.

Each device's transactions form a chain: ``hash = sha256(prev_hash || canonical_json(txn))``. The
receipt prints the first 8 hex digits, so a villager's paper receipt can later prove that the
ledger was not rewritten. The canonical form covers every field that carries meaning (postings,
lines, who, when, why) and nothing storage-specific, so the server and the shop compute the same
hash from the same facts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ledger.errors import LedgerError
from ledger.model import GENESIS_HASH, Transaction, TxnContent


def canonical_dict(
    draft: TxnContent,
    device_id: str,
    seq: int,
) -> dict[str, Any]:
    return {
        "v": 1,
        "id": draft.txn_id,
        "device": device_id,
        "seq": seq,
        "kind": str(draft.kind),
        "at": draft.created_at,
        "shop": draft.shop_id,
        "op": draft.operator,
        "hh": draft.household_id,
        "post": [[p.account, p.unit, p.amount] for p in draft.postings],
        "lines": [[ln.sku, ln.qty, ln.points_each] for ln in draft.lines],
        "memo": draft.memo,
        "ref": draft.ref_txn_id,
        "party": draft.party,
        "cursor": draft.pull_cursor,
    }


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(draft: TxnContent, device_id: str, seq: int) -> bytes:
    return _ENCODER.encode(canonical_dict(draft, device_id, seq)).encode("utf-8")


def chain_hash(prev_hash: str, draft: TxnContent, device_id: str, seq: int) -> str:
    h = hashlib.sha256(prev_hash.encode("ascii"))
    h.update(canonical_json(draft, device_id, seq))
    return h.hexdigest()


def new_in_chain(
    txns: Sequence[Transaction],
    known: dict[str, str],
    heads: dict[str, tuple[int, str]],
    content_ok: Sequence[bool] | None = None,
    create_devices: bool = False,
) -> tuple[list[Transaction], list[Transaction]]:
    """Which of ``txns`` (other devices' transactions, in their order) are new, and may be stored.

    The one rule by which a ledger accepts what another device made (a shop pulling, the central record
    receiving a push): a transaction already held with the same hash is a resend and is skipped; the same
    id with other content (``sync_id_reused``), a number already taken (``sync_fork``), a gap, a broken
    chain or content that does not match its hash is refused, and the caller stores nothing. ``known``
    maps ids already stored (or held) to their hashes and ``heads`` each device's last (seq, hash); both
    move on as the walk accepts transactions. ``content_ok[i]`` says whether ``txns[i]`` matches its hash
    when the caller has hashed them already. Returns the new transactions and, when ``create_devices``
    allows devices not seen before, the first transaction of each such device (storage registers them).
    """
    if content_ok is not None and len(content_ok) != len(txns):
        raise ValueError("content_ok must say something of every transaction")

    def content_matches(position: int, txn: Transaction) -> bool:
        if content_ok is not None:
            return content_ok[position]
        return chain_hash(txn.prev_hash, txn, txn.device_id, txn.seq) == txn.hash

    fresh: list[Transaction] = []
    new_devices: list[Transaction] = []
    for position, txn in enumerate(txns):
        if txn.txn_id in known:
            # The content is compared, not just the id: a resend must be the very same transaction.
            if not (known[txn.txn_id] == txn.hash and content_matches(position, txn)):
                raise LedgerError("sync_id_reused", txn_id=txn.txn_id, receipt_no=txn.receipt_no)
            continue
        if txn.device_id not in heads:
            if not create_devices:
                raise LedgerError("sync_unknown_device", device_id=txn.device_id)
            new_devices.append(txn)
            heads[txn.device_id] = (0, GENESIS_HASH)
        last_seq, last_hash = heads[txn.device_id]
        if txn.seq <= last_seq:
            raise LedgerError("sync_fork", receipt_no=txn.receipt_no)
        if txn.seq != last_seq + 1:
            raise LedgerError("sync_gap", device_id=txn.device_id, expected=last_seq + 1, got=txn.seq)
        if txn.prev_hash != last_hash:
            raise LedgerError("sync_chain_break", receipt_no=txn.receipt_no)
        if not content_matches(position, txn):
            raise LedgerError("sync_hash_mismatch", receipt_no=txn.receipt_no)
        heads[txn.device_id] = (txn.seq, txn.hash)
        known[txn.txn_id] = txn.hash
        fresh.append(txn)
    return fresh, new_devices
