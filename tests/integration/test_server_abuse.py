"""The central record under abuse (issue 11 §2), against a real server process on SQLite and PostgreSQL.

An anonymous caller is refused before a byte of its body is read; bad input is a 4xx with a code and
leaves nothing behind, never a 5xx (which a shop would retry for ever); refusals from one device pile up
on one exception and slow that device down. The ``town`` fixture is test_server's: a real server with a
demo township, per backend.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import select
import socket
import uuid
from typing import Any

import psutil
import pytest

from ledger import services
from ledger.chain import chain_hash
from ledger.model import Line, Posting, Transaction
from lovemart_tools.bench_sync import JSON_GZIP, MiniClient
from sync import protocol
from sync.server import abuse
from sync.server.bundles import signed
from sync.server.tokens import bundle_key
from tests.conftest import ADMIN_CTX
from tests.integration import test_server
from tests.integration.test_server import Town, error_of, own_journal, post_push, run_cli
from tests.server_harness import HTTP, running

town = test_server.town  # the same fixture: a real server per backend, for this module
MB = 1024 * 1024


# ----- the caller is checked before the body is read -----------------------------------------------------------


def _stream_and_read(port: int, head: str, chunk: bytes, total: int) -> tuple[bytes, int]:
    """Send ``head`` and up to ``total`` body bytes in ``chunk``s, stopping as soon as the server answers.

    Returns the reply's first bytes and how many body bytes were sent. The body is generated, never held.
    """
    sent = 0
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode("ascii"))
        while sent < total:
            readable, writable, _ = select.select([conn], [conn], [], 30)
            if readable:
                data = conn.recv(65536)
                reply += data
                if not data or b"\r\n\r\n" in reply:
                    break
            if writable:
                try:
                    sent += conn.send(chunk[: total - sent])
                except (BrokenPipeError, ConnectionResetError):
                    break
        while b"\r\n\r\n" not in reply:
            data = conn.recv(65536)
            if not data:
                break
            reply += data
    return reply, sent


def _rss(town: Town) -> int:
    assert town.server.pid is not None
    return int(psutil.Process(town.server.pid).memory_info().rss)


def test_a_huge_body_without_a_token_is_401_before_it_is_read(town: Town) -> None:
    before = _rss(town)
    size = 300 * MB
    chunk = b"[" * MB
    for path in ("/v1/admin/villages", "/v1/admin/points", "/v1/admin/bundles/apply"):
        # Announced by its length: refused from the headers.
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        reply, _ = _stream_and_read(town.server.port, head, chunk, size)
        assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
        # Streamed with no length (chunked): refused without waiting for the end.
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        reply, _ = _stream_and_read(town.server.port, head, framed, size)
        assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    # A wrong token is no better than none.
    head = (
        "POST /v1/admin/villages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    assert _stream_and_read(town.server.port, head, chunk, size)[0].startswith(b"HTTP/1.1 401")
    assert _rss(town) - before < 40 * MB  # 300 MB parsed would be a gigabyte


def test_an_upload_without_a_token_is_401_before_it_is_read(town: Town) -> None:
    before = _rss(town)
    boundary = "lovemartboundary"
    size = 50 * MB
    for path in ("/v1/admin/households/import", "/v1/admin/points/import"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {size}\r\n\r\n"
        )
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'.encode()
        reply, sent = _stream_and_read(town.server.port, head, part + b"x" * MB, size)
        assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert _rss(town) - before < 40 * MB


def test_an_authenticated_upload_is_limited_while_it_streams(town: Town) -> None:
    boundary = "lovemartboundary"
    head = (
        "POST /v1/admin/households/import HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {town.admin_token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'.encode()
    body = part + b"x" * (MB - len(part))
    framed = f"{len(body):x}\r\n".encode() + body + b"\r\n"
    reply, sent = _stream_and_read(town.server.port, head, framed, 60 * MB)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert sent < 50 * MB


def test_a_bad_body_without_a_token_gets_401_and_no_validation_detail(town: Town) -> None:
    for path, body in (
        ("/v1/admin/points", {"household_id": 5}),
        ("/v1/admin/villages", {"village_id": "\u0000"}),
        ("/v1/admin/households", []),
    ):
        reply = HTTP.post(town.url + path, json=body)
        assert reply.status_code == 401, reply.text
        assert error_of(reply)["code"] == "admin_required" and "household_id" not in reply.text
    reply = HTTP.get(town.url + "/v1/pull", params={"after": "lots"})
    assert reply.status_code == 401 and error_of(reply)["code"] == "token_missing"
    reply = HTTP.get(town.url + "/v1/kiosk/board", params={"size": "x"}, headers={"Authorization": "Bearer x"})
    assert reply.status_code == 401 and error_of(reply)["code"] == "token_invalid"
    # Open endpoints stay open.
    assert HTTP.get(town.url + "/v1/health").status_code == 200
    assert HTTP.get(town.url + "/openapi.json").status_code == 200


# ----- no 5xx for bad input -------------------------------------------------------------------------------------


def _signed(txn: Transaction) -> Transaction:
    return dataclasses.replace(txn, hash=chain_hash(txn.prev_hash, txn, txn.device_id, txn.seq))


def _bad_pushes(client: MiniClient, redemption: Transaction) -> dict[str, bytes]:
    """Push bodies that each carry one value no database column can hold, correctly chained and hashed."""
    t = redemption
    message = protocol.push_message(client.shop_id, client.device_id, [t])

    def with_txn(changed: Transaction) -> bytes:
        return protocol.encode(protocol.push_message(client.shop_id, client.device_id, [_signed(changed)]))

    def raw(text: str) -> bytes:
        return gzip.compress(text.encode("utf-8", "surrogatepass"))

    deep = 100_000
    plain = json.dumps(message)
    return {
        "amount 2^63": with_txn(
            dataclasses.replace(t, postings=(Posting(t.postings[0].account, 2**63), Posting("x", -(2**63))))
        ),
        "quantity 10^30": with_txn(dataclasses.replace(t, lines=(Line("SOAP", 10**30, 3),))),
        "NUL in memo": with_txn(dataclasses.replace(t, memo="a\u0000b")),
        "account of 10,000 characters": with_txn(
            dataclasses.replace(t, postings=(Posting("h" * 10_000, -3), Posting("shop:S01:redeemed", 3)))
        ),
        "nested 100,000 deep": raw(plain[:-1] + ',"z":' + "[" * deep + "]" * deep + "}"),
        "lone surrogate in memo": raw(plain.replace('"type":', '"m":"\\ud800x","type":', 1)),
        "lone surrogate in a transaction": raw(plain.replace('"k":', '"m":"\\udfff","k":', 1)),
        "NUL in a key": raw(plain.replace('"type":', '"a\\u0000":1,"type":', 1)),
        "time not ISO": with_txn(dataclasses.replace(t, created_at="yesterday")),
        "seq 2^63": with_txn(dataclasses.replace(t, seq=2**63)),
        "household id of 10,000 characters": with_txn(dataclasses.replace(t, household_id="H" * 10_000)),
    }


def test_bad_values_in_a_push_are_4xx_and_store_nothing(town: Town) -> None:
    _, code = town.household(points=200)
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [("SOAP", 5)], supplier="供销社", ctx=ADMIN_CTX)
    client.push_txns(own_journal(store))
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    redemption = own_journal(store)[-1]
    for case, body in _bad_pushes(client, redemption).items():
        before = town.counts()
        reply = post_push(town, client, body)
        assert 400 <= reply.status_code < 500, (case, reply.status_code, reply.text)
        assert error_of(reply)["code"] in ("payload_malformed", "payload_too_large"), (case, reply.text)
        assert town.counts()[:2] == before[:2], case
    assert client.push_txns([redemption])["acked_through"] == redemption.seq  # the genuine one still goes in


def test_bad_values_in_a_bundle_are_4xx_and_store_nothing(town: Town) -> None:
    _, code = town.household(points=200)
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [("SOAP", 5)], supplier="供销社", ctx=ADMIN_CTX)
    client.push_txns(own_journal(store))
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    redemption = own_journal(store)[-1]
    key = client.bundle_key or bundle_key(client.token or "")  # sent at enrolment (issue 11 §3)
    for case, push_body in _bad_pushes(client, redemption).items():
        try:
            push: Any = protocol.decode(push_body, "push")
        except protocol.SyncError:  # a body the decoder refuses: it is sent as the bundle file itself
            bundle = push_body
        else:
            message = {"v": 1, "type": "bundle", "device_id": client.device_id, "cursor": 0, "push": push}
            bundle = protocol.encode(signed(message, key))
        before = town.counts()
        reply = town.admin("POST", "/v1/admin/bundles/apply", content=bundle)
        assert 400 <= reply.status_code < 500, (case, reply.status_code, reply.text)
        assert town.counts()[:2] == before[:2], case


def _admin_cases(town: Town, household_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    nul = "a\u0000b"
    return [
        ("POST", "/v1/admin/villages", {"json": {"village_id": "VN", "name": nul}}),
        ("POST", "/v1/admin/shops", {"json": {"shop_id": "SN", "name": nul, "village_id": "V01"}}),
        ("PUT", "/v1/admin/township", {"json": {"name": nul}}),
        ("POST", "/v1/admin/points", {"json": {"household_id": household_id, "points": 5, "reason": nul}}),
        ("POST", "/v1/admin/points", {"json": {"household_id": household_id, "points": 2**63, "reason": "x"}}),
        ("POST", f"/v1/admin/households/{household_id}/clear", {"json": {"reason": nul}}),
        ("POST", "/v1/admin/items", {"json": {"sku": "NUL1", "name": nul, "unit": "块", "points": 1}}),
        ("POST", "/v1/admin/items", {"json": {"sku": "BIG1", "name": "x", "unit": "块", "points": 10**30}}),
        ("POST", "/v1/admin/kiosk-tokens", {"json": {"label": nul}}),
        (
            "POST",
            "/v1/admin/households",
            {
                "json": {
                    "household_id": "XNUL1",
                    "village_id": "V01",
                    "head_name": "王",
                    "home_shop_id": "S01",
                    "members": [[nul, "户主"]],
                }
            },
        ),
        ("POST", "/v1/admin/villages", {"json": {"village_id": "V" * 10_000, "name": "x"}}),
        ("GET", "/v1/admin/households/%00", {}),
        ("GET", "/v1/admin/households/" + "H" * 10_000, {}),
        ("POST", "/v1/admin/shops/%00/enrol-tokens", {}),
        ("POST", "/v1/admin/devices/P%00/revoke", {}),
        ("GET", "/v1/admin/households", {"params": {"village": nul}}),
        ("GET", "/v1/admin/reports/ranking", {"params": {"village": nul}}),
        ("GET", "/v1/admin/exceptions", {"params": {"kind": nul}}),
        ("POST", f"/v1/admin/exceptions/{2**63}/resolve", {"json": {"resolution": "x"}}),
        ("POST", "/v1/admin/exceptions/99999999999999999999/resolve", {"json": {"resolution": "x"}}),
        ("GET", "/v1/admin/households", {"params": {"offset": 2**63}}),
        ("GET", "/v1/admin/reports/ranking", {"params": {"limit": 2**63}}),
        ("POST", "/v1/admin/villages", {"content": b'{"village_id":"VS","name":"\\ud800"}'}),
        ("POST", "/v1/admin/points", {"content": b"[" * 60_000 + b"]" * 60_000}),
    ]


def test_bad_values_in_admin_calls_are_4xx_and_store_nothing(town: Town) -> None:
    household_id, _ = town.household()
    for method, path, kwargs in _admin_cases(town, household_id):
        before = town.counts()
        reply = town.admin(method, path, **kwargs)
        assert 400 <= reply.status_code < 500, (path, kwargs.get("params"), reply.status_code, reply.text)
        assert "code" in error_of(reply), reply.text
        assert town.counts() == before, path


def test_bad_values_from_a_device_or_kiosk_are_4xx(town: Town) -> None:
    client, _ = town.shop("S01", stock=0)
    device = {"Authorization": f"Bearer {client.token}"}
    kiosk = {"Authorization": f"Bearer {town.record.new_kiosk_token('test')}"}
    cases = [
        ("/v1/pull", {"after": "99999999999999999999"}, device),
        ("/v1/pull", {"after": str(2**63)}, device),
        ("/v1/pull", {"after": "-1"}, device),
        ("/v1/pull", {"limit": str(2**63)}, device),
        ("/v1/kiosk/board", {"village": "V\u0000"}, kiosk),
        ("/v1/kiosk/board", {"village": "V01", "size": str(2**63)}, kiosk),
    ]
    for path, params, headers in cases:
        reply = HTTP.get(town.url + path, params=params, headers=headers)
        assert 400 <= reply.status_code < 500, (path, params, reply.status_code, reply.text)
        assert "code" in error_of(reply)
    for body in ({"code": "a\u0000b"}, {"code": "LM1", "village": "\u0000"}, {"code": "C" * 10_000}):
        reply = HTTP.post(town.url + "/v1/kiosk/balance", json=body, headers=kiosk)
        assert 400 <= reply.status_code < 500 and "code" in error_of(reply), (body, reply.text)
    enrol = HTTP.post(town.url + "/v1/enrol", content=b'{"v":1,"token":"a\\u0000"}')
    assert enrol.status_code == 400 and error_of(enrol)["code"] == "payload_malformed"
    enrol = HTTP.post(town.url + "/v1/enrol", content=b"[" * 50_000)
    assert 400 <= enrol.status_code < 500


def test_the_wire_format_refuses_what_no_column_can_hold() -> None:
    good = {"i": str(uuid.uuid4()), "q": 1, "k": "redeem", "t": "2026-12-06T10:00:00+08:00", "x": "a" * 64}
    assert protocol.txn_from_wire(good, "P1", "0" * 64).seq == 1
    bad = [
        good | {"q": 2**63},
        good | {"q": 0},
        good | {"t": "soon"},
        good | {"t": "2026-12-06T10:00:00+08:00" + "0" * 40},
        good | {"m": "\u0000"},
        good | {"m": "\ud800"},
        good | {"o": "x" * 33},
        good | {"h": "H" * 17},
        good | {"p": [["household:H", 10**13]]},
        good | {"p": [[["nested"], 1]]},
        good | {"p": [["a", 1, "u" * 9]]},
        good | {"l": [["SOAP", 10**30, 1]]},
        good | {"l": [["SOAP", 1]]},
        good | {"c": -1},
        good | {"i": "i" * 37},
    ]
    for wire in bad:
        with pytest.raises(protocol.SyncError) as caught:
            protocol.txn_from_wire(wire, "P1", "0" * 64)
        assert caught.value.code == "payload_malformed", wire
    for kind, data in (
        ("village", {"village_id": "V\u0000", "name": "x"}),
        ("shop", {"shop_id": "S" * 17, "name": "x", "village_id": "V1"}),
        ("household", {"household_id": "H", "village_id": "V", "head_name": "\ud800", "home_shop_id": "S"}),
        ("item", {"sku": "A", "name": "x", "unit": "u", "points": 2**40}),
        ("card", {"household_id": "H", "card_no": 2**63, "active": True}),
        ("policy", {"base_points": 10**30}),
    ):
        with pytest.raises(protocol.SyncError):
            protocol.master_from_wire(kind, data)
    deep = gzip.compress(b'{"v":1,"z":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(protocol.SyncError) as caught:
        protocol.decode(deep)
    assert caught.value.code == "payload_malformed"
    # Brackets in strings arranged to pair with the real ones still do not reach json's recursion limit.
    crafted = gzip.compress(b'{"v":1,"z":' + b'["]",' * 50_000 + b"1" + b',"["]' * 50_000 + b"}")
    with pytest.raises(protocol.SyncError) as caught:
        protocol.decode(crafted)
    assert caught.value.code == "payload_malformed"
    # Brackets inside text are text: a memo of a thousand "[" is not nesting.
    memo = protocol.encode({"v": 1, "type": "push", "m": "[" * 1000 + "{" * 1000, "txns": [[[]]]})
    assert protocol.decode(memo, "push")["m"].startswith("[[[")
    # A surrogate pair (an emoji written as escapes) is text; only a lone half is refused.
    assert protocol.decode(gzip.compress(b'{"v":1,"m":"\\ud83d\\ude00"}'))["m"] == "\U0001f600"


# ----- exceptions cannot be drowned ------------------------------------------------------------------------------


def test_repeated_refusals_are_one_exception_with_a_count_and_the_device_is_slowed_down(town: Town) -> None:
    _, code = town.household(points=500)
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [("SOAP", 50)], supplier="供销社", ctx=ADMIN_CTX)
    for _ in range(3):
        services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    t = own_journal(store)
    client.push_txns(t[:1])
    before = town.counts()
    statuses = []
    for n in range(abuse.REFUSALS_PER_WINDOW + 3):
        # A different gap each time (as a hostile device would push): still one exception.
        gap = protocol.push_message(client.shop_id, client.device_id, t[2 + n % 2 :])
        reply = post_push(town, client, protocol.encode(gap))
        statuses.append(reply.status_code)
        if reply.status_code == 429:
            assert int(reply.headers["Retry-After"]) >= 1
            assert error_of(reply)["code"] == "too_many_refusals"
    assert statuses[: abuse.REFUSALS_PER_WINDOW] == [409] * abuse.REFUSALS_PER_WINDOW
    assert statuses[abuse.REFUSALS_PER_WINDOW :] == [429] * 3
    assert town.counts()[2] == before[2] + 1
    page = town.admin("GET", "/v1/admin/exceptions", params={"kind": "conflict", "shop": "S01", "limit": 500}).json()
    mine = [e for e in page["exceptions"] if e["device_id"] == client.device_id]
    assert len(mine) == 1 and mine[0]["count"] == abuse.REFUSALS_PER_WINDOW
    assert mine[0]["detail"]["code"] == "sync_gap" and mine[0]["last_seen_at"] >= mine[0]["created_at"]
    # Another device of the same shop is not slowed down by it.
    other, other_store = town.shop("S01", stock=0)
    services.stock_intake(other_store, [("SOAP", 1)], supplier="供销社", ctx=ADMIN_CTX)
    assert other.push_txns(own_journal(other_store))["acked_through"] == 1


def test_exceptions_are_paged_newest_first_with_a_total(town: Town) -> None:
    made = []
    with town.record.write() as unit:
        for n in range(7):
            made.append(unit.add_exception("test_page", None, {"n": n, "shop_id": "S02"}, [], town.record.now()))
    first = town.admin("GET", "/v1/admin/exceptions", params={"kind": "test_page", "limit": 3}).json()
    assert first["total"] == 7 and [e["id"] for e in first["exceptions"]] == made[::-1][:3]
    assert first["next_offset"] == 3
    rest = town.admin("GET", "/v1/admin/exceptions", params={"kind": "test_page", "offset": 3, "limit": 10}).json()
    assert [e["id"] for e in rest["exceptions"]] == made[::-1][3:] and rest["next_offset"] is None
    by_shop = town.admin("GET", "/v1/admin/exceptions", params={"kind": "test_page", "shop": "S01"}).json()
    assert by_shop["total"] == 0
    assert town.admin("POST", f"/v1/admin/exceptions/{made[0]}/resolve", json={"resolution": "ok"}).status_code == 200
    resolved = town.admin("GET", "/v1/admin/exceptions", params={"kind": "test_page", "status": "resolved"}).json()
    assert [e["id"] for e in resolved["exceptions"]] == [made[0]]
    everything = town.admin("GET", "/v1/admin/exceptions", params={"kind": "test_page", "status": "all"}).json()
    assert everything["total"] == 7
    assert town.admin("GET", "/v1/admin/exceptions", params={"status": "weird"}).status_code == 422
    assert town.admin("GET", "/v1/admin/exceptions", params={"limit": 100_000}).status_code == 422


def test_a_push_with_gzip_and_a_device_token_still_works_through_the_gate(town: Town) -> None:
    client, store = town.shop("S01", stock=3)
    body = protocol.encode(protocol.push_message(client.shop_id, client.device_id, own_journal(store)))
    reply = HTTP.post(
        town.url + "/v1/push", content=body, headers=JSON_GZIP | {"Authorization": f"Bearer {client.token}"}
    )
    assert reply.status_code == 200 and reply.json()["acked_through"] == len(own_journal(store))


def test_the_exceptions_command_follows_the_pages(
    town: Town, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with town.record.write() as unit:
        made = [unit.add_exception("cli_page", None, {"n": n}, [], town.record.now()) for n in range(5)]
    monkeypatch.setenv("LOVEMART_TOKEN", town.admin_token)
    argv = ["--json", "central", "exceptions", "--server", town.url, "--kind", "cli_page", "--limit", "2"]
    status, first = run_cli(argv, capsys)
    assert status == 0 and [e["id"] for e in first["exceptions"]] == made[::-1][:2]
    assert first["total"] == 5 and first["next_offset"] == 2
    status, last = run_cli([*argv, "--offset", "4"], capsys)
    assert [e["id"] for e in last["exceptions"]] == [made[0]] and last["next_offset"] is None
    status, text = run_cli(argv[1:], capsys)
    assert "1–2 of 5" in text or "第 1–2 条，共 5 条" in text
    assert "--offset 2" in text


def test_an_upload_named_badly_is_never_a_5xx(town: Town) -> None:
    """The file name of an upload is the client's text like any other: NUL, "..", a lone surrogate."""
    sheet = "户号,户主,村\nXUPNAME1,王秀兰,V01\n".encode()
    for name in ("a\x00.csv", "..", ".", "\udc80名单.csv", "a/../../b.csv"):
        head = f'--B\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
        body = head.encode("utf-8", "surrogateescape") + sheet + b"\r\n--B--\r\n"
        headers = {"Content-Type": "multipart/form-data; boundary=B", "Authorization": f"Bearer {town.admin_token}"}
        reply = HTTP.post(town.url + "/v1/admin/households/import", content=body, headers=headers)
        assert reply.status_code < 500, (name, reply.status_code, reply.text)
    assert town.admin("GET", "/v1/admin/households/XUPNAME1").status_code == 200


def test_a_bundle_with_a_cursor_beyond_bigint_is_4xx_and_stores_nothing(town: Town) -> None:
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [("SOAP", 1)], supplier="供销社", ctx=ADMIN_CTX)
    push = protocol.push_message(client.shop_id, client.device_id, own_journal(store))
    for cursor in (2**63, 10**30, -1, "0"):
        message = {"v": 1, "type": "bundle", "device_id": client.device_id, "cursor": cursor, "push": push}
        before = town.counts()
        reply = town.admin(
            "POST", "/v1/admin/bundles/apply", content=protocol.encode(signed(message, client.bundle_key))
        )
        assert 400 <= reply.status_code < 500, (cursor, reply.status_code, reply.text)
        assert town.counts()[:2] == before[:2]


def test_another_server_process_slows_the_same_device_down(town: Town) -> None:
    """Several server processes serve one township (DESIGN §11): the refusals counted by one hold at the other."""
    _, code = town.household(points=500)
    client, store = town.shop("S01", stock=0)
    services.stock_intake(store, [("SOAP", 50)], supplier="供销社", ctx=ADMIN_CTX)
    for _ in range(2):
        services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    t = own_journal(store)
    gap = protocol.encode(protocol.push_message(client.shop_id, client.device_id, t[2:]))
    for _ in range(abuse.REFUSALS_PER_WINDOW):
        assert post_push(town, client, gap).status_code == 409
    with running(town.server.database_url) as other:
        headers = JSON_GZIP | {"Authorization": f"Bearer {client.token}"}
        reply = HTTP.post(other.url + "/v1/push", content=gap, headers=headers)
    assert reply.status_code == 429 and error_of(reply)["code"] == "too_many_refusals"


def test_database_errors_are_4xx_for_bad_values_and_503_only_when_the_database_is_unwell() -> None:
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError

    from sync.server.gate import database_refusal

    cause = Exception("from the driver")
    refused = database_refusal(DataError("INSERT", {}, cause))
    assert (refused.status, refused.code) == (422, "value_refused") and not refused.retryable
    clash = database_refusal(IntegrityError("INSERT", {}, cause))
    assert (clash.status, clash.code) == (409, "value_conflict") and not clash.retryable
    busy = database_refusal(OperationalError("INSERT", {}, cause))
    assert (busy.status, busy.code) == (503, "server_error") and busy.retryable
