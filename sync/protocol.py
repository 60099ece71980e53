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
import re
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
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

# ----- declared bounds of everything on the wire --------------------------------------------------------
# Checked before anything is stored: a value the database would refuse (PostgreSQL refuses NUL in text,
# BIGINT stops at 2^63-1, VARCHAR(n) refuses longer text) would otherwise come back as a 5xx, which a
# shop retries for ever. Lengths are the columns' in ``ledger/storage/tables.py``.
MAX_BIGINT = 2**63 - 1
MAX_AMOUNT = 10**12  # points or fen in one posting: far beyond any real one, and sums cannot overflow BIGINT
MAX_QTY = 10**9  # goods in one line, and points each
MAX_MEMO = 256 * 1024  # a stock count's memo lists every item counted; a Text column, bounded by size only
MAX_DEPTH = 32  # nesting of a message; a real one is 5 deep
ID_LEN = 16  # device, shop, household ids
TXN_ID_LEN = 36
TIME_LEN = 32
HASH_LEN = 64
OPERATOR_LEN = 32
PARTY_LEN = 200
ACCOUNT_LEN = 64
UNIT_LEN = 8
SKU_LEN = 32
NAME_LEN = 200
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def bad_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL, a lone surrogate), or None when it can."""
    if "\x00" in value:
        return "NUL character"
    if value.isascii():  # ids, hashes and times: no surrogate possible, and no encoding to try
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "lone surrogate (not Unicode text)"
    return None


def checked_text(value: Any, what: str, limit: int, *, required: bool = False) -> str:
    """``value`` if it is text the database can store, at most ``limit`` characters; else payload_malformed."""
    if type(value) is not str:
        raise SyncError("payload_malformed", detail=f"{what} is not text")
    if len(value) > limit:
        raise SyncError("payload_malformed", detail=f"{what} is longer than {limit} characters")
    if not value:
        if required:
            raise SyncError("payload_malformed", detail=f"{what} is empty")
        return value
    problem = bad_text(value)
    if problem:
        raise SyncError("payload_malformed", detail=f"{what}: {problem}")
    return value


def checked_int(value: Any, what: str, low: int = -MAX_BIGINT, high: int = MAX_BIGINT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SyncError("payload_malformed", detail=f"{what} is not a whole number")
    if not low <= value <= high:
        raise SyncError("payload_malformed", detail=f"{what} is out of range ({low} to {high})")
    return value


def checked_time(value: Any, what: str) -> str:
    text = checked_text(value, what, TIME_LEN, required=True)
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        raise SyncError("payload_malformed", detail=f"{what} is not an ISO time") from exc
    return text


def _depth_ok(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests at most about ``limit`` deep, found without parsing it (``json.loads`` recurses).

    The innermost ``[]`` and ``{}`` pairs are removed, pass after pass, each pass at C speed: text that
    still has brackets after ``limit`` passes nests deeper than that (or does not balance, which
    ``json.loads`` would refuse anyway, after recursing). Brackets inside strings (a memo may hold some)
    are counted at first; only when that says "too deep" are the strings cut out and the count made again,
    as cutting them costs more than the whole count.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    return _peels(raw.translate(None, _NOT_BRACKETS), limit) or _peels(
        _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS), limit
    )


def _peels(brackets: bytes, limit: int) -> bool:
    for _ in range(limit):
        if not brackets:
            return True
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return not brackets


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _walk_texts(message: Any) -> str | None:
    """The first problem of any string (key or value) in a parsed message, without recursion."""
    stack = [message]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = bad_text(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def loads_bounded(raw: bytes) -> Any:
    """``json.loads`` with the depth bounded first and every string storable (no NUL, no lone surrogate).

    Python's ``json`` recurses: a body nested 100,000 deep would end in ``RecursionError`` (a 500).
    NUL and surrogates can only come in as ``\\u`` escapes, so the strings are walked only when the raw
    text holds such an escape.
    """
    if not _depth_ok(raw, MAX_DEPTH):
        raise SyncError("payload_malformed", detail=f"nested more than {MAX_DEPTH} deep")
    try:
        message = json.loads(raw.decode("utf-8"))
    except RecursionError as exc:  # cannot happen after the depth check; kept so it is never a 500
        raise SyncError("payload_malformed", detail="nested too deep") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SyncError("payload_malformed", detail=str(exc)[:200]) from exc
    if _RISKY_ESCAPE.search(raw):
        problem = _walk_texts(message)
        if problem:
            raise SyncError("payload_malformed", detail=problem)
    return message


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
    except zlib.error as exc:
        raise SyncError("payload_malformed", detail=str(exc)[:200]) from exc
    message = loads_bounded(raw)
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


def _text(wire: Message, key: str, limit: int, default: Any = None) -> Any:
    value = wire.get(key, default)
    if value is default:
        return default
    return checked_text(value, f"field {key!r}", limit)


def _posting(p: Any) -> Posting:
    if not isinstance(p, list) or not 2 <= len(p) <= 3:
        raise SyncError("payload_malformed", detail="a posting is [account, amount(, unit)]")
    account = checked_text(p[0], "an account", ACCOUNT_LEN, required=True)
    amount = checked_int(p[1], "an amount", -MAX_AMOUNT, MAX_AMOUNT)
    unit = checked_text(p[2], "a unit", UNIT_LEN, required=True) if len(p) > 2 else "pt"
    return Posting(account, amount, unit)


def _line(ln: Any) -> Line:
    if not isinstance(ln, list) or len(ln) != 3:
        raise SyncError("payload_malformed", detail="a line is [sku, quantity, points each]")
    sku = checked_text(ln[0], "a sku", SKU_LEN, required=True)
    qty = checked_int(ln[1], "a quantity", -MAX_QTY, MAX_QTY)
    return Line(sku, qty, checked_int(ln[2], "points", -MAX_QTY, MAX_QTY))


def txn_from_wire(wire: Any, device_id: str | None, prev_hash: str) -> Transaction:
    """Rebuild a transaction; its hash is checked by the ledger when it is stored (``ingest``)."""
    if not isinstance(wire, dict):
        raise SyncError("payload_malformed", detail="a transaction is not an object")
    device = _text(wire, "d", ID_LEN, device_id)
    if not device:
        raise SyncError("payload_malformed", detail="transaction without a device")
    try:
        kind = TxnKind(_field(wire, "k", str))
    except ValueError as exc:
        raise SyncError("payload_malformed", detail=str(exc)[:200]) from exc
    postings = tuple(_posting(p) for p in _field(wire, "p", list, []))
    lines = tuple(_line(ln) for ln in _field(wire, "l", list, []))
    txn_id = _text(wire, "i", TXN_ID_LEN)
    seq = _field(wire, "q", int)
    created_at = wire.get("t")
    digest = _text(wire, "x", HASH_LEN)
    if not txn_id or seq is None or seq < 1 or not created_at or not digest:
        raise SyncError("payload_malformed", detail="a transaction lacks its id, number, time or hash")
    return Transaction(
        txn_id=txn_id,
        device_id=device,
        seq=checked_int(seq, "field 'q'", 1),
        kind=kind,
        created_at=checked_time(created_at, "field 't'"),
        shop_id=_text(wire, "s", ID_LEN, ""),
        operator=_text(wire, "o", OPERATOR_LEN, ""),
        household_id=_text(wire, "h", ID_LEN, None),
        postings=postings,
        lines=lines,
        memo=_text(wire, "m", MAX_MEMO, ""),
        ref_txn_id=_text(wire, "r", TXN_ID_LEN, None),
        party=_text(wire, "y", PARTY_LEN, None),
        pull_cursor=checked_int(_field(wire, "c", int, 0), "field 'c'", 0),
        prev_hash=checked_text(prev_hash, "prev_hash", HASH_LEN),
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


def _id(data: Message, key: str, limit: int) -> str:
    return checked_text(data[key], key, limit, required=True)


def _name(data: Message, key: str) -> str:
    return checked_text(data[key], key, NAME_LEN)


def master_from_wire(kind: str, data: Any) -> Township | Policy | Village | Shop | Household | PassbookCard | Item:
    """The record of a pulled change of ``kind`` (anything but ``txn``); malformed data is refused."""
    if not isinstance(data, dict):
        raise SyncError("payload_malformed", detail=f"{kind} data is not an object")
    try:
        if kind == "township":
            key = checked_text(data["passbook_key"], "passbook_key", 128)
            return Township(_id(data, "township_id", 32), _name(data, "name"), base64.b64decode(key))
        if kind == "policy":
            names = {f.name for f in dataclasses.fields(Policy)}
            values = {k: v for k, v in data.items() if k in names}
            for name, value in values.items():
                if name == "cycle":
                    checked_text(value, "cycle", 16)
                else:
                    checked_int(value, name, 0, MAX_QTY)
            return Policy(**values)
        if kind == "village":
            return Village(_id(data, "village_id", 32), _name(data, "name"))
        if kind == "shop":
            return Shop(_id(data, "shop_id", ID_LEN), _name(data, "name"), _id(data, "village_id", 32))
        if kind == "household":
            raw_members = data.get("members", [])
            if not isinstance(raw_members, list) or len(raw_members) > 100:
                raise SyncError("payload_malformed", detail="members are a list of at most 100")
            members = tuple(
                Member(checked_text(m[0], "a member", 100), checked_text(m[1], "a relation", 100)) for m in raw_members
            )
            return Household(
                _id(data, "household_id", ID_LEN),
                _id(data, "village_id", 32),
                checked_text(data["head_name"], "head_name", 100),
                _id(data, "home_shop_id", ID_LEN),
                HouseholdStatus.ACTIVE,
                members,
            )
        if kind == "card":
            revoked = data.get("revoked_at")
            return PassbookCard(
                _id(data, "household_id", ID_LEN),
                checked_int(data["card_no"], "card_no", 0, 2**31 - 1),
                bool(data["active"]),
                checked_text(data.get("issued_at", ""), "issued_at", TIME_LEN),
                None if revoked is None else checked_text(revoked, "revoked_at", TIME_LEN),
            )
        if kind == "item":
            barcode = data.get("barcode")
            return Item(
                _id(data, "sku", SKU_LEN),
                _name(data, "name"),
                checked_text(data["unit"], "unit", 16),
                checked_int(data["points"], "points", -(2**31), 2**31 - 1),
                None if barcode is None else checked_text(barcode, "barcode", 64),
                checked_text(data.get("category", ""), "category", 64),
                bool(data.get("active", True)),
            )
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error) as exc:
        raise SyncError("payload_malformed", detail=f"{kind}: {exc}"[:200]) from exc
    raise SyncError("payload_malformed", detail=f"unknown change type {kind!r}")
