"""The sync wire protocol, version 1: the messages shops and the central record exchange.

Every message is one JSON object, UTF-8, compact, gzip-compressed, with ``"v": 1``. Transactions
travel in a compact form (short keys, empty fields left out, the previous hash implied by the chain)
because a village shop may sync over a weak mobile link: the target is under 150 bytes per
transaction on the wire. The same messages go into USB-stick bundles, so an office with no network
applies exactly what a server would have sent. See ``docs/sync.md`` for the whole protocol.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.model import (
    Household,
    HouseholdStatus,
    Item,
    Line,
    Member,
    PassbookCard,
    Policy,
    Posting,
    Shop,
    Township,
    Transaction,
    TxnKind,
    Village,
)
from sync.errors import SyncError

VERSION = 1
MAX_BODY_BYTES = 4 * 1024 * 1024  # compressed request body the server accepts
MAX_JSON_BYTES = 64 * 1024 * 1024  # after decompression: a gzip bomb stops here
MAX_PUSH_TXNS = 1000  # per push request
PULL_PAGE = 1000  # changes per pull page, at most

Message = dict[str, Any]


# ----- envelope ---------------------------------------------------------------------------------


def encode(message: Message) -> bytes:
    """A message as gzip'd compact JSON (the body of every request, reply and bundle part)."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def decode(body: bytes, expect_type: str | None = None, limit: int = MAX_JSON_BYTES) -> Message:
    """Parse a body, refusing anything that is not a version-1 message of the expected type.

    Decompression is bounded, so a small body that inflates to gigabytes is refused, not followed.
    """
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        raw = inflater.decompress(body, limit + 1)
        if len(raw) > limit or inflater.unconsumed_tail:
            raise SyncError("payload_too_large", limit=limit)
        message = json.loads(raw.decode("utf-8"))
    except SyncError:
        raise
    except (zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise SyncError("payload_malformed", detail=str(exc)[:200]) from exc
    if not isinstance(message, dict):
        raise SyncError("payload_malformed", detail="not a JSON object")
    if message.get("v") != VERSION:
        raise SyncError("version_unsupported", version=message.get("v"))
    if expect_type is not None and message.get("type") != expect_type:
        raise SyncError("payload_malformed", detail=f"expected a {expect_type} message")
    return message


# ----- transactions -------------------------------------------------------------------------------


def txn_to_wire(txn: Transaction, with_device: bool = False) -> Message:
    """The compact form. ``prev_hash`` is left out: it is the hash of the device's previous transaction."""
    wire: Message = {"i": txn.txn_id, "q": txn.seq, "k": str(txn.kind), "t": txn.created_at, "x": txn.hash}
    if with_device:
        wire["d"] = txn.device_id
    if txn.shop_id:
        wire["s"] = txn.shop_id
    if txn.operator:
        wire["o"] = txn.operator
    if txn.household_id:
        wire["h"] = txn.household_id
    if txn.postings:
        wire["p"] = [[p.account, p.amount] if p.unit == "pt" else [p.account, p.amount, p.unit] for p in txn.postings]
    if txn.lines:
        wire["l"] = [[ln.sku, ln.qty, ln.points_each] for ln in txn.lines]
    if txn.memo:
        wire["m"] = txn.memo
    if txn.ref_txn_id:
        wire["r"] = txn.ref_txn_id
    if txn.party:
        wire["y"] = txn.party
    if txn.pull_cursor:
        wire["c"] = txn.pull_cursor
    return wire


def _field(wire: Message, key: str, kind: type, default: Any = None) -> Any:
    value = wire.get(key, default)
    if value is default:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SyncError("payload_malformed", detail=f"field {key!r} has the wrong type")
    return value


def txn_from_wire(wire: Any, device_id: str | None, prev_hash: str) -> Transaction:
    """Rebuild a transaction; its hash is checked by the ledger when it is stored (``ingest``)."""
    if not isinstance(wire, dict):
        raise SyncError("payload_malformed", detail="a transaction is not an object")
    device = _field(wire, "d", str, device_id)
    if not device:
        raise SyncError("payload_malformed", detail="transaction without a device")
    try:
        kind = TxnKind(_field(wire, "k", str))
        postings = tuple(
            Posting(str(p[0]), _int(p[1]), str(p[2]) if len(p) > 2 else "pt") for p in _field(wire, "p", list, [])
        )
        lines = tuple(Line(str(ln[0]), _int(ln[1]), _int(ln[2])) for ln in _field(wire, "l", list, []))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise SyncError("payload_malformed", detail=str(exc)[:200]) from exc
    txn_id = _field(wire, "i", str)
    seq = _field(wire, "q", int)
    created_at = _field(wire, "t", str)
    digest = _field(wire, "x", str)
    if not txn_id or seq is None or seq < 1 or not created_at or not digest:
        raise SyncError("payload_malformed", detail="a transaction lacks its id, number, time or hash")
    return Transaction(
        txn_id=txn_id,
        device_id=device,
        seq=seq,
        kind=kind,
        created_at=created_at,
        shop_id=_field(wire, "s", str, ""),
        operator=_field(wire, "o", str, ""),
        household_id=_field(wire, "h", str, None),
        postings=postings,
        lines=lines,
        memo=_field(wire, "m", str, ""),
        ref_txn_id=_field(wire, "r", str, None),
        party=_field(wire, "y", str, None),
        pull_cursor=_field(wire, "c", int, 0),
        prev_hash=prev_hash,
        hash=digest,
    )


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a whole number: {value!r}")
    return value


def chain_from_wire(wires: Sequence[Any], device_id: str, prev_hash: str) -> list[Transaction]:
    """One device's consecutive transactions: each one's previous hash is the hash before it."""
    result = []
    for wire in wires:
        txn = txn_from_wire(wire, device_id, prev_hash)
        result.append(txn)
        prev_hash = txn.hash
    return result


# ----- push -----------------------------------------------------------------------------------------


def push_message(shop_id: str, device_id: str, txns: Sequence[Transaction]) -> Message:
    """Transactions of one device, consecutive, after what the server acknowledged."""
    if not txns:
        return {"v": VERSION, "type": "push", "shop_id": shop_id, "device_id": device_id, "txns": []}
    return {
        "v": VERSION,
        "type": "push",
        "shop_id": shop_id,
        "device_id": device_id,
        "prev_hash": txns[0].prev_hash,
        "txns": [txn_to_wire(t) for t in txns],
    }


def push_txns(message: Message) -> list[Transaction]:
    wires = message.get("txns")
    device = message.get("device_id")
    if not isinstance(wires, list) or not isinstance(device, str) or not device:
        raise SyncError("payload_malformed", detail="a push needs device_id and txns")
    if len(wires) > MAX_PUSH_TXNS:
        raise SyncError("payload_too_large", limit=MAX_PUSH_TXNS)
    if not wires:
        return []
    prev = message.get("prev_hash")
    if not isinstance(prev, str):
        raise SyncError("payload_malformed", detail="a push needs prev_hash")
    return chain_from_wire(wires, device, prev)


# ----- bundles (USB stick) -----------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of a bundle with the device token: a file changed on the way is refused."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


def changes_of(message: Message) -> Iterable[Message]:
    changes = message.get("changes")
    if not isinstance(changes, list):
        raise SyncError("payload_malformed", detail="a pull reply needs changes")
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("seq"), int) or "type" not in change:
            raise SyncError("payload_malformed", detail="a change needs seq and type")
        yield change


# ----- master data in pull changes ------------------------------------------------------------------------
# Each change is {"seq": N, "type": T, "data": ...}; ``data`` for each type is made and read here, so the
# server and the client cannot disagree about a field. Household status is not master data: it follows from
# clearing and unfreeze transactions.


def master_to_wire(record: Township | Policy | Village | Shop | Household | PassbookCard | Item) -> tuple[str, Message]:
    """(type, data) of a master record for the change log."""
    if isinstance(record, Township):
        key = base64.b64encode(record.passbook_key).decode("ascii")
        return "township", {"township_id": record.township_id, "name": record.name, "passbook_key": key}
    if isinstance(record, Policy):
        return "policy", {f.name: getattr(record, f.name) for f in dataclasses.fields(Policy)}
    if isinstance(record, Village):
        return "village", {"village_id": record.village_id, "name": record.name}
    if isinstance(record, Shop):
        return "shop", {"shop_id": record.shop_id, "name": record.name, "village_id": record.village_id}
    if isinstance(record, Household):
        return "household", {
            "household_id": record.household_id,
            "village_id": record.village_id,
            "head_name": record.head_name,
            "home_shop_id": record.home_shop_id,
            "members": [[m.name, m.relation] for m in record.members],
        }
    if isinstance(record, PassbookCard):
        return "card", {
            "household_id": record.household_id,
            "card_no": record.card_no,
            "active": record.active,
            "issued_at": record.issued_at,
            "revoked_at": record.revoked_at,
        }
    return "item", {
        "sku": record.sku,
        "name": record.name,
        "unit": record.unit,
        "points": record.points,
        "barcode": record.barcode,
        "category": record.category,
        "active": record.active,
    }


def master_from_wire(kind: str, data: Any) -> Township | Policy | Village | Shop | Household | PassbookCard | Item:
    """The record of a pulled change of ``kind`` (anything but ``txn``); malformed data is refused."""
    if not isinstance(data, dict):
        raise SyncError("payload_malformed", detail=f"{kind} data is not an object")
    try:
        if kind == "township":
            return Township(str(data["township_id"]), str(data["name"]), base64.b64decode(data["passbook_key"]))
        if kind == "policy":
            names = {f.name for f in dataclasses.fields(Policy)}
            return Policy(**{k: v for k, v in data.items() if k in names})
        if kind == "village":
            return Village(str(data["village_id"]), str(data["name"]))
        if kind == "shop":
            return Shop(str(data["shop_id"]), str(data["name"]), str(data["village_id"]))
        if kind == "household":
            members = tuple(Member(str(m[0]), str(m[1])) for m in data.get("members", []))
            return Household(
                str(data["household_id"]),
                str(data["village_id"]),
                str(data["head_name"]),
                str(data["home_shop_id"]),
                HouseholdStatus.ACTIVE,
                members,
            )
        if kind == "card":
            return PassbookCard(
                str(data["household_id"]),
                _int(data["card_no"]),
                bool(data["active"]),
                str(data.get("issued_at", "")),
                data.get("revoked_at"),
            )
        if kind == "item":
            return Item(
                str(data["sku"]),
                str(data["name"]),
                str(data["unit"]),
                _int(data["points"]),
                data.get("barcode"),
                str(data.get("category", "")),
                bool(data.get("active", True)),
            )
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error) as exc:
        raise SyncError("payload_malformed", detail=f"{kind}: {exc}"[:200]) from exc
    raise SyncError("payload_malformed", detail=f"unknown change type {kind!r}")
