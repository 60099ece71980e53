"""Sync as a state machine against the real central record: one server process on loopback, faults on the wire.

The same machine as ``tests/integration/test_sync_properties.py`` (2-3 shops offline and online, the township awarding
and clearing, faults anywhere), but the central record is the real server (``sync/server``) in its own
process, started by ``tests/server_harness.py`` on SQLite and, when ``LOVEMART_TEST_DATABASE_URL`` is set,
on PostgreSQL. The township works through the admin HTTP API; the shops are real shop ledgers enrolled with
one-use tokens and built by ``SyncClient.bootstrap``, as a new shop PC is.

Faults are injected on the shop's side of the wire by ``FaultyTransport``, an httpx transport around the
real one (no mocks): ``drop_request`` (the connection fails before anything is sent), ``drop_reply`` (the
server gets and handles the request, the reply is lost), ``duplicate`` (the request is delivered twice, the
second reply is returned), ``server_error`` (a 503 without anything sent). A crash of the shop's process is
the client's ``hook``: after the server stored a push but before the ack was saved, or with a pulled page in
hand; the shop's ledger is then closed and opened again, as after a restart.

One server per test function, not per example: a server serves one database, which holds one township, so a
fresh township per Hypothesis example would mean a new database and server process each time. Instead every
example gets its own village, shops (``E<n>S1``...), households (``E<n>H1``...) and newly enrolled devices
(device ids are unique in the township), numbered by example, so examples share the items and policy only.
A new shop PC still pulls what earlier examples left in the change log; the checks look at this example's
devices and households, and at the whole central record only where a property holds for all of it (points
sum to zero; each stored transaction is in the change log once).

After every step, at the central record (read through ``CentralRecord`` in this process and through
``GET /v1/admin/reports/totals``):

- every transaction of a shop's device is stored exactly once, its chain at the central record has no gap
  and is the shop's own, and everything a shop believes acknowledged is there with the same hash;
- points are conserved: the postings of every ledger, the central one and each shop's, sum to zero;
- a sync repeated at once (with a duplicate delivery, even) changes nothing on either side;
- once everyone has synced (twice round: the first round takes the pushes up and makes the overdrafts of
  households redeemed at two shops offline, the second brings them down), every shop's balances, points
  earned and household status equal the central record's.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Item, Transaction
from ledger.storage import SqlLedgerStore, open_ledger
from sync.client import SyncClient, enrol
from sync.server import township
from sync.server.record import CentralRecord
from tests.conftest import ADMIN_CTX
from tests.server_harness import HTTP, PG_URL, ServerProcess, allow_direct_points, pg_schema
from tests.sync_fake import Crash, fresh_ledger, journal_of, meta_int, points_total

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
HOUSEHOLDS = 4
ITEMS = {"RICE": 25, "OIL": 40}
PATHS = ["/v1/push", "/v1/pull", "/v1/status"]
WIRE_FAULTS = ["drop_request", "drop_reply", "duplicate", "server_error"]
CRASHES = {"crash_after_push": "push_replied", "crash_before_apply": "pull_received"}
MAX_ATTEMPTS = 4  # more than the faults of one sync, so every sync with faults still gets through

SETTINGS = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class FaultyTransport(httpx.BaseTransport):
    """The real HTTP transport, with faults queued per request path and used up in order."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.faults: list[tuple[str, str]] = []
        self.bitten: list[tuple[str, str]] = []

    def queue(self, path: str, kind: str) -> None:
        assert kind in WIRE_FAULTS, kind
        self.faults.append((path, kind))

    def _take(self, path: str) -> str | None:
        for i, (where, kind) in enumerate(self.faults):
            if where == path:
                del self.faults[i]
                self.bitten.append((path, kind))
                return kind
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._take(request.url.path)
        if fault == "drop_request":
            raise httpx.ConnectError("fault: the connection failed, nothing was sent", request=request)
        if fault == "server_error":
            body = json.dumps({"error": {"code": "server_error", "message": "服务器暂时不可用"}}).encode()
            # A stream, not ``content=``: the client reads replies with ``iter_raw``, as from the network.
            headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
            return httpx.Response(503, headers=headers, stream=httpx.ByteStream(body), request=request)
        if fault == "duplicate":
            first = self.inner.handle_request(request)  # the body is bytes: the same request goes again
            first.read()
            first.close()
        response = self.inner.handle_request(request)
        if fault == "drop_reply":
            response.read()  # the server has answered, so it has done the work; the answer never arrives
            response.close()
            raise httpx.ReadError("fault: the connection broke before the reply", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


# ----- the township: one server per test function ----------------------------------------------------------


@dataclass
class Central:
    server: ServerProcess
    record: CentralRecord
    admin_token: str
    examples: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        reply = HTTP.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert reply.status_code == 200, (method, path, reply.status_code, reply.text)
        return reply.json()

    def chain(self, device_id: str, shop_id: str) -> dict[int, Transaction]:
        """The device's transactions the central record holds, by sequence number, checked for gaps."""
        with self.record.store.read() as unit:
            head = unit.device_head(device_id) or (0, "")  # (seq, hash) of the device's last transaction stored
            chain = {}
            for seq in range(1, head[0] + 1):
                txn = unit.ledger.transaction_by_receipt(shop_id, device_id, seq)
                assert txn is not None, f"{device_id} #{seq} is missing below the head {head}"
                chain[seq] = txn
            assert unit.ledger.transaction_by_receipt(shop_id, device_id, len(chain) + 1) is None
            if head[0]:
                assert chain[head[0]].hash == head[1]
            logged = unit.logged_keys("txn", [t.txn_id for t in chain.values()])
        assert logged.keys() == {t.txn_id for t in chain.values()}, "a stored transaction is not in the change log"
        return chain

    def balances(self, household_ids: list[str]) -> dict[str, tuple[int, int, str]]:
        with self.record.store.read() as unit:
            return {
                r.household.household_id: (r.balance, r.earned_cycle, str(r.household.status))
                for r in unit.ledger.households()
                if r.household.household_id in household_ids
            }

    def counts(self) -> tuple[int, int, int, int]:
        """(transactions, change-log rows, last change-log seq, exceptions)."""
        with self.record.store.read() as unit:
            return unit.transaction_count(), unit.change_count(), unit.last_seq(), unit.count_exceptions()


@pytest.fixture(params=BACKENDS)
def central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Central]:
    context = None
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
        context = pg_schema()
        database_url = context.__enter__()
    else:
        database_url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    record = CentralRecord.open(database_url)
    try:
        record.initialise("T01", "红星镇")
        admin_token = record.new_admin_token()
        allow_direct_points(record)
        for sku, points in ITEMS.items():
            township.put_item(record, Item(sku, f"商品{sku}", "件", points))
        server = ServerProcess(database_url).start()
        try:
            yield Central(server, record, admin_token)
        finally:
            server.stop()
    finally:
        record.close()
        if context is not None:
            context.__exit__(None, None, None)


# ----- the shops ---------------------------------------------------------------------------------------------


@dataclass
class ShopPC:
    shop_id: str
    device_id: str
    token: str
    path: Path
    store: SqlLedgerStore

    def restart(self) -> None:
        """The process died: the ledger is opened again from its file."""
        self.store.close()
        self.store = open_ledger(self.path, durable=False, migrate=False)


def _own(pc: ShopPC) -> dict[int, Transaction]:
    return {t.seq: t for t in journal_of(pc.store) if t.device_id == pc.device_id}


def _balances(store: SqlLedgerStore, household_ids: list[str]) -> dict[str, tuple[int, int, str]]:
    with store.read() as unit:
        return {
            r.household.household_id: (r.balance, r.earned_cycle, str(r.household.status))
            for r in unit.households()
            if r.household.household_id in household_ids
        }


# ----- the machine -----------------------------------------------------------------------------------------

sync_faults = st.one_of(
    st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(WIRE_FAULTS)), max_size=2),
    st.sampled_from(sorted(CRASHES)),
)


class RealSyncMachine(RuleBasedStateMachine):
    def __init__(self, central: Central) -> None:
        super().__init__()
        self.central = central
        self.n = next(central.examples)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"lovemart-real-sync-{self.n}-"))
        self.transport = FaultyTransport()
        self.http = httpx.Client(transport=self.transport, timeout=30)
        self.shops: list[ShopPC] = []
        self.households = [f"E{self.n}H{i}" for i in range(1, HOUSEHOLDS + 1)]

    @initialize(count=st.integers(min_value=2, max_value=3))
    def set_up(self, count: int) -> None:
        central, n = self.central, self.n
        village = f"V{n}"
        central.admin("POST", "/v1/admin/villages", json={"village_id": village, "name": f"第{n}村"})
        shop_ids = [f"E{n}S{i}" for i in range(1, count + 1)]
        for shop_id in shop_ids:
            central.admin(
                "POST",
                "/v1/admin/shops",
                json={"shop_id": shop_id, "name": f"{shop_id}爱心超市", "village_id": village},
            )
        for i, household_id in enumerate(self.households):
            body = {
                "household_id": household_id,
                "village_id": village,
                "head_name": f"户主{i + 1}",
                "home_shop_id": shop_ids[i % count],
            }
            central.admin("POST", "/v1/admin/households", json=body)
            central.admin(
                "POST", "/v1/admin/points", json={"household_id": household_id, "points": 200, "reason": "卫生评比"}
            )
        for shop_id in shop_ids:
            token = central.admin("POST", f"/v1/admin/shops/{shop_id}/enrol-tokens")["enrol_token"]
            enrolment = enrol(central.url, token, http=self.http, sleep=lambda _s: None)
            assert enrolment.shop_id == shop_id
            path = self.tmp / f"{shop_id}.sqlite3"
            pc = ShopPC(shop_id, enrolment.device_id, enrolment.device_token, path, fresh_ledger(path))
            self.shops.append(pc)
            self.client(pc).bootstrap(shop_id, pc.device_id)
            services.stock_intake(pc.store, [(sku, 200) for sku in ITEMS], supplier="供销社", ctx=ADMIN_CTX)

    def teardown(self) -> None:
        try:
            if self.shops:
                self.everyone_syncs()
        finally:
            for pc in self.shops:
                pc.store.close()
            self.http.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def client(self, pc: ShopPC, hook: Any = None) -> SyncClient:
        return SyncClient(
            pc.store,
            self.central.url,
            pc.token,
            http=self.http,
            sleep=lambda _s: None,
            max_attempts=MAX_ATTEMPTS,
            hook=hook,
        )

    # ----- the township -------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data(), points=st.integers(min_value=1, max_value=150))
    def award_at_central(self, data: st.DataObject, points: int) -> None:
        household_id = data.draw(st.sampled_from(self.households))
        body = {"household_id": household_id, "points": points, "reason": "志愿服务"}
        if self.central.admin("GET", f"/v1/admin/households/{household_id}")["status"] == "frozen":
            headers = {"Authorization": f"Bearer {self.central.admin_token}"}
            reply = HTTP.post(self.central.url + "/v1/admin/points", headers=headers, json=body, timeout=30)
            assert reply.json()["error"]["code"] == "household_frozen_no_award", reply.text  # no award while frozen
            return
        done = self.central.admin("POST", "/v1/admin/points", json=body)["transactions"]
        assert 1 <= len(done) <= 2  # the award, and the repayment of an overdraft if there is one

    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data())
    def clear_or_unfreeze_at_central(self, data: st.DataObject) -> None:
        household_id = data.draw(st.sampled_from(self.households))
        household = self.central.admin("GET", f"/v1/admin/households/{household_id}")
        action = "unfreeze" if household["status"] == "frozen" else "clear"
        self.central.admin("POST", f"/v1/admin/households/{household_id}/{action}", json={"reason": "零容忍条款"})

    # ----- a shop, offline ----------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data(), sku=st.sampled_from(sorted(ITEMS)))
    def redeem_at_a_shop(self, data: st.DataObject, sku: str) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        household_id = data.draw(st.sampled_from(self.households))
        try:
            code = services.passbook_code_of(pc.store, household_id)
            services.redeem(pc.store, code, [(sku, 1)], ctx=ADMIN_CTX)
        except LedgerError as refused:  # not enough points, frozen, visitor limit: the counter says no
            assert refused.code in {"insufficient_points", "household_frozen", "visitor_limit"}, refused.code

    # ----- sync ---------------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data(), faults=sync_faults)
    def sync_a_shop(self, data: st.DataObject, faults: Any) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        crash_at = CRASHES.get(faults) if isinstance(faults, str) else None
        wire = faults if isinstance(faults, list) else []
        if faults == "crash_after_push" or any(path == "/v1/push" for path, _ in wire):
            # A fault on the push bites only if something waits to go up: goods arriving will do.
            services.stock_intake(pc.store, [("RICE", 1)], supplier="供销社", ctx=ADMIN_CTX)
        for path, kind in wire:
            self.transport.queue(path, kind)

        def hook(at: str) -> None:
            if at == crash_at:
                raise Crash

        before_acked = meta_int(pc.store, "acked_through")
        try:
            summary = self.client(pc, hook).sync()
        except Crash:
            if crash_at == "push_replied":
                assert meta_int(pc.store, "acked_through") == before_acked  # died before saving the ack
            pc.restart()
            return
        finally:
            self.transport.faults.clear()  # an unused fault must not fall on a later step
        # Through every fault: all of this shop's transactions acknowledged, and everything pulled.
        own = _own(pc)
        assert summary.acked_through == meta_int(pc.store, "acked_through") == max(own, default=0)
        assert meta_int(pc.store, "pull_cursor") == self.central.counts()[2]

    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data())
    def sync_twice_is_sync_once(self, data: st.DataObject) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        self.client(pc).sync()
        state = (_balances(pc.store, self.households), len(journal_of(pc.store)), meta_int(pc.store, "pull_cursor"))
        at_central = self.central.counts()
        self.transport.queue("/v1/pull", "duplicate")
        try:
            summary = self.client(pc).sync()
        finally:
            self.transport.faults.clear()
        assert summary.pushed == 0 and summary.pulled == 0 and summary.exceptions == 0
        assert (_balances(pc.store, self.households), len(journal_of(pc.store)), meta_int(pc.store, "pull_cursor")) == (
            state
        )
        assert self.central.counts() == at_central

    @precondition(lambda self: bool(self.shops))
    @rule()
    def everyone_syncs(self) -> None:
        for _round in range(2):  # the first round takes everyone's pushes up, the second brings them down
            for pc in self.shops:
                self.client(pc).sync()
        expected = self.central.balances(self.households)
        assert expected.keys() == set(self.households)
        cursor = self.central.counts()[2]
        for pc in self.shops:
            assert _balances(pc.store, self.households) == expected, pc.shop_id
            assert meta_int(pc.store, "pull_cursor") == cursor, pc.shop_id
            own = {seq: (t.txn_id, t.hash) for seq, t in _own(pc).items()}
            there = {seq: (t.txn_id, t.hash) for seq, t in self.central.chain(pc.device_id, pc.shop_id).items()}
            assert own == there, pc.shop_id
            assert meta_int(pc.store, "acked_through") == len(own), pc.shop_id

    # ----- invariants ---------------------------------------------------------------------------------------
    @invariant()
    def stored_exactly_once_and_points_conserved(self) -> None:
        if not self.shops:
            return
        central = self.central
        with central.record.store.read() as unit:
            transactions = unit.transaction_count()
            assert unit.change_count("txn") == transactions  # each stored transaction logged once for the pulls
            assert sum(unit.account_totals("").values()) == 0  # the central record's postings sum to zero
        totals = central.admin("GET", "/v1/admin/reports/totals")
        assert totals["transactions"] == transactions  # the same record, read by the server
        reported = {d["device_id"]: d["acked_through"] for s in totals["shops"] for d in s["devices"]}
        for pc in self.shops:
            chain = central.chain(pc.device_id, pc.shop_id)
            own = _own(pc)
            acked = meta_int(pc.store, "acked_through")
            assert reported[pc.device_id] == len(chain), pc.shop_id
            assert acked <= len(chain) <= max(own, default=0), (pc.shop_id, acked, len(chain))
            for seq, stored in chain.items():  # the central record holds the shop's own chain, each once
                mine = own[seq]
                assert (stored.txn_id, stored.hash) == (mine.txn_id, mine.hash), (pc.shop_id, seq)
            journal = journal_of(pc.store)
            assert len({t.txn_id for t in journal}) == len(journal)
            assert points_total(journal) == 0, pc.shop_id


@pytest.mark.slow
def test_sync_against_the_real_server(central: Central) -> None:
    run_state_machine_as_test(lambda: RealSyncMachine(central), settings=SETTINGS)
