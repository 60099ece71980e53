"""The SQL adapter of the ledger port (``ledger.ports``), written with SQLAlchemy Core.

Core, not the ORM, because the redemption path is hot: a redemption is a dozen small statements
and one fsync, and the ORM's unit-of-work would cost more than the statements themselves.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, and_, bindparam, delete, event, func, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from ledger.audit import CachedState
from ledger.board import BOARD_KEY
from ledger.chain import chain_hash, new_in_chain
from ledger.effects import Totals, effects_of
from ledger.errors import LedgerError
from ledger.model import (
    GENESIS_HASH,
    HOUSEHOLD_PREFIX,
    POINTS,
    Household,
    HouseholdStatus,
    Item,
    Line,
    Member,
    Operator,
    PassbookCard,
    Policy,
    Posting,
    Role,
    Shop,
    Township,
    Transaction,
    TxnContent,
    TxnDraft,
    TxnKind,
    Village,
    chained,
    household_account,
    receipt_number,
)
from ledger.ports import Holder, HouseholdRow, Identity, PrintJob
from ledger.receipts import ReceiptContent
from ledger.storage.engine import writer
from ledger.storage.tables import (
    JOURNAL_TABLES,
    Base,
    ChainLinkRow,
    DeviceRow,
    HouseholdBalanceRow,
    HouseholdKeyRow,
    HouseholdRowTable,
    ImportRecord,
    ItemRow,
    LineRow,
    Meta,
    OperatorRow,
    PassbookCardRow,
    PolicyRow,
    PostingRow,
    PrintJobRow,
    ShopRow,
    StockLevelRow,
    TownshipRow,
    TxnRow,
    VillageRow,
)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


T_META = _table(Meta)
LARGE_META = (BOARD_KEY,)
T_TOWNSHIP = _table(TownshipRow)
T_POLICY = _table(PolicyRow)
T_VILLAGE = _table(VillageRow)
T_SHOP = _table(ShopRow)
T_DEVICE = _table(DeviceRow)
T_HOUSEHOLD = _table(HouseholdRowTable)
T_CARD = _table(PassbookCardRow)
T_ITEM = _table(ItemRow)
T_OPERATOR = _table(OperatorRow)
T_BALANCE = _table(HouseholdBalanceRow)
T_HOUSEHOLD_KEY = _table(HouseholdKeyRow)
T_STOCK = _table(StockLevelRow)
T_TXN = _table(TxnRow)
T_LINK = _table(ChainLinkRow)
T_POSTING = _table(PostingRow)
T_LINE = _table(LineRow)
T_PRINT = _table(PrintJobRow)
T_IMPORT = _table(ImportRecord)

POLICY_FIELDS = (
    "version",
    "base_points",
    "redeemable_floor",
    "cycle",
    "fen_per_point",
    "visitor_limit",
    "max_offline_days",
    "max_quantity",
    "max_points_per_award",
)


class _Prepared:
    """Statements of the hot path (a redemption, a balance look-up), built once with bind parameters.

    Building a Core expression costs more than SQLite takes to run it; built once, SQLAlchemy's
    compiled cache serves every later call.
    """

    # Every unit reads the small settings (identity, cursors) at once; the village board (tens of KB) is
    # read only by whoever asks for it (the kiosk), not by every sale. A length() test would read it anyway.
    meta_all = select(T_META.c.key, T_META.c.value).where(T_META.c.key.not_in(LARGE_META))
    meta_one = select(T_META.c.value).where(T_META.c.key == bindparam("key"))
    township = select(T_TOWNSHIP).limit(1)
    policy = select(T_POLICY).order_by(T_POLICY.c.version.desc()).limit(1)
    household = select(T_HOUSEHOLD).where(T_HOUSEHOLD.c.household_id == bindparam("household_id"))
    # The receipt stored with each print job names the shop, its village and the operator.
    shop = select(T_SHOP).where(T_SHOP.c.shop_id == bindparam("shop_id"))
    village = select(T_VILLAGE).where(T_VILLAGE.c.village_id == bindparam("village_id"))
    operator = select(T_OPERATOR).where(T_OPERATOR.c.operator_id == bindparam("operator_id"))
    card = select(T_CARD).where(
        T_CARD.c.household_id == bindparam("household_id"), T_CARD.c.card_no == bindparam("card_no")
    )
    balance = select(T_BALANCE.c.balance, T_BALANCE.c.earned_cycle).where(
        T_BALANCE.c.household_id == bindparam("household_id")
    )
    item = select(T_ITEM).where(T_ITEM.c.sku == bindparam("sku"))
    item_with_stock = (
        select(T_ITEM, T_STOCK.c.on_hand)
        .outerjoin(T_STOCK, T_STOCK.c.sku == T_ITEM.c.sku)
        .where(T_ITEM.c.sku == bindparam("sku"))
    )
    holder = (
        select(
            T_HOUSEHOLD,
            T_CARD.c.card_no,
            T_CARD.c.active,
            T_CARD.c.issued_at,
            T_CARD.c.revoked_at,
            T_BALANCE.c.balance,
            T_BALANCE.c.earned_cycle,
        )
        .outerjoin(
            T_CARD,
            and_(T_CARD.c.household_id == T_HOUSEHOLD.c.household_id, T_CARD.c.card_no == bindparam("card_no")),
        )
        .outerjoin(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id)
        .where(T_HOUSEHOLD.c.household_id == bindparam("household_id"))
    )
    stock = select(T_STOCK.c.on_hand).where(T_STOCK.c.sku == bindparam("sku"))
    txn_by_id = select(T_TXN).where(T_TXN.c.txn_id == bindparam("txn_id"))
    device_head = select(T_DEVICE.c.last_seq, T_DEVICE.c.last_hash).where(
        T_DEVICE.c.device_id == bindparam("device_id")
    )
    move_head = (
        update(T_DEVICE)
        .where(T_DEVICE.c.device_id == bindparam("b_device_id"))
        .values(last_seq=bindparam("b_last_seq"), last_hash=bindparam("b_last_hash"))
    )
    add_balance = (
        update(T_BALANCE)
        .where(T_BALANCE.c.household_id == bindparam("b_household_id"))
        .values(
            balance=T_BALANCE.c.balance + bindparam("b_amount"),
            earned_cycle=T_BALANCE.c.earned_cycle + bindparam("b_earned"),
        )
    )
    add_stock = (
        update(T_STOCK)
        .where(T_STOCK.c.sku == bindparam("b_sku"))
        .values(on_hand=T_STOCK.c.on_hand + bindparam("b_qty"))
    )
    txn_postings = select(T_POSTING).where(T_POSTING.c.txn_pk == bindparam("txn_pk")).order_by(T_POSTING.c.idx)
    txn_lines = select(T_LINE).where(T_LINE.c.txn_pk == bindparam("txn_pk")).order_by(T_LINE.c.idx)
    insert_txn = insert(T_TXN)
    txn_pks = select(T_TXN.c.seq, T_TXN.c.id).where(
        T_TXN.c.device_id == bindparam("device_id"), T_TXN.c.seq.between(bindparam("first"), bindparam("last"))
    )
    insert_print_job = insert(T_PRINT)


class _Checks:
    """Statements of the tamper checks before a redemption (``ledger.integrity``), built once like ``_Prepared``."""

    corrected = T_TXN.alias("corrected")
    # A transaction the township held and corrected counts for nothing in this shop's caches.
    not_corrected = ~(
        select(corrected.c.id)
        .where(
            corrected.c.kind == "correction",
            corrected.c.ref_txn_id == T_TXN.c.txn_id,
            corrected.c.party == bindparam("shop_id"),
        )
        .exists()
    )
    points_posted = select(func.coalesce(func.sum(T_POSTING.c.amount), 0)).where(
        T_POSTING.c.account == bindparam("account"), T_POSTING.c.unit == POINTS
    )
    points_posted_uncorrected = (
        select(func.coalesce(func.sum(T_POSTING.c.amount), 0))
        .select_from(T_POSTING.join(T_TXN, T_TXN.c.id == T_POSTING.c.txn_pk))
        .where(T_POSTING.c.account == bindparam("account"), T_POSTING.c.unit == POINTS, not_corrected)
    )
    touching_after = (
        select(T_TXN)
        .where(
            T_TXN.c.id.in_(
                select(T_POSTING.c.txn_pk).where(
                    T_POSTING.c.account == bindparam("account"), T_POSTING.c.txn_pk > bindparam("after")
                )
            )
        )
        .order_by(T_TXN.c.id)
    )


# Every failure the database reports comes as this one class; callers outside storage catch it by this
# name and ask ``database_failure`` what it means, so they never import the driver's or SQLAlchemy's types.
DatabaseFailure = DBAPIError


def database_failure(exc: BaseException) -> str | None:
    """What a database failure means for whoever sent the values, or None when ``exc`` is not one.

    ``value_refused``: a value the database cannot hold (a NUL, an overflowing number, a too-long text);
    ``value_conflict``: a clash with a stored key. Retrying either can never succeed. ``unavailable``: the
    database is down or busy (lock timeouts), worth trying again later.
    """
    if not isinstance(exc, DBAPIError):
        return None
    if isinstance(exc, DataError):
        return "value_refused"
    if isinstance(exc, IntegrityError):
        return "value_conflict"
    return "unavailable"


@dataclass
class StatementCount:
    """SQL statements sent to the database (an ``executemany`` of many rows is one), see ``counting_statements``."""

    statements: int = 0


@contextmanager
def counting_statements(store: SqlLedgerStore) -> Iterator[StatementCount]:
    """Count the statements ``store`` sends to its database inside the ``with`` block, from every thread
    (benchmarks: how many round trips a push costs). Counted by SQLAlchemy's ``before_cursor_execute`` event."""
    count = StatementCount()
    lock = threading.Lock()  # a server answers from a thread pool: two statements may be counted at once

    def seen(*_args: Any) -> None:
        with lock:
            count.statements += 1

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield count
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def driver_message(exc: BaseException) -> str:
    """What the database driver itself said of a failure (SQLAlchemy's wrapper adds its SQL and a link)."""
    return str(exc.orig if isinstance(exc, DBAPIError) else exc)


def translate_db_error(exc: BaseException) -> LedgerError | None:
    """Map the database failures a shopkeeper can meet to refusals they can act on."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).lower()
    if "disk is full" in text or "disk i/o error" in text:
        return LedgerError("disk_full")
    if "not a database" in text or "malformed" in text:
        return LedgerError("ledger_corrupt")
    if "readonly database" in text or "unable to open database file" in text:
        return LedgerError("ledger_readonly")
    return None


class SqlLedgerStore:
    """A ledger in a SQL database. One instance per process; units are per thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self._local = threading.local()

    def close(self) -> None:
        if self.engine.dialect.name == "sqlite":
            # Fold the write-ahead log into the ledger file now, while nobody is waiting at the counter.
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except DBAPIError:
                pass  # a damaged or vanished file: there is nothing to fold in, and closing must not fail
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[SqlUnit]:
        current: SqlUnit | None = getattr(self._local, "unit", None)
        if current is not None:
            yield current
            return
        try:
            with self.engine.connect() as connection, connection.begin():
                yield SqlUnit(connection)
        except DBAPIError as exc:
            raise translate_db_error(exc) or exc from exc

    @contextmanager
    def write(self) -> Iterator[SqlUnit]:
        current: SqlUnit | None = getattr(self._local, "unit", None)
        if current is not None:
            yield current
            return
        try:
            with self._writer.connect() as connection:
                with connection.begin():
                    unit = SqlUnit(connection)
                    self._local.unit = unit
                    try:
                        yield unit
                    finally:
                        self._local.unit = None
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError):
                raise
            raise translate_db_error(exc) or exc from exc


def _household(row: Row[Any]) -> Household:
    return Household(
        household_id=row.household_id,
        village_id=row.village_id,
        head_name=row.head_name,
        home_shop_id=row.home_shop_id,
        status=HouseholdStatus(row.status),
        members=tuple(Member(name, relation) for name, relation in json.loads(row.members)),
        village_group=row.village_group,
        house_no=row.house_no,
        phone=row.phone,
    )


def _item(row: Row[Any]) -> Item:
    return Item(row.sku, row.name, row.unit, row.points, row.barcode, row.category, bool(row.active))


def _card(row: Row[Any]) -> PassbookCard:
    return PassbookCard(row.household_id, row.card_no, bool(row.active), row.issued_at, row.revoked_at)


def _operator(row: Row[Any]) -> Operator:
    return Operator(row.operator_id, row.name, Role(row.role), row.pin_salt, row.pin_hash, bool(row.active))


def build_transaction(row: Row[Any], postings: Sequence[Row[Any]], lines: Sequence[Row[Any]]) -> Transaction:
    return Transaction(
        txn_id=row.txn_id,
        device_id=row.device_id,
        seq=row.seq,
        kind=TxnKind(row.kind),
        created_at=row.created_at,
        shop_id=row.shop_id,
        operator=row.operator,
        household_id=row.household_id,
        postings=tuple(Posting(p.account, p.amount, p.unit) for p in postings),
        lines=tuple(Line(ln.sku, ln.qty, ln.points_each) for ln in lines),
        memo=row.memo,
        ref_txn_id=row.ref_txn_id,
        party=row.party,
        pull_cursor=row.pull_cursor,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlUnit:
    """One database transaction on the ledger (see ``ledger.ports.LedgerUnit``)."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection
        self._identity: Identity | None = None
        self._meta: dict[str, str | None] | None = None

    # ----- identity and configuration -------------------------------------------------------
    def meta(self, key: str) -> str | None:
        if self._meta is None:
            self._meta = {r.key: r.value for r in self.c.execute(_Prepared.meta_all)}
        if key in self._meta:
            return self._meta[key]
        found: str | None = self.c.execute(_Prepared.meta_one, {"key": key}).scalar_one_or_none()
        self._meta[key] = found  # asked again in this unit (or absent): not read again
        return found

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute(delete(T_META).where(T_META.c.key == key))
        self.c.execute(insert(T_META).values(key=key, value=value))
        self._meta = None

    def identity(self) -> Identity:
        if self._identity is None:
            shop_id, device_id = self.meta("shop_id"), self.meta("device_id")
            if not shop_id or not device_id:
                raise LedgerError("not_configured")
            self._identity = Identity(shop_id, device_id)
        return self._identity

    def township(self) -> Township:
        row = self.c.execute(_Prepared.township).first()
        if row is None:
            raise LedgerError("not_configured")
        return Township(row.township_id, row.name, bytes.fromhex(row.passbook_key))

    def policy(self) -> Policy:
        row = self.c.execute(_Prepared.policy).first()
        if row is None:
            return Policy()
        return Policy(**{name: getattr(row, name) for name in POLICY_FIELDS})

    def village(self, village_id: str) -> Village | None:
        row = self.c.execute(_Prepared.village, {"village_id": village_id}).first()
        return Village(row.village_id, row.name) if row else None

    def shop(self, shop_id: str) -> Shop | None:
        row = self.c.execute(_Prepared.shop, {"shop_id": shop_id}).first()
        return Shop(row.shop_id, row.name, row.village_id) if row else None

    # ----- master data ------------------------------------------------------------------------
    def _replace(self, table: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
        condition = and_(*(table.c[k] == v for k, v in key.items()))
        if self.c.execute(update(table).where(condition).values(**values)).rowcount == 0:
            self.c.execute(insert(table).values(**key, **values))

    def put_township(self, township: Township) -> None:
        self.c.execute(delete(T_TOWNSHIP))
        self.c.execute(
            insert(T_TOWNSHIP).values(
                township_id=township.township_id, name=township.name, passbook_key=township.passbook_key.hex()
            )
        )

    def put_policy(self, policy: Policy) -> None:
        values = {name: getattr(policy, name) for name in POLICY_FIELDS}
        self._replace(T_POLICY, {"version": policy.version}, {k: v for k, v in values.items() if k != "version"})

    def put_village(self, village: Village) -> None:
        self._replace(T_VILLAGE, {"village_id": village.village_id}, {"name": village.name})

    def put_shop(self, shop: Shop) -> None:
        self._replace(T_SHOP, {"shop_id": shop.shop_id}, {"name": shop.name, "village_id": shop.village_id})

    def put_device(self, device_id: str, shop_id: str) -> None:
        exists = self.c.execute(select(T_DEVICE.c.device_id).where(T_DEVICE.c.device_id == device_id)).first()
        if exists is None:
            self.c.execute(
                insert(T_DEVICE).values(device_id=device_id, shop_id=shop_id, last_seq=0, last_hash=GENESIS_HASH)
            )

    def put_household(self, household: Household) -> None:
        members = json.dumps([[m.name, m.relation] for m in household.members], ensure_ascii=False)
        self._replace(
            T_HOUSEHOLD,
            {"household_id": household.household_id},
            {
                "village_id": household.village_id,
                "head_name": household.head_name,
                "home_shop_id": household.home_shop_id,
                "status": str(household.status),
                "members": members,
                "village_group": household.village_group,
                "house_no": household.house_no,
                "phone": household.phone,
            },
        )
        self.index_households([household])
        if (
            self.c.execute(
                select(T_BALANCE.c.household_id).where(T_BALANCE.c.household_id == household.household_id)
            ).first()
            is None
        ):
            self.c.execute(insert(T_BALANCE).values(household_id=household.household_id, balance=0, earned_cycle=0))

    def index_households(self, households: Sequence[Household]) -> None:
        """Make the search keys of ``households`` what they are now (``household_key``)."""
        ids = [h.household_id for h in households]
        for start in range(0, len(ids), 500):
            self.c.execute(delete(T_HOUSEHOLD_KEY).where(T_HOUSEHOLD_KEY.c.household_id.in_(ids[start : start + 500])))
        rows = [{"key": key, "household_id": h.household_id} for h in households for key in sorted(h.search_keys())]
        for start in range(0, len(rows), 5000):
            self.c.execute(insert(T_HOUSEHOLD_KEY), rows[start : start + 5000])

    def put_card(self, card: PassbookCard) -> None:
        self._replace(
            T_CARD,
            {"household_id": card.household_id, "card_no": card.card_no},
            {"active": card.active, "issued_at": card.issued_at, "revoked_at": card.revoked_at},
        )

    def replicate_households(self, households: Sequence[Household]) -> None:
        """Store households as the township has them now, many at once (a pulled page; a new PC pulls thousands).

        A household already here keeps its status: status follows from clearing and unfreeze
        transactions, which this ledger applies in their order, so a re-sent record must not unfreeze.
        The last record of a household in ``households`` wins.
        """
        latest = {h.household_id: h for h in households}
        known = self._existing(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.status, list(latest))
        self.index_households([h for h in latest.values() if h.household_id not in known])
        for household_id, status in known.items():
            self.put_household(replace(latest[household_id], status=HouseholdStatus(status)))
        new = [h for h in latest.values() if h.household_id not in known]
        if not new:
            return
        self._insert_many(
            T_HOUSEHOLD,
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
                for h in new
            ],
        )
        with_balance = self._existing(T_BALANCE.c.household_id, T_BALANCE.c.household_id, [h.household_id for h in new])
        self._insert_many(
            T_BALANCE,
            [
                {"household_id": h.household_id, "balance": 0, "earned_cycle": 0}
                for h in new
                if h.household_id not in with_balance
            ],
        )

    def replicate_cards(self, cards: Sequence[PassbookCard]) -> None:
        """Store passbook cards as the township has them now, many at once; a revocation of a card
        already here keeps the issue date this ledger holds. The last record of a card wins."""
        latest = {(c.household_id, c.card_no): c for c in cards}
        held = {
            (r.household_id, r.card_no)
            for start in range(0, len(latest), 400)
            for r in self.c.execute(
                select(T_CARD.c.household_id, T_CARD.c.card_no).where(
                    T_CARD.c.household_id.in_({h for h, _ in list(latest)[start : start + 400]})
                )
            )
        }
        new = []
        for key, card in latest.items():
            if key not in held:
                new.append(
                    {
                        "household_id": card.household_id,
                        "card_no": card.card_no,
                        "active": card.active,
                        "issued_at": card.issued_at,
                        "revoked_at": card.revoked_at,
                    }
                )
            elif not card.active:
                self.revoke_card(card.household_id, card.card_no, card.revoked_at or card.issued_at)
            else:
                self.put_card(card)
        if new:
            self._insert_many(T_CARD, new)

    def _existing(self, key: Any, value: Any, ids: list[str]) -> dict[str, Any]:
        """``{key: value}`` for the ``ids`` that have a row, asked in chunks (SQLite's variable limit)."""
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 500):
            found.update((k, v) for k, v in self.c.execute(select(key, value).where(key.in_(ids[start : start + 500]))))
        return found

    def revoke_card(self, household_id: str, card_no: int, when: str) -> None:
        self.c.execute(
            update(T_CARD)
            .where(T_CARD.c.household_id == household_id, T_CARD.c.card_no == card_no)
            .values(active=False, revoked_at=when)
        )

    def put_item(self, item: Item) -> None:
        self._replace(
            T_ITEM,
            {"sku": item.sku},
            {
                "name": item.name,
                "unit": item.unit,
                "points": item.points,
                "barcode": item.barcode,
                "category": item.category,
                "active": item.active,
            },
        )
        if self.c.execute(select(T_STOCK.c.sku).where(T_STOCK.c.sku == item.sku)).first() is None:
            self.c.execute(insert(T_STOCK).values(sku=item.sku, on_hand=0))

    def put_operator(self, operator: Operator) -> None:
        self._replace(
            T_OPERATOR,
            {"operator_id": operator.operator_id},
            {
                "name": operator.name,
                "role": str(operator.role),
                "pin_salt": operator.pin_salt,
                "pin_hash": operator.pin_hash,
                "active": operator.active,
            },
        )

    # ----- reads ------------------------------------------------------------------------------
    def household(self, household_id: str) -> Household | None:
        row = self.c.execute(_Prepared.household, {"household_id": household_id}).first()
        return _household(row) if row else None

    def households(self) -> list[HouseholdRow]:
        active_cards = select(T_CARD.c.household_id, T_CARD.c.card_no).where(T_CARD.c.active.is_(True)).subquery()
        query = (
            select(T_HOUSEHOLD, T_BALANCE.c.balance, T_BALANCE.c.earned_cycle, active_cards.c.card_no)
            .join(T_BALANCE, T_BALANCE.c.household_id == T_HOUSEHOLD.c.household_id)
            .outerjoin(active_cards, active_cards.c.household_id == T_HOUSEHOLD.c.household_id)
            .order_by(T_HOUSEHOLD.c.household_id)
        )
        return [HouseholdRow(_household(r), r.balance, r.earned_cycle, r.card_no) for r in self.c.execute(query)]

    def card(self, household_id: str, card_no: int) -> PassbookCard | None:
        row = self.c.execute(_Prepared.card, {"household_id": household_id, "card_no": card_no}).first()
        return _card(row) if row else None

    def holder(self, household_id: str, card_no: int) -> Holder | None:
        row = self.c.execute(_Prepared.holder, {"household_id": household_id, "card_no": card_no}).first()
        if row is None:
            return None
        card = None
        if row.card_no is not None:
            card = PassbookCard(household_id, row.card_no, bool(row.active), row.issued_at, row.revoked_at)
        return Holder(_household(row), card, row.balance or 0, row.earned_cycle or 0)

    def item_with_stock(self, sku: str) -> tuple[Item, int] | None:
        row = self.c.execute(_Prepared.item_with_stock, {"sku": sku}).first()
        return (_item(row), int(row.on_hand or 0)) if row else None

    def active_card(self, household_id: str) -> PassbookCard | None:
        row = self.c.execute(
            select(T_CARD)
            .where(T_CARD.c.household_id == household_id, T_CARD.c.active.is_(True))
            .order_by(T_CARD.c.card_no.desc())
            .limit(1)
        ).first()
        return _card(row) if row else None

    def cards(self, household_id: str) -> list[PassbookCard]:
        rows = self.c.execute(select(T_CARD).where(T_CARD.c.household_id == household_id).order_by(T_CARD.c.card_no))
        return [_card(r) for r in rows]

    def balance(self, household_id: str) -> tuple[int, int]:
        row = self.c.execute(_Prepared.balance, {"household_id": household_id}).first()
        return (row.balance, row.earned_cycle) if row else (0, 0)

    def item(self, sku: str) -> Item | None:
        row = self.c.execute(_Prepared.item, {"sku": sku}).first()
        return _item(row) if row else None

    def item_by_barcode(self, barcode: str) -> Item | None:
        row = self.c.execute(select(T_ITEM).where(T_ITEM.c.barcode == barcode)).first()
        return _item(row) if row else None

    def items(self) -> list[Item]:
        return [_item(r) for r in self.c.execute(select(T_ITEM).order_by(T_ITEM.c.category, T_ITEM.c.sku))]

    def stock(self, sku: str) -> int:
        value = self.c.execute(_Prepared.stock, {"sku": sku}).scalar_one_or_none()
        return int(value or 0)

    def stock_levels(self) -> dict[str, int]:
        return {r.sku: r.on_hand for r in self.c.execute(select(T_STOCK))}

    def operator(self, operator_id: str) -> Operator | None:
        row = self.c.execute(_Prepared.operator, {"operator_id": operator_id}).first()
        return _operator(row) if row else None

    def operators(self) -> list[Operator]:
        return [_operator(r) for r in self.c.execute(select(T_OPERATOR).order_by(T_OPERATOR.c.operator_id))]

    def _load(self, row: Row[Any] | None) -> Transaction | None:
        if row is None:
            return None
        postings = self.c.execute(_Prepared.txn_postings, {"txn_pk": row.id}).all()
        lines = self.c.execute(_Prepared.txn_lines, {"txn_pk": row.id}).all()
        return build_transaction(row, postings, lines)

    def transaction(self, txn_id: str) -> Transaction | None:
        return self._load(self.c.execute(_Prepared.txn_by_id, {"txn_id": txn_id}).first())

    def last_own_transaction(self) -> Transaction | None:
        """This device's newest transaction (its chain's head), or None before the first."""
        identity = self.identity()
        head = self.c.execute(_Prepared.device_head, {"device_id": identity.device_id}).first()
        if head is None or not head.last_seq:
            return None
        return self.transaction_by_receipt(identity.shop_id, identity.device_id, head.last_seq)

    def transaction_by_receipt(self, shop_id: str, device_id: str, seq: int) -> Transaction | None:
        row = self.c.execute(
            select(T_TXN).where(T_TXN.c.device_id == device_id, T_TXN.c.seq == seq, T_TXN.c.shop_id == shop_id)
        ).first()
        return self._load(row)

    def voiding(self, txn_id: str) -> Transaction | None:
        row = self.c.execute(
            select(T_TXN).where(T_TXN.c.ref_txn_id == txn_id, T_TXN.c.kind == str(TxnKind.VOID)).limit(1)
        ).first()
        return self._load(row)

    def transactions(
        self,
        kinds: frozenset[TxnKind] | None = None,
        household_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[Transaction]:
        query = select(T_TXN).order_by(T_TXN.c.id)
        if kinds is not None:
            query = query.where(T_TXN.c.kind.in_([str(k) for k in kinds]))
        if household_id is not None:
            query = query.where(T_TXN.c.household_id == household_id)
        if since is not None:
            query = query.where(T_TXN.c.created_at >= since)
        if until is not None:
            query = query.where(T_TXN.c.created_at < until)
        # Postings and lines in a query per 500 transactions, not two per transaction.
        yield from self.load_many(self.c.execute(query).all())

    def device_transactions(self, device_id: str, after_seq: int, limit: int) -> list[Transaction]:
        """A device's transactions after ``after_seq``, at most ``limit``, in sequence order, in a few queries.

        The sync outbox: a push of a thousand transactions read one by one took a query for each and two
        more for its postings and lines.
        """
        rows = self.c.execute(
            select(T_TXN)
            .where(T_TXN.c.device_id == device_id, T_TXN.c.seq > after_seq)
            .order_by(T_TXN.c.seq)
            .limit(max(0, limit))
        ).all()
        result: list[Transaction] = []
        for txn in self.load_many(rows):
            if result and txn.seq != result[-1].seq + 1:
                break  # a hole (a ledger edited behind the triggers): the chain check will say so
            result.append(txn)
        return result

    def load_many(self, rows: Sequence[Row[Any]]) -> list[Transaction]:
        """Journal rows as transactions, their postings and lines read in one query per 500 rows."""
        if not rows:
            return []
        postings: dict[int, list[Row[Any]]] = {}
        lines: dict[int, list[Row[Any]]] = {}
        keys = [r.id for r in rows]
        for table, found in ((T_POSTING, postings), (T_LINE, lines)):
            for start in range(0, len(keys), 500):
                query = (
                    select(table)
                    .where(table.c.txn_pk.in_(keys[start : start + 500]))
                    .order_by(table.c.txn_pk, table.c.idx)
                )
                for part in self.c.execute(query):
                    found.setdefault(part.txn_pk, []).append(part)
        return [build_transaction(row, postings.get(row.id, []), lines.get(row.id, [])) for row in rows]

    def recent_transactions(self, household_id: str, limit: int) -> list[Transaction]:
        """Newest first: one indexed range read, however long the household's history."""
        query = (
            select(T_TXN).where(T_TXN.c.household_id == household_id).order_by(T_TXN.c.id.desc()).limit(max(0, limit))
        )
        return [t for t in (self._load(row) for row in self.c.execute(query).all()) if t is not None]

    def points_moved(self, account: str, kinds: frozenset[TxnKind], shop_id: str, since: str | None = None) -> int:
        """Sum of point postings to ``account`` in transactions of ``kinds`` made at ``shop_id`` since ``since``."""
        query = (
            select(func.coalesce(func.sum(T_POSTING.c.amount), 0))
            .select_from(T_POSTING.join(T_TXN, T_TXN.c.id == T_POSTING.c.txn_pk))
            .where(
                T_POSTING.c.account == account,
                T_POSTING.c.unit == POINTS,
                T_TXN.c.shop_id == shop_id,
                T_TXN.c.kind.in_([str(k) for k in kinds]),
            )
        )
        if since is not None:
            query = query.where(T_TXN.c.created_at >= since)
        return int(self.c.execute(query).scalar_one())

    def imported(self, digest: str) -> str | None:
        return self.c.execute(select(T_IMPORT.c.imported_at).where(T_IMPORT.c.digest == digest)).scalar_one_or_none()

    def journal(self) -> Iterator[Transaction]:
        """Every transaction in the order stored, streamed: three ordered scans merged by txn pk."""
        raw = self.c.connection.driver_connection
        if raw is None or not isinstance(raw, sqlite3.Connection):
            yield from self.transactions()
            return
        txns = raw.execute(
            "SELECT id, txn_id, device_id, seq, kind, created_at, shop_id, operator, household_id, memo, "
            "ref_txn_id, party, pull_cursor, prev_hash, hash FROM txn ORDER BY id"
        )
        postings = raw.execute("SELECT txn_pk, account, unit, amount FROM posting ORDER BY txn_pk, idx")
        lines = raw.execute("SELECT txn_pk, sku, qty, points_each FROM line ORDER BY txn_pk, idx")
        next_posting = postings.fetchone()
        next_line = lines.fetchone()
        kinds = {str(k): k for k in TxnKind}
        for row in txns:
            pk = row[0]
            # Rows of a transaction that no longer exists (deleted behind the triggers) are skipped here;
            # the chain check reports the hole they leave.
            while next_posting is not None and next_posting[0] < pk:
                next_posting = postings.fetchone()
            found_postings = []
            while next_posting is not None and next_posting[0] == pk:
                found_postings.append(Posting(next_posting[1], next_posting[3], next_posting[2]))
                next_posting = postings.fetchone()
            while next_line is not None and next_line[0] < pk:
                next_line = lines.fetchone()
            found_lines = []
            while next_line is not None and next_line[0] == pk:
                found_lines.append(Line(next_line[1], next_line[2], next_line[3]))
                next_line = lines.fetchone()
            yield Transaction(
                txn_id=row[1],
                device_id=row[2],
                seq=row[3],
                kind=kinds.get(row[4]) or TxnKind(row[4]),
                created_at=row[5],
                shop_id=row[6],
                operator=row[7],
                household_id=row[8],
                postings=tuple(found_postings),
                lines=tuple(found_lines),
                memo=row[9],
                ref_txn_id=row[10],
                party=row[11],
                pull_cursor=row[12],
                prev_hash=row[13],
                hash=row[14],
            )

    def cached_state(self) -> CachedState:
        state = CachedState()
        for r in self.c.execute(select(T_BALANCE)):
            state.balance[r.household_id] = r.balance
            state.earned[r.household_id] = r.earned_cycle
        state.stock = self.stock_levels()
        for r in self.c.execute(select(T_HOUSEHOLD.c.household_id, T_HOUSEHOLD.c.status)):
            state.status[r.household_id] = HouseholdStatus(r.status)
        for r in self.c.execute(select(T_DEVICE)):
            if r.last_seq:
                state.device_heads[r.device_id] = (r.last_seq, r.last_hash)
        state.missing_guards = self.missing_guards()
        shop_id = self.meta("shop_id")
        state.stock_shop = shop_id or None
        state.links = self.chain_links()
        state.corrected = self.corrected_ids()
        if self.meta("role") == "central" or self.meta("server_url"):
            township = self.c.execute(select(T_TOWNSHIP.c.township_id).limit(1)).scalar_one_or_none()
            state.township_id = str(township) if township else None
            state.catalogue = set(self.c.execute(select(T_ITEM.c.sku)).scalars())
        return state

    def missing_guards(self) -> list[str]:
        if self.c.dialect.name != "sqlite":
            return []
        present = {r[0] for r in self.c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        wanted = [f"{t}_append_only_{a}" for t in JOURNAL_TABLES for a in ("update", "delete")]
        return [name for name in wanted if name not in present]

    def print_jobs(self, status: str | None = None, txn_id: str | None = None) -> list[PrintJob]:
        query = select(T_PRINT).order_by(T_PRINT.c.id)
        if status is not None:
            query = query.where(T_PRINT.c.status == status)
        if txn_id is not None:
            query = query.where(T_PRINT.c.txn_id == txn_id)
        return [
            PrintJob(
                job_id=r.id,
                txn_id=r.txn_id,
                kind=r.kind,
                created_at=r.created_at,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                printed_at=r.printed_at,
                facts=json.loads(r.facts or "{}"),
                receipt=_stored_receipt(r.receipt),
            )
            for r in self.c.execute(query)
        ]

    # ----- tamper checks (ledger.integrity) ------------------------------------------------------
    def journal_head_pk(self) -> int:
        """The storage position of the newest journal row (0 when empty): a checkpoint's ``pk``."""
        return int(self.c.execute(select(func.coalesce(func.max(T_TXN.c.id), 0))).scalar_one())

    def device_heads(self) -> dict[str, tuple[int, str]]:
        """Every device's cached chain head (devices with no transaction yet left out)."""
        rows = self.c.execute(select(T_DEVICE.c.device_id, T_DEVICE.c.last_seq, T_DEVICE.c.last_hash))
        return {r.device_id: (r.last_seq, r.last_hash) for r in rows if r.last_seq}

    def transaction_at(self, device_id: str, seq: int) -> Transaction | None:
        """The transaction at a place in a device's chain, whatever shop it names."""
        return self._load(
            self.c.execute(select(T_TXN).where(T_TXN.c.device_id == device_id, T_TXN.c.seq == seq)).first()
        )

    def journal_after(self, pk: int) -> Iterator[Transaction]:
        """The transactions stored after position ``pk``, in storage order, streamed (three ordered scans)."""
        txns = self.c.execute(select(T_TXN).where(T_TXN.c.id > pk).order_by(T_TXN.c.id))
        postings = self.c.execute(
            select(T_POSTING).where(T_POSTING.c.txn_pk > pk).order_by(T_POSTING.c.txn_pk, T_POSTING.c.idx)
        )
        lines = self.c.execute(select(T_LINE).where(T_LINE.c.txn_pk > pk).order_by(T_LINE.c.txn_pk, T_LINE.c.idx))
        yield from _merged(txns, postings, lines)

    def touching_after(self, account: str, pk: int) -> list[Transaction]:
        """The transactions after position ``pk`` with a posting to ``account``."""
        rows = self.c.execute(_Checks.touching_after, {"account": account, "after": pk}).all()
        if not rows:
            return []
        pks = [r.id for r in rows]
        postings = self.c.execute(
            select(T_POSTING).where(T_POSTING.c.txn_pk.in_(pks)).order_by(T_POSTING.c.txn_pk, T_POSTING.c.idx)
        )
        lines = self.c.execute(select(T_LINE).where(T_LINE.c.txn_pk.in_(pks)).order_by(T_LINE.c.txn_pk, T_LINE.c.idx))
        return list(_merged(rows, postings, lines))

    def points_posted(self, account: str, leave_out_corrected: bool = False) -> int:
        """The sum of the point postings to ``account``; with ``leave_out_corrected``, without the transactions
        the township corrected (they count for nothing here), which costs a look-up per posting."""
        if not leave_out_corrected:
            return int(self.c.execute(_Checks.points_posted, {"account": account}).scalar_one())
        shop_id = self.meta("shop_id") or ""
        query = _Checks.points_posted_uncorrected
        return int(self.c.execute(query, {"account": account, "shop_id": shop_id}).scalar_one())

    def balance_totals(self, pk: int) -> tuple[int, int, int]:
        """(points all households hold by their cached balances, points posted to households after position
        ``pk``, corrections stored after ``pk``): what the start-up check compares with a checkpoint."""
        cached = self.c.execute(select(func.coalesce(func.sum(T_BALANCE.c.balance), 0))).scalar_one()
        since = self.c.execute(
            select(func.coalesce(func.sum(T_POSTING.c.amount), 0)).where(
                T_POSTING.c.txn_pk > pk, T_POSTING.c.unit == POINTS, T_POSTING.c.account.startswith(HOUSEHOLD_PREFIX)
            )
        ).scalar_one()
        corrections = self.c.execute(
            select(func.count()).select_from(T_TXN).where(T_TXN.c.id > pk, T_TXN.c.kind == "correction")
        ).scalar_one()
        return int(cached), int(since), int(corrections)

    def balance_drift(self) -> list[tuple[str, int, int]]:
        """(household, cached balance, sum of its postings) for every household where the two differ."""
        shop_id = self.meta("shop_id") or ""
        posted = (
            select(T_POSTING.c.account, func.sum(T_POSTING.c.amount).label("total"))
            .select_from(T_POSTING.join(T_TXN, T_TXN.c.id == T_POSTING.c.txn_pk))
            .where(T_POSTING.c.unit == POINTS, T_POSTING.c.account.startswith(HOUSEHOLD_PREFIX), _Checks.not_corrected)
            .group_by(T_POSTING.c.account)
            .subquery()
        )
        total = func.coalesce(posted.c.total, 0)
        query = (
            select(T_BALANCE.c.household_id, T_BALANCE.c.balance, total.label("posted"))
            .outerjoin(posted, posted.c.account == HOUSEHOLD_PREFIX + T_BALANCE.c.household_id)
            .where(T_BALANCE.c.balance != total)
            .order_by(T_BALANCE.c.household_id)
        )
        found = [(r.household_id, int(r.balance), int(r.posted)) for r in self.c.execute(query, {"shop_id": shop_id})]
        known = select(HOUSEHOLD_PREFIX + T_BALANCE.c.household_id)
        orphans = select(posted.c.account, posted.c.total).where(posted.c.total != 0, posted.c.account.not_in(known))
        for r in self.c.execute(orphans, {"shop_id": shop_id}):
            found.append((r.account.removeprefix(HOUSEHOLD_PREFIX), 0, int(r.total)))
        return found

    # ----- writes -----------------------------------------------------------------------------
    def append(self, draft: TxnDraft) -> Transaction:
        """Give ``draft`` the device's next sequence number and chain hash, store it, update caches."""
        return self.append_many([draft])[0]

    def append_many(self, drafts: Sequence[TxnDraft]) -> list[Transaction]:
        """Append drafts in order, with one statement per table (imports, seeding, benchmarks)."""
        if not drafts:
            return []
        device_id = self.identity().device_id
        head = self.c.execute(_Prepared.device_head, {"device_id": device_id}).first()
        if head is None:
            raise LedgerError("not_configured")
        seq, prev = head.last_seq, head.last_hash
        result: list[Transaction] = []
        for draft in drafts:
            seq += 1
            digest = chain_hash(prev, draft, device_id, seq)
            result.append(chained(draft, device_id, seq, prev, digest))
            prev = digest
        self.c.execute(_Prepared.move_head, {"b_device_id": device_id, "b_last_seq": seq, "b_last_hash": prev})
        self._insert_journal(result)
        self._apply_effects(drafts)
        return result

    def ingest(
        self,
        txns: Sequence[Transaction],
        create_devices: bool = False,
        held: frozenset[str] = frozenset(),
        content_ok: Sequence[bool] | None = None,
    ) -> list[Transaction]:
        """Store transactions made on other devices, each exactly once; return the ones that were new.

        Each device's transactions must arrive in its own order with no gap and an unbroken chain,
        and their content must match their hash. A transaction already stored with the same hash is
        a resend and is skipped; the same id with other content, a number already taken by another
        transaction (a fork), a gap or a broken chain is refused as a whole, and nothing is written.

        Transactions whose ids are in ``held`` (the central record's verdict, docs/sync.md "Authority")
        pass the same checks but keep only their place in the chain (``chain_link``): they are returned
        among the new ones, and are not in the journal, so they have no effect.

        ``content_ok[i]`` (the hash of ``txns[i]`` matches its content) lets a caller hash them before it
        takes the write lock (the central record does); without it the hashes are computed here.
        """
        if not txns:
            return []
        known = self._known_hashes([t.txn_id for t in txns])
        heads: dict[str, tuple[int, str]] = {}
        devices = sorted({t.device_id for t in txns})
        for r in self.c.execute(select(T_DEVICE).where(T_DEVICE.c.device_id.in_(devices))):
            heads[r.device_id] = (r.last_seq, r.last_hash)
        fresh, new_devices = new_in_chain(txns, known, heads, content_ok, create_devices)
        for first in new_devices:
            self.put_device(first.device_id, first.shop_id)
        if not fresh:
            return []
        for device_id in {t.device_id for t in fresh}:
            seq, digest = heads[device_id]
            self.c.execute(_Prepared.move_head, {"b_device_id": device_id, "b_last_seq": seq, "b_last_hash": digest})
        effective = [t for t in fresh if t.txn_id not in held] if held else fresh
        if len(effective) != len(fresh):
            self.add_links([t for t in fresh if t.txn_id in held])
        if effective:
            self._insert_journal(effective)
            self._apply_effects(effective)
            self._undo_corrected(effective)
        return fresh

    def _known_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Hashes of the transactions among ``ids`` already stored, or held with their place kept."""
        known: dict[str, str] = {}
        links = self._has_links()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            query = select(T_TXN.c.txn_id, T_TXN.c.hash).where(T_TXN.c.txn_id.in_(part))
            known.update((r.txn_id, r.hash) for r in self.c.execute(query))
            if links:
                query = select(T_LINK.c.txn_id, T_LINK.c.hash).where(T_LINK.c.txn_id.in_(part))
                known.update((r.txn_id, r.hash) for r in self.c.execute(query))
        return known

    def _has_links(self) -> bool:
        return self.c.execute(select(T_LINK.c.seq).limit(1)).first() is not None

    def add_links(self, txns: Sequence[Transaction]) -> None:
        """Keep the places of held transactions in their devices' chains (their ids too, for resends)."""
        self.c.execute(
            insert(T_LINK), [{"device_id": t.device_id, "seq": t.seq, "hash": t.hash, "txn_id": t.txn_id} for t in txns]
        )

    def put_chain_link(self, device_id: str, shop_id: str, seq: int, digest: str) -> bool:
        """A held transaction of another device, known by number and hash only; False if already here.

        Pulled from the central record so that the device's later transactions chain here too. The
        link must come next in the device's chain, as a transaction would.
        """
        self.put_device(device_id, shop_id)
        head = self.c.execute(_Prepared.device_head, {"device_id": device_id}).one()
        if seq <= head.last_seq:
            if self.hash_at(device_id, seq) == digest:
                return False
            raise LedgerError("sync_fork", receipt_no=receipt_number(shop_id, device_id, seq))
        if seq != head.last_seq + 1:
            raise LedgerError("sync_gap", device_id=device_id, expected=head.last_seq + 1, got=seq)
        self.c.execute(insert(T_LINK).values(device_id=device_id, seq=seq, hash=digest, txn_id=None))
        self.c.execute(_Prepared.move_head, {"b_device_id": device_id, "b_last_seq": seq, "b_last_hash": digest})
        return True

    def hash_at(self, device_id: str, seq: int) -> str | None:
        """The hash at a place in a device's chain: of the transaction there, or of the held one's link."""
        found = self.c.execute(
            select(T_TXN.c.hash).where(T_TXN.c.device_id == device_id, T_TXN.c.seq == seq)
        ).scalar_one_or_none()
        if found is None:
            found = self.c.execute(
                select(T_LINK.c.hash).where(T_LINK.c.device_id == device_id, T_LINK.c.seq == seq)
            ).scalar_one_or_none()
        return str(found) if found is not None else None

    def chain_links(self) -> dict[str, dict[int, str]]:
        """Places of held transactions known only by number and hash (table ``chain_link``): device -> seq -> hash."""
        links: dict[str, dict[int, str]] = {}
        for r in self.c.execute(select(T_LINK.c.device_id, T_LINK.c.seq, T_LINK.c.hash)):
            links.setdefault(r.device_id, {})[int(r.seq)] = r.hash
        return links

    def corrected_ids(self) -> set[str]:
        """This shop's transactions that the township held and corrected (docs/sync.md "Authority")."""
        shop_id = self.meta("shop_id") or ""
        query = select(T_TXN.c.ref_txn_id).where(
            T_TXN.c.kind == str(TxnKind.CORRECTION), T_TXN.c.party == shop_id, T_TXN.c.ref_txn_id.is_not(None)
        )
        return {str(r) for r in self.c.execute(query).scalars()}

    def _undo_corrected(self, fresh: Sequence[Transaction]) -> None:
        """Take the effect of this shop's held transactions out of the caches when their corrections arrive.

        A correction names a transaction of this shop that the central record held. The caches of what
        that transaction touched are recomputed from the journal without it (and without any other
        corrected one): a held clearing or cycle close cannot simply be subtracted.
        """
        shop_id = self.identity().shop_id
        refs = [t.ref_txn_id for t in fresh if t.kind == TxnKind.CORRECTION and t.party == shop_id and t.ref_txn_id]
        targets = [found for found in (self.transaction(ref) for ref in refs) if found is not None]
        if not targets:
            return
        corrected = self.corrected_ids()
        households: set[str] = set()
        skus: set[str] = set()
        for held in targets:
            fx = effects_of(held, shop_id)
            households.update(fx.balance, fx.earned, fx.earned_reset, fx.status)
            skus.update(fx.stock)
        for household_id in sorted(households):
            totals = Totals()
            for txn in self._touching(household_id):
                if txn.txn_id not in corrected:
                    totals.apply(effects_of(txn, shop_id))
            self._set_balance(household_id, totals.balance.get(household_id, 0), totals.earned.get(household_id, 0))
            status = totals.status.get(household_id, HouseholdStatus.ACTIVE)
            self.c.execute(
                update(T_HOUSEHOLD).where(T_HOUSEHOLD.c.household_id == household_id).values(status=str(status))
            )
        for sku in sorted(skus):
            query = (
                select(func.coalesce(func.sum(T_LINE.c.qty), 0))
                .select_from(T_LINE.join(T_TXN, T_TXN.c.id == T_LINE.c.txn_pk))
                .where(T_LINE.c.sku == sku, T_TXN.c.shop_id == shop_id)
            )
            if corrected:
                query = query.where(T_TXN.c.txn_id.not_in(sorted(corrected)))
            on_hand = int(self.c.execute(query).scalar_one())
            if self.c.execute(update(T_STOCK).where(T_STOCK.c.sku == sku).values(on_hand=on_hand)).rowcount == 0:
                self.c.execute(insert(T_STOCK).values(sku=sku, on_hand=on_hand))

    def _touching(self, household_id: str) -> Iterator[Transaction]:
        """Every transaction that names the household or posts to its account, in the order stored."""
        posted = select(T_POSTING.c.txn_pk).where(T_POSTING.c.account == household_account(household_id))
        query = (
            select(T_TXN).where((T_TXN.c.household_id == household_id) | T_TXN.c.id.in_(posted)).order_by(T_TXN.c.id)
        )
        for row in self.c.execute(query).all():
            loaded = self._load(row)
            if loaded is not None:
                yield loaded

    def _set_balance(self, household_id: str, balance: int, earned: int) -> None:
        changed = self.c.execute(
            update(T_BALANCE)
            .where(T_BALANCE.c.household_id == household_id)
            .values(balance=balance, earned_cycle=earned)
        ).rowcount
        if changed == 0:
            self.c.execute(insert(T_BALANCE).values(household_id=household_id, balance=balance, earned_cycle=earned))

    def _insert_journal(self, txns: Sequence[Transaction]) -> None:
        rows = [
            {
                "txn_id": t.txn_id,
                "device_id": t.device_id,
                "seq": t.seq,
                "kind": str(t.kind),
                "created_at": t.created_at,
                "shop_id": t.shop_id,
                "operator": t.operator,
                "household_id": t.household_id,
                "memo": t.memo,
                "ref_txn_id": t.ref_txn_id,
                "party": t.party,
                "pull_cursor": t.pull_cursor,
                "prev_hash": t.prev_hash,
                "hash": t.hash,
            }
            for t in txns
        ]
        if len(rows) == 1:  # a sale
            key = self.c.execute(_Prepared.insert_txn, rows[0]).inserted_primary_key
            assert key is not None
            pks = [key[0]]
        else:
            # One executemany, then the new keys by (device, seq). INSERT ... RETURNING with
            # sort_by_parameter_order has no sentinel column here, so SQLAlchemy would send one
            # INSERT per row.
            self._insert_many(T_TXN, rows)
            # A batch pulled from the township holds several devices' transactions, interleaved.
            ranges: dict[str, tuple[int, int]] = {}
            for t in txns:
                first, last = ranges.get(t.device_id, (t.seq, t.seq))
                ranges[t.device_id] = (min(first, t.seq), max(last, t.seq))
            by_key: dict[tuple[str, int], int] = {}
            for device_id, (first, last) in ranges.items():
                found = self.c.execute(_Prepared.txn_pks, {"device_id": device_id, "first": first, "last": last})
                by_key.update(((device_id, seq), pk) for seq, pk in found)
            pks = [by_key[(t.device_id, t.seq)] for t in txns]
        postings = [
            {"txn_pk": pk, "idx": i, "account": p.account, "unit": p.unit, "amount": p.amount}
            for pk, t in zip(pks, txns, strict=True)
            for i, p in enumerate(t.postings)
        ]
        if postings:
            self._insert_many(T_POSTING, postings)
        lines = [
            {"txn_pk": pk, "idx": i, "sku": ln.sku, "qty": ln.qty, "points_each": ln.points_each}
            for pk, t in zip(pks, txns, strict=True)
            for i, ln in enumerate(t.lines)
        ]
        if lines:
            self._insert_many(T_LINE, lines)

    def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (all with the same keys, plain strings and numbers) with one executemany.

        A batch (a pulled page: a thousand transactions, three thousand postings) goes straight to the
        driver: SQLAlchemy's per-row parameter processing cost more than SQLite's inserts. The columns
        hold plain values only, so there is nothing for SQLAlchemy to convert. A single row, or a driver
        with another parameter style, takes SQLAlchemy's path.
        """
        marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(self.c.dialect.paramstyle)
        if len(rows) < 2 or marker is None:
            self.c.execute(insert(table), rows)
            return
        columns = list(rows[0])
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
        self.c.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])

    def _apply_effects(self, drafts: Sequence[TxnContent]) -> None:
        """Update the caches for ``drafts`` in order, one statement per cache table per stretch.

        A cycle close or a clearing resets points earned: what came before it in the batch must be
        written first, so the batch is applied in stretches that end at each reset.
        """
        shop = self.identity().shop_id
        overlay = Totals()
        for draft in drafts:
            fx = effects_of(draft, shop)
            if fx.earned_reset:
                self._write_overlay(overlay)
                overlay = Totals()
                for household_id in fx.earned_reset:
                    self.c.execute(
                        update(T_BALANCE).where(T_BALANCE.c.household_id == household_id).values(earned_cycle=0)
                    )
                fx.earned_reset = set()
            overlay.apply(fx)
        self._write_overlay(overlay)

    def _write_overlay(self, overlay: Totals) -> None:
        changes = [
            {"b_household_id": hid, "b_amount": overlay.balance.get(hid, 0), "b_earned": overlay.earned.get(hid, 0)}
            for hid in set(overlay.balance) | set(overlay.earned)
        ]
        for change in self._add_to_rows(_Prepared.add_balance, T_BALANCE.c.household_id, "b_household_id", changes):
            self.c.execute(
                insert(T_BALANCE).values(
                    household_id=change["b_household_id"], balance=change["b_amount"], earned_cycle=change["b_earned"]
                )
            )
        moves = [{"b_sku": sku, "b_qty": qty} for sku, qty in overlay.stock.items()]
        for move in self._add_to_rows(_Prepared.add_stock, T_STOCK.c.sku, "b_sku", moves):
            self.c.execute(insert(T_STOCK).values(sku=move["b_sku"], on_hand=move["b_qty"]))
        for household_id, status in overlay.status.items():
            self.c.execute(
                update(T_HOUSEHOLD).where(T_HOUSEHOLD.c.household_id == household_id).values(status=str(status))
            )

    def _add_to_rows(self, statement: Any, key: Any, name: str, params: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run the UPDATE ``statement`` for all parameter sets in one executemany; return those whose row is missing.

        Rows that exist are updated exactly once; the caller inserts the missing ones.
        """
        if not params:
            return []
        if len(params) == 1:
            return params if self.c.execute(statement, params[0]).rowcount == 0 else []
        changed = self.c.execute(statement, params).rowcount
        if self.c.dialect.supports_sane_multi_rowcount and changed == len(params):
            return []
        wanted = [p[name] for p in params]
        present: set[Any] = set()
        for start in range(0, len(wanted), 500):
            present.update(self.c.execute(select(key).where(key.in_(wanted[start : start + 500]))).scalars())
        return [p for p in params if p[name] not in present]

    def record_import(self, digest: str, name: str, when: str) -> None:
        self.c.execute(insert(T_IMPORT).values(digest=digest, name=name, imported_at=when))

    def add_print_job(self, txn_id: str, created_at: str, receipt: ReceiptContent) -> None:
        self.c.execute(
            _Prepared.insert_print_job,
            {
                "txn_id": txn_id,
                "kind": receipt.kind.value,
                "created_at": created_at,
                "status": "pending",
                "attempts": 0,
                "last_error": "",
                "facts": "{}",
                "receipt": json.dumps(receipt.to_json(), ensure_ascii=False, sort_keys=True),
            },
        )

    def finish_print_job(self, job_id: int, printed_at: str | None, error: str = "") -> None:
        """Record one attempt: printed (``printed_at`` set) or failed (still pending, with the error)."""
        values: dict[str, Any] = {"attempts": T_PRINT.c.attempts + 1, "last_error": error}
        if printed_at is not None:
            values.update(status="printed", printed_at=printed_at)
        self.c.execute(update(T_PRINT).where(T_PRINT.c.id == job_id).values(**values))


def _stored_receipt(text: str | None) -> ReceiptContent | None:
    """A print job's stored receipt; None for a job of an older ledger, or one unreadable (the print queue
    then rebuilds the receipt from the journal rather than refuse to print the sale at all)."""
    if text is None:
        return None
    try:
        return ReceiptContent.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError):
        return None


def _merged(txns: Any, postings: Any, lines: Any) -> Iterator[Transaction]:
    """Transactions built from three scans ordered by transaction position (rows of vanished ones skipped)."""
    posting_rows, line_rows = iter(postings), iter(lines)
    next_posting, next_line = next(posting_rows, None), next(line_rows, None)
    for row in txns:
        found_postings: list[Row[Any]] = []
        while next_posting is not None and next_posting.txn_pk <= row.id:
            if next_posting.txn_pk == row.id:
                found_postings.append(next_posting)
            next_posting = next(posting_rows, None)
        found_lines: list[Row[Any]] = []
        while next_line is not None and next_line.txn_pk <= row.id:
            if next_line.txn_pk == row.id:
                found_lines.append(next_line)
            next_line = next(line_rows, None)
        yield build_transaction(row, found_postings, found_lines)
