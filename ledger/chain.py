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
from typing import Any

from ledger.model import TxnContent


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
