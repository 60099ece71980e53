"""A fake central record for the sync client's tests: the HTTP API of docs/sync.md on loopback.

It is small on purpose, but not a mock: a real HTTP server in a thread, a real ledger (``ingest`` does
the sequence, chain and exactly-once checks), and a change log in the global order that pulls page
through. The township's own work (households, awards, clearings) goes through ``ledger.services`` on
its ledger and into the log, as on the real server. It does not apply the overdraft rules.

Faults are queued per request path and consumed in order:
    drop_request   close the connection without reading on (nothing stored)
    drop_reply     store, then close the connection without a reply (the reply is lost)
    duplicate      handle the request twice (a duplicate delivery), reply to the second
    error_500      reply 500 without doing anything
    slow           wait ``delay`` seconds, then handle it (the client may have given up meanwhile)
"""

from __future__ import annotations

import atexit
import gzip
import json
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ledger import services
from ledger.errors import LedgerError
from ledger.model import POINTS, Household, Item, Member, Policy, Shop, Township, Transaction, Village
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger
from sync import protocol
from sync.bundle import EXPORT_TYPE, REPLY_TYPE, open_sealed, seal
from sync.errors import SyncError

TOWNSHIP = "T1"
CENTRAL_DEVICE = "C"
KEY = bytes.fromhex("6c6f76656d6172742d746573742d6b65792d30303030303030303030303030")
POLICY = Policy(base_points=100, redeemable_floor=100, visitor_limit=50)


_TEMPLATE: Path | None = None


def fresh_ledger(path: Path) -> SqlLedgerStore:
    """An empty, migrated ledger at ``path``, copied from one migrated once per process (migrations take ~0.2 s)."""
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        folder = tempfile.mkdtemp(prefix="lovemart-template-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "empty.sqlite3"
        open_ledger(template, durable=False).close()
        _TEMPLATE = template
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE, path)
    return open_ledger(path, durable=False, migrate=False)


class Crash(BaseException):
    """A process dying at a hook: not an ``Exception``, so no handler on the way can take it for a fault."""


def journal_of(store: SqlLedgerStore) -> list[Transaction]:
    """Every transaction a ledger holds, in its order."""
    with store.read() as unit:
        return list(unit.journal())


def meta_int(store: SqlLedgerStore, key: str) -> int:
    """A number the ledger keeps in its meta table (0 when unset): sync cursors, sequence numbers."""
    with store.read() as unit:
        return int(unit.meta(key) or 0)


def points_total(txns: list[Transaction]) -> int:
    """Every posting of points has its counterpart: over a whole ledger they sum to zero."""
    return sum(p.amount for t in txns for p in t.postings if p.unit == POINTS)


@dataclass
class Fault:
    path: str  # "/v1/push", "/v1/pull", "/v1/status", "/v1/enrol"
    kind: str
    delay: float = 0.0


@dataclass
class Change:
    seq: int
    type: str
    data: dict[str, Any]
    origin: str | None = None


@dataclass
class Device:
    device_id: str
    shop_id: str
    token: str
    revoked: bool = False


@dataclass
class FakeCentral:
    root: Path
    policy: Policy = POLICY
    store: SqlLedgerStore = field(init=False)
    log: list[Change] = field(default_factory=list)
    devices: dict[str, Device] = field(default_factory=dict)  # by token
    enrol_tokens: dict[str, str] = field(default_factory=dict)  # token -> shop id
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    heads: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = fresh_ledger(self.root / "central.sqlite3")
        township = Township(TOWNSHIP, "测试镇", KEY)
        seat = Shop(TOWNSHIP, "测试镇", "V0")
        services.set_up_shop(self.store, township, Village("V0", "镇上"), seat, CENTRAL_DEVICE, self.policy)
        self._master(township)
        self._master(self.policy)

    def close(self) -> None:
        self.store.close()

    # ----- the township's work ---------------------------------------------------------------------
    def _master(self, record: Any) -> None:
        kind, data = protocol.master_to_wire(record)
        self.log.append(Change(len(self.log) + 1, kind, data))

    def _txns(self, txns: list[Transaction], origin: str) -> None:
        for txn in txns:
            self.heads[txn.device_id] = max(self.heads.get(txn.device_id, 0), txn.seq)
            self.log.append(Change(len(self.log) + 1, "txn", protocol.txn_to_wire(txn, with_device=True), origin))

    def add_village(self, village_id: str, name: str = "幸福村") -> None:
        with self.lock:
            village = Village(village_id, name)
            with self.store.write() as unit:
                unit.put_village(village)
            self._master(village)

    def add_shop(self, shop_id: str, village_id: str = "V1", name: str | None = None) -> None:
        with self.lock:
            shop = Shop(shop_id, name or f"{shop_id} 爱心超市", village_id)
            with self.store.write() as unit:
                unit.put_shop(shop)
            self._master(shop)

    def add_household(self, household_id: str, name: str = "张三", home_shop: str = "S1", village: str = "V1") -> str:
        with self.lock:
            household = Household(household_id, village, name, home_shop, members=(Member(name, "户主"),))
            card = services.register_household(self.store, household)
            self._master(household)
            self._master(card)
            return make_code(KEY, household_id, card.card_no)

    def reissue(self, household_id: str) -> str:
        with self.lock:
            with self.store.read() as unit:
                old = unit.active_card(household_id)
            card = services.reissue_passbook(self.store, household_id)
            if old is not None:
                with self.store.read() as unit:
                    revoked = unit.card(household_id, old.card_no)
                assert revoked is not None
                self._master(revoked)
            self._master(card)
            return make_code(KEY, household_id, card.card_no)

    def add_item(self, sku: str, points: int, name: str | None = None) -> None:
        with self.lock:
            item = services.add_item(self.store, Item(sku, name or f"商品{sku}", "件", points))
            self._master(item)

    def award(self, household_id: str, points: int, reason: str = "卫生评比") -> Transaction:
        with self.lock:
            txn = services.award(self.store, household_id, points, reason, ctx=services.Context(services.ADMIN))
            self._txns([txn], CENTRAL_DEVICE)
            return txn

    def clear(self, household_id: str, reason: str = "违反零容忍条款") -> Transaction:
        with self.lock:
            txn = services.clear_household(self.store, household_id, reason, ctx=services.Context(services.ADMIN))
            self._txns([txn], CENTRAL_DEVICE)
            return txn

    def unfreeze(self, household_id: str, reason: str = "整改到位") -> Transaction:
        with self.lock:
            txn = services.unfreeze(self.store, household_id, reason, ctx=services.Context(services.ADMIN))
            self._txns([txn], CENTRAL_DEVICE)
            return txn

    def enrol_token(self, shop_id: str) -> str:
        token = secrets.token_urlsafe(16)
        self.enrol_tokens[token] = shop_id
        return token

    def register_device(self, shop_id: str) -> Device:
        """A device as enrolment makes it (device ids are unique in the township: P1, P2, ...)."""
        with self.lock:
            device_id = f"P{len(self.devices) + 1}"
            device = Device(device_id, shop_id, secrets.token_urlsafe(24))
            with self.store.write() as unit:
                unit.put_device(device_id, shop_id)
            self.devices[device.token] = device
            return device

    # ----- what the tests look at -----------------------------------------------------------------------
    def balances(self) -> dict[str, tuple[int, int]]:
        with self.store.read() as unit:
            return {r.household.household_id: (r.balance, r.earned_cycle) for r in unit.households()}

    def journal(self) -> list[Transaction]:
        with self.store.read() as unit:
            return list(unit.journal())

    def head(self, device_id: str) -> int:
        """How far the device's chain is stored here (what a push reply and the status say)."""
        with self.lock:
            return self.heads.get(device_id, 0)

    def fault(self, path: str, kind: str, delay: float = 0.0, times: int = 1) -> None:
        self.faults.extend(Fault(path, kind, delay) for _ in range(times))

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r == (method, path))

    # ----- the protocol ----------------------------------------------------------------------------------
    def device_of(self, authorization: str | None) -> Device:
        if not authorization or not authorization.startswith("Bearer "):
            raise SyncError("token_missing")
        device = self.devices.get(authorization[len("Bearer ") :].strip())
        if device is None or device.revoked:
            raise SyncError("token_invalid")
        return device

    def enrol(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            shop_id = self.enrol_tokens.pop(str(message.get("token")), None)
            if shop_id is None:
                raise SyncError("enrol_invalid")
            device = self.register_device(shop_id)
            return {
                "v": 1,
                "shop_id": shop_id,
                "device_id": device.device_id,
                "device_token": device.token,
                "server_time": services.timestamp(services.local_now),
            }

    def push(self, device: Device, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("device_id") != device.device_id or message.get("shop_id") != device.shop_id:
            raise SyncError("wrong_shop", shop_id=device.shop_id)
        txns = protocol.push_txns(message)
        if any(t.device_id != device.device_id or t.shop_id != device.shop_id for t in txns):
            raise SyncError("wrong_shop", shop_id=device.shop_id)
        with self.lock:
            try:
                with self.store.write() as unit:
                    fresh = unit.ingest(txns)
            except LedgerError as error:
                raise ConflictError(error) from error
            self._txns(fresh, device.device_id)
            return {"v": 1, "acked_through": self.head(device.device_id), "exceptions": 0}

    def pull(self, device_id: str | None, after: int, limit: int) -> dict[str, Any]:
        with self.lock:
            limit = max(1, min(limit, protocol.PULL_PAGE))
            scanned = [c for c in self.log if c.seq > after][:limit]
            changes = [
                {"seq": c.seq, "type": c.type, "data": c.data}
                for c in scanned
                if not (c.type == "txn" and c.origin == device_id)
            ]
            next_cursor = scanned[-1].seq if scanned else after
            more = bool(self.log) and self.log[-1].seq > next_cursor
            return {"v": 1, "type": "pull", "changes": changes, "next": next_cursor, "more": more}

    def status(self, device: Device) -> dict[str, Any]:
        with self.lock:
            return {
                "v": 1,
                "acked_through": self.head(device.device_id),
                "server_time": services.timestamp(services.local_now),
                "cursor": len(self.log),
            }

    # ----- bundles (lovemart central bundle apply / reply) --------------------------------------------------
    def apply_bundle(self, body: bytes) -> dict[str, Any]:
        """Apply a shop's export: its device is found by the signature, as the township's office would."""
        for device in list(self.devices.values()):
            try:
                message = open_sealed(body, device.token, EXPORT_TYPE)
            except SyncError:
                continue
            reply = self.push(device, message["push"])
            return {"device": device, "cursor": message["cursor"], **reply}
        raise SyncError("bundle_invalid", detail="no device signed this file")

    def reply_bundle(self, device: Device, after: int) -> bytes:
        page = self.pull(device.device_id, after, protocol.PULL_PAGE)
        message = {
            "v": 1,
            "type": REPLY_TYPE,
            "shop_id": device.shop_id,
            "device_id": device.device_id,
            "acked_through": self.head(device.device_id),
            "exceptions": 0,
            "pull": {**{k: v for k, v in page.items() if k != "v"}, "after": after},
        }
        return seal(message, device.token)

    # ----- serving ---------------------------------------------------------------------------------------
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the API on a free loopback port for the ``with`` block; yields the base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.path == path:
                    return self.faults.pop(i)
        return None


class ConflictError(SyncError):
    def __init__(self, error: LedgerError) -> None:
        self.ledger_error = error
        super().__init__("conflict", detail=error.message("en"))


class _Dropped(Exception):
    """The connection is closed without a reply."""


def _handler_for(central: FakeCentral) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes; with Nagle on, each reply would wait for a delayed ACK.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server behind a proxy would

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            central.requests.append((method, url.path))
            body = self._body()
            fault = central.take_fault(url.path)
            try:
                if fault is not None and fault.kind == "drop_request":
                    raise _Dropped
                if fault is not None and fault.kind == "error_500":
                    self._reply(500, {"error": {"code": "server_error", "message": "服务器出错"}})
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay)
                status, reply = self._route(method, url.path, parse_qs(url.query), body)
                if fault is not None and fault.kind == "duplicate":
                    status, reply = self._route(method, url.path, parse_qs(url.query), body)
                if fault is not None and fault.kind == "drop_reply":
                    raise _Dropped
                self._reply(status, reply, gzipped=url.path in ("/v1/push", "/v1/pull"))
            except _Dropped:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass

        def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
            try:
                if (method, path) == ("POST", "/v1/enrol"):
                    raw = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
                    return 200, central.enrol(json.loads(raw))
                device = central.device_of(self.headers.get("Authorization"))
                if (method, path) == ("POST", "/v1/push"):
                    return 200, central.push(device, protocol.decode(body, "push"))
                if (method, path) == ("GET", "/v1/pull"):
                    after = int(query.get("after", ["0"])[0])
                    limit = int(query.get("limit", [str(protocol.PULL_PAGE)])[0])
                    return 200, central.pull(device.device_id, after, limit)
                if (method, path) == ("GET", "/v1/status"):
                    return 200, central.status(device)
                raise SyncError("not_found", what=path)
            except SyncError as error:
                payload: dict[str, Any] = {"code": error.code, "message": error.message("zh")}
                if isinstance(error, ConflictError):
                    payload["detail"] = error.ledger_error.code
                return error.status, {"error": payload}

        def _reply(self, status: int, data: Any, gzipped: bool = False) -> None:
            body = json.dumps(data, ensure_ascii=False).encode("utf-8")
            if gzipped and status < 400:
                body = protocol.encode(data)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if gzipped and status < 400:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
