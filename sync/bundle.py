"""USB-stick bundles: the same push and pull messages as the HTTP API, carried in a file.

A village with no network exports a bundle (this device's transactions after ``acked_through`` and its
``pull_cursor``); the township applies it (``lovemart central bundle apply``) and writes a reply bundle
(the acknowledgement and the changes after that cursor) that the shop imports. Each file is signed
with HMAC-SHA256 under the device's bundle key: the one the central record sent at enrolment (kept in
``bundle-key`` beside the device token; the central record derives it from a secret outside its database),
or, for a PC enrolled before that, ``bundle_key(device_token)``. A file altered on the way, or meant for
another PC, is refused. Importing a reply twice changes nothing: the acknowledgement only moves forward and the
changes are applied by cursor (``sync.apply``).

Signed bytes: the message without ``"sig"`` as compact, key-sorted UTF-8 JSON (what ``protocol.encode``
compresses), so the signature does not depend on a gzip implementation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import services
from ledger.board import store_board
from ledger.ports import LedgerStore
from sync import protocol
from sync.apply import apply_page, pull_cursor
from sync.client import ACKED_KEY, LAST_SYNCED_KEY, Clock, device_head, read_page
from sync.errors import SyncError
from sync.server.tokens import bundle_key

EXPORT_TYPE = "bundle"
REPLY_TYPE = "bundle_reply"


def signed_bytes(message: protocol.Message) -> bytes:
    body = {k: v for k, v in message.items() if k != "sig"}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signing_key(device_token: str, key: str | None) -> str:
    """``key`` (from the enrolment), else the key derived from the token (a PC enrolled before keys were sent)."""
    return key or bundle_key(device_token)


def seal(message: protocol.Message, device_token: str, *, key: str | None = None) -> bytes:
    """The file's bytes: the message with its signature, gzip'd like every other sync message."""
    sealed = dict(message)
    sealed["sig"] = protocol.sign(signing_key(device_token, key), signed_bytes(message))
    return protocol.encode(sealed)


def open_sealed(body: bytes, device_token: str, expect_type: str, *, key: str | None = None) -> protocol.Message:
    """A bundle file's message, if it is whole, signed for this device and of the expected type."""
    try:
        message = protocol.decode(body)
    except SyncError as error:
        raise SyncError("bundle_invalid", detail=error.message("en")) from error
    signature = message.get("sig")
    if not isinstance(signature, str) or not protocol.verify_signature(
        signing_key(device_token, key), signed_bytes(message), signature
    ):
        raise SyncError("bundle_invalid", detail="the signature does not match")
    if message.get("type") != expect_type:
        raise SyncError("bundle_invalid", detail=f"this is a {message.get('type')!r} file, not a {expect_type!r}")
    return message


@dataclass(frozen=True)
class Export:
    body: bytes
    txns: int  # transactions in the file
    first_seq: int
    last_seq: int
    remaining: int  # waiting transactions that did not fit (export again after the reply)
    cursor: int


def export_bundle(
    store: LedgerStore, device_token: str, clock: Clock = services.local_now, *, key: str | None = None
) -> Export:
    """This device's unacknowledged transactions (one push's worth) and the pull cursor, signed.

    Nothing changes locally: ``acked_through`` moves when the reply comes back, as with a push.
    """
    with store.read() as unit:
        identity = unit.identity()
        acked = int(unit.meta(ACKED_KEY) or 0)
        cursor = pull_cursor(unit)
        txns = []
        for seq in range(acked + 1, acked + protocol.MAX_PUSH_TXNS + 1):
            txn = unit.transaction_by_receipt(identity.shop_id, identity.device_id, seq)
            if txn is None:
                break
            txns.append(txn)
        head = device_head(unit, identity, acked + len(txns))
    message: protocol.Message = {
        "v": protocol.VERSION,
        "type": EXPORT_TYPE,
        "shop_id": identity.shop_id,
        "device_id": identity.device_id,
        "created_at": services.timestamp(clock),
        "acked_through": acked,
        "cursor": cursor,
        "push": protocol.push_message(identity.shop_id, identity.device_id, txns),
    }
    remaining = head - acked - len(txns)
    if remaining > 0:
        message["remaining"] = remaining
    first = txns[0].seq if txns else acked
    return Export(seal(message, device_token, key=key), len(txns), first, acked + len(txns), remaining, cursor)


@dataclass(frozen=True)
class Imported:
    acked_through: int
    exceptions: int
    pulled: int
    txns: int
    cursor: int
    more: bool  # the township has more changes than fitted: export and exchange again

    def as_dict(self) -> dict[str, Any]:
        return {
            "acked_through": self.acked_through,
            "exceptions": self.exceptions,
            "pulled": self.pulled,
            "pulled_txns": self.txns,
            "cursor": self.cursor,
            "more": self.more,
        }


def import_reply(
    store: LedgerStore, device_token: str, body: bytes, clock: Clock = services.local_now, *, key: str | None = None
) -> Imported:
    """Apply a reply bundle: the acknowledgement, then the changes with their cursor, in one local transaction."""
    message = open_sealed(body, device_token, REPLY_TYPE, key=key)
    try:
        reply = protocol.validated(protocol.BundleReply, message, "reply bundle")
    except SyncError as error:
        raise SyncError("bundle_invalid", detail=error.message("en")) from error
    pull_part = reply.page()
    with store.write() as unit:
        identity = unit.identity()
        if reply.device_id != identity.device_id or (reply.shop_id or identity.shop_id) != identity.shop_id:
            raise SyncError(
                "bundle_invalid",
                detail=f"it was made for device {reply.device_id}, this PC is {identity.device_id}",
            )
        acked = int(unit.meta(ACKED_KEY) or 0)
        if reply.acked_through > acked:
            if unit.transaction_by_receipt(identity.shop_id, identity.device_id, reply.acked_through) is None:
                raise SyncError(
                    "conflict",
                    detail=f"the township holds {reply.acked_through} transactions of this device, more than this PC",
                )
            acked = reply.acked_through
            unit.set_meta(ACKED_KEY, str(acked))
        current = pull_cursor(unit)
        after = current if pull_part.after is None else pull_part.after
        if after > current:
            # Applying it would jump the cursor over changes this PC never received.
            raise SyncError(
                "bundle_invalid",
                detail=f"it starts after change {after} but this PC has only {current}: import the earlier reply "
                "first, or export again",
            )
        page = read_page(pull_part, after)
        applied = apply_page(store, page.changes, page.next)  # joins this unit
        if not page.more:
            unit.set_meta(LAST_SYNCED_KEY, _synced_at(reply.created_at, clock))
        if reply.board is not None:
            store_board(unit, reply.board.board())
    return Imported(
        acked,
        reply.exceptions,
        applied.changes,
        applied.txns,
        applied.cursor,
        page.more,
    )


def _synced_at(made: object, clock: Clock) -> str:
    """When the reply was made at the township (what it knew then), else now; never in the future."""
    now = services.timestamp(clock)
    if isinstance(made, str):
        try:
            when = datetime.fromisoformat(made)
        except ValueError:
            return now
        if when.tzinfo is not None and when <= clock():
            return when.isoformat(timespec="seconds")
    return now


__all__ = [
    "EXPORT_TYPE",
    "REPLY_TYPE",
    "Export",
    "Imported",
    "export_bundle",
    "import_reply",
    "open_sealed",
    "seal",
    "signed_bytes",
]
