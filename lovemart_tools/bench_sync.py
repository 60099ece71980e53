"""``lovemart bench sync``: how fast the central record takes in a night of shop transactions.

Figures (``run_sync_bench``), each measured against a real server process on loopback:

- ``ingest_tx_per_s``: one shop pushing batches of 500 transactions over HTTP (gzip'd JSON, full
  checks: sequence, chain, hash, postings, overdraft rules, change log), one request after another;
- ``baseline_insert_tx_per_s``: the same rows inserted into the same tables of the same database with
  plain executemany statements, in the same run, so the ratio can be compared across machines;
- ``city_night_s``: 368 shops and 53,000 households, one night of about 500 transactions per shop,
  pushed by concurrent clients (``--scale`` shrinks shops, households and transactions for quick runs);
- ``bootstrap_s``: provisioning a shop PC for a village of 2,000 households with 100,000 past
  transactions: ``lovemart provision`` itself (enrol, set up the ledger, pull every page into a fresh
  SQLite ledger, with the durability the shop runs with);
- ``wire_bytes_per_tx``: gzip'd push bytes per transaction;
- ``month_push_s`` and ``month_push_statements``: a busy shop back from 30 days without a network pushes
  its 3,000 transactions to a fresh central record with the real sync client (``SyncClient.push``: three
  pushes of 1,000), and the SQL statements the central record ran for them (its token look-ups, checks,
  rows, change log and acknowledgements); the server runs in this process so that its statements can be
  counted (``ledger.storage.counting_statements``). The baseline, ``month_baseline_s`` and
  ``month_baseline_statements``: the same rows inserted plainly into the same tables in the same batches.

Shop transactions are made synthetically (redemptions with valid chains, from ``ledger.chain``), because a
night of 184,000 real redemptions through the services would measure the till, not the central record.

``MiniClient`` is the least a shop PC does to sync (enrol, pull pages into its ledger, push its journal).
The benchmark and the server's tests use it, so that they depend on the server's API and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from ledger import services
from ledger.chain import chain_hash
from ledger.model import (
    GENESIS_HASH,
    TOWNSHIP_AWARDS,
    TOWNSHIP_BASE,
    Household,
    Item,
    Line,
    Member,
    PassbookCard,
    Policy,
    Posting,
    Transaction,
    TxnDraft,
    TxnKind,
    chained,
    household_account,
    shop_account,
)
from ledger.storage import SqlLedgerStore
from ledger.storage.central import CentralStore, CentralUnit, scratch_schema
from lovemart_tools.serving import serving
from sync import protocol
from sync.apply import apply_page

JSON_GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


# ----- a minimal shop-side client ---------------------------------------------------------------------------


class MiniClient:
    """Enrol, pull into a ledger, push a ledger's own journal: the protocol and nothing else."""

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = 30.0, http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        # Plain HTTP on loopback: no TLS context to build (loading the CA bundle costs 50 ms a client).
        self.http = http or httpx.Client(timeout=timeout, verify=False)
        self._own_http = http is None
        self.shop_id = ""
        self.device_id = ""
        self.bundle_key = ""  # from the enrolment: signs this device's USB-stick bundles
        self.bytes_pushed = 0
        self.bytes_pulled = 0

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def enrol(self, enrol_token: str) -> dict[str, Any]:
        reply = self.http.post(
            self.base_url + "/v1/enrol", content=protocol.encode({"v": 1, "token": enrol_token}), headers=JSON_GZIP
        )
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        self.token, self.shop_id, self.device_id = data["device_token"], data["shop_id"], data["device_id"]
        self.bundle_key = str(data.get("bundle_key") or "")
        return data

    def status(self) -> dict[str, Any]:
        reply = self.http.get(self.base_url + "/v1/status", headers=self._auth())
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def pull_page(self, after: int) -> dict[str, Any]:
        reply = self.http.get(self.base_url + "/v1/pull", params={"after": after}, headers=self._auth())
        reply.raise_for_status()
        self.bytes_pulled += reply.num_bytes_downloaded
        # httpx has already undone the Content-Encoding: the content is the JSON text.
        data: dict[str, Any] = json.loads(reply.content)
        return data

    def push_txns(self, txns: Sequence[Transaction]) -> dict[str, Any]:
        body = protocol.encode(protocol.push_message(self.shop_id, self.device_id, txns))
        self.bytes_pushed += len(body)
        reply = self.http.post(self.base_url + "/v1/push", content=body, headers=JSON_GZIP | self._auth())
        if reply.status_code >= 400:
            raise PushRefused(reply.status_code, reply.json().get("error", {}))
        data: dict[str, Any] = reply.json()
        return data

    # ----- with a ledger ---------------------------------------------------------------------------------
    def provision(self, store: SqlLedgerStore, enrol_token: str) -> None:
        """Enrol, then make ``store`` this shop's ledger from the central record and pull everything."""
        self.enrol(enrol_token)
        pages: list[dict[str, Any]] = []
        found: dict[str, Any] = {}
        cursor = 0
        while True:
            page = self.pull_page(cursor)
            pages.append(page)
            cursor = page["next"]
            for change in page["changes"]:
                kind = change["type"]
                if kind in ("township", "policy", "village", "shop"):
                    record = protocol.master_from_wire(kind, change["data"])
                    key = kind if kind in ("township", "policy") else f"{kind}:{change['data'][f'{kind}_id']}"
                    found[key] = record
            if not page["more"] or f"shop:{self.shop_id}" in found:
                break
        shop = found[f"shop:{self.shop_id}"]
        services.set_up_shop(
            store, found["township"], found[f"village:{shop.village_id}"], shop, self.device_id, found["policy"]
        )
        for page in pages:
            apply_page(store, page["changes"], page["next"])
        self.pull(store)

    def pull(self, store: SqlLedgerStore) -> int:
        """Pull pages after the ledger's cursor until there are no more; return the changes applied.

        The next page is fetched while this one is stored (its cursor is known as soon as it arrives),
        so the server makes page N+1 while this PC writes page N.
        """
        with store.read() as unit:
            cursor = int(unit.meta("pull_cursor") or 0)
        applied = 0
        with ThreadPoolExecutor(1) as fetcher:
            page = self.pull_page(cursor)
            while True:
                ahead = fetcher.submit(self.pull_page, page["next"]) if page["more"] else None
                applied += apply_page(store, page["changes"], page["next"]).changes
                if ahead is None:
                    return applied
                page = ahead.result()

    def push(self, store: SqlLedgerStore, batch: int = 500) -> int:
        """Push the device's transactions after ``acked_through``, advancing only on a reply."""
        with store.read() as unit:
            acked = int(unit.meta("acked_through") or 0)
            identity = unit.identity()
            own = [t for t in unit.journal() if t.device_id == identity.device_id and t.seq > acked]
        self.shop_id, self.device_id = identity.shop_id, identity.device_id
        for start in range(0, len(own), batch):
            reply = self.push_txns(own[start : start + batch])
            with store.write() as unit:
                unit.set_meta("acked_through", str(reply["acked_through"]))
        return len(own)


class PushRefused(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.code = str(error.get("code", ""))
        self.error = error
        super().__init__(f"{status} {self.code}: {error.get('message', '')}")


# ----- the benchmark ------------------------------------------------------------------------------------------

CITY_SHOPS = 368
CITY_HOUSEHOLDS = 53_000
NIGHT_TXNS_PER_SHOP = 500
PUSH_BATCH = 500
INGEST_BATCHES = 40  # 20,000 transactions per figure: long enough to be steady from run to run
CLIENTS = 8
SERVER_WORKERS = 2  # one per core of the 2-core machine the targets are set for
BOOTSTRAP_HOUSEHOLDS = 2_000
BOOTSTRAP_TXNS = 100_000
BASE_POINTS = 5_000  # plenty: overdrafts stay the rare event they are
MONTH_TXNS = 3_000  # 30 days of a busy shop: about 100 redemptions a day
MONTH_HOUSEHOLDS = 500
LOOPBACK = "http://127.0.0.1"  # the in-process server's address (loopback: the sync client sends its token)


@dataclass
class _Shop:
    shop_id: str
    device_id: str
    token: str
    households: list[str]


@dataclass
class _Town:
    url: str
    shops: list[_Shop] = field(default_factory=list)
    items: list[tuple[str, int]] = field(default_factory=list)


def run_sync_bench(database_url: str | None = None, scale: float = 1.0) -> dict[str, Any]:
    """The figures of the module docstring; ``database_url`` None is a temporary SQLite file.

    A PostgreSQL URL is used through a scratch schema (created and dropped here), so a bench never
    touches the data in that database.
    """
    scale = max(0.001, min(1.0, scale))
    shops = max(2, round(CITY_SHOPS * scale))
    households = max(shops * 10, round(CITY_HOUSEHOLDS * scale))
    figures: dict[str, Any] = {
        "database": "postgresql" if _is_postgres(database_url) else "sqlite",
        "scale": scale,
        "shops": shops,
        "households": households,
        "night_txns": shops * NIGHT_TXNS_PER_SHOP,
    }
    with _scratch(database_url) as url:
        town = _seed_city(url, shops, households)
        with _serving(url) as base_url:
            figures.update(_ingest(town, base_url, max(4, round(INGEST_BATCHES * min(1.0, scale * 10)))))
            figures["city_night_s"], figures["city_night_retries"] = _city_night(town, base_url)
    with _scratch(database_url) as url:
        txns = max(10_000, round(BOOTSTRAP_TXNS * scale))
        figures["bootstrap_txns"] = txns
        figures["bootstrap_s"] = _bootstrap(url, BOOTSTRAP_HOUSEHOLDS, txns)
    with _scratch(database_url) as url:
        figures.update(_month_push(url))
    return figures


def _is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith("postgresql")


@contextmanager
def _scratch(url: str | None) -> Iterator[str]:
    if _is_postgres(url):
        assert url is not None
        with scratch_schema(url) as scratch:
            yield scratch
        return
    folder = Path(tempfile.mkdtemp(prefix="lovemart-bench-sync-"))
    try:
        yield f"sqlite:///{folder / 'central.sqlite3'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serving(url: str) -> Any:
    """The central record in its own process (``python -m sync.server``) on a free loopback port."""
    args = ["sync.server", "--database-url", url, "--workers", str(SERVER_WORKERS), "--log-level", "warning"]
    return serving([*args, "--no-access-log"], quiet=False, start_s=60)


def _seed_city(url: str, shops: int, households: int) -> _Town:
    """A township of ``shops`` villages with a shop each, its households, goods, and base points for all."""
    from lovemart_tools.demo import GOODS
    from sync.server import township
    from sync.server.changes import log_txns, master_entry
    from sync.server.record import CENTRAL_DEVICE, CentralRecord

    record = CentralRecord.open(url)
    try:
        record.initialise("T01", "红星镇", Policy(base_points=100, redeemable_floor=100, visitor_limit=50))
        town = _Town(url)
        when = record.now()
        with record.write() as unit:
            for n in range(1, shops + 1):
                township.put_village(record, f"V{n:03d}", f"村{n}")
                township.put_shop(record, f"S{n:03d}", f"村{n}爱心超市", f"V{n:03d}")
            for sku, name, unit_name, points, category, barcode in GOODS:
                township.put_item(record, Item(sku, name, unit_name, points, barcode, category))
            town.items = [(g[0], g[3]) for g in GOODS if g[3] <= 30]
            per_shop = households // shops
            every: list[Household] = []
            for n in range(1, shops + 1):
                ids = [f"H{n:03d}{k:05d}" for k in range(per_shop)]
                every += [
                    Household(h, f"V{n:03d}", "村民", f"S{n:03d}", members=(Member("村民", "户主"),)) for h in ids
                ]
                town.shops.append(_Shop(f"S{n:03d}", "", "", ids))
            cards = [PassbookCard(h.household_id, 1, True, when) for h in every]
            unit.add_households(every, cards)
            unit.log([master_entry(r) for pair in zip(every, cards, strict=True) for r in pair], when)
            identity = unit.ledger.identity()
            drafts = [
                TxnDraft(
                    txn_id=str(uuid.uuid4()),
                    kind=TxnKind.BASE_GRANT,
                    created_at=when,
                    shop_id=identity.shop_id,
                    operator="township",
                    household_id=h.household_id,
                    postings=(
                        Posting(household_account(h.household_id), BASE_POINTS),
                        Posting(TOWNSHIP_BASE, -BASE_POINTS),
                    ),
                    memo="cycle 1",
                )
                for h in every
            ]
            for start in range(0, len(drafts), 5000):
                log_txns(unit, unit.ledger.append_many(drafts[start : start + 5000]), CENTRAL_DEVICE, when)
        for shop in town.shops:
            reply = record.enrol({"token": record.new_enrol_token(shop.shop_id)})
            shop.device_id, shop.token = reply["device_id"], reply["device_token"]
        return town
    finally:
        record.close()


def synthetic_redemptions(
    shop: _Shop,
    items: Sequence[tuple[str, int]],
    count: int,
    rng: random.Random,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    device_id: str | None = None,
) -> list[Transaction]:
    """A night of redemptions at ``shop``, chained as the till chains them (sequence numbers, hashes)."""
    device = device_id or shop.device_id
    start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    result = []
    for k in range(count):
        household_id = rng.choice(shop.households)
        chosen = rng.sample(list(items), rng.randint(1, 2))
        lines = tuple(Line(sku, -rng.randint(1, 2), points) for sku, points in chosen)
        total = sum(-ln.qty * ln.points_each for ln in lines)
        draft = TxnDraft(
            txn_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            kind=TxnKind.REDEEM,
            created_at=(start + timedelta(seconds=40 * k)).isoformat(timespec="seconds"),
            shop_id=shop.shop_id,
            operator="02",
            household_id=household_id,
            postings=(
                Posting(household_account(household_id), -total),
                Posting(shop_account(shop.shop_id, "redeemed"), total),
            ),
            lines=lines,
            pull_cursor=1000,
        )
        seq = first_seq + k
        digest = chain_hash(prev_hash, draft, device, seq)
        result.append(chained(draft, device, seq, prev_hash, digest))
        prev_hash = digest
    return result


def _ingest(town: _Town, base_url: str, batches: int) -> dict[str, Any]:
    """Pushes of 500: one shop after another (latency-bound), then ``CLIENTS // 2`` shops at once (the
    server's rate); then the same rows inserted plainly into the same tables (the baseline)."""
    from sync.server.changes import txn_entry
    from sync.server.record import CentralRecord

    rng = random.Random(1)
    concurrent = max(2, CLIENTS // 2)
    record = CentralRecord.open(town.url, migrate=False)
    try:
        devices = []
        for shop in town.shops[: concurrent + 1]:
            reply = record.enrol({"token": record.new_enrol_token(shop.shop_id)})
            devices.append((shop, reply["device_id"], reply["device_token"]))
    finally:
        record.close()
    per_device = max(1, batches // concurrent)
    plans = [
        (shop, device, token, synthetic_redemptions(shop, town.items, per_device * PUSH_BATCH, rng, device_id=device))
        for shop, device, token in devices
    ]
    single = plans[0]
    single_txns = synthetic_redemptions(single[0], town.items, batches * PUSH_BATCH, rng, device_id=single[1])
    plans[0] = (single[0], single[1], single[2], single_txns)
    bodies = {
        device: [
            protocol.encode(protocol.push_message(shop.shop_id, device, txns[i : i + PUSH_BATCH]))
            for i in range(0, len(txns), PUSH_BATCH)
        ]
        for shop, device, _token, txns in plans
    }
    with httpx.Client(verify=False, timeout=600, limits=httpx.Limits(max_connections=CLIENTS)) as http:

        def push_all(plan: tuple[_Shop, str, str, list[Transaction]]) -> None:
            _shop, device, token, txns = plan
            for body in bodies[device]:
                answer = http.post(
                    base_url + "/v1/push", content=body, headers=JSON_GZIP | {"Authorization": f"Bearer {token}"}
                )
                answer.raise_for_status()
            if answer.json()["acked_through"] != len(txns):
                raise RuntimeError(f"{device}: acknowledged {answer.json()['acked_through']} of {len(txns)}")

        started = time.perf_counter()
        push_all(plans[0])
        single_rate = len(single_txns) / (time.perf_counter() - started)
        many = plans[1:]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(many)) as pool:
            list(pool.map(push_all, many))
        many_txns = sum(len(p[3]) for p in many)
        rate = many_txns / (time.perf_counter() - started)
    # The baseline: the same rows (another device, other ids) into the same tables, no checks, same batches.
    plain = [
        dataclasses.replace(t, device_id="BASELINE", txn_id=str(uuid.uuid5(uuid.NAMESPACE_OID, t.txn_id)))
        for p in many
        for t in p[3]
    ]
    plain = [dataclasses.replace(t, seq=i) for i, t in enumerate(plain, start=1)]
    store = CentralStore.open(town.url, migrate=False)
    try:
        started = time.perf_counter()
        for i in range(0, len(plain), PUSH_BATCH):
            batch = plain[i : i + PUSH_BATCH]
            with store.write() as unit:
                unit.insert_plain(batch, [txn_entry(t, "BASELINE") for t in batch], "2026-03-01T23:00:00+08:00")
        baseline_rate = len(plain) / (time.perf_counter() - started)
    finally:
        store.close()
    wire = sum(len(b) for b in bodies[plans[0][1]])
    return {
        "ingest_txns": many_txns,
        "ingest_clients": len(many),
        "ingest_tx_per_s": round(rate),
        "ingest_single_client_tx_per_s": round(single_rate),
        "baseline_insert_tx_per_s": round(baseline_rate),
        "ingest_vs_baseline": round(rate / baseline_rate, 3),
        "wire_bytes_per_tx": round(wire / len(single_txns), 1),
    }


def _month_push(url: str) -> dict[str, Any]:
    """30 days of a busy shop pushed by the real sync client to a fresh central record: seconds and the SQL
    statements the central record ran; then the same rows inserted plainly (the baseline), counted the same way."""
    with warnings.catch_warnings():  # Starlette asks for its own httpx fork; the sync client needs httpx itself
        warnings.filterwarnings("ignore", message=".*starlette.testclient")
        from starlette.testclient import TestClient

    from ledger.storage import counting_statements, open_ledger
    from sync.client import SyncClient
    from sync.server.app import create_app
    from sync.server.changes import txn_entry
    from sync.server.record import CentralRecord

    town = _seed_city(url, 1, MONTH_HOUSEHOLDS)
    shop = town.shops[0]
    record = CentralRecord.open(url, migrate=False)
    folder = Path(tempfile.mkdtemp(prefix="lovemart-bench-month-"))
    # No ``with``: the app's lifespan would close the record, which the baseline still uses.
    http = TestClient(create_app(url, record=record), base_url=LOOPBACK)
    store = open_ledger(folder / "shop.sqlite3")  # durable, as a shop runs
    try:
        mini = MiniClient(LOOPBACK, http=http)
        mini.provision(store, record.new_enrol_token(shop.shop_id))
        txns = synthetic_redemptions(shop, town.items, MONTH_TXNS, random.Random(3), device_id=mini.device_id)
        with store.write() as unit:
            unit.ingest(txns, create_devices=True)  # what the till wrote over the 30 days
        client = SyncClient(store, LOOPBACK, mini.token or "", http=http, sleep=lambda _seconds: None)
        with counting_statements(record.store.ledger) as pushed_statements:
            started = time.perf_counter()
            result = client.push()
            push_s = time.perf_counter() - started
        if result.acked_through != MONTH_TXNS:
            raise RuntimeError(f"the month's push was acknowledged through {result.acked_through} of {MONTH_TXNS}")
        # The baseline: the same rows (another device, other ids) into the same tables, no checks, same batches.
        plain = [
            dataclasses.replace(t, device_id="BASELINE", txn_id=str(uuid.uuid5(uuid.NAMESPACE_OID, t.txn_id)))
            for t in txns
        ]
        with counting_statements(record.store.ledger) as plain_statements:
            started = time.perf_counter()
            for i in range(0, len(plain), protocol.MAX_PUSH_TXNS):
                batch = plain[i : i + protocol.MAX_PUSH_TXNS]
                with record.store.write() as unit:
                    unit.insert_plain(batch, [txn_entry(t, "BASELINE") for t in batch], record.now())
            baseline_s = time.perf_counter() - started
    finally:
        http.close()
        store.close()
        record.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "month_push_txns": MONTH_TXNS,
        "month_push_s": round(push_s, 2),
        "month_push_statements": pushed_statements.statements,
        "month_baseline_s": round(baseline_s, 2),
        "month_baseline_statements": plain_statements.statements,
        "month_push_vs_baseline": round(baseline_s / push_s, 3),
    }


def _city_night(town: _Town, base_url: str) -> tuple[float, int]:
    """Every shop pushes its night (about 500 transactions) at once, ``CLIENTS`` at a time: (seconds, retries)."""
    rng = random.Random(2)
    work = []
    for shop in town.shops:
        txns = synthetic_redemptions(shop, town.items, NIGHT_TXNS_PER_SHOP, rng)
        body = protocol.encode(protocol.push_message(shop.shop_id, shop.device_id, txns))
        work.append((shop, body, len(txns)))

    with httpx.Client(verify=False, timeout=600, limits=httpx.Limits(max_connections=CLIENTS)) as http:

        def push(item: tuple[_Shop, bytes, int]) -> None:
            shop, body, count = item
            headers = JSON_GZIP | {"Authorization": f"Bearer {shop.token}"}
            # As a shop's client does (sync.client): a 503 (SQLite busy with another shop's push) is
            # "try again shortly"; the retries count in the figure and are reported beside it.
            for attempt in range(6):
                answer = http.post(base_url + "/v1/push", content=body, headers=headers)
                if answer.status_code != 503 or attempt == 5:
                    break
                retries.append(shop.shop_id)
                time.sleep(0.25 * 2**attempt)
            answer.raise_for_status()
            if answer.json()["acked_through"] != count:
                raise RuntimeError(f"{shop.shop_id}: acknowledged {answer.json()['acked_through']} of {count}")

        retries: list[str] = []
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(push, work))
        return round(time.perf_counter() - started, 2), len(retries)


def _bootstrap(url: str, households: int, txns: int) -> float:
    """Seed a village with ``txns`` past transactions, then time a new shop PC from enrolment to a full ledger."""
    enrol_token, expected = seed_village(url, households, txns)
    return timed_provision(url, enrol_token, expected)


def seed_village(url: str, households: int, txns: int) -> tuple[str, int]:
    """A village of ``households`` with ``txns`` past transactions (awards and its shop's redemptions):
    (an enrolment token for shop S01, the number of transactions the central record holds)."""
    from sync.server import township
    from sync.server.changes import log_txns, master_entry
    from sync.server.record import CENTRAL_DEVICE, CentralRecord

    rng = random.Random(3)
    record = CentralRecord.open(url)
    try:
        record.initialise("T01", "红星镇", Policy(base_points=100, redeemable_floor=100, visitor_limit=50))
        when = record.now()
        township.put_village(record, "V01", "幸福村")
        township.put_shop(record, "S01", "幸福村爱心超市", "V01")
        for sku, name, points in (
            ("SOAP", "肥皂", 3),
            ("SALT", "食盐", 2),
            ("OIL1", "食用油", 25),
            ("PEN", "中性笔", 5),
        ):
            township.put_item(record, Item(sku, name, "件", points))
        ids = [f"H{k:05d}" for k in range(households)]
        every = [Household(h, "V01", "村民", "S01", members=(Member("村民", "户主"),)) for h in ids]
        cards = [PassbookCard(h, 1, True, when) for h in ids]
        awards = txns * 3 // 10
        with record.write() as unit:
            unit.add_households(every, cards)
            unit.log([master_entry(r) for pair in zip(every, cards, strict=True) for r in pair], when)
            identity = unit.ledger.identity()
            drafts = [
                TxnDraft(
                    txn_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    kind=TxnKind.AWARD,
                    created_at=when,
                    shop_id=identity.shop_id,
                    operator="township",
                    household_id=(h := rng.choice(ids)),
                    postings=(Posting(household_account(h), 40), Posting(TOWNSHIP_AWARDS, -40)),
                    memo="参加志愿服务",
                )
                for _ in range(awards)
            ]
            for start in range(0, len(drafts), 5000):
                log_txns(unit, unit.ledger.append_many(drafts[start : start + 5000]), CENTRAL_DEVICE, when)
        old = record.enrol({"token": record.new_enrol_token("S01")})
        device = record.device_for(old["device_token"])
        shop = _Shop("S01", old["device_id"], old["device_token"], ids)
        past = synthetic_redemptions(shop, [("SOAP", 3), ("SALT", 2), ("PEN", 5)], txns - awards, rng)
        for start in range(0, len(past), protocol.MAX_PUSH_TXNS):
            record.push(
                device, protocol.push_message("S01", shop.device_id, past[start : start + protocol.MAX_PUSH_TXNS])
            )
        enrol_token = record.new_enrol_token("S01")
        with record.store.read() as unit:
            expected = unit.transaction_count()
    finally:
        record.close()
    return enrol_token, expected


def timed_provision(url: str, enrol_token: str, expected: int) -> float:
    """Seconds for ``lovemart provision`` of a new shop PC against ``url``, served in its own process."""
    folder = Path(tempfile.mkdtemp(prefix="lovemart-bench-shop-"))
    with _serving(url) as base_url:
        try:
            # The real `lovemart provision`: enrol, save the token and settings, set up the ledger, pull.
            from lovemart.bootstrap import shop_parts
            from lovemart.sync_wiring import provision

            home = shop_parts(folder)
            started = time.perf_counter()
            provision(home.settings, home.store, base_url, enrol_token)
            elapsed = time.perf_counter() - started
            with home.store().read() as unit:
                got = CentralUnit(unit).transaction_count()
            home.close()
            if got != expected:
                raise RuntimeError(f"bootstrap pulled {got} transactions of {expected}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return round(elapsed, 2)
