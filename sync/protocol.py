"""The sync wire protocol, version 1: the messages shops and the central record exchange.

Every message is one JSON object, UTF-8, compact, gzip-compressed, with ``"v": 1``. Transactions
travel in a compact form (short keys, empty fields left out, the previous hash implied by the chain)
because a village shop may sync over a weak mobile link: the target is under 150 bytes per
transaction on the wire. The same messages go into USB-stick bundles, so an office with no network
applies exactly what a server would have sent. See ``docs/sync.md`` for the whole protocol.

The messages are typed models (pydantic) with the declared bounds on them: the server validates what it
is sent with them (and shows them in its OpenAPI), the shop validates the server's replies and USB-stick
files with the same models. A message still travels as compact JSON made from plain dicts (``encode``),
so the bytes on the wire, and bundles written by older versions, are what they always were.

Transactions and pulled changes are ``TypedDict`` models: pydantic checks each one's types and bounds in
its Rust core and hands back the same plain dict, which the change log stores as it came (no model object
per transaction to build and throw away). Measured on a push of 1,000 redemptions: about 3.4 µs a
transaction to validate against 4 µs for the hand-written checks it replaced, then the same few µs to
build the ``Transaction``.
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
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal, NotRequired, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from typing_extensions import TypedDict  # pydantic needs this one's TypedDict before Python 3.12

from ledger.board import VillageBoard, board_of
from ledger.model import (
    POINTS,
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

VERSION: Final = 1
MAX_BODY_BYTES = 4 * 1024 * 1024  # compressed request body the server accepts
MAX_JSON_BYTES = 64 * 1024 * 1024  # after decompression: a gzip bomb stops here
MAX_PUSH_TXNS = 1000  # per push request
PULL_PAGE = 1000  # changes per pull page, at most

Message = dict[str, Any]  # a message as it is encoded: plain JSON values

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


# ----- bounded values -------------------------------------------------------------------------------------
# Every string is strict text (a number is not a string) of at most its column's length, storable (no NUL, no
# lone surrogate); every number a strict whole number (not true, not 1.0) within its column's range.


def _iso_time(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO time") from None
    return value


_STRICT = Strict()
# Storable text, checked by pydantic-core itself: strict ``str`` already refuses a lone surrogate
# (``string_unicode``) and this pattern a NUL. A Python validator per string cost a tenth of a push's parsing.
_STORABLE = StringConstraints(pattern=r"^[^\x00]*$")
_TEXT_PROBLEMS = {"string_pattern_mismatch": "NUL character", "string_unicode": "lone surrogate (not Unicode text)"}


def _length(limit: int, at_least: int = 0) -> StringConstraints:
    return StringConstraints(min_length=at_least, max_length=limit)


TxnIdText = Annotated[str, _STRICT, _length(TXN_ID_LEN, 1), _STORABLE]
RefText = Annotated[str, _STRICT, _length(TXN_ID_LEN), _STORABLE]
DeviceId = Annotated[str, _STRICT, _length(ID_LEN, 1), _STORABLE]  # also a required shop or household id
ShortId = Annotated[str, _STRICT, _length(ID_LEN), _STORABLE]  # a shop or household id that may be empty
PlaceId = Annotated[str, _STRICT, _length(32, 1), _STORABLE]  # township and village ids
OperatorText = Annotated[str, _STRICT, _length(OPERATOR_LEN), _STORABLE]
AccountText = Annotated[str, _STRICT, _length(ACCOUNT_LEN, 1), _STORABLE]
UnitText = Annotated[str, _STRICT, _length(UNIT_LEN, 1), _STORABLE]
SkuText = Annotated[str, _STRICT, _length(SKU_LEN, 1), _STORABLE]
PartyText = Annotated[str, _STRICT, _length(PARTY_LEN), _STORABLE]
HashText = Annotated[str, _STRICT, _length(HASH_LEN, 1), _STORABLE]
FullHash = Annotated[str, _STRICT, _length(HASH_LEN, HASH_LEN), _STORABLE]
MemoText = Annotated[str, _STRICT, _length(MAX_MEMO), _STORABLE]
NameText = Annotated[str, _STRICT, _length(NAME_LEN), _STORABLE]
PersonText = Annotated[str, _STRICT, _length(100), _STORABLE]  # a head of household, a member, a relation
TimeText = Annotated[str, _STRICT, _length(TIME_LEN, 1), _STORABLE, AfterValidator(_iso_time)]
OptionalTime = Annotated[str, _STRICT, _length(TIME_LEN), _STORABLE]  # a card's times ("" when unknown)
ShortText = Annotated[str, _STRICT, _length(16), _STORABLE]  # an item's unit, a policy's cycle
LabelText = Annotated[str, _STRICT, _length(64), _STORABLE]  # a barcode, a category
Seq = Annotated[int, _STRICT, Field(ge=1, le=MAX_BIGINT)]
Cursor = Annotated[int, _STRICT, Field(ge=0, le=MAX_BIGINT)]
Amount = Annotated[int, _STRICT, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Quantity = Annotated[int, _STRICT, Field(ge=-MAX_QTY, le=MAX_QTY)]
Setting = Annotated[int, _STRICT, Field(ge=0, le=MAX_QTY)]  # a policy's numbers
Int32 = Annotated[int, _STRICT, Field(ge=-(2**31), le=2**31 - 1)]
Count = Annotated[int, _STRICT, Field(ge=0, le=MAX_BIGINT)]


def _malformed(error: ValidationError, what: str) -> SyncError:
    """A validation failure as the protocol's 400: where and what, never the value (it may be huge or hostile)."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    problem = _TEXT_PROBLEMS.get(first["type"], first["msg"])
    return SyncError("payload_malformed", detail=f"{what}: {where}: {problem}"[:200])


_Model = TypeVar("_Model", bound=BaseModel)


def validated(model: type[_Model], data: Any, what: str) -> _Model:
    """``data`` as ``model``, or ``payload_malformed`` naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _malformed(error, what) from None


# ----- transactions -------------------------------------------------------------------------------


class TxnWire(TypedDict):
    """A transaction in the compact form: short keys, empty fields left out, the previous hash implied.

    ``i`` id, ``q`` sequence number, ``k`` kind, ``t`` time, ``x`` hash, ``d`` device (in pulled changes),
    ``s`` shop, ``o`` operator, ``h`` household, ``p`` postings ``[account, amount(, unit)]`` (unit POINTS left
    out), ``l`` lines ``[sku, quantity, points each]``, ``m`` memo, ``r`` the transaction it refers to,
    ``y`` party, ``c`` the pull cursor the shop had.
    """

    i: TxnIdText
    q: Seq
    k: TxnKind
    t: TimeText
    x: HashText
    d: NotRequired[DeviceId]
    s: NotRequired[ShortId]
    o: NotRequired[OperatorText]
    h: NotRequired[ShortId]
    p: NotRequired[list[tuple[AccountText, Amount] | tuple[AccountText, Amount, UnitText]]]
    l: NotRequired[list[tuple[SkuText, Quantity, Quantity]]]  # noqa: E741 - the wire's key
    m: NotRequired[MemoText]
    r: NotRequired[RefText]
    y: NotRequired[PartyText]
    c: NotRequired[Cursor]


TXN_WIRE: TypeAdapter[TxnWire] = TypeAdapter(TxnWire)


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
        wire["p"] = [[p.account, p.amount] if p.unit == POINTS else [p.account, p.amount, p.unit] for p in txn.postings]
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


def txn_of(wire: TxnWire, device_id: str | None, prev_hash: str) -> Transaction:
    """The transaction of a wire form already validated (``TxnWire``); its hash is checked when it is stored."""
    device = wire.get("d", device_id)
    if not device:
        raise SyncError("payload_malformed", detail="transaction without a device")
    return Transaction(
        txn_id=wire["i"],
        device_id=device,
        seq=wire["q"],
        kind=TxnKind(wire["k"]),
        created_at=wire["t"],
        shop_id=wire.get("s", ""),
        operator=wire.get("o", ""),
        household_id=wire.get("h"),
        postings=tuple(Posting(p[0], p[1], p[2] if len(p) > 2 else POINTS) for p in wire.get("p", ())),
        lines=tuple(Line(ln[0], ln[1], ln[2]) for ln in wire.get("l", ())),
        memo=wire.get("m", ""),
        ref_txn_id=wire.get("r"),
        party=wire.get("y"),
        pull_cursor=wire.get("c", 0),
        prev_hash=prev_hash,
        hash=wire["x"],
    )


def txn_from_wire(wire: Any, device_id: str | None, prev_hash: str) -> Transaction:
    """Validate one wire form and rebuild its transaction (a held transaction's stored form, a test's)."""
    try:
        checked = TXN_WIRE.validate_python(wire)
    except ValidationError as error:
        raise _malformed(error, "a transaction") from None
    return txn_of(checked, device_id, prev_hash)


def chain_of(wires: Sequence[TxnWire], device_id: str, prev_hash: str) -> list[Transaction]:
    """One device's consecutive transactions: each one's previous hash is the hash before it."""
    result = []
    for wire in wires:
        txn = txn_of(wire, device_id, prev_hash)
        result.append(txn)
        prev_hash = txn.hash
    return result


# ----- push -----------------------------------------------------------------------------------------


class PushRequest(BaseModel):
    """``POST /v1/push``: one device's consecutive transactions after what the server acknowledged.

    Sent gzip'd (``Content-Encoding: gzip``); ``prev_hash`` is the hash before the first transaction.
    """

    # ``decode(body, "push")`` requires both on the wire; a bundle's push part is read without them.
    v: Literal[1] = VERSION
    type: Literal["push"] = "push"
    shop_id: ShortId | None = None
    device_id: DeviceId
    prev_hash: HashText | None = None
    txns: list[TxnWire] = Field(max_length=MAX_PUSH_TXNS)

    @model_validator(mode="after")
    def _chained(self) -> PushRequest:
        if self.txns and self.prev_hash is None:
            raise ValueError("a push with transactions needs prev_hash")
        return self

    def transactions(self) -> list[Transaction]:
        return chain_of(self.txns, self.device_id, self.prev_hash or "")


class PushReply(BaseModel):
    """The answer to a push: how far this device is now stored, and how many exceptions the push raised."""

    v: Literal[1] = VERSION
    acked_through: Cursor
    exceptions: Count = 0


class OwnReply(BaseModel):
    """``GET /v1/own?after=N``: this device's own transactions the township holds after ``N``, in order.

    For a shop PC whose ledger was restored from a backup older than what the township acknowledged: it takes
    its own missing transactions back (``SyncClient.recover_own``) instead of numbering new ones again.
    """

    v: Literal[1] = VERSION
    txns: list[TxnWire] = Field(max_length=MAX_PUSH_TXNS)
    more: Annotated[bool, _STRICT] = False


def push_message(shop_id: str, device_id: str, txns: Sequence[Transaction]) -> Message:
    """Transactions of one device, consecutive, after what the server acknowledged (a ``PushRequest``)."""
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


def push_request(message: Message | PushRequest) -> PushRequest:
    """A decoded push as its model; more than ``MAX_PUSH_TXNS`` transactions is 413, as a body too large."""
    if isinstance(message, PushRequest):
        return message
    wires = message.get("txns")
    if isinstance(wires, list) and len(wires) > MAX_PUSH_TXNS:
        raise SyncError("payload_too_large", limit=MAX_PUSH_TXNS)
    return validated(PushRequest, message, "push")


def push_txns(message: Message) -> list[Transaction]:
    return push_request(message).transactions()


# ----- enrolment, status, health, errors ----------------------------------------------------------------------


class EnrolRequest(BaseModel):
    """``POST /v1/enrol``: a one-use enrolment token (plain JSON or gzip'd)."""

    v: Literal[1] = VERSION
    token: Annotated[str, _STRICT, _length(256, 1), _STORABLE]


class EnrolReply(BaseModel):
    """This PC's device id and token; ``bundle_key`` signs its USB-stick bundles (sent once, here)."""

    v: Literal[1] = VERSION
    shop_id: DeviceId
    device_id: DeviceId
    device_token: Annotated[str, _STRICT, _length(256, 1)]
    bundle_key: str = ""  # "" from a server older than issue 11: the key is then derived from the token
    server_time: str = ""


class StatusReply(BaseModel):
    """``GET /v1/status``: what the central record holds of this device (after a lost reply, say)."""

    v: Literal[1] = VERSION
    shop_id: str = ""
    device_id: str = ""
    acked_through: Cursor
    server_time: str = ""
    cursor: Cursor = 0


class HealthReply(BaseModel):
    ok: bool
    configured: bool
    server_time: str


class ErrorBody(BaseModel):
    """A refusal: a stable ``code`` and a ``message`` for people (Chinese unless ``?lang=en``)."""

    code: str
    message: str = ""
    detail: str | None = None  # a refused push: the ledger's code
    params: dict[str, str | int] | None = None  # a ledger refusal's parameters (the kiosk raises it again)
    problems: list[str] | None = None  # an import: one line per bad row


class ErrorEnvelope(BaseModel):
    """Every refusal of the server: ``{"error": {"code", "message", ...}}`` with the status of ``sync.errors``."""

    error: ErrorBody


# ----- pull: changes in the township's order -------------------------------------------------------------------
# Each change is {"seq": N, "type": T, "data": ...}; ``data`` for each type is made and read here, so the
# server and the client cannot disagree about a field. Household status is not master data: it follows from
# clearing and unfreeze transactions.


class LinkWire(TypedDict):
    """The place of a transaction the township held: device, number, hash and shop, no content."""

    d: DeviceId
    q: Seq
    x: FullHash
    s: NotRequired[ShortId]


class TownshipWire(TypedDict):
    township_id: PlaceId
    name: NameText
    passbook_key: Annotated[str, _STRICT, _length(128), _STORABLE]  # base64


class PolicyWire(TypedDict, total=False):
    """The fields of ``ledger.model.Policy`` (a missing one keeps its default)."""

    version: Setting
    base_points: Setting
    redeemable_floor: Setting
    cycle: ShortText
    fen_per_point: Setting
    visitor_limit: Setting
    max_offline_days: Setting
    max_quantity: Setting
    max_points_per_award: Setting


class VillageWire(TypedDict):
    village_id: PlaceId
    name: NameText


class ShopWire(TypedDict):
    shop_id: DeviceId
    name: NameText
    village_id: PlaceId


class HouseholdWire(TypedDict):
    household_id: DeviceId
    village_id: PlaceId
    head_name: PersonText
    home_shop_id: DeviceId
    members: NotRequired[Annotated[list[tuple[PersonText, PersonText]], Field(max_length=100)]]
    # Left out when empty, so an older shop reads a newer township's households unchanged.
    village_group: NotRequired[Annotated[str, _STRICT, _length(32), _STORABLE]]
    house_no: NotRequired[Annotated[str, _STRICT, _length(32), _STORABLE]]
    phone: NotRequired[Annotated[str, _STRICT, _length(20), _STORABLE]]


class CardWire(TypedDict):
    household_id: DeviceId
    card_no: Annotated[int, _STRICT, Field(ge=0, le=2**31 - 1)]
    active: Annotated[bool, _STRICT]
    issued_at: NotRequired[OptionalTime]
    revoked_at: NotRequired[OptionalTime | None]


class ItemWire(TypedDict):
    sku: SkuText
    name: NameText
    unit: ShortText
    points: Int32
    barcode: NotRequired[LabelText | None]
    category: NotRequired[LabelText]
    active: NotRequired[Annotated[bool, _STRICT]]


class TxnChange(TypedDict):
    seq: Seq
    type: Literal["txn"]
    data: TxnWire


class LinkChange(TypedDict):
    seq: Seq
    type: Literal["link"]
    data: LinkWire


class TownshipChange(TypedDict):
    seq: Seq
    type: Literal["township"]
    data: TownshipWire


class PolicyChange(TypedDict):
    seq: Seq
    type: Literal["policy"]
    data: PolicyWire


class VillageChange(TypedDict):
    seq: Seq
    type: Literal["village"]
    data: VillageWire


class ShopChange(TypedDict):
    seq: Seq
    type: Literal["shop"]
    data: ShopWire


class HouseholdChange(TypedDict):
    seq: Seq
    type: Literal["household"]
    data: HouseholdWire


class CardChange(TypedDict):
    seq: Seq
    type: Literal["card"]
    data: CardWire


class ItemChange(TypedDict):
    seq: Seq
    type: Literal["item"]
    data: ItemWire


Change = Annotated[
    TxnChange
    | LinkChange
    | TownshipChange
    | PolicyChange
    | VillageChange
    | ShopChange
    | HouseholdChange
    | CardChange
    | ItemChange,
    Field(discriminator="type"),
]
MasterRecord = Township | Policy | Village | Shop | Household | PassbookCard | Item
_MASTER_WIRES: dict[str, TypeAdapter[Any]] = {
    "township": TypeAdapter(TownshipWire),
    "policy": TypeAdapter(PolicyWire),
    "village": TypeAdapter(VillageWire),
    "shop": TypeAdapter(ShopWire),
    "household": TypeAdapter(HouseholdWire),
    "card": TypeAdapter(CardWire),
    "item": TypeAdapter(ItemWire),
}
MASTER_TYPES = frozenset(_MASTER_WIRES)


class PullReply(BaseModel):
    """``GET /v1/pull``: changes after the cursor in ``seq`` order, the next cursor, whether there are more.

    Also the ``pull`` part of a reply bundle (``after`` = the cursor the shop's bundle had).
    """

    v: Literal[1] = VERSION
    type: Literal["pull", "bundle_reply"] | None = None
    changes: list[Change]
    next: Cursor
    more: Annotated[bool, _STRICT] = False
    after: Cursor | None = None

    @model_validator(mode="after")
    def _in_order(self) -> PullReply:
        previous = -1
        for change in self.changes:
            if change["seq"] <= previous:
                raise ValueError("changes out of order")
            previous = change["seq"]
        if self.changes and self.next < previous:
            raise ValueError("the cursor is behind the changes sent")
        return self


def master_to_wire(record: MasterRecord) -> tuple[str, Message]:
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
        wire: dict[str, Any] = {
            "household_id": record.household_id,
            "village_id": record.village_id,
            "head_name": record.head_name,
            "home_shop_id": record.home_shop_id,
            "members": [[m.name, m.relation] for m in record.members],
        }
        if record.village_group:
            wire["village_group"] = record.village_group
        if record.house_no:
            wire["house_no"] = record.house_no
        if record.phone:
            wire["phone"] = record.phone
        return "household", wire
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


def master_of(kind: str, data: Any) -> MasterRecord:
    """The record of a pulled change of ``kind`` whose data is already validated (a ``PullReply``'s)."""
    if kind == "township":
        try:
            key = base64.b64decode(data["passbook_key"])
        except (binascii.Error, ValueError) as exc:
            raise SyncError("payload_malformed", detail=f"township: passbook_key: {exc}"[:200]) from None
        return Township(data["township_id"], data["name"], key)
    if kind == "policy":
        return Policy(**data)
    if kind == "village":
        return Village(data["village_id"], data["name"])
    if kind == "shop":
        return Shop(data["shop_id"], data["name"], data["village_id"])
    if kind == "household":
        members = tuple(Member(name, relation) for name, relation in data.get("members", ()))
        return Household(
            data["household_id"],
            data["village_id"],
            data["head_name"],
            data["home_shop_id"],
            HouseholdStatus.ACTIVE,
            members,
            data.get("village_group", ""),
            data.get("house_no", ""),
            data.get("phone", ""),
        )
    if kind == "card":
        return PassbookCard(
            data["household_id"], data["card_no"], data["active"], data.get("issued_at", ""), data.get("revoked_at")
        )
    if kind == "item":
        return Item(
            data["sku"],
            data["name"],
            data["unit"],
            data["points"],
            data.get("barcode"),
            data.get("category", ""),
            data.get("active", True),
        )
    raise SyncError("payload_malformed", detail=f"unknown change type {kind!r}"[:200])


def master_from_wire(kind: str, data: Any) -> MasterRecord:
    """Validate the data of a change of ``kind`` (anything but ``txn`` and ``link``) and make its record."""
    adapter = _MASTER_WIRES.get(kind)
    if adapter is None:
        raise SyncError("payload_malformed", detail=f"unknown change type {kind!r}"[:200])
    try:
        checked = adapter.validate_python(data)
    except ValidationError as error:
        raise _malformed(error, kind) from None
    return master_of(kind, checked)


# ----- the village's notice board (``GET /v1/board``, and in reply bundles) ----------------------------------
# Shown at the kiosk, never counted (``ledger.board``): it travels beside the change log, replaced whole.

DayText = Annotated[str, _STRICT, _length(10), _STORABLE]  # an ISO date, or "" when not known
MAX_BOARD_RULES = 2000
MAX_BOARD_NOTICES = 50
MAX_NOTICE_LINES = 20_000


class BoardRuleWire(BaseModel):
    code: Annotated[str, _STRICT, _length(16, 1), _STORABLE]
    name: NameText
    category: NameText
    direction: Literal["reward", "penalty"]
    low: Setting
    high: Setting
    zero_tolerance: Annotated[bool, _STRICT] = False
    local: Annotated[bool, _STRICT] = False


class NoticeLineWire(BaseModel):
    household_id: DeviceId
    name: PersonText
    item: NameText
    points: Amount
    reason: Annotated[str, _STRICT, _length(500), _STORABLE] = ""
    zero_tolerance: Annotated[bool, _STRICT] = False
    issued: Annotated[bool, _STRICT] = False


class NoticeWire(BaseModel):
    number: Seq
    village: NameText = ""
    window_from: DayText = ""
    window_until: DayText = ""
    lines: Annotated[list[NoticeLineWire], Field(max_length=MAX_NOTICE_LINES)]


class VillageBoardWire(BaseModel):
    """A village's rules in force and its notices (公示), as the township sends them to its shops."""

    village_id: Annotated[str, _STRICT, _length(32), _STORABLE]
    made_at: OptionalTime = ""
    rules: Annotated[list[BoardRuleWire], Field(max_length=MAX_BOARD_RULES)]
    notices: Annotated[list[NoticeWire], Field(max_length=MAX_BOARD_NOTICES)]

    def board(self) -> VillageBoard:
        return board_of(self.model_dump())


# ----- bundles (USB stick) -----------------------------------------------------------------------------


class BundleMessage(BaseModel):
    """A shop's USB-stick file (``lovemart sync --export``): its push and the pull cursor it had, signed."""

    v: Literal[1]
    type: Literal["bundle"]
    shop_id: ShortId | None = None
    device_id: DeviceId
    created_at: str = ""
    acked_through: Cursor = 0
    cursor: Cursor = 0
    remaining: Cursor = 0
    push: PushRequest | None = None
    sig: str


class BundleReply(BaseModel):
    """The township's answer on the stick (``lovemart central bundle reply``): the acknowledgement and the
    changes after the bundle's cursor, signed for that device."""

    v: Literal[1]
    type: Literal["bundle_reply"]
    shop_id: ShortId | None = None
    device_id: DeviceId
    acked_through: Cursor = 0
    exceptions: Count = 0
    created_at: str = ""
    pull: PullReply | None = None  # a reply written before the changes had their own part carries them here
    changes: list[Change] | None = None
    next: Cursor | None = None
    more: Annotated[bool, _STRICT] = False
    after: Cursor | None = None
    board: VillageBoardWire | None = None  # a newer township's; an older shop ignores it
    sig: str

    def page(self) -> PullReply:
        """The changes part, wherever this reply carries it."""
        if self.pull is not None:
            return self.pull
        if self.changes is None or self.next is None:
            raise SyncError("bundle_invalid", detail="the reply has no changes")
        return PullReply(changes=self.changes, next=self.next, more=self.more, after=self.after)


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of a bundle with the device token: a file changed on the way is refused."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_BYTES",
    "MAX_PUSH_TXNS",
    "PULL_PAGE",
    "VERSION",
    "BundleMessage",
    "BundleReply",
    "Change",
    "EnrolReply",
    "EnrolRequest",
    "ErrorBody",
    "ErrorEnvelope",
    "HealthReply",
    "Message",
    "PullReply",
    "PushReply",
    "PushRequest",
    "StatusReply",
    "TxnWire",
    "bad_text",
    "decode",
    "encode",
    "loads_bounded",
    "master_from_wire",
    "master_of",
    "master_to_wire",
    "push_message",
    "push_request",
    "push_txns",
    "sign",
    "txn_from_wire",
    "txn_of",
    "txn_to_wire",
    "validated",
    "verify_signature",
]
