"""The central record against a real server process on loopback, on SQLite and (when configured) PostgreSQL.

Each backend gets one server for the module (a demo township with two shops); each test adds its own
households and enrols its own shop PCs, so tests do not depend on each other's data. Shop ledgers are
made the way a new shop PC is: enrol, then pull everything from the server (``MiniClient``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.model import HouseholdStatus, Item, Transaction, TxnKind
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger
from ledger.storage.central import CentralStore
from lovemart_tools.bench_sync import JSON_GZIP, MiniClient
from sync import protocol
from sync.server import bundlekeys, bundles, township
from sync.server.record import CentralRecord
from sync.server.tokens import bundle_key
from tests.conftest import ADMIN_CTX
from tests.server_harness import HTTP, PG_URL, ServerProcess, allow_direct_points, pg_schema, running

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Town:
    """A township's central record, its server, and helpers to make shops and households in a line."""

    server: ServerProcess
    record: CentralRecord
    admin_token: str
    tmp: Path
    key: bytes = b""
    clients: list[MiniClient] = field(default_factory=list)
    stores: list[SqlLedgerStore] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return HTTP.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def household(self, points: int = 0, shop_id: str = "S01") -> tuple[str, str]:
        """A new household of ``shop_id``'s village with ``points`` awarded; (id, passbook code)."""
        household_id = "X" + uuid.uuid4().hex[:10].upper()
        village = "V01" if shop_id == "S01" else "V02"
        body = {"household_id": household_id, "village_id": village, "head_name": "王秀兰", "home_shop_id": shop_id}
        assert self.admin("POST", "/v1/admin/households", json=body).status_code == 200
        if points:
            reply = self.admin(
                "POST", "/v1/admin/points", json={"household_id": household_id, "points": points, "reason": "测试奖励"}
            )
            assert reply.status_code == 200, reply.text
        return household_id, make_code(self.key, household_id, 1)

    def shop(self, shop_id: str = "S01", stock: int = 100) -> tuple[MiniClient, SqlLedgerStore]:
        """A newly enrolled PC of ``shop_id`` with its ledger pulled from the server and goods on the shelf."""
        token = self.record.new_enrol_token(shop_id)
        client = MiniClient(self.url, http=HTTP)
        store = open_ledger(self.tmp / f"{shop_id}-{uuid.uuid4().hex[:8]}.sqlite3", durable=False)
        client.provision(store, token)
        if stock:
            services.stock_intake(store, [("SOAP", stock), ("OIL5", stock)], supplier="供销社", ctx=ADMIN_CTX)
        self.clients.append(client)
        self.stores.append(store)
        return client, store

    def counts(self) -> tuple[int, int, int]:
        """(transactions, change-log rows, exceptions) at the central record."""
        with self.record.store.read() as unit:
            return unit.transaction_count(), unit.change_count(), unit.count_exceptions()

    def central_balance(self, household_id: str) -> tuple[int, int]:
        with self.record.store.read() as unit:
            return unit.ledger.balance(household_id)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for store in self.stores:
            store.close()


def set_up_township(record: CentralRecord) -> None:
    """Two villages with a shop each and two goods: the least the tests need (each adds its households)."""
    for n, name in ((1, "幸福村"), (2, "光明村")):
        township.put_village(record, f"V0{n}", name)
        township.put_shop(record, f"S0{n}", f"{name}爱心超市", f"V0{n}")
    township.put_item(record, Item("SOAP", "肥皂", "块", 3, "6901234500127", "洗护"))
    township.put_item(record, Item("OIL5", "食用油", "5L桶", 60, "6901234500042", "粮油"))
    allow_direct_points(record)


@pytest.fixture(scope="module", params=BACKENDS)
def town(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    yield from town_of(request, tmp_path_factory)


def town_of(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """A township with its server for a module's tests (``request.param`` is the backend)."""
    tmp = tmp_path_factory.mktemp("town")
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
        context = pg_schema()
        url = context.__enter__()
    else:
        context = None
        url = f"sqlite:///{tmp / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    record.initialise("T01", "红星镇")
    admin = record.new_admin_token()
    set_up_township(record)
    with record.store.read() as unit:
        key = unit.ledger.township().passbook_key
    server = ServerProcess(url).start()
    t = Town(server, record, admin, tmp, key)
    try:
        yield t
    finally:
        t.close()
        server.stop()
        record.close()
        if context is not None:
            context.__exit__(None, None, None)


def own_journal(store: SqlLedgerStore) -> list[Transaction]:
    with store.read() as unit:
        device = unit.identity().device_id
        return [t for t in unit.journal() if t.device_id == device]


def post_push(town: Town, client: MiniClient, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = headers if headers is not None else JSON_GZIP | {"Authorization": f"Bearer {client.token}"}
    return HTTP.post(town.url + "/v1/push", content=body, headers=headers, timeout=30)


def error_of(reply: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = reply.json()["error"]
    return error


# ----- enrolment and authentication ---------------------------------------------------------------------


def test_an_enrol_token_makes_one_device_once(town: Town) -> None:
    token = town.record.new_enrol_token("S02")
    first = HTTP.post(town.url + "/v1/enrol", content=protocol.encode({"v": 1, "token": token}), headers=JSON_GZIP)
    assert first.status_code == 200
    data = first.json()
    assert data["shop_id"] == "S02" and data["device_id"].startswith("P") and len(data["device_token"]) >= 40
    again = HTTP.post(town.url + "/v1/enrol", json={"v": 1, "token": token})
    assert again.status_code == 401 and error_of(again)["code"] == "enrol_invalid"
    wrong = HTTP.post(town.url + "/v1/enrol", json={"v": 1, "token": "nope"}, params={"lang": "en"})
    assert wrong.status_code == 401 and "enrolment token" in error_of(wrong)["message"]
    assert HTTP.post(town.url + "/v1/enrol", content=b"\x00garbage").status_code == 400
    status = HTTP.get(town.url + "/v1/status", headers={"Authorization": f"Bearer {data['device_token']}"}).json()
    assert status["acked_through"] == 0 and status["device_id"] == data["device_id"]
    # The token is kept only as a hash, and the bundle key not at all: the row says it is derived from the
    # server's secret outside the database, and the device got it in the reply (issue 11 §3).
    with town.record.store.read() as unit:
        device = unit.device(data["device_id"])
    assert device is not None and device.bundle_key == bundlekeys.DERIVED
    assert len(data["bundle_key"]) == 64 and data["bundle_key"] != bundle_key(data["device_token"])
    assert bundlekeys.key_of(town.record, device) == data["bundle_key"]


def test_wrong_missing_and_revoked_tokens_are_refused_and_store_nothing(town: Town) -> None:
    _, code = town.household(points=200)
    client, store = town.shop("S01")
    services.redeem(store, code, [("SOAP", 2)], ctx=ADMIN_CTX)
    body = protocol.encode(protocol.push_message(client.shop_id, client.device_id, own_journal(store)))
    before = town.counts()
    missing = post_push(town, client, body, JSON_GZIP)
    assert missing.status_code == 401 and error_of(missing)["code"] == "token_missing"
    wrong = post_push(town, client, body, JSON_GZIP | {"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "token_invalid"
    admin_as_device = post_push(town, client, body, JSON_GZIP | {"Authorization": f"Bearer {town.admin_token}"})
    assert admin_as_device.status_code == 401
    device_as_admin = HTTP.get(
        town.url + "/v1/admin/reports/totals", headers={"Authorization": f"Bearer {client.token}"}
    )
    assert device_as_admin.status_code == 401 and error_of(device_as_admin)["code"] == "admin_required"
    assert town.admin("POST", f"/v1/admin/devices/{client.device_id}/revoke").status_code == 200
    revoked = post_push(town, client, body)
    assert revoked.status_code == 401 and error_of(revoked)["code"] == "token_invalid"
    assert HTTP.get(town.url + "/v1/pull", headers={"Authorization": f"Bearer {client.token}"}).status_code == 401
    assert town.counts() == before


def test_a_device_cannot_push_another_shops_transactions(town: Town) -> None:
    _, code = town.household(points=200)
    s1, store1 = town.shop("S01")
    s2, _store2 = town.shop("S02", stock=0)
    services.redeem(store1, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    txns = own_journal(store1)
    before = town.counts()
    # S02's PC sends S01's transactions, as S01 and as itself.
    for shop_id, device_id in (("S01", s1.device_id), ("S02", s2.device_id), ("S01", s2.device_id)):
        message = protocol.push_message(shop_id, device_id, txns)
        reply = post_push(town, s2, protocol.encode(message))
        assert reply.status_code == 403 and error_of(reply)["code"] == "wrong_shop", reply.text
    # A transaction smuggled in with another device inside the right envelope.
    message = protocol.push_message("S02", s2.device_id, txns)
    message["txns"][0]["d"] = s1.device_id
    assert post_push(town, s2, protocol.encode(message)).status_code == 403
    assert town.counts() == before


# ----- push ---------------------------------------------------------------------------------------------------


def test_push_stores_each_transaction_once_and_a_resend_changes_nothing(town: Town) -> None:
    household_id, code = town.household(points=300)
    client, store = town.shop("S01")
    for _ in range(3):
        services.redeem(store, code, [("SOAP", 1), ("OIL5", 1)], ctx=ADMIN_CTX)
    txns = own_journal(store)
    before = town.counts()
    first = client.push_txns(txns)
    assert first == {"v": 1, "acked_through": len(txns), "exceptions": 0}
    after = town.counts()
    assert after[0] == before[0] + len(txns) and after[1] == before[1] + len(txns)
    assert client.push_txns(txns) == first  # a resend (lost reply): same answer, nothing new
    assert client.push_txns(txns[2:]) == first  # a partial resend
    assert town.counts() == after
    with town.record.store.read() as unit:
        for txn in txns:
            assert unit.ledger.transaction(txn.txn_id) == txn
        assert unit.logged_keys("txn", [t.txn_id for t in txns]).keys() == {t.txn_id for t in txns}
    assert town.central_balance(household_id)[0] == 300 - 3 * (3 + 60)
    assert client.status()["acked_through"] == len(txns)


def test_pushes_that_do_not_fit_are_409_store_nothing_and_are_reported(town: Town) -> None:
    _, code = town.household(points=500)
    client, store = town.shop("S01")
    for _ in range(4):
        services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    t = own_journal(store)  # stock-in, then four redemptions
    client.push_txns(t[:2])
    other = dataclasses.replace(t[2], txn_id=str(uuid.uuid4()), memo="另一笔")
    from ledger.chain import chain_hash

    fork = dataclasses.replace(t[1], txn_id=str(uuid.uuid4()), memo="分叉")
    fork = dataclasses.replace(fork, hash=chain_hash(fork.prev_hash, fork, fork.device_id, fork.seq))
    reused = dataclasses.replace(t[2], txn_id=t[0].txn_id)
    reused = dataclasses.replace(reused, hash=chain_hash(reused.prev_hash, reused, reused.device_id, reused.seq))
    cases = {
        "sync_gap": protocol.push_message(client.shop_id, client.device_id, t[3:]),
        "sync_hash_mismatch": protocol.push_message(client.shop_id, client.device_id, [other]),
        "sync_chain_break": protocol.push_message(client.shop_id, client.device_id, t[2:]) | {"prev_hash": "f" * 64},
        "sync_fork": protocol.push_message(client.shop_id, client.device_id, [fork]),
        "sync_id_reused": protocol.push_message(client.shop_id, client.device_id, [reused]),
    }
    for expected, message in cases.items():
        before = town.counts()
        reply = post_push(town, client, protocol.encode(message))
        assert reply.status_code == 409, (expected, reply.text)
        error = error_of(reply)
        assert error["code"] == "conflict" and error["detail"] == expected
        after = town.counts()
        assert after[:2] == before[:2], expected  # nothing stored
        assert after[2] == before[2] + 1  # one exception for the township
        # The same refused push again does not pile up exceptions.
        assert post_push(town, client, protocol.encode(message)).status_code == 409
        assert town.counts() == after
    # The same id twice in one push: a forged copy first, then the genuine one. Each is checked on its own.
    forged = dataclasses.replace(t[2], memo="改过的")
    before = town.counts()
    twice = protocol.push_message(client.shop_id, client.device_id, [forged, t[2]])
    reply = post_push(town, client, protocol.encode(twice))
    assert reply.status_code == 409 and error_of(reply)["detail"] in ("sync_hash_mismatch", "sync_id_reused")
    assert town.counts()[:2] == before[:2]
    conflicts = town.admin("GET", "/v1/admin/exceptions", params={"kind": "conflict"}).json()["exceptions"]
    assert {e["detail"]["code"] for e in conflicts if e["detail"]["device_id"] == client.device_id} >= set(cases)
    assert client.push_txns(t[2:])["acked_through"] == len(t)  # the genuine rest still goes in


def test_a_transaction_that_does_not_balance_is_refused(town: Town) -> None:
    _, code = town.household(points=200)
    client, store = town.shop("S01")
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    txns = own_journal(store)
    from ledger.chain import chain_hash
    from ledger.model import Posting

    bad = dataclasses.replace(txns[-1], postings=(txns[-1].postings[0], Posting("shop:S01:redeemed", 999)))
    bad = dataclasses.replace(bad, hash=chain_hash(bad.prev_hash, bad, bad.device_id, bad.seq))
    before = town.counts()
    reply = post_push(town, client, protocol.encode(protocol.push_message("S01", client.device_id, [*txns[:-1], bad])))
    assert reply.status_code == 409 and error_of(reply)["detail"] in ("unbalanced", "redeem_mismatch")
    assert town.counts()[:2] == before[:2]


def test_malformed_and_oversized_payloads_are_refused_and_store_nothing(town: Town) -> None:
    _, code = town.household(points=200)
    client, store = town.shop("S01")
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    message = protocol.push_message(client.shop_id, client.device_id, own_journal(store))
    before = town.counts()

    def raw(data: Any) -> bytes:
        return gzip.compress(json.dumps(data).encode())

    wrong_type = json.loads(json.dumps(message))
    wrong_type["txns"][0]["q"] = "1"
    no_postings = json.loads(json.dumps(message))
    no_postings["txns"][-1]["p"] = [["household:X", "lots"]]
    cases = [
        (json.dumps(message).encode(), 400, "payload_malformed"),  # not gzip
        (b"\x1f\x8b" + os.urandom(100), 400, "payload_malformed"),  # broken gzip
        (raw(message | {"v": 2}), 400, "version_unsupported"),
        (raw(message | {"type": "pull"}), 400, "payload_malformed"),
        (raw([1, 2, 3]), 400, "payload_malformed"),
        (raw(wrong_type), 400, "payload_malformed"),
        (raw(no_postings), 400, "payload_malformed"),
        (raw(message | {"txns": "all of them"}), 400, "payload_malformed"),
        (raw(message | {"txns": [message["txns"][0]] * (protocol.MAX_PUSH_TXNS + 1)}), 413, "payload_too_large"),
        (gzip.compress(b" " * (protocol.MAX_JSON_BYTES + 10)), 413, "payload_too_large"),  # a gzip bomb
        (os.urandom(protocol.MAX_BODY_BYTES + 1), 413, "payload_too_large"),
    ]
    for body, status, code_expected in cases:
        reply = post_push(town, client, body)
        assert (reply.status_code, error_of(reply)["code"]) == (status, code_expected), reply.text
    assert town.counts() == before
    # The genuine push still works afterwards.
    assert client.push_txns(own_journal(store))["acked_through"] == len(own_journal(store))


def _raw_request(town: Town, head: str, body_parts: list[bytes]) -> bytes:
    """Send a request by hand and read the reply while the body is still unfinished."""
    import socket

    with socket.create_connection(("127.0.0.1", town.server.port), timeout=10) as conn:
        conn.sendall(head.encode("ascii"))
        for part in body_parts:
            conn.sendall(part)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def test_an_oversized_body_is_refused_before_it_is_read(town: Town) -> None:
    client, _ = town.shop("S01", stock=0)
    auth = f"Authorization: Bearer {client.token}\r\n"
    # Announced as too large: refused from the headers, without waiting for a byte of the body.
    declared = 64 * 1024 * 1024
    head = f"POST /v1/push HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {declared}\r\n\r\n"
    assert _raw_request(town, head, []).startswith(b"HTTP/1.1 413")
    # Sent in chunks with no length: refused once the limit is passed, while the client is still sending.
    head = f"POST /v1/push HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
    size = 512 * 1024
    chunk = f"{size:x}\r\n".encode() + b"\0" * size + b"\r\n"
    parts = [chunk] * (protocol.MAX_BODY_BYTES // size + 2)  # just over the limit; the end never comes
    assert _raw_request(town, head, parts).startswith(b"HTTP/1.1 413")


# ----- pull --------------------------------------------------------------------------------------------------


def test_pull_pages_follow_the_cursor_and_skip_the_callers_own_transactions(town: Town) -> None:
    _, code = town.household(points=200)
    for _ in range(8):
        town.household(points=10)  # enough changes for several pages of ten, whatever ran before
    a, store_a = town.shop("S01")
    b, _store_b = town.shop("S01", stock=0)
    services.redeem(store_a, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    a.push(store_a)
    cursor, seen, pages = 0, [], 0
    while True:
        reply = HTTP.get(
            town.url + "/v1/pull", params={"after": cursor, "limit": 10}, headers={"Authorization": f"Bearer {b.token}"}
        )
        assert reply.headers["content-encoding"] == "gzip" and reply.headers["content-type"] == "application/json"
        page = json.loads(reply.content)
        assert page["v"] == 1 and page["type"] == "pull" and len(page["changes"]) <= 10
        seen += [c["seq"] for c in page["changes"]]
        assert page["next"] >= cursor
        cursor = page["next"]
        pages += 1
        if not page["more"]:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) and pages > 2
    with town.record.store.read() as unit:
        assert cursor == unit.last_seq()
        everything = unit.changes_after(0, 1_000_000, None)
    own_a = {c.seq for c in everything if c.origin_device == a.device_id}
    assert own_a and own_a <= set(seen)  # B sees A's transactions
    # A does not get its own transactions back.
    a_seen = []
    cursor = 0
    while True:
        page = a.pull_page(cursor)
        a_seen += [c["seq"] for c in page["changes"]]
        cursor = page["next"]
        if not page["more"]:
            break
    assert not own_a & set(a_seen)
    assert set(a_seen) | own_a == {c.seq for c in everything}
    # Nothing new: an empty page that keeps the cursor.
    assert a.pull_page(cursor) == {"changes": [], "more": False, "next": cursor, "type": "pull", "v": 1}
    bad = HTTP.get(town.url + "/v1/pull", params={"after": -1}, headers={"Authorization": f"Bearer {a.token}"})
    assert bad.status_code in (400, 422)


# ----- the rules: overdraft, late after clearing ---------------------------------------------------------------


def test_two_shops_redeeming_the_same_household_offline_make_an_overdraft_nothing_lost(town: Town) -> None:
    home, home_store = town.shop("S01")
    away, away_store = town.shop("S02")
    household_id, code = town.household(points=160)  # floor 100: 60 redeemable
    home.pull(home_store)
    away.pull(away_store)
    # Both offline: the home shop redeems all 60, the visiting shop its visitor limit of 50.
    services.redeem(home_store, code, [("OIL5", 1)], ctx=ADMIN_CTX)  # 60
    services.redeem(away_store, code, [("SOAP", 16)], ctx=ADMIN_CTX)  # 48
    home.push(home_store)
    assert town.central_balance(household_id)[0] == 100
    before_exceptions = town.counts()[2]
    reply = away.push_txns(own_journal(away_store))
    assert reply["exceptions"] == 1
    balance, earned = town.central_balance(household_id)
    assert (balance, earned) == (100, 160)  # the shortfall of 48 is an overdraft posting
    with town.record.store.read() as unit:
        overdrafts = [t for t in unit.ledger.transactions(household_id=household_id) if t.kind == TxnKind.OVERDRAFT]
        exceptions = unit.exceptions(status="open", kind="overdraft")
    assert len(overdrafts) == 1 and overdrafts[0].points_of(f"household:{household_id}") == 48
    exception = next(e for e in exceptions if e.household_id == household_id)
    redemptions = [t.txn_id for t in own_journal(home_store) + own_journal(away_store) if t.kind == TxnKind.REDEEM]
    assert set(redemptions) <= set(exception.txn_ids) and overdrafts[0].txn_id in exception.txn_ids
    assert town.counts()[2] == before_exceptions + 1
    # The next award repays the debt first; points earned count the whole award.
    award = town.admin("POST", "/v1/admin/points", json={"household_id": household_id, "points": 30, "reason": "志愿"})
    kinds = [t["kind"] for t in award.json()["transactions"]]
    assert kinds == ["award", "overdraft_repay"]
    assert town.central_balance(household_id) == (100, 190)
    assert town.admin("GET", f"/v1/admin/households/{household_id}").json()["overdraft"] == 18
    # Both shops pull and agree with the central record.
    for client, store in ((home, home_store), (away, away_store)):
        client.pull(store)
        with store.read() as unit:
            assert unit.balance(household_id) == (100, 190)
        assert services.audit(store).ok, services.audit(store).problems
    report = services.audit(town.record.ledger)
    assert report.ok, report.problems


def test_a_redemption_the_shop_made_before_it_knew_of_a_clearing_is_kept_and_reported(town: Town) -> None:
    client, store = town.shop("S01")
    household_id, code = town.household(points=300)
    client.pull(store)
    services.redeem(store, code, [("OIL5", 1)], ctx=ADMIN_CTX)  # offline, before the clearing reached the shop
    cleared = town.admin("POST", f"/v1/admin/households/{household_id}/clear", json={"reason": "酒驾（零容忍）"})
    assert cleared.status_code == 200
    reply = client.push_txns(own_journal(store))
    assert reply["exceptions"] == 2  # late after clearing, and the overdraft it makes
    with town.record.store.read() as unit:
        late = [e for e in unit.exceptions(kind="late_after_clearing") if e.household_id == household_id]
        redeemed = [t for t in unit.ledger.transactions(household_id=household_id) if t.kind == TxnKind.REDEEM]
    assert len(late) == 1 and len(redeemed) == 1  # the redemption stands
    client.pull(store)
    with store.read() as unit:
        household = unit.household(household_id)
    assert household is not None and household.status == HouseholdStatus.FROZEN
    with pytest.raises(LedgerError) as refused:
        services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    assert refused.value.code == "household_frozen"


# ----- end to end, township administration ----------------------------------------------------------------------


def test_award_pull_redeem_push_and_the_totals_agree(town: Town) -> None:
    a, store_a = town.shop("S01")
    b, store_b = town.shop("S02")
    household_id, code = town.household(points=0)
    town.admin("POST", "/v1/admin/points", json={"household_id": household_id, "points": 150, "reason": "美丽庭院"})
    a.pull(store_a)
    with store_a.read() as unit:
        assert unit.balance(household_id) == (150, 150)
    services.redeem(store_a, code, [("SOAP", 5)], ctx=ADMIN_CTX)
    a.push(store_a)
    b.pull(store_b)
    with store_b.read() as unit:
        assert unit.balance(household_id) == (135, 150)
    totals = town.admin("GET", "/v1/admin/reports/totals").json()
    with town.record.store.read() as unit:
        assert totals["households"] == unit.household_count()
        assert totals["balance_total"] == unit.balance_total()
        assert totals["transactions"] == unit.transaction_count()
    with store_b.read() as unit:
        shop_balances = {r.household.household_id: r.balance for r in unit.households()}
    with town.record.store.read() as unit:
        central_balances = {r.household.household_id: r.balance for r in unit.ledger.households()}
    differing = {h: (shop_balances.get(h), central_balances.get(h)) for h in set(shop_balances) | set(central_balances)}
    differing = {h: pair for h, pair in differing.items() if pair[0] != pair[1]}
    assert not differing  # every pushed transaction reached the other shop too
    row = next(s for s in totals["shops"] if s["shop_id"] == "S01")
    assert row["acked_through"] >= len(own_journal(store_a))
    kiosk_token = town.admin("POST", "/v1/admin/kiosk-tokens", json={"label": "村委会"}).json()["kiosk_token"]
    view = HTTP.post(
        town.url + "/v1/kiosk/balance", json={"code": code}, headers={"Authorization": f"Bearer {kiosk_token}"}
    )
    assert view.status_code == 200
    data = view.json()
    assert data["balance"] == 135 and data["redeemable"] == 35 and data["earned_cycle"] == 150
    assert data["history"][0]["points"] == -15 and data["ranking"]["rank"] >= 1
    admin_as_kiosk = HTTP.post(
        town.url + "/v1/kiosk/balance", json={"code": code}, headers={"Authorization": f"Bearer {town.admin_token}"}
    )
    assert admin_as_kiosk.status_code == 401
    forged = HTTP.post(
        town.url + "/v1/kiosk/balance",
        json={"code": code[:-1] + ("Z" if code[-1] != "Z" else "Y")},
        headers={"Authorization": f"Bearer {kiosk_token}"},
    )
    assert forged.status_code == 422 and error_of(forged)["code"] in ("passbook_forged", "passbook_malformed")


def test_households_import_reports_every_bad_row_and_imports_all_or_nothing(town: Town) -> None:
    bad = (
        "标题：幸福村户籍表\n户号,户主,村,家庭成员\nA001,张三,V01,李四(配偶)、张小(儿子)\n"
        ",王五,V01,\nA003,,火星村,\nA001,赵六,V01,\n"
    )
    reply = town.admin(
        "POST", "/v1/admin/households/import", files={"file": ("户籍.csv", bad.encode())}, params={"lang": "zh"}
    )
    assert reply.status_code == 422
    problems = error_of(reply)["problems"]
    assert any(p.startswith("第 4 行") for p in problems) and any(p.startswith("第 5 行") for p in problems)
    assert any(p.startswith("第 6 行") for p in problems)
    assert town.admin("GET", "/v1/admin/households/A001").status_code == 404  # nothing imported
    good = "户号,户主,村,家庭成员\nA001,张三,V01,李四(配偶)、张小(儿子)\nA002,王五,幸福村,\n"
    reply = town.admin("POST", "/v1/admin/households/import", files={"file": ("户籍.csv", good.encode())})
    assert reply.status_code == 200, reply.text
    assert reply.json()["created"] == 2
    household = town.admin("GET", "/v1/admin/households/A001").json()
    assert household["home_shop_id"] == "S01" and household["members"][1] == {"name": "李四", "relation": "配偶"}
    assert household["passbook"].startswith("LM1:A001:1:")
    sheet = "户号,分值,事由\nA001,20,志愿服务\nA002,-5,乱堆乱放\n"
    reply = town.admin("POST", "/v1/admin/points/import", files={"file": ("积分.csv", sheet.encode())})
    assert reply.status_code == 200 and reply.json()["awards"] == 1 and reply.json()["deductions"] == 1
    again = town.admin("POST", "/v1/admin/points/import", files={"file": ("积分.csv", sheet.encode())})
    assert again.status_code == 409 and error_of(again)["code"] == "import_duplicate"
    assert town.central_balance("A001") == (20, 20)


def test_master_data_changes_reach_the_shops(town: Town) -> None:
    client, store = town.shop("S01", stock=0)
    household_id, _code = town.household(points=10)
    reissued = town.admin("POST", f"/v1/admin/households/{household_id}/reissue").json()
    assert reissued["card_no"] == 2
    item = {"sku": "KETTLE", "name": "电水壶", "unit": "个", "points": 45, "barcode": "6901234599999"}
    assert town.admin("POST", "/v1/admin/items", json=item).status_code == 200
    assert town.admin("PUT", "/v1/admin/policy", json={"visitor_limit": 80}).json()["visitor_limit"] == 80
    bad_policy = town.admin("PUT", "/v1/admin/policy", json={"cycle": "weekly"})
    assert bad_policy.status_code == 422
    client.pull(store)
    with store.read() as unit:
        assert unit.card(household_id, 1) is not None and not unit.card(household_id, 1).active
        assert unit.active_card(household_id).card_no == 2
        assert unit.item_by_barcode("6901234599999").points == 45
        assert unit.policy().visitor_limit == 80
    with pytest.raises(LedgerError) as revoked:
        services.balance_for_code(store, make_code(town.key, household_id, 1))
    assert revoked.value.code == "passbook_revoked"
    assert town.admin("PUT", "/v1/admin/policy", json={"visitor_limit": 50}).status_code == 200


def test_a_usb_bundle_is_applied_once_and_a_changed_one_is_refused(town: Town) -> None:
    household_id, code = town.household(points=200)
    client, store = town.shop("S01")
    services.redeem(store, code, [("SOAP", 2)], ctx=ADMIN_CTX)
    key = client.bundle_key
    with store.read() as unit:
        cursor = int(unit.meta("pull_cursor") or 0)
    message = {
        "v": 1,
        "type": "bundle",
        "shop_id": client.shop_id,
        "device_id": client.device_id,
        "cursor": cursor,
        "created_at": "2026-01-01T00:00:00+08:00",
        "push": protocol.push_message(client.shop_id, client.device_id, own_journal(store)),
    }
    body = protocol.encode(bundles.signed(message, key))
    reply_body = bundles.apply_and_reply(town.record, body)
    reply = protocol.decode(reply_body, "bundle_reply")
    assert bundles.canonical(reply) and protocol.verify_signature(key, bundles.canonical(reply), reply["sig"])
    assert reply["acked_through"] == len(own_journal(store))
    before = town.counts()
    bundles.apply_and_reply(town.record, body)  # twice: nothing changes
    assert town.counts() == before
    tampered = json.loads(gzip.decompress(body))
    tampered["push"]["txns"][-1]["p"][0][1] = -1
    with pytest.raises(Exception) as refused:
        bundles.apply_bundle(town.record, protocol.encode(tampered))
    assert getattr(refused.value, "code", "") == "bundle_invalid"
    over_http = town.admin("POST", "/v1/admin/bundles/apply", content=body)
    assert (
        over_http.status_code == 200
        and protocol.decode(over_http.content, "bundle_reply")["device_id"] == client.device_id
    )
    assert town.central_balance(household_id)[0] == 194


def test_reports_and_resolving_exceptions(town: Town) -> None:
    home, home_store = town.shop("S01")
    away, away_store = town.shop("S02")
    household_id, code = town.household(points=170)
    home.pull(home_store)
    away.pull(away_store)
    services.redeem(home_store, code, [("OIL5", 1)], ctx=ADMIN_CTX)
    services.redeem(away_store, code, [("SOAP", 10)], ctx=ADMIN_CTX)
    home.push(home_store)
    away.push(away_store)  # 60 + 30 from 70 redeemable: an overdraft of 20
    overdrafts = town.admin("GET", "/v1/admin/reports/overdrafts").json()
    assert {"household_id": household_id, "owed": 20} in overdrafts["households"]
    liability = town.admin("GET", "/v1/admin/reports/liability").json()
    assert liability["overdraft_total"] >= 20 and liability["households"] >= 1
    shops = {s["shop_id"]: s for s in town.admin("GET", "/v1/admin/reports/shops").json()["shops"]}
    assert shops["S01"]["points_redeemed"] >= 60 and shops["S02"]["redemptions"] >= 1
    ranking = town.admin("GET", "/v1/admin/reports/ranking", params={"village": "V01", "limit": 500}).json()
    row = next(r for r in ranking["ranking"] if r["household_id"] == household_id)
    assert row["earned_cycle"] == 170 and row["balance"] == 100
    ranks = [r["rank"] for r in ranking["ranking"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    open_ones = town.admin("GET", "/v1/admin/exceptions").json()["exceptions"]
    mine = next(e for e in open_ones if e["household_id"] == household_id and e["kind"] == "overdraft")
    assert mine["detail"]["shortfall"] == 20 and mine["status"] == "open"
    resolved = town.admin("POST", f"/v1/admin/exceptions/{mine['id']}/resolve", json={"resolution": "已与两店核对"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    again = town.admin("POST", f"/v1/admin/exceptions/{mine['id']}/resolve", json={"resolution": "再次"})
    assert again.status_code == 409
    assert town.admin("POST", "/v1/admin/exceptions/999999/resolve", json={"resolution": "x"}).status_code == 404
    listed = town.admin("GET", "/v1/admin/exceptions", params={"status": "all"}).json()["exceptions"]
    assert any(e["id"] == mine["id"] and e["resolution"] == "已与两店核对" for e in listed)
    assert town.admin("GET", "/v1/admin/households/NOSUCH").status_code == 404
    bad = town.admin("POST", "/v1/admin/points", json={"household_id": household_id, "points": 0, "reason": "x"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "bad_points"
    assert town.admin("POST", "/v1/admin/points", json={"household_id": 5}).status_code == 422


# ----- the command line -----------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """Run a ``central``/``server`` command through this module's ``register`` (as ``lovemart`` wires it)."""
    from lovemart.bootstrap import shop_parts
    from lovemart.cli import Output
    from lovemart.commands import central

    parser = argparse.ArgumentParser(prog="lovemart")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(group: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
        return p

    def group(name: str, help_text: str) -> Any:
        return commands.add_parser(name, help=help_text).add_subparsers(dest="sub", required=True)

    central.register(commands, add, group)
    args = parser.parse_args(argv)
    args.out = Output(bool(args.json), "zh")
    home = shop_parts(args.home or Path(os.environ.get("TMPDIR", "/tmp")))
    try:
        status = args.handler(args, home)
    except LedgerError as error:
        args.out.refusal(error)
        status = 1
    out = capsys.readouterr().out
    return status, json.loads(out) if args.json and out.strip() else out


def test_the_command_line_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    status, init = run_cli(["central", "init", "--database-url", url, "--json"], capsys)
    assert status == 0 and len(init["admin_token"]) >= 40
    status, demo = run_cli(
        ["central", "demo", "--database-url", url, "--households", "12", "--shops", "2", "--json"], capsys
    )
    assert status == 0 and [s["shop_id"] for s in demo["shops"]] == ["S01", "S02"]
    assert all(len(s["enrol_token"]) >= 40 for s in demo["shops"])
    with running(url) as server:
        # The token comes from $LOVEMART_TOKEN (or is asked for), never from the command line (ps, history).
        monkeypatch.setenv("LOVEMART_TOKEN", init["admin_token"])
        status, totals = run_cli(["central", "report", "totals", "--server", server.url, "--json"], capsys)
        assert status == 0
        assert set(totals) >= {
            "households",
            "balance_total",
            "redeemed_total",
            "transactions",
            "exceptions_open",
            "shops",
        }
        assert totals["households"] == 12 and totals["shops"][0] == {
            **totals["shops"][0],
            "shop_id": "S01",
            "acked_through": 0,
        }
        status, refused = run_cli(
            ["central", "report", "totals", "--server", server.url, "--admin-token", init["admin_token"], "--json"],
            capsys,
        )
        assert status == 1 and refused["error"]["code"] == "secret_on_command_line"
        monkeypatch.setenv("LOVEMART_TOKEN", "wrong")
        status, refused = run_cli(["central", "report", "totals", "--server", server.url, "--json"], capsys)
        assert status == 1 and refused["error"]["code"] == "admin_required"
    monkeypatch.setenv("LOVEMART_TOKEN", init["admin_token"])
    status, down = run_cli(["central", "report", "totals", "--server", server.url, "--json"], capsys)
    assert status == 1 and down["error"]["code"] == "unreachable"
    # A USB-stick bundle from a shop PC, applied at the township with the reply written for the shop.
    record = CentralRecord.open(url)
    try:
        enrolled = record.enrol({"token": demo["shops"][0]["enrol_token"]})
    finally:
        record.close()
    message = {
        "v": 1,
        "type": "bundle",
        "shop_id": "S01",
        "device_id": enrolled["device_id"],
        "cursor": 0,
        "push": protocol.push_message("S01", enrolled["device_id"], []),
    }
    bundle = tmp_path / "S01.bundle"
    bundle.write_bytes(protocol.encode(bundles.signed(message, enrolled["bundle_key"])))
    reply = tmp_path / "S01.reply"
    status, applied = run_cli(
        ["central", "bundle", "apply", str(bundle), "--reply", str(reply), "--database-url", url, "--json"], capsys
    )
    assert status == 0 and applied["acked_through"] == 0 and applied["device_id"] == enrolled["device_id"]
    answer = protocol.decode(reply.read_bytes(), "bundle_reply")
    assert answer["pull"]["after"] == 0 and answer["pull"]["changes"] and not answer["pull"]["more"]
    bundle.write_bytes(protocol.encode(bundles.signed(message, "not the key")))
    status, refused = run_cli(["central", "bundle", "apply", str(bundle), "--database-url", url, "--json"], capsys)
    assert status == 1 and refused["error"]["code"] == "bundle_invalid"
    # init again upgrades and hands out another admin token; the township stays.
    status, again = run_cli(["central", "init", "--database-url", url, "--json"], capsys)
    assert status == 0 and again["created"] is False and again["admin_token"] != init["admin_token"]
    store = CentralStore.open(url)
    try:
        assert services.audit(store.ledger).ok
    finally:
        store.close()


def test_tokens_never_start_with_a_dash_that_the_command_line_would_take_for_an_option() -> None:
    from sync.server.tokens import new_token

    tokens = {new_token() for _ in range(2000)}  # a dash leads about one token in 64
    assert len(tokens) == 2000 and not any(t.startswith("-") for t in tokens)
