"""The wire protocol as typed models, and the one HTTP client every caller of the central record uses.

- Files written by the code before the models (``tests/golden/sync``, made by the previous version's
  ``protocol.encode``/``sync.bundle.seal``) still read, and today's code writes the same bytes.
- The models carry the declared bounds, and the server's OpenAPI shows the bodies it reads itself.
- ``sync.http``: transport check, the error envelope, ``Retry-After``, bounded replies, retries.
- A month of a busy shop costs the central record a bounded number of SQL statements.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.chain import chain_hash
from ledger.model import (
    GENESIS_HASH,
    Household,
    Item,
    Line,
    Member,
    PassbookCard,
    Policy,
    Posting,
    Shop,
    Township,
    Transaction,
    TxnDraft,
    TxnKind,
    Village,
    chained,
)
from sync import protocol
from sync.bundle import open_sealed, seal
from sync.client import read_page
from sync.errors import SyncError
from sync.http import Backoff, Http, RemoteRefusal, Unreachable

GOLDEN = Path(__file__).parents[1] / "golden" / "sync"
KEY = "6b" * 32  # the bundle key and device token the golden files were signed with
TOKEN = "device-token-of-the-golden-files"


def _chain(device: str, drafts: list[TxnDraft]) -> list[Transaction]:
    prev, result = GENESIS_HASH, []
    for seq, draft in enumerate(drafts, start=1):
        digest = chain_hash(prev, draft, device, seq)
        result.append(chained(draft, device, seq, prev, digest))
        prev = digest
    return result


def _shop_txns() -> list[Transaction]:
    """The transactions in ``bundle_export_v1.gz`` (made as the generator of the golden files made them)."""
    return _chain(
        "P1",
        [
            TxnDraft(
                txn_id="00000000-0000-4000-8000-000000000001",
                kind=TxnKind.STOCK_IN,
                created_at="2026-03-01T09:00:00+08:00",
                shop_id="S01",
                operator="01",
                lines=(Line("SOAP", 20, 3), Line("OIL5", 4, 60)),
                party="supplier:供销社",
                memo="进货",
            ),
            TxnDraft(
                txn_id="00000000-0000-4000-8000-000000000002",
                kind=TxnKind.REDEEM,
                created_at="2026-03-01T10:15:00+08:00",
                shop_id="S01",
                operator="01",
                household_id="H001",
                postings=(Posting("household:H001", -66), Posting("shop:S01:redeemed", 66)),
                lines=(Line("SOAP", -2, 3), Line("OIL5", -1, 60)),
                pull_cursor=7,
            ),
            TxnDraft(
                txn_id="00000000-0000-4000-8000-000000000003",
                kind=TxnKind.DONATION,
                created_at="2026-03-02T16:40:00+08:00",
                shop_id="S01",
                operator="02",
                postings=(Posting("shop:S01:fund", 50000, "fen"), Posting("donor:张三", -50000, "fen")),
                party="donor:张三",
                memo="捐款 500 元",
            ),
        ],
    )


# ----- files written before the models ---------------------------------------------------------------------


def test_a_bundle_written_before_the_models_reads_and_is_written_the_same_today() -> None:
    body = (GOLDEN / "bundle_export_v1.gz").read_bytes()
    message = open_sealed(body, TOKEN, "bundle", key=KEY)
    bundle = protocol.validated(protocol.BundleMessage, message, "bundle")
    assert bundle.push is not None and bundle.push.transactions() == _shop_txns()
    assert (bundle.device_id, bundle.cursor) == ("P1", 7)
    # Today's code writes the same message as the same JSON (compared inflated: gzip's bytes may vary by zlib).
    today = {
        "v": 1,
        "type": "bundle",
        "shop_id": "S01",
        "device_id": "P1",
        "created_at": "2026-03-02T18:00:00+08:00",
        "acked_through": 0,
        "cursor": 7,
        "push": protocol.push_message("S01", "P1", _shop_txns()),
    }
    assert gzip.decompress(seal(today, TOKEN, key=KEY)) == gzip.decompress(body)


def test_a_reply_written_before_the_models_reads_into_the_same_records() -> None:
    body = (GOLDEN / "bundle_reply_v1.gz").read_bytes()
    reply = protocol.validated(protocol.BundleReply, open_sealed(body, TOKEN, "bundle_reply", key=KEY), "reply")
    assert (reply.acked_through, reply.exceptions) == (3, 1)
    page = read_page(reply.page(), 7)
    assert (page.next, page.more) == (16, False)
    masters = [protocol.master_of(c["type"], c["data"]) for c in page.changes if c["type"] not in ("txn", "link")]
    assert masters == [
        Township("T01", "红星镇", b"\x01\x02golden-key"),
        Policy(version=2, base_points=100, redeemable_floor=100, visitor_limit=30),
        Village("V01", "幸福村"),
        Shop("S01", "幸福村爱心超市", "V01"),
        Household("H001", "V01", "张秀英", "S01", members=(Member("张秀英", "户主"), Member("李明", "子"))),
        PassbookCard("H001", 2, True, "2026-03-01T08:00:00+08:00", None),
        Item("OIL5", "食用油", "5L桶", 60, "6901234567892", "粮油", True),
    ]
    txn = next(c for c in page.changes if c["type"] == "txn")
    award = protocol.txn_of(txn["data"], None, GENESIS_HASH)  # type: ignore[arg-type]
    assert (award.device_id, award.kind, award.points_of("household:H001")) == ("C", TxnKind.AWARD, 20)
    assert chain_hash(GENESIS_HASH, award, "C", 1) == award.hash


# ----- the models carry the bounds -----------------------------------------------------------------------------


def test_the_policy_on_the_wire_has_every_field_of_the_policy() -> None:
    assert set(protocol.PolicyWire.__annotations__) == {f.name for f in dataclasses.fields(Policy)}


def test_a_push_is_checked_as_a_whole() -> None:
    txns = _shop_txns()
    message = protocol.push_message("S01", "P1", txns)
    assert protocol.push_request(message).transactions() == txns
    with pytest.raises(SyncError) as caught:
        protocol.push_request({k: v for k, v in message.items() if k != "prev_hash"})
    assert caught.value.code == "payload_malformed" and "prev_hash" in caught.value.message("en")
    many = message | {"txns": message["txns"] * (protocol.MAX_PUSH_TXNS // 3 + 1)}
    with pytest.raises(SyncError) as caught:
        protocol.push_request(many)
    assert caught.value.code == "payload_too_large"
    for bad in ({"q": True}, {"q": 1.0}, {"k": "steal"}, {"i": 7}, {"p": [["a", 1, "u", "x"]]}, {"m": "a\x00"}):
        wire = message["txns"][0] | bad
        with pytest.raises(SyncError) as caught:
            protocol.push_request(message | {"txns": [wire]})
        assert caught.value.code == "payload_malformed", bad
        assert "a\x00" not in caught.value.message("en")  # where it failed, never the value itself


def test_a_pull_page_out_of_order_or_with_an_unknown_change_is_refused() -> None:
    village = {"seq": 5, "type": "village", "data": {"village_id": "V1", "name": "x"}}
    assert read_page({"changes": [village], "next": 5}, 4).changes == [village]
    for reply, after in (
        ({"changes": [village, village | {"seq": 5}], "next": 5}, 0),
        ({"changes": [village], "next": 5}, 5),
        ({"changes": [village], "next": 4}, 0),
        ({"changes": [village | {"type": "rumour"}], "next": 5}, 0),
        ({"changes": [village | {"data": {"village_id": "V\x00", "name": "x"}}], "next": 5}, 0),
        ({"changes": [], "next": 5, "more": "yes"}, 0),
    ):
        with pytest.raises(SyncError) as caught:
            read_page(reply, after)
        assert caught.value.code == "payload_malformed", reply


def test_the_openapi_shows_the_bodies_the_server_reads_itself(tmp_path: Path) -> None:
    from sync.server.app import create_app

    schema = create_app(f"sqlite:///{tmp_path / 'central.sqlite3'}").openapi()
    components = schema["components"]["schemas"]
    push = schema["paths"]["/v1/push"]["post"]
    assert push["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PushRequest")
    assert push["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PushReply")
    assert push["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    txn = components["TxnWire"]["properties"]
    # (FastAPI writes every number of the OpenAPI as a float: 2^63 - 1 comes out as 2^63.)
    assert txn["i"]["maxLength"] == protocol.TXN_ID_LEN and txn["q"]["maximum"] == float(protocol.MAX_BIGINT)
    assert components["PushRequest"]["properties"]["txns"]["maxItems"] == protocol.MAX_PUSH_TXNS
    assert "EnrolRequest" in components and "PullReply" in components


# ----- one HTTP client ---------------------------------------------------------------------------------------


def _reply(status: int, content: bytes | None = None, *, json_body: Any = None, **headers: str) -> httpx.Response:
    """A mock reply that streams as a server's does (``Http`` reads replies raw, with a bound)."""
    body = json.dumps(json_body).encode("utf-8") if json_body is not None else content or b""
    return httpx.Response(status, stream=httpx.ByteStream(body), headers=headers)


def _http(handler: Any, url: str = "https://central.example", **options: Any) -> Http:
    return Http(url, "token", httpx.Client(transport=httpx.MockTransport(handler)), 5, **options)


def test_plain_http_is_refused_off_the_loopback_before_anything_is_sent() -> None:
    sent: list[httpx.Request] = []
    with pytest.raises(SyncError) as caught:
        _http(sent.append, "http://10.1.2.3:8000")
    assert caught.value.code == "plain_http_refused" and not sent
    assert _http(sent.append, "http://127.0.0.1:8000").server_url == "http://127.0.0.1:8000"
    assert _http(sent.append, "http://10.1.2.3:8000", allow_plain_http=True).server_url == "http://10.1.2.3:8000"


def test_the_error_envelope_becomes_a_typed_refusal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/busy":
            error = {"error": {"code": "too_many_refusals", "message": "请 60 秒后再试"}}
            return _reply(429, json_body=error, **{"Retry-After": "60"})
        if request.url.path == "/passbook":
            error = {"error": {"code": "passbook_revoked", "message": "挂失", "params": {"card_no": 1}}}
            return _reply(404, json_body=error)
        return _reply(502, b"<html>bad gateway</html>")

    http = _http(handler)
    with pytest.raises(RemoteRefusal) as busy:
        http.request("GET", "/busy")
    assert (busy.value.code, busy.value.status, busy.value.retry_after) == ("too_many_refusals", 429, 60.0)
    assert busy.value.message("zh") == "请 60 秒后再试" and not busy.value.retryable
    assert Backoff(base=1.0, cap=300.0).delay(1, busy.value) == 60.0
    with pytest.raises(RemoteRefusal) as passbook:
        http.request("GET", "/passbook")
    assert passbook.value.remote_params == {"card_no": 1} and passbook.value.message("en") != "挂失"
    with pytest.raises(RemoteRefusal) as proxy:
        http.request("GET", "/other")
    assert (proxy.value.code, proxy.value.status, proxy.value.retryable) == ("server_error", 502, True)


def test_replies_are_bounded_and_checked_against_their_model() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return _reply(200, b"[" + b"0," * 5000 + b"0]")
        if request.url.path == "/bomb":
            bomb = gzip.compress(b" " * (protocol.MAX_JSON_BYTES + 10))
            return _reply(200, bomb, **{"Content-Encoding": "gzip"})
        return _reply(200, json_body={"v": 1, "acked_through": -1})

    with pytest.raises(SyncError) as caught:
        _http(handler, max_reply_bytes=1000).request("GET", "/big")
    assert caught.value.code == "payload_too_large"
    with pytest.raises(SyncError) as caught:
        _http(handler).request("GET", "/bomb")
    assert caught.value.code == "payload_too_large"
    with pytest.raises(SyncError) as caught:
        _http(handler).fetch(protocol.PushReply, "POST", "/v1/push", body=b"x")
    assert caught.value.code == "payload_malformed" and "acked_through" in caught.value.message("en")


def test_retries_wait_longer_each_time_and_stop_at_a_refusal_or_the_last_attempt() -> None:
    slept: list[float] = []
    failures = [Unreachable("u", "down", connected=False), RemoteRefusal("server_error", 503)]
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    assert Backoff(5, 2.0, 3.0, slept.append).run(flaky) == "ok" and slept == [2.0, 3.0]
    refused = RemoteRefusal("conflict", 409)
    with pytest.raises(RemoteRefusal):
        Backoff(5, 1.0, sleep=slept.append).run(lambda: (_ for _ in ()).throw(refused))
    assert slept == [2.0, 3.0]  # a 409 is not retried
    with pytest.raises(Unreachable):
        Backoff(2, 1.0, sleep=slept.append).run(lambda: (_ for _ in ()).throw(Unreachable("u", "x", connected=True)))
    assert slept == [2.0, 3.0, 1.0]


def test_an_admin_body_out_of_bounds_is_refused_before_it_is_sent() -> None:
    from lovemart.commands.central import CentralRefusal, _body

    with pytest.raises(CentralRefusal) as caught:
        _body("PointsIn", household_id="H001", points=5, reason="a\x00b", kind="award")
    assert caught.value.code == "invalid" and "reason" in caught.value.message("en")
    body = _body("PointsIn", household_id="H001", points=5, reason="卫生", kind="award")
    assert json.loads(body.model_dump_json(exclude_none=True)) == {
        "household_id": "H001",
        "points": 5,
        "reason": "卫生",
        "kind": "award",
    }


# ----- what a month of a busy shop costs --------------------------------------------------------------------


@pytest.mark.slow
def test_a_month_of_a_busy_shop_costs_a_bounded_number_of_statements() -> None:
    """3,000 transactions in three pushes: the statements must not grow with the transactions (the outbox and
    the central record once ran a few per transaction: 9,000 and more)."""
    from lovemart_tools.bench_sync import MONTH_TXNS, _month_push, _scratch

    with _scratch(None) as url:
        figures = _month_push(url)
    assert figures["month_push_txns"] == MONTH_TXNS
    assert 0 < figures["month_push_statements"] < 150, figures
    assert figures["month_baseline_statements"] < figures["month_push_statements"]
