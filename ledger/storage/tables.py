"""Tables of a shop ledger (SQLAlchemy 2 typed declarative models).

Three kinds of table:
- the journal (``txn``, ``posting``, ``line``): append-only, guarded by triggers (see ``triggers``);
- caches derived from the journal (``household_balance``, ``stock_level``, ``device``'s last seq
  and hash, ``household.status``): updated in the same database transaction as each append, and
  checked against the journal by the audit;
- master data (township, policy, villages, shops, households, cards, items, operators): versioned
  by the central record, replaced as a whole when it changes.

Integers everywhere that counts: points, fen and quantities are ``BigInteger``/``Integer``, never
``Numeric`` (SQLite stores that as a float).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TownshipRow(Base):
    __tablename__ = "township"
    township_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    passbook_key: Mapped[str] = mapped_column(String(128))  # hex


class PolicyRow(Base):
    __tablename__ = "policy"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    base_points: Mapped[int] = mapped_column(Integer)
    redeemable_floor: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[str] = mapped_column(String(16))
    fen_per_point: Mapped[int] = mapped_column(Integer)
    visitor_limit: Mapped[int] = mapped_column(Integer)
    max_offline_days: Mapped[int] = mapped_column(Integer)
    max_quantity: Mapped[int] = mapped_column(Integer)
    max_points_per_award: Mapped[int] = mapped_column(Integer)


class VillageRow(Base):
    __tablename__ = "village"
    village_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ShopRow(Base):
    __tablename__ = "shop"
    shop_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    village_id: Mapped[str] = mapped_column(ForeignKey("village.village_id"))


class DeviceRow(Base):
    """A device that writes transactions, with its chain head (a cache of its last transaction)."""

    __tablename__ = "device"
    device_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(16))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class HouseholdRowTable(Base):
    __tablename__ = "household"
    household_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    village_id: Mapped[str] = mapped_column(ForeignKey("village.village_id"))
    head_name: Mapped[str] = mapped_column(String(100))
    home_shop_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    members: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[name, relation], ...]


class PassbookCardRow(Base):
    __tablename__ = "passbook_card"
    household_id: Mapped[str] = mapped_column(ForeignKey("household.household_id"), primary_key=True)
    card_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ItemRow(Base):
    __tablename__ = "item"
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    barcode: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    category: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OperatorRow(Base):
    __tablename__ = "operator"
    operator_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    pin_salt: Mapped[str] = mapped_column(String(64))
    pin_hash: Mapped[str] = mapped_column(String(128))


class HouseholdBalanceRow(Base):
    __tablename__ = "household_balance"
    household_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_cycle: Mapped[int] = mapped_column(BigInteger, default=0)


class StockLevelRow(Base):
    __tablename__ = "stock_level"
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)


class TxnRow(Base):
    __tablename__ = "txn"
    __table_args__ = (
        UniqueConstraint("device_id", "seq", name="uq_txn_device_seq"),
        Index("ix_txn_household", "household_id"),
        Index("ix_txn_ref", "ref_txn_id"),
        Index("ix_txn_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    txn_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))
    shop_id: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    ref_txn_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    party: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pull_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PostingRow(Base):
    __tablename__ = "posting"
    __table_args__ = (Index("ix_posting_account", "account"), {"sqlite_with_rowid": False})
    txn_pk: Mapped[int] = mapped_column(ForeignKey("txn.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)


class LineRow(Base):
    __tablename__ = "line"
    __table_args__ = ({"sqlite_with_rowid": False},)
    txn_pk: Mapped[int] = mapped_column(ForeignKey("txn.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(String(32))
    qty: Mapped[int] = mapped_column(BigInteger)
    points_each: Mapped[int] = mapped_column(BigInteger)


class PrintJobRow(Base):
    """Receipts waiting to print. Not part of the journal: a print job's status changes."""

    __tablename__ = "print_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    txn_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    printed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ImportRecord(Base):
    """Spreadsheets already imported, by content digest, so the same sheet is never counted twice."""

    __tablename__ = "import_record"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[str] = mapped_column(String(32))


JOURNAL_TABLES = ("txn", "posting", "line")
