"""The sync wire format: lossless, compact, and strict about what it accepts."""

from __future__ import annotations

import gzip
import json

import pytest

from ledger import services
from ledger.model import Household, Item, Member, PassbookCard, Policy, Shop, Township, Village
from sync import protocol
from sync.errors import SyncError
from tests.conftest import ADMIN_CTX, ShopFixture


def test_push_round_trip_is_lossless_and_small(shop: ShopFixture) -> None:
    code = shop.household("H001", "张秀英", points=500)
    shop.item("OIL", 60, stock=50, name="食用油")
    for _ in range(5):
        services.redeem(shop.store, code, [("OIL", 1)], ctx=ADMIN_CTX)
    with shop.store.read() as unit:
        txns = list(unit.journal())
    body = protocol.encode(protocol.push_message("S1", "P1", txns))
    assert protocol.push_txns(protocol.decode(body, "push")) == txns
    assert len(body) / len(txns) < 150


def test_master_records_round_trip() -> None:
    records = [
        Township("T1", "测试镇", b"\x00\x01key"),
        Policy(version=3, base_points=100, redeemable_floor=100, visitor_limit=30),
        Village("V1", "幸福村"),
        Shop("S1", "幸福村爱心超市", "V1"),
        Household("H001", "V1", "张秀英", "S1", members=(Member("张秀英", "户主"), Member("李明", "子"))),
        PassbookCard("H001", 2, False, "2026-01-01T08:00:00+08:00", "2026-02-01T08:00:00+08:00"),
        Item("OIL", "食用油", "桶", 60, "6901234567892", "粮油", True),
    ]
    for record in records:
        kind, data = protocol.master_to_wire(record)
        assert protocol.master_from_wire(kind, json.loads(json.dumps(data))) == record


def test_a_households_phone_travels_only_when_it_has_one() -> None:
    household = Household("H001", "V1", "张秀英", "S1", house_no="12号", phone="138 1234 5678")
    kind, data = protocol.master_to_wire(household)
    assert data["phone"] == "138 1234 5678"
    assert protocol.master_from_wire(kind, json.loads(json.dumps(data))) == household
    _, without = protocol.master_to_wire(Household("H001", "V1", "张秀英", "S1"))
    assert "phone" not in without  # an older shop reads a newer township's households unchanged
    for bad in ("1" * 21, "138\x001234", 13812345678):
        with pytest.raises(SyncError):
            protocol.master_from_wire(kind, {**data, "phone": bad})


@pytest.mark.parametrize(
    "body, code",
    [
        (b"not gzip", "payload_malformed"),
        (gzip.compress(b"[1, 2]"), "payload_malformed"),
        (gzip.compress(b'{"v": 2, "type": "push"}'), "version_unsupported"),
        (gzip.compress(b'{"v": 1, "type": "pull"}'), "payload_malformed"),
        (gzip.compress(b" " * (protocol.MAX_JSON_BYTES + 10)), "payload_too_large"),
    ],
    # gzip stamps the time into its bytes: ids by position keep xdist's workers agreeing on the tests.
    ids=["not-gzip", "not-an-object", "version-2", "wrong-type", "too-large"],
)
def test_bad_bodies_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(SyncError) as refused:
        protocol.decode(body, "push")
    assert refused.value.code == code and refused.value.status in (400, 413)


def test_malformed_transactions_are_refused() -> None:
    good = {"i": "a", "q": 1, "k": "award", "t": "2026-01-01T00:00:00+08:00", "x": "f" * 64}
    for bad in ({**good, "q": "1"}, {**good, "k": "steal"}, {**good, "p": [["household:H", "10"]]}, {"q": 1}):
        with pytest.raises(SyncError):
            protocol.txn_from_wire(bad, "P1", "0" * 64)
    with pytest.raises(SyncError):
        protocol.master_from_wire("household", {"household_id": "H"})
