"""SQL of the central record's own tables (migration 0003): devices, tokens, the change log, exceptions.

The central record is a ledger (``SqlLedgerStore``) plus these tables, and every change to them is made
in the same database transaction as the ledger change it belongs to: a ``CentralUnit`` wraps the
ledger unit's connection. The logic (who may push, what an overdraft is) lives in ``sync.server``;
this module only stores and finds.

One writer at a time. Pulls read the change log by ``seq``, so a record must never become visible after
a record with a higher ``seq``. On PostgreSQL, sequence numbers are handed out when rows are inserted
but become visible when transactions commit, in any order; so every write unit first takes an
exclusive lock on ``change_log`` (readers are not blocked) and the order of ``seq`` is the order of
commits. On SQLite, ``BEGIN IMMEDIATE`` already makes writers take turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, select, union, update
from sqlalchemy import text as sql_text  # not "text": the message extractor reads text("...") as a message key

from ledger.chain import new_in_chain
from ledger.effects import Totals, effects_of
from ledger.model import (
    POINTS,
    SEARCH_KEY_LEN,
    Household,
    PassbookCard,
    Shop,
    Transaction,
    TxnKind,
    Village,
    overdraft_account,
)
from ledger.storage.awards import AwardTables
from ledger.storage.engine import make_engine, upgrade
from ledger.storage.figures import REBUILD_FIGURES, TOWNSHIP_ROW, count_rows
from ledger.storage.people import PeopleTables
from ledger.storage.store import (
    T_BALANCE,
    T_CARD,
    T_DEVICE,
    T_HOUSEHOLD,
    T_HOUSEHOLD_KEY,
    T_ITEM,
    T_POSTING,
    T_SHOP,
    T_TXN,
    T_VILLAGE,
    SqlLedgerStore,
    SqlUnit,
    _household,
    _table,
)
from ledger.storage.tables import (
    AdminTokenRow,
    CentralDeviceRow,
    ChangeLogRow,
    DailyFigureRow,
    DeviceRefusalRow,
    EnrolTokenRow,
    HeldTxnRow,
    KioskTokenRow,
    ShopStockRow,
    SyncExceptionRow,
)

T_CENTRAL_DEVICE = _table(CentralDeviceRow)
T_ENROL = _table(EnrolTokenRow)
T_ADMIN = _table(AdminTokenRow)
T_KIOSK = _table(KioskTokenRow)
T_CHANGE = _table(ChangeLogRow)
T_EXCEPTION = _table(SyncExceptionRow)
T_HELD = _table(HeldTxnRow)
T_REFUSAL = _table(DeviceRefusalRow)
T_FIGURE = _table(DailyFigureRow)
T_STOCK_FIGURE = _table(ShopStockRow)


@dataclass(frozen=True)
class CentralDevice:
    device_id: str
    shop_id: str
    created_at: str
    revoked_at: str | None
    acked_through: int
    bundle_key: str
    last_push_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Change:
    """One change-log row; ``payload`` is the JSON text of the record, or None when left out for the reader."""

    seq: int
    type: str
    key: str
    payload: str | None
    origin_device: str | None


@dataclass(frozen=True)
class LogEntry:
    type: str
    key: str
    payload: str
    origin_device: str | None = None


@dataclass(frozen=True)
class HeldRecord:
    """A pushed transaction the central record held (docs/sync.md "Authority"), and what became of it."""

    txn_id: str
    device_id: str
    seq: int
    shop_id: str
    kind: str
    household_id: str | None
    rule: str
    detail: dict[str, Any]
    content: dict[str, Any]
    correction_txn_id: str | None
    status: str
    created_at: str
    decided_at: str | None
    decided_by: str | None
    decision_reason: str | None
    release_txn_id: str | None


def _held(row: Any) -> HeldRecord:
    return HeldRecord(
        txn_id=row.txn_id,
        device_id=row.device_id,
        seq=int(row.seq),
        shop_id=row.shop_id,
        kind=row.kind,
        household_id=row.household_id,
        rule=row.rule,
        detail=json.loads(row.detail),
        content=json.loads(row.content),
        correction_txn_id=row.correction_txn_id,
        status=row.status,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        release_txn_id=row.release_txn_id,
    )


@dataclass(frozen=True)
class SyncExceptionRecord:
    id: int
    kind: str
    household_id: str | None
    detail: dict[str, Any]
    txn_ids: list[str]
    status: str
    created_at: str
    resolved_at: str | None
    resolution: str | None
    shop_id: str | None = None
    device_id: str | None = None
    count: int = 1
    last_seen_at: str | None = None


@dataclass(frozen=True)
class RefusalWindow:
    """A device's refused pushes since ``window_start``, and until when it is slowed down."""

    device_id: str
    window_start: str
    refusals: int
    blocked_until: str | None


def _device(row: Any) -> CentralDevice:
    return CentralDevice(
        row.device_id, row.shop_id, row.created_at, row.revoked_at, row.acked_through, row.bundle_key, row.last_push_at
    )


def _exception(row: Any) -> SyncExceptionRecord:
    return SyncExceptionRecord(
        id=row.id,
        kind=row.kind,
        household_id=row.household_id,
        detail=json.loads(row.detail),
        txn_ids=json.loads(row.txn_ids),
        status=row.status,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        shop_id=row.shop_id,
        device_id=row.device_id,
        count=row.count,
        last_seen_at=row.last_seen_at or row.created_at,
    )


_TXN_COLUMNS = (
    "txn_id",
    "device_id",
    "seq",
    "kind",
    "created_at",
    "shop_id",
    "operator",
    "household_id",
    "memo",
    "ref_txn_id",
    "party",
    "pull_cursor",
    "prev_hash",
    "hash",
)
# Journal rows and change-log entries go in by COPY (``CentralUnit._insert_journal_pg``): an
# ``INSERT ... SELECT FROM unnest(arrays)`` spent more time in psycopg's array dumping, element by
# element in Python, than PostgreSQL spent storing the rows. Serial keys of ``txn`` are drawn first, in
# order, because the postings and lines need them and COPY returns nothing. The few arrays still sent
# (below) go in binary (``%(name)b``): psycopg quotes text arrays element by element.
_PG_NEXT_TXN_KEYS = "SELECT nextval(pg_get_serial_sequence('txn', 'id')) FROM generate_series(1, %(n)s) ORDER BY 1"
_PG_COPY_TXN = f"COPY txn (id, {', '.join(_TXN_COLUMNS)}) FROM STDIN"
_PG_COPY_POSTING = "COPY posting (txn_pk, idx, account, unit, amount) FROM STDIN"
_PG_COPY_LINE = "COPY line (txn_pk, idx, sku, qty, points_each) FROM STDIN"
_PG_ADD_BALANCES = (
    "UPDATE household_balance AS b SET balance = b.balance + u.d, earned_cycle = b.earned_cycle + u.e "
    "FROM unnest(%(h)b::text[], %(d)b::bigint[], %(e)b::bigint[]) AS u(h, d, e) "
    "WHERE b.household_id = u.h RETURNING b.household_id"
)
_PG_KNOWN = "SELECT txn_id, hash FROM txn WHERE txn_id = ANY(%(ids)b::text[])"
_PG_KNOWN_LINKS = "SELECT txn_id, hash FROM chain_link WHERE txn_id = ANY(%(ids)b::text[])"
_PG_HOUSEHOLD_STATES = (
    "SELECT h.household_id, h.status, b.balance FROM household AS h "
    "LEFT JOIN household_balance AS b ON b.household_id = h.household_id WHERE h.household_id = ANY(%(ids)b::text[])"
)
_PG_COPY_CHANGES = "COPY change_log (type, key, payload, origin_device, created_at) FROM STDIN"


class _Prepared:
    """Statements of the push and pull paths, built once (see ``store._Prepared``)."""

    device_by_token = select(T_CENTRAL_DEVICE).where(T_CENTRAL_DEVICE.c.token_hash == bindparam("token_hash"))
    insert_change = insert(T_CHANGE)
    set_acked = (
        update(T_CENTRAL_DEVICE)
        .where(T_CENTRAL_DEVICE.c.device_id == bindparam("b_device_id"))
        .values(acked_through=bindparam("b_acked"), last_push_at=bindparam("b_when"))
    )
    device_head = select(T_DEVICE.c.last_seq, T_DEVICE.c.last_hash).where(
        T_DEVICE.c.device_id == bindparam("device_id")
    )
    changes = (
        select(
            T_CHANGE.c.seq,
            T_CHANGE.c.type,
            T_CHANGE.c.key,
            # The caller's own transactions are skipped: leave their text in the database.
            case(
                (
                    and_(T_CHANGE.c.type.in_(("txn", "link")), T_CHANGE.c.origin_device == bindparam("me")),
                    None,
                ),
                else_=T_CHANGE.c.payload,
            ).label("payload"),
            T_CHANGE.c.origin_device,
        )
        .where(T_CHANGE.c.seq > bindparam("after"))
        .order_by(T_CHANGE.c.seq)
        .limit(bindparam("limit"))
    )
    last_seq = select(func.coalesce(func.max(T_CHANGE.c.seq), 0))
    move_head = (
        update(T_DEVICE)
        .where(T_DEVICE.c.device_id == bindparam("b_device_id"))
        .values(last_seq=bindparam("b_last_seq"), last_hash=bindparam("b_last_hash"))
    )


class CentralUnit:
    """One database transaction on the central record: the ledger unit and the central tables."""

    def __init__(self, ledger: SqlUnit) -> None:
        self.ledger = ledger
        self.c = ledger.c

    @property
    def people(self) -> PeopleTables:
        """The console's users, sessions, API tokens and activity log, in this same transaction."""
        return PeopleTables(self.c)

    @property
    def awards(self) -> AwardTables:
        """The rules catalogue and the award workflow's records, batches and objections, in this transaction."""
        return AwardTables(self.c)

    def lock(self) -> None:
        """Make this unit the only writer until it ends (see the module docstring)."""
        if self.c.dialect.name == "postgresql":
            self.c.exec_driver_sql("LOCK TABLE change_log IN EXCLUSIVE MODE")

    # ----- tokens -----------------------------------------------------------------------------------
    def add_admin_token(self, token_hash: str, when: str) -> None:
        self.c.execute(insert(T_ADMIN).values(token_hash=token_hash, created_at=when))

    def is_admin_token(self, token_hash: str) -> bool:
        return (
            self.c.execute(select(T_ADMIN.c.token_hash).where(T_ADMIN.c.token_hash == token_hash)).first() is not None
        )

    def add_kiosk_token(self, token_hash: str, label: str, when: str) -> None:
        self.c.execute(insert(T_KIOSK).values(token_hash=token_hash, label=label, created_at=when))

    def is_kiosk_token(self, token_hash: str) -> bool:
        query = select(T_KIOSK.c.token_hash).where(T_KIOSK.c.token_hash == token_hash, T_KIOSK.c.revoked_at.is_(None))
        return self.c.execute(query).first() is not None

    def add_enrol_token(self, token_hash: str, shop_id: str, when: str) -> None:
        self.c.execute(insert(T_ENROL).values(token_hash=token_hash, shop_id=shop_id, created_at=when))

    def use_enrol_token(self, token_hash: str, device_id_of: Any, when: str) -> tuple[str, str] | None:
        """Spend an unused enrol token: (shop id, the new device id from ``device_id_of(shop_id)``), or None."""
        row = self.c.execute(
            select(T_ENROL).where(T_ENROL.c.token_hash == token_hash, T_ENROL.c.used_at.is_(None))
        ).first()
        if row is None:
            return None
        device_id = str(device_id_of(row.shop_id))
        spent = self.c.execute(
            update(T_ENROL)
            .where(T_ENROL.c.token_hash == token_hash, T_ENROL.c.used_at.is_(None))
            .values(used_at=when, device_id=device_id)
        ).rowcount
        return (row.shop_id, device_id) if spent == 1 else None

    def enrol_tokens(self, shop_id: str | None = None) -> list[dict[str, Any]]:
        query = select(T_ENROL.c.shop_id, T_ENROL.c.created_at, T_ENROL.c.used_at, T_ENROL.c.device_id)
        if shop_id is not None:
            query = query.where(T_ENROL.c.shop_id == shop_id)
        return [dict(r._mapping) for r in self.c.execute(query.order_by(T_ENROL.c.created_at))]

    # ----- devices --------------------------------------------------------------------------------------
    def add_device(self, device: CentralDevice, token_hash: str) -> None:
        self.c.execute(
            insert(T_CENTRAL_DEVICE).values(
                device_id=device.device_id,
                shop_id=device.shop_id,
                token_hash=token_hash,
                bundle_key=device.bundle_key,
                created_at=device.created_at,
                revoked_at=device.revoked_at,
                acked_through=device.acked_through,
                last_push_at=device.last_push_at,
            )
        )

    def device(self, device_id: str) -> CentralDevice | None:
        row = self.c.execute(select(T_CENTRAL_DEVICE).where(T_CENTRAL_DEVICE.c.device_id == device_id)).first()
        return _device(row) if row else None

    def device_by_token(self, token_hash: str) -> CentralDevice | None:
        row = self.c.execute(_Prepared.device_by_token, {"token_hash": token_hash}).first()
        return _device(row) if row else None

    def devices(self, shop_id: str | None = None) -> list[CentralDevice]:
        query = select(T_CENTRAL_DEVICE).order_by(T_CENTRAL_DEVICE.c.shop_id, T_CENTRAL_DEVICE.c.created_at)
        if shop_id is not None:
            query = query.where(T_CENTRAL_DEVICE.c.shop_id == shop_id)
        return [_device(r) for r in self.c.execute(query)]

    def devices_by_shop(self) -> dict[str, list[CentralDevice]]:
        """Every device, grouped by its shop (a township's pages list 2,000 shops with their devices)."""
        grouped: dict[str, list[CentralDevice]] = {}
        for device in self.devices():
            grouped.setdefault(device.shop_id, []).append(device)
        return grouped

    def shops_last_sync(self, village_id: str | None = None) -> list[tuple[Shop, int, str | None]]:
        """Each shop of a village (None: of the township) with its active devices and its latest push, in
        one grouped read: the overview of 2,000 shops needs these three figures, not 2,000 device records."""
        devices = (
            select(
                T_CENTRAL_DEVICE.c.shop_id,
                func.count(T_CENTRAL_DEVICE.c.device_id)
                .filter(T_CENTRAL_DEVICE.c.revoked_at.is_(None))
                .label("active"),
                func.max(T_CENTRAL_DEVICE.c.last_push_at).label("last_push_at"),
            )
            .group_by(T_CENTRAL_DEVICE.c.shop_id)
            .subquery()
        )
        query = (
            select(T_SHOP, devices.c.active, devices.c.last_push_at)
            .outerjoin(devices, devices.c.shop_id == T_SHOP.c.shop_id)
            .order_by(T_SHOP.c.shop_id)
        )
        if village_id is not None:
            query = query.where(T_SHOP.c.village_id == village_id)
        return [
            (Shop(r.shop_id, r.name, r.village_id), int(r.active or 0), r.last_push_at or None)
            for r in self.c.execute(query)
        ]

    def device_ids(self) -> set[str]:
        """Every device id in use, central or not (a new device must not take one)."""
        ids = set(self.c.execute(select(T_CENTRAL_DEVICE.c.device_id)).scalars())
        ids.update(self.c.execute(select(T_DEVICE.c.device_id)).scalars())
        return ids

    def revoke_device(self, device_id: str, when: str) -> bool:
        changed = self.c.execute(
            update(T_CENTRAL_DEVICE)
            .where(T_CENTRAL_DEVICE.c.device_id == device_id, T_CENTRAL_DEVICE.c.revoked_at.is_(None))
            .values(revoked_at=when)
        ).rowcount
        return bool(changed)

    def set_acked(self, device_id: str, acked_through: int, when: str) -> None:
        self.c.execute(_Prepared.set_acked, {"b_device_id": device_id, "b_acked": acked_through, "b_when": when})

    def device_head(self, device_id: str) -> tuple[int, str] | None:
        """(last seq, last hash) of a device's chain in the ledger, or None for an unknown device."""
        row = self.c.execute(_Prepared.device_head, {"device_id": device_id}).first()
        return (int(row.last_seq), str(row.last_hash)) if row else None

    def device_heads(self) -> dict[str, tuple[int, str]]:
        return {r.device_id: (int(r.last_seq), str(r.last_hash)) for r in self.c.execute(select(T_DEVICE))}

    # ----- change log -------------------------------------------------------------------------------------
    def log(self, entries: Sequence[LogEntry], when: str) -> None:
        """Append change-log rows in the order given; each gets the next ``seq``."""
        if not entries:
            return
        rows = [
            {"type": e.type, "key": e.key, "payload": e.payload, "origin_device": e.origin_device, "created_at": when}
            for e in entries
        ]
        self.c.execute(_Prepared.insert_change, rows if len(rows) > 1 else rows[0])

    def changes_after(self, after: int, limit: int, me: str | None) -> list[Change]:
        """Up to ``limit`` rows after ``after`` in order; ``me``'s own transactions come without payload."""
        result = self.c.execute(_Prepared.changes, {"after": after, "limit": limit, "me": me or ""})
        return [Change(r.seq, r.type, r.key, r.payload, r.origin_device) for r in result]

    def last_seq(self) -> int:
        return int(self.c.execute(_Prepared.last_seq).scalar_one())

    def change_count(self, type_: str | None = None) -> int:
        query = select(func.count()).select_from(T_CHANGE)
        if type_ is not None:
            query = query.where(T_CHANGE.c.type == type_)
        return int(self.c.execute(query).scalar_one())

    def logged_keys(self, type_: str, keys: Sequence[str]) -> dict[str, int]:
        """The change-log ``seq`` of each of ``keys`` (of ``type_``) that is logged."""
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            query = select(T_CHANGE.c.key, T_CHANGE.c.seq).where(
                T_CHANGE.c.type == type_, T_CHANGE.c.key.in_(keys[start : start + 500])
            )
            found.update((r.key, int(r.seq)) for r in self.c.execute(query))
        return found

    def clearing_seq(self, household_id: str) -> int | None:
        """The change-log ``seq`` of the household's latest clearing: shops knew of it from that cursor on."""
        query = (
            select(func.max(T_CHANGE.c.seq))
            .select_from(T_CHANGE.join(T_TXN, T_TXN.c.txn_id == T_CHANGE.c.key))
            .where(
                T_CHANGE.c.type == "txn",
                T_TXN.c.household_id == household_id,
                T_TXN.c.kind == str(TxnKind.CLEARING),
            )
        )
        value = self.c.execute(query).scalar_one_or_none()
        return int(value) if value is not None else None

    def household_txns_logged_after(self, household_id: str, kinds: Sequence[TxnKind], after: int) -> list[str]:
        """Ids of the household's transactions of ``kinds`` that entered the change log after ``after``."""
        query = (
            select(T_TXN.c.txn_id)
            .select_from(T_CHANGE.join(T_TXN, T_TXN.c.txn_id == T_CHANGE.c.key))
            .where(
                T_CHANGE.c.type == "txn",
                T_CHANGE.c.seq > after,
                T_TXN.c.household_id == household_id,
                T_TXN.c.kind.in_([str(k) for k in kinds]),
            )
            .order_by(T_CHANGE.c.seq)
        )
        return list(self.c.execute(query).scalars())

    # ----- exceptions --------------------------------------------------------------------------------------
    def add_exception(
        self,
        kind: str,
        household_id: str | None,
        detail: dict[str, Any],
        txn_ids: Sequence[str],
        when: str,
        *,
        shop_id: str | None = None,
        device_id: str | None = None,
    ) -> int:
        """A new open exception; its shop and device default to the ones its detail names, if any."""
        shop = shop_id if shop_id is not None else detail.get("shop_id")
        device = device_id if device_id is not None else detail.get("device_id")
        result = self.c.execute(
            insert(T_EXCEPTION).values(
                kind=kind,
                household_id=household_id,
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                txn_ids=json.dumps(list(txn_ids)),
                status="open",
                created_at=when,
                shop_id=shop if isinstance(shop, str) else None,
                device_id=device if isinstance(device, str) else None,
                count=1,
                last_seen_at=when,
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0

    def open_exception_like(self, kind: str, detail: dict[str, Any], txn_ids: Sequence[str]) -> int | None:
        """An open exception with the same kind, detail and transactions (a refused push tried again)."""
        query = select(T_EXCEPTION.c.id).where(
            T_EXCEPTION.c.status == "open",
            T_EXCEPTION.c.kind == kind,
            T_EXCEPTION.c.detail == json.dumps(detail, ensure_ascii=False, sort_keys=True),
            T_EXCEPTION.c.txn_ids == json.dumps(list(txn_ids)),
        )
        value = self.c.execute(query.limit(1)).scalar_one_or_none()
        return int(value) if value is not None else None

    def open_refusal(self, kind: str, device_id: str, code: str) -> SyncExceptionRecord | None:
        """The open exception of ``device_id``'s earlier refusals with the same ``code`` (the newest)."""
        query = (
            select(T_EXCEPTION)
            .where(T_EXCEPTION.c.status == "open", T_EXCEPTION.c.kind == kind, T_EXCEPTION.c.device_id == device_id)
            .order_by(T_EXCEPTION.c.id.desc())
        )
        for row in self.c.execute(query):
            found = _exception(row)
            if found.detail.get("code") == code:
                return found
        return None

    def repeat_exception(self, exception_id: int, detail: dict[str, Any], txn_ids: Sequence[str], when: str) -> None:
        """One more occurrence of an open exception: count it, keep the latest detail and transactions."""
        self.c.execute(
            update(T_EXCEPTION)
            .where(T_EXCEPTION.c.id == exception_id)
            .values(
                count=T_EXCEPTION.c.count + 1,
                last_seen_at=when,
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                txn_ids=json.dumps(list(txn_ids)),
            )
        )

    def exceptions_page(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        shop_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[SyncExceptionRecord], int]:
        """One page of exceptions, newest first, and how many match in all."""
        conditions = []
        if status is not None:
            conditions.append(T_EXCEPTION.c.status == status)
        if kind is not None:
            conditions.append(T_EXCEPTION.c.kind == kind)
        if shop_id is not None:
            conditions.append(T_EXCEPTION.c.shop_id == shop_id)
        total = int(self.c.execute(select(func.count()).select_from(T_EXCEPTION).where(*conditions)).scalar_one())
        query = select(T_EXCEPTION).where(*conditions).order_by(T_EXCEPTION.c.id.desc())
        rows = self.c.execute(query.offset(max(0, offset)).limit(max(0, limit)))
        return [_exception(r) for r in rows], total

    # ----- refusals of a device (rate limit) -------------------------------------------------------------
    def refusal_window(self, device_id: str, *, for_update: bool = False) -> RefusalWindow | None:
        """The device's refusal counters; ``for_update`` first locks the device's row (PostgreSQL), so two
        server processes refusing the same device at once count both refusals instead of one overwriting
        the other (SQLite has one writer anyway)."""
        if for_update:
            lock = select(T_CENTRAL_DEVICE.c.device_id).where(T_CENTRAL_DEVICE.c.device_id == device_id)
            self.c.execute(lock.with_for_update())
        row = self.c.execute(select(T_REFUSAL).where(T_REFUSAL.c.device_id == device_id)).first()
        return RefusalWindow(row.device_id, row.window_start, row.refusals, row.blocked_until) if row else None

    def put_refusal_window(self, window: RefusalWindow) -> None:
        values = {
            "window_start": window.window_start,
            "refusals": window.refusals,
            "blocked_until": window.blocked_until,
        }
        changed = self.c.execute(
            update(T_REFUSAL).where(T_REFUSAL.c.device_id == window.device_id).values(**values)
        ).rowcount
        if not changed:
            self.c.execute(insert(T_REFUSAL).values(device_id=window.device_id, **values))

    def exceptions(
        self, status: str | None = None, kind: str | None = None, limit: int = 1000
    ) -> list[SyncExceptionRecord]:
        query = select(T_EXCEPTION).order_by(T_EXCEPTION.c.id)
        if status is not None:
            query = query.where(T_EXCEPTION.c.status == status)
        if kind is not None:
            query = query.where(T_EXCEPTION.c.kind == kind)
        return [_exception(r) for r in self.c.execute(query.limit(max(0, limit)))]

    def open_exceptions_first_naming(self, kind: str, txn_id: str) -> list[SyncExceptionRecord]:
        """Open exceptions of ``kind`` whose first transaction is ``txn_id`` (a held transaction's own)."""
        first = json.dumps([txn_id])[:-1]  # '["<id>"': the start of the stored JSON list
        pattern = first.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = select(T_EXCEPTION).where(
            T_EXCEPTION.c.status == "open",
            T_EXCEPTION.c.kind == kind,
            T_EXCEPTION.c.txn_ids.like(pattern, escape="\\"),
        )
        return [_exception(r) for r in self.c.execute(query.order_by(T_EXCEPTION.c.id))]

    def exception(self, exception_id: int) -> SyncExceptionRecord | None:
        row = self.c.execute(select(T_EXCEPTION).where(T_EXCEPTION.c.id == exception_id)).first()
        return _exception(row) if row else None

    def resolve_exception(self, exception_id: int, resolution: str, when: str) -> bool:
        changed = self.c.execute(
            update(T_EXCEPTION)
            .where(T_EXCEPTION.c.id == exception_id, T_EXCEPTION.c.status == "open")
            .values(status="resolved", resolution=resolution, resolved_at=when)
        ).rowcount
        return bool(changed)

    def count_exceptions(self, status: str | None = None, village_id: str | None = None) -> int:
        """Exceptions, of one status or all; of a village: those of its shops or its households."""
        query = select(func.count()).select_from(T_EXCEPTION)
        if status is not None:
            query = query.where(T_EXCEPTION.c.status == status)
        if village_id is not None:
            households = select(T_HOUSEHOLD.c.household_id).where(T_HOUSEHOLD.c.village_id == village_id)
            shops = select(T_SHOP.c.shop_id).where(T_SHOP.c.village_id == village_id)
            query = query.where(T_EXCEPTION.c.household_id.in_(households) | T_EXCEPTION.c.shop_id.in_(shops))
        return int(self.c.execute(query).scalar_one())

    # ----- held transactions ---------------------------------------------------------------------------------
    def add_held(self, record: HeldRecord) -> None:
        self.c.execute(
            insert(T_HELD).values(
                txn_id=record.txn_id,
                device_id=record.device_id,
                seq=record.seq,
                shop_id=record.shop_id,
                kind=record.kind,
                household_id=record.household_id,
                rule=record.rule,
                detail=json.dumps(record.detail, ensure_ascii=False, sort_keys=True),
                content=json.dumps(record.content, ensure_ascii=False, sort_keys=True),
                correction_txn_id=record.correction_txn_id,
                status=record.status,
                created_at=record.created_at,
            )
        )

    def held(self, txn_id: str) -> HeldRecord | None:
        row = self.c.execute(select(T_HELD).where(T_HELD.c.txn_id == txn_id)).first()
        return _held(row) if row else None

    def held_list(
        self, status: str | None = None, shop_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[list[HeldRecord], int]:
        """Held transactions, newest first, and how many match in all."""
        query = select(T_HELD)
        count = select(func.count()).select_from(T_HELD)
        if status is not None:
            query = query.where(T_HELD.c.status == status)
            count = count.where(T_HELD.c.status == status)
        if shop_id is not None:
            query = query.where(T_HELD.c.shop_id == shop_id)
            count = count.where(T_HELD.c.shop_id == shop_id)
        query = query.order_by(T_HELD.c.created_at.desc(), T_HELD.c.device_id, T_HELD.c.seq.desc())
        rows = self.c.execute(query.offset(max(0, offset)).limit(max(0, limit)))
        return [_held(r) for r in rows], int(self.c.execute(count).scalar_one())

    def decide_held(
        self, txn_id: str, status: str, by: str, reason: str, when: str, release_txn_id: str | None
    ) -> bool:
        """Record the township's decision on a held transaction; False if it was decided already."""
        changed = self.c.execute(
            update(T_HELD)
            .where(T_HELD.c.txn_id == txn_id, T_HELD.c.status == "held")
            .values(
                status=status, decided_by=by, decision_reason=reason, decided_at=when, release_txn_id=release_txn_id
            )
        ).rowcount
        return bool(changed)

    def item_prices(self, skus: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
        """Each sku's published points prices as (change-log seq, points), oldest first: the catalogue's history."""
        found: dict[str, list[tuple[int, int]]] = {}
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), 500):
            query = (
                select(T_CHANGE.c.key, T_CHANGE.c.seq, T_CHANGE.c.payload)
                .where(T_CHANGE.c.type == "item", T_CHANGE.c.key.in_(wanted[start : start + 500]))
                .order_by(T_CHANGE.c.seq)
            )
            for r in self.c.execute(query):
                points = json.loads(r.payload).get("points")
                if isinstance(points, int):
                    found.setdefault(r.key, []).append((int(r.seq), points))
        return found

    # ----- a push, stored ---------------------------------------------------------------------------------
    def ingest(
        self,
        txns: Sequence[Transaction],
        content_ok: Sequence[bool] | None = None,
        held: frozenset[str] = frozenset(),
    ) -> list[Transaction]:
        """Store a device's pushed transactions exactly once (``SqlUnit.ingest``'s contract and checks).

        On SQLite this is ``SqlUnit.ingest`` itself. On PostgreSQL, psycopg sends an executemany as one
        statement per row, which made a push of 500 transactions (some 2,500 rows) cost a tenth of a
        second; here each table gets one ``INSERT ... SELECT FROM unnest(arrays)``, a statement whose text
        never changes (so the server prepares it once) whatever the number of rows. The checks are the
        ledger's, in the same order with the same refusals; the caches move as ``_apply_effects`` moves
        them (and through it when a push holds anything but plain movements of points).

        ``content_ok[i]`` (the hash of ``txns[i]`` matches its content) lets a caller hash the push before
        it takes the write lock; without it the hashes are computed here, as the ledger does. ``held``
        transactions keep only their place in the chain (``SqlUnit.ingest``).
        """
        if self.c.dialect.name != "postgresql":
            stored = self.ledger.ingest(txns, held=held, content_ok=content_ok)
            self.count_figures([t for t in stored if t.txn_id not in held])
            return stored
        if content_ok is not None and len(content_ok) != len(txns):
            raise ValueError("content_ok must say something of every transaction")
        fresh, heads = self._checked(txns, content_ok)
        if not fresh:
            return []
        for device_id, (seq, digest) in heads.items():
            if any(t.device_id == device_id for t in fresh):
                self.c.execute(
                    _Prepared.move_head, {"b_device_id": device_id, "b_last_seq": seq, "b_last_hash": digest}
                )
        effective = [t for t in fresh if t.txn_id not in held] if held else fresh
        if len(effective) != len(fresh):
            self.ledger.add_links([t for t in fresh if t.txn_id in held])
        if effective:
            self._insert_journal_pg(effective)
            self._apply_effects_pg(effective)
            self.count_figures(effective)
        return fresh

    def _checked(
        self, txns: Sequence[Transaction], content_ok: Sequence[bool] | None
    ) -> tuple[list[Transaction], dict[str, tuple[int, str]]]:
        """The new transactions of a push, by the ledger's one acceptance rule (``ledger.chain.new_in_chain``)."""
        ids = [t.txn_id for t in txns]
        known: dict[str, str] = {str(r[0]): str(r[1]) for r in self.c.exec_driver_sql(_PG_KNOWN, {"ids": ids})}
        if self.ledger._has_links():
            known.update((str(r[0]), str(r[1])) for r in self.c.exec_driver_sql(_PG_KNOWN_LINKS, {"ids": ids}))
        devices = sorted({t.device_id for t in txns})
        heads: dict[str, tuple[int, str]] = {}
        for r in self.c.execute(select(T_DEVICE).where(T_DEVICE.c.device_id.in_(devices))):
            heads[r.device_id] = (r.last_seq, r.last_hash)
        fresh, _ = new_in_chain(txns, known, heads, content_ok)
        return fresh, heads

    def _insert_journal_pg(self, txns: Sequence[Transaction]) -> None:
        """The rows of ``txns`` by ``COPY``, the fastest way into PostgreSQL; keys drawn first, in push order.

        ``COPY`` cannot return the serial keys the postings and lines need, so they are drawn from the
        table's sequence beforehand. Writers take turns (the module docstring), so the keys are consecutive
        and in the push's order, as an insert would have drawn them.
        """
        keys = [int(k) for k in self.c.exec_driver_sql(_PG_NEXT_TXN_KEYS, {"n": len(txns)}).scalars()]
        with self._copy(_PG_COPY_TXN) as copy:
            for key, t in zip(keys, txns, strict=True):
                copy.write_row(
                    (
                        key, t.txn_id, t.device_id, t.seq, str(t.kind), t.created_at, t.shop_id, t.operator,
                        t.household_id, t.memo, t.ref_txn_id, t.party, t.pull_cursor, t.prev_hash, t.hash,
                    )
                )  # fmt: skip
        with self._copy(_PG_COPY_POSTING) as copy:
            for key, t in zip(keys, txns, strict=True):
                for i, p in enumerate(t.postings):
                    copy.write_row((key, i, p.account, p.unit, p.amount))
        if any(t.lines for t in txns):
            with self._copy(_PG_COPY_LINE) as copy:
                for key, t in zip(keys, txns, strict=True):
                    for i, ln in enumerate(t.lines):
                        copy.write_row((key, i, ln.sku, ln.qty, ln.points_each))

    def _copy(self, statement: str) -> Any:
        """A ``COPY ... FROM STDIN`` in this unit's transaction (psycopg formats each row in C)."""
        cursor = self.c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return cursor.copy(statement)

    def _apply_effects_pg(self, txns: Sequence[Transaction]) -> None:
        stock_shop = self.ledger.identity().shop_id
        overlay = Totals()
        for txn in txns:
            fx = effects_of(txn, stock_shop)
            if fx.earned_reset or fx.status or fx.stock:
                # Not a plain movement of points: let the ledger apply the whole push, in its order.
                self.ledger._apply_effects(txns)
                return
            overlay.apply(fx)
        households = sorted(set(overlay.balance) | set(overlay.earned))
        if not households:
            return
        amounts = [overlay.balance.get(h, 0) for h in households]
        earned = [overlay.earned.get(h, 0) for h in households]
        params = {"h": households, "d": amounts, "e": earned}
        updated = set(self.c.exec_driver_sql(_PG_ADD_BALANCES, params).scalars())
        for household_id, amount, gained in zip(households, amounts, earned, strict=True):
            if household_id not in updated:
                self.c.execute(insert(T_BALANCE).values(household_id=household_id, balance=amount, earned_cycle=gained))

    def log_bulk(self, entries: Sequence[LogEntry], when: str) -> None:
        """``log`` for a push: one statement on PostgreSQL, ``seq`` given in the order of ``entries``."""
        if self.c.dialect.name != "postgresql" or len(entries) < 2:
            self.log(entries, when)
            return
        with self._copy(_PG_COPY_CHANGES) as copy:
            for e in entries:
                copy.write_row((e.type, e.key, e.payload, e.origin_device, when))

    # ----- in bulk (a township's register, benchmarks) ------------------------------------------------------
    def add_households(self, households: Sequence[Household], cards: Sequence[PassbookCard]) -> None:
        """Insert new households (with zero balances) and their cards, one statement per table.

        For registers of tens of thousands of households; ``put_household`` one by one is the path for
        a change. The caller logs the records (``log``) in the same unit.
        """
        for start in range(0, len(households), 5000):
            part = households[start : start + 5000]
            self.c.execute(
                insert(T_HOUSEHOLD),
                [
                    {
                        "household_id": h.household_id,
                        "village_id": h.village_id,
                        "head_name": h.head_name,
                        "home_shop_id": h.home_shop_id,
                        "status": str(h.status),
                        "members": json.dumps([[m.name, m.relation] for m in h.members], ensure_ascii=False),
                        "village_group": h.village_group,
                        "house_no": h.house_no,
                        "phone": h.phone,
                    }
                    for h in part
                ],
            )
            self.ledger.index_households(part)
            self.c.execute(
                insert(T_BALANCE), [{"household_id": h.household_id, "balance": 0, "earned_cycle": 0} for h in part]
            )
        for start in range(0, len(cards), 5000):
            self.c.execute(
                insert(T_CARD),
                [
                    {
                        "household_id": c.household_id,
                        "card_no": c.card_no,
                        "active": c.active,
                        "issued_at": c.issued_at,
                        "revoked_at": c.revoked_at,
                    }
                    for c in cards[start : start + 5000]
                ],
            )

    def insert_plain(self, txns: Sequence[Transaction], entries: Sequence[LogEntry], when: str) -> None:
        """The benchmark's baseline: the rows of ``txns`` and their change-log entries, with no check at all.

        The same tables and the same statements as a checked push (``ingest`` then ``log_bulk``), minus
        everything that makes a push safe: reading what is stored, hashing, chains, balances, rules.
        """
        if self.c.dialect.name == "postgresql":
            self._insert_journal_pg(txns)
        else:
            self.ledger._insert_journal(txns)
        self.log_bulk(entries, when)

    # ----- master data the ledger port does not list -------------------------------------------------------
    def village_names(self) -> dict[str, str]:
        """Village id to name, in id order: what pages list and pick from (plain pairs are several times
        cheaper than 2,000 ``Village`` records on every page of a large township)."""
        query = select(T_VILLAGE.c.village_id, T_VILLAGE.c.name).order_by(T_VILLAGE.c.village_id)
        return {str(r[0]): str(r[1]) for r in self.c.execute(query)}

    def villages(self) -> list[Village]:
        return [
            Village(r.village_id, r.name) for r in self.c.execute(select(T_VILLAGE).order_by(T_VILLAGE.c.village_id))
        ]

    def shops(self) -> list[Shop]:
        rows = self.c.execute(select(T_SHOP).order_by(T_SHOP.c.shop_id))
        return [Shop(r.shop_id, r.name, r.village_id) for r in rows]

    def household_ids(self) -> set[str]:
        """Every household's id (a township's register: tens of thousands, read once per server process)."""
        return set(self.c.execute(select(T_HOUSEHOLD.c.household_id)).scalars())

    def household_states(self, household_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """(balance, status) of each of ``household_ids`` that exists, in one query per 500."""
        found: dict[str, tuple[int, str]] = {}
        ids = list(household_ids)
        if self.c.dialect.name == "postgresql":
            # One statement text whatever the number of households (an IN list would make a new one each time).
            rows = self.c.exec_driver_sql(_PG_HOUSEHOLD_STATES, {"ids": ids})
            return {str(r[0]): (int(r[2] or 0), str(r[1])) for r in rows}
        for start in range(0, len(ids), 500):
            query = (
                select(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.status, T_BALANCE.c.balance)
                .outerjoin(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id)
                .where(T_HOUSEHOLD.c.household_id.in_(ids[start : start + 500]))
            )
            found.update((r.household_id, (int(r.balance or 0), str(r.status))) for r in self.c.execute(query))
        return found

    def ranking_rows(
        self, village_id: str | None = None, include_frozen: bool = True
    ) -> list[tuple[str, str, int, int]]:
        """(household id, head's name, points earned, balance) by points earned, then id: the red list
        (without frozen households) or the committee's lists (with them)."""
        query = (
            select(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.head_name, T_BALANCE.c.earned_cycle, T_BALANCE.c.balance)
            .join(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id)
            .order_by(T_BALANCE.c.earned_cycle.desc(), T_HOUSEHOLD.c.household_id)
        )
        if village_id is not None:
            query = query.where(T_HOUSEHOLD.c.village_id == village_id)
        if not include_frozen:
            query = query.where(T_HOUSEHOLD.c.status != "frozen")
        return [(r.household_id, r.head_name, int(r.earned_cycle), int(r.balance)) for r in self.c.execute(query)]

    # ----- the township console's running figures and reads (issue 13) ----------------------------------------

    def count_figures(self, txns: Sequence[Transaction]) -> None:
        """Add transactions just stored in the journal to ``daily_figure`` and ``shop_stock``
        (``ledger.storage.figures``), in the same database transaction as the journal rows."""
        if not txns:
            return
        household_ids = sorted({t.household_id for t in txns if t.household_id})
        villages: dict[str, str] = {}
        for start in range(0, len(household_ids), 500):
            chunk = household_ids[start : start + 500]
            query = select(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.village_id).where(
                T_HOUSEHOLD.c.household_id.in_(chunk)
            )
            villages.update((r.household_id, r.village_id) for r in self.c.execute(query))
        shop_ids = sorted({t.shop_id for t in txns})
        query = select(T_SHOP.c.shop_id, T_SHOP.c.village_id).where(T_SHOP.c.shop_id.in_(shop_ids))
        shops = {r.shop_id: r.village_id for r in self.c.execute(query)}
        figures, stock = count_rows(txns, villages, shops)
        # In key order: two pushes adding to the same rows lock them in the same order (no deadlock).
        self.c.execute(
            _ADD_FIGURES,
            [
                {
                    "day": k[0],
                    "village_id": k[1],
                    "shop_id": k[2],
                    "kind": k[3],
                    "txns": v[0],
                    "points": v[1],
                    "fen": v[2],
                    "qty": v[3],
                }
                for k, v in sorted(figures.items())
            ],
        )
        if stock:
            self.c.execute(_ADD_STOCK, [{"shop_id": k[0], "sku": k[1], "qty": v} for k, v in sorted(stock.items())])

    def analyse(self) -> None:
        """Refresh PostgreSQL's statistics after a bulk load, so its plans fit the data (benchmarks)."""
        if self.c.dialect.name == "postgresql":
            self.c.execute(sql_text("ANALYZE"))

    def rebuild_figures(self) -> None:
        """Make the running figures again from the whole journal (after a bulk load that bypassed them)."""
        for statement in REBUILD_FIGURES:
            self.c.execute(sql_text(statement))

    def _in_village(self, query: Any, village_id: str | None) -> Any:
        """``query`` over the journal limited to a village: its households' transactions and its shops'."""
        if village_id is None:
            return query
        households = select(T_HOUSEHOLD.c.household_id).where(T_HOUSEHOLD.c.village_id == village_id)
        shops = select(T_SHOP.c.shop_id).where(T_SHOP.c.village_id == village_id)
        return query.where(T_TXN.c.household_id.in_(households) | T_TXN.c.shop_id.in_(shops))

    def period_figures(self, since: str, until: str, village_id: str | None = None) -> dict[str, dict[str, int]]:
        """Per transaction kind, on the local days from ``since`` up to ``until`` (``YYYY-MM-DD``): how many,
        the points they moved on household accounts, the money (fen) into shop funds, the goods quantity.

        Read from the running figures (``daily_figure``): a few rows per day, whatever the journal's size;
        the township's own rows (``TOWNSHIP_ROW``) when ``village_id`` is None.
        """
        query = (
            select(
                T_FIGURE.c.kind,
                func.sum(T_FIGURE.c.txns).label("txns"),
                func.sum(T_FIGURE.c.points).label("points"),
                func.sum(T_FIGURE.c.fen).label("fen"),
                func.sum(T_FIGURE.c.qty).label("qty"),
            )
            .where(T_FIGURE.c.day >= since, T_FIGURE.c.day < until)
            .where(T_FIGURE.c.village_id == _figure_village(village_id))
            .group_by(T_FIGURE.c.kind)
        )
        return {
            r.kind: {"txns": int(r.txns), "points": int(r.points), "fen": int(r.fen), "qty": int(r.qty)}
            for r in self.c.execute(query)
        }

    def daily_points(self, since: str, until: str, village_id: str | None = None) -> list[tuple[str, str, int]]:
        """(local date, kind, points on household accounts) per day and kind in the period: the charts."""
        query = (
            select(T_FIGURE.c.day, T_FIGURE.c.kind, func.sum(T_FIGURE.c.points).label("points"))
            .where(T_FIGURE.c.day >= since, T_FIGURE.c.day < until)
            .where(T_FIGURE.c.village_id == _figure_village(village_id))
            .group_by(T_FIGURE.c.day, T_FIGURE.c.kind)
            .order_by(T_FIGURE.c.day)
        )
        return [(str(r.day), str(r.kind), int(r.points)) for r in self.c.execute(query)]

    def stock_points(self, village_id: str | None = None) -> int:
        """What the goods on the shops' shelves are worth in points (at today's prices), for one village or all."""
        query = (
            select(func.coalesce(func.sum(T_STOCK_FIGURE.c.on_hand * T_ITEM.c.points), 0))
            .select_from(T_STOCK_FIGURE.join(T_ITEM, T_ITEM.c.sku == T_STOCK_FIGURE.c.sku))
            .where(T_STOCK_FIGURE.c.on_hand > 0)
        )
        if village_id is not None:
            shops = select(T_SHOP.c.shop_id).where(T_SHOP.c.village_id == village_id)
            query = query.where(T_STOCK_FIGURE.c.shop_id.in_(shops))
        return int(self.c.execute(query).scalar_one())

    def village_household_figures(self, village_id: str | None = None) -> dict[str, int]:
        """Households, those active, frozen, and earning this cycle, with their balances, for one village or all."""
        query = select(
            func.count().label("households"),
            func.coalesce(func.sum(case((T_HOUSEHOLD.c.status == "frozen", 1), else_=0)), 0).label("frozen"),
            func.coalesce(func.sum(case((T_BALANCE.c.earned_cycle > 0, 1), else_=0)), 0).label("earning"),
            func.coalesce(func.sum(T_BALANCE.c.balance), 0).label("balance"),
        ).select_from(T_HOUSEHOLD.outerjoin(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id))
        if village_id is None:
            # The whole township: each table read on its own (a join of 200,000 rows costs several times more).
            balances = select(
                func.coalesce(func.sum(case((T_BALANCE.c.earned_cycle > 0, 1), else_=0)), 0).label("earning"),
                func.coalesce(func.sum(T_BALANCE.c.balance), 0).label("balance"),
            )
            households = select(
                func.count().label("households"),
                func.coalesce(func.sum(case((T_HOUSEHOLD.c.status == "frozen", 1), else_=0)), 0).label("frozen"),
            )
            b, h = self.c.execute(balances).one(), self.c.execute(households).one()
            return {
                "households": int(h.households),
                "frozen": int(h.frozen),
                "earning": int(b.earning),
                "balance": int(b.balance),
            }
        r = self.c.execute(query.where(T_HOUSEHOLD.c.village_id == village_id)).one()
        return {k: int(getattr(r, k) or 0) for k in ("households", "frozen", "earning", "balance")}

    def find_households(
        self, words: str, village_ids: Sequence[str] | None, offset: int, limit: int
    ) -> tuple[list[tuple[Household, int, int]], int]:
        """Households found by the start of their number, the head's or a member's name, their house number
        or village group (all of them when ``words`` is empty), within ``village_ids`` (None: every village),
        as (household, balance, earned this cycle), and how many match (``SEARCH_COUNT_CAP`` + 1 meaning
        "more than the cap").

        A start is a range of the ``household_key`` index, so a township of 200,000 households answers in
        milliseconds; "contains" would read every household on every search.
        """
        where: list[Any] = []
        if village_ids is not None:
            where.append(T_HOUSEHOLD.c.village_id.in_(list(village_ids)))
        needle = words.strip().upper()[:SEARCH_KEY_LEN]
        if needle:
            found = (
                select(T_HOUSEHOLD_KEY.c.household_id)
                .where(T_HOUSEHOLD_KEY.c.key >= needle, T_HOUSEHOLD_KEY.c.key < needle + "\U0010ffff")
                .distinct()
            )
            where.append(T_HOUSEHOLD.c.household_id.in_(found))
        # Counted up to a cap: "more than 1,000" is all a person needs, and counting 200,000 is not free.
        matching = select(T_HOUSEHOLD.c.household_id).where(*where).limit(SEARCH_COUNT_CAP + 1).subquery()
        total = int(self.c.execute(select(func.count()).select_from(matching)).scalar_one())
        query = (
            select(T_HOUSEHOLD, T_BALANCE.c.balance, T_BALANCE.c.earned_cycle)
            .outerjoin(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id)
            .where(*where)
            .order_by(T_HOUSEHOLD.c.household_id)
            .offset(offset)
            .limit(limit)
        )
        rows = [(_household(r), int(r.balance or 0), int(r.earned_cycle or 0)) for r in self.c.execute(query)]
        return rows, total

    def period_transactions(
        self, since: str, until: str, village_id: str | None = None, shop_id: str | None = None
    ) -> list[Transaction]:
        """The journal between two local times, in journal order: a village's (its households' and its
        shops'), one shop's, or the whole township's (the 台账 of a period)."""
        in_period = (T_TXN.c.created_at >= since, T_TXN.c.created_at < until)
        query = select(T_TXN).where(*in_period).order_by(T_TXN.c.id)
        if shop_id is not None:
            query = query.where(T_TXN.c.shop_id == shop_id)
        elif village_id is not None:
            # Two indexed reads (the village's households, its shops), not one OR that would walk the whole
            # period of the township, and not "id IN (...)", which a planner may answer by reading the journal.
            households = select(T_HOUSEHOLD.c.household_id).where(T_HOUSEHOLD.c.village_id == village_id)
            shops = select(T_SHOP.c.shop_id).where(T_SHOP.c.village_id == village_id)
            both = union(
                select(T_TXN).where(T_TXN.c.household_id.in_(households), *in_period),
                select(T_TXN).where(T_TXN.c.shop_id.in_(shops), *in_period),
            ).subquery()
            query = select(both).order_by(both.c.id)
        return self.ledger.load_many(self.c.execute(query).all())

    def household_names(self, village_id: str | None = None) -> dict[str, str]:
        """Household id to the head's name, for one village or all."""
        query = select(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.head_name)
        if village_id is not None:
            query = query.where(T_HOUSEHOLD.c.village_id == village_id)
        return {r.household_id: r.head_name for r in self.c.execute(query)}

    def balances_before(self, since: str, household_ids: Sequence[str] | None) -> dict[str, int]:
        """Each household's balance before ``since`` (None: every household), from its postings."""
        base = (
            select(T_POSTING.c.account, func.sum(T_POSTING.c.amount).label("total"))
            .select_from(T_POSTING.join(T_TXN, T_TXN.c.id == T_POSTING.c.txn_pk))
            .where(T_TXN.c.created_at < since, T_POSTING.c.unit == POINTS)
            .group_by(T_POSTING.c.account)
        )
        found: dict[str, int] = {}
        if household_ids is None:
            rows = self.c.execute(base.where(T_POSTING.c.account.like("household:%"))).all()
        else:
            accounts = ["household:" + h for h in household_ids]
            rows = []
            for start in range(0, len(accounts), 500):
                rows += self.c.execute(base.where(T_POSTING.c.account.in_(accounts[start : start + 500]))).all()
        for r in rows:
            found[str(r.account).removeprefix("household:")] = int(r.total)
        return found

    def shop_stock(self, shop_id: str) -> dict[str, int]:
        """Stock on hand at ``shop_id`` as far as its pushed transactions tell: the sum of its goods lines.

        The same fold as a shop's own ``stock_level`` cache (``effects_of(txn, shop)``), kept as the running
        figure ``shop_stock`` while transactions are stored. Unpushed sales are not in it; held ones never.
        """
        query = select(T_STOCK_FIGURE.c.sku, T_STOCK_FIGURE.c.on_hand).where(T_STOCK_FIGURE.c.shop_id == shop_id)
        return {r.sku: int(r.on_hand) for r in self.c.execute(query)}

    # ----- figures for reports ---------------------------------------------------------------------------
    def account_total(self, account: str) -> int:
        query = select(func.coalesce(func.sum(T_POSTING.c.amount), 0)).where(
            T_POSTING.c.account == account, T_POSTING.c.unit == POINTS
        )
        return int(self.c.execute(query).scalar_one())

    def frozen_among(self, household_ids: Sequence[str]) -> set[str]:
        """Which of ``household_ids`` are frozen, 500 per query."""
        ids = sorted(set(household_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            query = select(T_HOUSEHOLD.c.household_id).where(
                T_HOUSEHOLD.c.household_id.in_(ids[start : start + 500]), T_HOUSEHOLD.c.status == "frozen"
            )
            found.update(self.c.execute(query).scalars())
        return found

    def in_debt(self, household_ids: Sequence[str]) -> set[str]:
        """Which of ``household_ids`` owe points for past overdrafts, 500 accounts per query."""
        accounts = sorted({overdraft_account(h) for h in household_ids})
        owing: set[str] = set()
        for start in range(0, len(accounts), 500):
            query = (
                select(T_POSTING.c.account, func.sum(T_POSTING.c.amount).label("total"))
                .where(T_POSTING.c.account.in_(accounts[start : start + 500]), T_POSTING.c.unit == POINTS)
                .group_by(T_POSTING.c.account)
            )
            owing.update(str(r.account).removeprefix("overdraft:") for r in self.c.execute(query) if r.total < 0)
        return owing

    def account_totals(self, prefix: str) -> dict[str, int]:
        """Point totals of every account starting with ``prefix`` (e.g. each shop's ``redeemed``)."""
        query = (
            select(T_POSTING.c.account, func.sum(T_POSTING.c.amount).label("total"))
            .where(T_POSTING.c.account.like(prefix.replace("%", r"\%") + "%", escape="\\"), T_POSTING.c.unit == POINTS)
            .group_by(T_POSTING.c.account)
        )
        return {r.account: int(r.total) for r in self.c.execute(query)}

    def household_count(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(T_HOUSEHOLD)).scalar_one())

    def balance_total(self) -> int:
        return int(self.c.execute(select(func.coalesce(func.sum(T_BALANCE.c.balance), 0))).scalar_one())

    def transaction_count(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(T_TXN)).scalar_one())

    def shop_activity(self) -> dict[str, dict[str, int]]:
        """Per shop: transactions and redemptions it made (voids and all)."""
        query = select(T_TXN.c.shop_id, T_TXN.c.kind, func.count().label("n")).group_by(T_TXN.c.shop_id, T_TXN.c.kind)
        result: dict[str, dict[str, int]] = {}
        for r in self.c.execute(query):
            figures = result.setdefault(r.shop_id, {"transactions": 0, "redemptions": 0, "voids": 0})
            figures["transactions"] += int(r.n)
            if r.kind == str(TxnKind.REDEEM):
                figures["redemptions"] += int(r.n)
            elif r.kind == str(TxnKind.VOID):
                figures["voids"] += int(r.n)
        return result


SEARCH_COUNT_CAP = 1000

# Upserts both SQLite (3.24+) and PostgreSQL read: add to a row, or make it.
_ADD_FIGURES = sql_text(
    "INSERT INTO daily_figure (day, village_id, shop_id, kind, txns, points, fen, qty) "
    "VALUES (:day, :village_id, :shop_id, :kind, :txns, :points, :fen, :qty) "
    "ON CONFLICT (day, village_id, shop_id, kind) DO UPDATE SET txns = daily_figure.txns + excluded.txns, "
    "points = daily_figure.points + excluded.points, fen = daily_figure.fen + excluded.fen, "
    "qty = daily_figure.qty + excluded.qty"
)
_ADD_STOCK = sql_text(
    "INSERT INTO shop_stock (shop_id, sku, on_hand) VALUES (:shop_id, :sku, :qty) "
    "ON CONFLICT (shop_id, sku) DO UPDATE SET on_hand = shop_stock.on_hand + excluded.on_hand"
)


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a new, empty schema, dropped afterwards (benchmarks, tests).

    Benchmarks run against a real database without touching what is in it; the schema is chosen by
    ``search_path`` in the connection options, as the tests do.
    """
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"lovemart_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    try:
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in url else "?"
        try:
            yield f"{url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as c:
                c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


class CentralStore:
    """The central record: a ledger store plus the central tables, written one unit at a time."""

    def __init__(self, ledger: SqlLedgerStore) -> None:
        self.ledger = ledger

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, durable: bool = True) -> CentralStore:
        engine = make_engine(url, durable=durable)
        if migrate:
            upgrade(engine)
        return cls(SqlLedgerStore(engine))

    @property
    def dialect(self) -> str:
        return str(self.ledger.engine.dialect.name)

    def close(self) -> None:
        self.ledger.close()

    @contextmanager
    def read(self) -> Iterator[CentralUnit]:
        with self.ledger.read() as unit:
            yield CentralUnit(unit)

    @contextmanager
    def write(self) -> Iterator[CentralUnit]:
        """A write unit (joining one already open on this thread) that is the only writer until it ends."""
        with self.ledger.write() as unit:
            central = CentralUnit(unit)
            central.lock()
            yield central


def _figure_village(village_id: str | None) -> str:
    """The ``daily_figure`` rows of a village, or the township's own rows for None."""
    return TOWNSHIP_ROW if village_id is None else village_id
