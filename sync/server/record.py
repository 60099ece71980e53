"""The central record's protocol side: setting up the township, tokens, enrolment, push, pull and status.

Every accepted change is written in one database transaction together with its change-log rows, so a
shop pulling at any moment sees a change either whole or not at all, and exactly once. A push is
stored with ``ledger.ingest`` (sequence, chain, hash and same-id-same-content checks): a resend is a
no-op, anything else that does not fit is refused as a whole (409) and written down as an exception
for the township, in its own transaction because the refused push left nothing behind.
"""

from __future__ import annotations

import gzip
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ledger import messages, services
from ledger.access import ConsoleRole, Grant, Person
from ledger.audit import check_transaction
from ledger.chain import chain_hash
from ledger.errors import LedgerError
from ledger.model import Operator, Policy, Role, Township, Transaction
from ledger.storage.central import CentralDevice, CentralStore, CentralUnit, LogEntry
from sync.errors import SyncError
from sync.protocol import (
    MAX_PUSH_TXNS,
    PULL_PAGE,
    VERSION,
    EnrolRequest,
    Message,
    PushRequest,
    push_request,
    txn_to_wire,
    validated,
)
from sync.server import abuse, bundlekeys, holds, rules
from sync.server.changes import dumps, log_masters, log_txns, txn_entry
from sync.server.tokens import new_token, token_hash

CENTRAL_DEVICE = "C"
FIRST_ADMIN = "admin"  # the user ``central init`` makes, whose token scripts use until people have their own
# Township clerks act through the admin token; what they do is recorded as the township's.
TOWNSHIP_OPERATOR = Operator("township", "乡镇", Role.ADMIN)
_ID = re.compile(r"^[A-Z0-9]{1,16}$")


def valid_id(value: object) -> bool:
    """Township, shop and device ids: upper-case letters and digits (they appear in receipt numbers)."""
    return isinstance(value, str) and bool(_ID.match(value))


class Conflict(SyncError):
    """A refused push (409): ``detail`` is the ledger's code, ``reason`` says what did not fit."""

    def __init__(self, detail: str, reason: messages.Spoken) -> None:
        self.detail = detail
        self.reason = reason
        super().__init__("conflict", detail=reason)

    @classmethod
    def of(cls, error: LedgerError) -> Conflict:
        return cls(error.code, error)


class CentralRecord:
    """The township's ledger with its central tables; one per server process (units are per thread)."""

    def __init__(self, store: CentralStore, clock: services.Clock = services.local_now) -> None:
        self.store = store
        self.clock = clock
        # Household ids seen to exist (never deleted), so the authority rule rarely has to look them up.
        self.known_households: set[str] = set()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, clock: services.Clock = services.local_now) -> CentralRecord:
        return cls(CentralStore.open(url, migrate=migrate), clock)

    def close(self) -> None:
        self.store.close()

    @property
    def ledger(self) -> Any:
        """The ledger store, for ``ledger.services`` (which join the unit already open on this thread)."""
        return self.store.ledger

    def now(self) -> str:
        return services.timestamp(self.clock)

    def context(self) -> services.Context:
        return services.Context(TOWNSHIP_OPERATOR, self.clock)

    @contextmanager
    def write(self) -> Iterator[CentralUnit]:
        """A write unit on a configured central record."""
        with self.store.write() as unit:
            if unit.ledger.meta("role") != "central":
                raise LedgerError("not_configured")
            yield unit

    # ----- setting up ---------------------------------------------------------------------------------
    def configured(self) -> bool:
        with self.store.read() as unit:
            return unit.ledger.meta("role") == "central"

    def initialise(
        self, township_id: str, name: str, policy: Policy | None = None, passbook_key: bytes | None = None
    ) -> bool:
        """Make an empty database the township's central record; False if it already is one."""
        if not valid_id(township_id):
            raise SyncError("invalid", detail=f"township id {township_id!r}: 1-16 upper-case letters or digits")
        if not name.strip():
            raise SyncError("invalid", detail="the township needs a name")
        with self.store.write() as unit:
            ledger = unit.ledger
            if ledger.meta("role") == "central":
                return False
            if ledger.meta("shop_id"):
                raise SyncError("invalid", detail="this database is a shop's ledger, not a central record")
            township = Township(township_id, name.strip(), passbook_key or secrets.token_bytes(32))
            policy = policy or Policy(base_points=100, redeemable_floor=100, visitor_limit=50)
            ledger.put_township(township)
            ledger.put_policy(policy)
            ledger.put_device(CENTRAL_DEVICE, township_id)
            ledger.set_meta("shop_id", township_id)
            ledger.set_meta("device_id", CENTRAL_DEVICE)
            ledger.set_meta("role", "central")
            log_masters(unit, [township, policy], self.now())
        return True

    def new_admin_token(self, label: str = "central init") -> str:
        """A personal API token of the first administrator (the user ``admin``, made here when the township
        has no administrator yet): what ``central init`` prints as ``admin_token``. Shown once."""
        token = new_token()
        with self.write() as unit:
            people = unit.people
            admin = people.user_named(FIRST_ADMIN)
            if admin is None:
                user_id = people.add_user(FIRST_ADMIN, "管理员", None, self.now())
                people.set_grants(user_id, [Grant(ConsoleRole.ADMIN)])
            else:
                user_id = admin.user_id
            people.add_token(token_hash(token), secrets.token_hex(4), user_id, label, self.now())
            people.log_activity(self.now(), None, "system", "command line", "token.add", FIRST_ADMIN, None, None)
        return token

    def new_kiosk_token(self, label: str) -> str:
        token = new_token()
        with self.write() as unit:
            unit.add_kiosk_token(token_hash(token), label.strip()[:100] or "kiosk", self.now())
        return token

    def new_enrol_token(self, shop_id: str) -> str:
        token = new_token()
        with self.write() as unit:
            if unit.ledger.shop(shop_id) is None:
                raise SyncError("not_found", what=f"shop {shop_id}")
            unit.add_enrol_token(token_hash(token), shop_id, self.now())
        return token

    # ----- authentication --------------------------------------------------------------------------------
    def device_for(self, token: str | None) -> CentralDevice:
        if not token:
            raise SyncError("token_missing")
        with self.store.read() as unit:
            device = unit.device_by_token(token_hash(token))
        if device is None or not device.active:
            raise SyncError("token_invalid")
        return device

    def person_for_token(self, token: str | None) -> Person:
        """The person whose personal API token this is; ``admin_required`` (401) without a live one."""
        if not token:
            raise SyncError("admin_required")
        with self.store.read() as unit:
            user = unit.people.token_user(token_hash(token))
        if user is None:
            raise SyncError("admin_required")
        return user.person

    def check_kiosk(self, token: str | None) -> None:
        if not token:
            raise SyncError("token_missing")
        with self.store.read() as unit:
            if not unit.is_kiosk_token(token_hash(token)):
                raise SyncError("token_invalid")

    # ----- the protocol ---------------------------------------------------------------------------------
    def enrol(self, message: EnrolRequest | Message) -> dict[str, Any]:
        """Spend an enrol token: the shop PC becomes a new device with its own token (an ``EnrolReply``)."""
        request = message if isinstance(message, EnrolRequest) else validated(EnrolRequest, message, "enrol")
        enrol_token = request.token
        device_token = new_token()
        when = self.now()
        with self.write() as unit:
            spent = unit.use_enrol_token(token_hash(enrol_token), lambda _shop: _next_device_id(unit), when)
            if spent is None:
                raise SyncError("enrol_invalid")
            shop_id, device_id = spent
            # The bundle key is derived from a secret outside the database and sent once, here (issue 11):
            # the row keeps only a marker, so a stolen copy of the database cannot sign a device's bundles.
            first = not any(d.bundle_key == bundlekeys.DERIVED for d in unit.devices())
            key = bundlekeys.new_device_key(self, device_id, when, first=first)
            device = CentralDevice(device_id, shop_id, when, None, 0, bundlekeys.DERIVED, None)
            unit.add_device(device, token_hash(device_token))
            unit.ledger.put_device(device_id, shop_id)
        return {
            "v": VERSION,
            "shop_id": shop_id,
            "device_id": device_id,
            "device_token": device_token,
            "bundle_key": key,
            "server_time": when,
        }

    def push(self, device: CentralDevice, message: PushRequest | Message) -> dict[str, Any]:
        """Store a device's transactions exactly once; answer how far the device is acknowledged (a ``PushReply``).

        ``message`` is a ``PushRequest`` or a decoded push, validated here.
        """
        request = push_request(message)
        if request.device_id != device.device_id or (request.shop_id or device.shop_id) != device.shop_id:
            raise SyncError("wrong_shop", shop_id=device.shop_id)
        txns = request.transactions()
        for txn in txns:
            if txn.device_id != device.device_id or txn.shop_id != device.shop_id:
                raise SyncError("wrong_shop", shop_id=device.shop_id)
        for txn in txns:
            # Postings that do not balance are not a transaction at all: refused (409). Whether a balanced
            # transaction was the shop's to make is the authority rule's question: held, not refused.
            problems = [p for p in check_transaction(txn) if p.kind == "unbalanced"]
            if problems:
                details = "; ".join(p.detail for p in problems)
                conflict = Conflict(problems[0].kind, LedgerError("transaction_unbalanced", details=details))
                self.record_conflict(device, conflict, [txn.txn_id])
                raise conflict
        # The CPU work that does not depend on what is stored is done before taking the write lock, so
        # another worker process can meanwhile store its push: each transaction's hash against its
        # content, and its change-log text.
        content_ok = [chain_hash(t.prev_hash, t, t.device_id, t.seq) == t.hash for t in txns]
        entries = _entries(txns, request, device.device_id)
        when = self.now()
        try:
            with self.write() as unit:
                current = unit.device(device.device_id)
                if current is None or not current.active:
                    raise SyncError("token_invalid")
                refused = holds.verdicts(unit, device, txns, self.known_households)
                fresh = unit.ingest(txns, content_ok, held=frozenset(refused))
                unit.log_bulk([holds.link_entry(t) if t.txn_id in refused else entries[t.txn_id] for t in fresh], when)
                effective = [t for t in fresh if t.txn_id not in refused] if refused else fresh
                held = [t for t in fresh if t.txn_id in refused] if refused else []
                found = holds.hold(unit, held, refused, {w["i"]: w for w in request.txns}, when)
                found += rules.after_push(unit, effective, when)
                head = unit.device_head(device.device_id)
                acked = head[0] if head else 0
                unit.set_acked(device.device_id, acked, when)
        except LedgerError as error:
            if not error.code.startswith("sync_"):
                raise
            conflict = Conflict.of(error)
            txn_id = error.params.get("txn_id")
            self.record_conflict(device, conflict, [str(txn_id)] if txn_id else [], error.params)
            raise conflict from error
        return {"v": VERSION, "acked_through": acked, "exceptions": found}

    def record_conflict(
        self,
        device: CentralDevice,
        conflict: Conflict,
        txn_ids: Sequence[str],
        params: dict[str, Any] | None = None,
    ) -> None:
        """Write the refusal down for the township: one open exception per device and kind of refusal.

        A client retries the same refused push, and a broken or hostile device can push a thousand
        different sequence gaps in seconds: each of them counts on the one open exception (``count``,
        ``last_seen_at``, the latest detail) instead of adding a row, so the next real alert stays visible.
        Every refusal also counts towards slowing the device down (``abuse``).
        """
        detail = {
            "code": conflict.detail,
            "message": conflict.reason.message("zh"),
            "device_id": device.device_id,
            "shop_id": device.shop_id,
            "params": {k: v if isinstance(v, int | str) else str(v) for k, v in (params or {}).items()},
        }
        now = self.clock()
        when = services.timestamp(lambda: now)
        with self.write() as unit:
            found = unit.open_refusal("conflict", device.device_id, conflict.detail)
            if found is None:
                unit.add_exception(
                    "conflict", None, detail, txn_ids, when, shop_id=device.shop_id, device_id=device.device_id
                )
            else:
                unit.repeat_exception(found.id, detail, txn_ids, when)
            abuse.count_refusal(unit, device.device_id, now)

    def pull_body(self, device_id: str | None, after: int, limit: int = PULL_PAGE) -> bytes:
        """A gzip'd pull reply: changes after ``after`` in order, without ``device_id``'s own transactions."""
        # Level 1: a page of a thousand changes compresses in a third of the time of level 6 for a few percent
        # more bytes; a new shop PC pulls a hundred pages, and the server makes them for every shop.
        return gzip.compress(self.pull_json(device_id, after, limit).encode("utf-8"), compresslevel=1, mtime=0)

    def pull_json(self, device_id: str | None, after: int, limit: int = PULL_PAGE) -> str:
        """The pull reply as JSON text, assembled from the stored change texts without parsing them.

        The page is cut by rows scanned, own transactions included, and ``next`` is the last row
        scanned: so a cursor never skips a row it did not look at, whatever commits meanwhile.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise SyncError("payload_malformed", detail="after must be a whole number, 0 or more")
        limit = max(1, min(int(limit), PULL_PAGE))
        with self.store.read() as unit:
            changes = unit.changes_after(after, limit, device_id)
        parts = [f'{{"data":{c.payload},"seq":{c.seq},"type":"{c.type}"}}' for c in changes if c.payload is not None]
        next_cursor = changes[-1].seq if changes else after
        more = "true" if len(changes) == limit else "false"
        return f'{{"changes":[{",".join(parts)}],"more":{more},"next":{next_cursor},"type":"pull","v":{VERSION}}}'

    def status(self, device: CentralDevice) -> dict[str, Any]:
        with self.store.read() as unit:
            head = unit.device_head(device.device_id)
            cursor = unit.last_seq()
        return {
            "v": VERSION,
            "shop_id": device.shop_id,
            "device_id": device.device_id,
            "acked_through": head[0] if head else 0,
            "server_time": self.now(),
            "cursor": cursor,
        }

    def own(self, device: CentralDevice, after: int) -> dict[str, Any]:
        """``device``'s transactions stored here after ``after`` (one push's worth), for a restored PC."""
        with self.store.read() as unit:
            txns = unit.ledger.device_transactions(device.device_id, after, MAX_PUSH_TXNS + 1)
        page = txns[:MAX_PUSH_TXNS]
        return {"v": VERSION, "txns": [txn_to_wire(t) for t in page], "more": len(txns) > len(page)}

    def log_central(self, unit: CentralUnit, txns: Sequence[Transaction]) -> None:
        log_txns(unit, txns, CENTRAL_DEVICE, self.now())


def _entries(txns: Sequence[Transaction], request: PushRequest, device_id: str) -> dict[str, LogEntry]:
    """Change-log entries of a push's transactions by id, made from the wire forms the push carried.

    The pushed form of a transaction whose hash checks is what ``txn_to_wire`` makes of it (validated, with
    nothing but the protocol's keys), so it is reused with the device added instead of being rebuilt from the
    dataclass.
    """
    wires = {w["i"]: w for w in request.txns}
    entries = {}
    for txn in txns:
        wire = wires.get(txn.txn_id)
        if wire is None:
            entries[txn.txn_id] = txn_entry(txn, device_id)
        else:
            entries[txn.txn_id] = LogEntry("txn", txn.txn_id, dumps(wire | {"d": device_id}), device_id)
    return entries


def _next_device_id(unit: CentralUnit) -> str:
    """The next free ``P<n>``: device ids are unique in the whole township (the ledger keys chains by them)."""
    taken = unit.device_ids()
    n = 1
    while f"P{n}" in taken:
        n += 1
    return f"P{n}"
