"""USB-stick bundles at the township: apply a shop's push, answer with the changes it has not pulled.

A village with no network carries the same messages on a stick (docs/sync.md, "Bundles"):

- the shop's file (``lovemart sync --export FILE``) is ``protocol.encode`` of
  ``{"v": 1, "type": "bundle", "shop_id", "device_id", "cursor", "created_at", "push": <push message>, "sig"}``;
- the township's answer (``lovemart central bundle reply``) is ``protocol.encode`` of
  ``{"v": 1, "type": "bundle_reply", "shop_id", "device_id", "acked_through", "exceptions", "created_at",
  "pull": {"after", "changes", "next", "more"}, "board": <the village's board>, "sig"}`` (``sync.bundle``
  reads it on the shop PC; the board is ``ledger.board``'s, replaced whole).

``sig`` is ``protocol.sign(key, canonical(message without "sig"))`` with ``canonical`` = compact JSON,
sorted keys, UTF-8. The key is ``sync.server.bundlekeys.key_of(record, device)``: derived from a server
secret kept outside the database and handed to the device once, at enrolment (a device enrolled before
that derives ``sha256("bundle:" + device_token)`` and the central record keeps that key in its row). A
file changed on the way, or signed by another device, is refused; applying one twice changes nothing (the push is
idempotent and the reply is cut from the cursor in the file).
"""

from __future__ import annotations

import json
from typing import Any

from ledger.board import board_to_json
from ledger.storage.central import CentralDevice
from sync import protocol
from sync.errors import SyncError
from sync.server import awards, bundlekeys
from sync.server.record import CentralRecord

MAX_REPLY_CHANGES = 200_000  # a stick holds far more; a shop this far behind brings the stick twice


def canonical(message: protocol.Message) -> bytes:
    unsigned = {k: v for k, v in message.items() if k != "sig"}
    return json.dumps(unsigned, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signed(message: protocol.Message, key: str) -> protocol.Message:
    return message | {"sig": protocol.sign(key, canonical(message))}


def _device_of(record: CentralRecord, message: protocol.Message, device_id: str) -> CentralDevice:
    with record.store.read() as unit:
        device = unit.device(device_id)
    if device is None or not device.active:
        raise SyncError("bundle_invalid", detail=f"device {device_id} is not registered here")
    signature = message.get("sig")
    if not isinstance(signature, str) or not protocol.verify_signature(
        bundlekeys.key_of(record, device), canonical(message), signature
    ):
        raise SyncError("bundle_invalid", detail="the signature does not match")
    return device


def read_bundle(record: CentralRecord, body: bytes) -> tuple[CentralDevice, protocol.BundleMessage]:
    """The bundle's device and message, whole (``protocol.BundleMessage``), before its push is applied: a
    bundle whose reply could not be made is refused whole (a cursor beyond BIGINT cannot even be looked up)."""
    message = protocol.decode(body, "bundle")
    bundle = protocol.validated(protocol.BundleMessage, message, "bundle")
    return _device_of(record, message, bundle.device_id), bundle


def apply_bundle(record: CentralRecord, body: bytes) -> dict[str, Any]:
    """Store the push carried by a shop's bundle; the same answer as ``POST /v1/push``."""
    device, bundle = read_bundle(record, body)
    if bundle.push is None:
        raise SyncError("payload_malformed", detail="a bundle needs a push")
    result = record.push(device, bundle.push)
    return result | {"shop_id": device.shop_id, "device_id": device.device_id}


def reply_bundle(record: CentralRecord, body: bytes, exceptions: int = 0) -> bytes:
    """The answer to a shop's bundle: every change after the bundle's cursor, signed for that device."""
    device, bundle = read_bundle(record, body)
    after = cursor = bundle.cursor
    changes: list[Any] = []
    more = True
    while more and len(changes) < MAX_REPLY_CHANGES:
        page = json.loads(record.pull_json(device.device_id, cursor))
        changes += page["changes"]
        cursor, more = page["next"], page["more"]
    with record.store.read() as unit:
        head = unit.device_head(device.device_id)
    reply = {
        "v": protocol.VERSION,
        "type": "bundle_reply",
        "shop_id": device.shop_id,
        "device_id": device.device_id,
        "acked_through": head[0] if head else 0,
        "exceptions": exceptions,
        "created_at": record.now(),
        "pull": {"after": after, "changes": changes, "next": cursor, "more": more},
        "board": board_to_json(awards.board_for_shop(record, device.shop_id)),
    }
    return protocol.encode(signed(reply, bundlekeys.key_of(record, device)))


def apply_and_reply(record: CentralRecord, body: bytes) -> bytes:
    result = apply_bundle(record, body)
    return reply_bundle(record, body, int(result.get("exceptions", 0)))
