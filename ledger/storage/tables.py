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
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy import text as sql_text  # not "text": the message extractor reads text("...") as a message key
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
    __table_args__ = (Index("ix_household_village", "village_id"),)
    household_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    village_id: Mapped[str] = mapped_column(ForeignKey("village.village_id"))
    head_name: Mapped[str] = mapped_column(String(100))
    home_shop_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    members: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[name, relation], ...]
    village_group: Mapped[str] = mapped_column(String(32), default="", server_default=sql_text("''"))  # 村民小组 (0008)
    house_no: Mapped[str] = mapped_column(String(32), default="", server_default=sql_text("''"))  # 门牌号 (0008)
    phone: Mapped[str] = mapped_column(String(20), default="", server_default=sql_text("''"))  # 联系电话 (0013)


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
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


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
        Index("ix_txn_shop_created", "shop_id", "created_at"),  # a shop's 台账 of a period (0009)
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
    # Figures of the moment (redeemable before/after) that a later reprint must show unchanged: what jobs
    # kept before migration 0006; newer jobs keep the whole receipt instead and leave this "{}".
    facts: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    # Migration 0006: the receipt as it was at the commit (``ReceiptContent.to_json``), which printing and
    # every reprint lay out. NULL for jobs written before it; theirs is rebuilt from the journal.
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImportRecord(Base):
    """Spreadsheets already imported, by content digest, so the same sheet is never counted twice."""

    __tablename__ = "import_record"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[str] = mapped_column(String(32))


JOURNAL_TABLES = ("txn", "posting", "line")
# The journal; the console's activity log (0007); the rules' versions, the points records' steps and photos (0011).
APPEND_ONLY_TABLES = (*JOURNAL_TABLES, "activity_log", "rule_version", "record_step", "record_photo")


# ----- the central record only (migration 0003, docs/sync.md) ------------------------------------------
# A shop ledger has these tables too (one schema, one set of migrations) and leaves them empty.


class CentralDeviceRow(Base):
    """A shop PC registered at the central record: who may push, for which shop, acknowledged how far.

    Only the sha256 of the device token is kept, so a copy of the database does not let anyone push.
    ``bundle_key`` is the key that signs the device's USB-stick bundles; it is derived from the token
    at enrolment (``sha256("bundle:" + token)``) because the token itself cannot be recovered here.
    """

    __tablename__ = "central_device"
    device_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    bundle_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acked_through: Mapped[int] = mapped_column(BigInteger)
    last_push_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class EnrolTokenRow(Base):
    """A one-use token that turns a new (or replacement) shop PC into a registered device."""

    __tablename__ = "enrol_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AdminTokenRow(Base):
    __tablename__ = "admin_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[str] = mapped_column(String(32))


class KioskTokenRow(Base):
    """Read-only tokens for kiosks away from a shop: they may look up a passbook, nothing else."""

    __tablename__ = "kiosk_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ChangeLogRow(Base):
    """The global order of everything the central record accepted; shops pull it after their cursor.

    ``seq`` is an integer primary key: on SQLite that is the rowid (SQLite has no 64-bit autoincrement
    column type of its own), on PostgreSQL a BIGSERIAL.
    """

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_key", "key"),)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    origin_device: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32))


class SyncExceptionRow(Base):
    """Something the township must look at: a refused push, an overdraft, a redemption after a clearing."""

    __tablename__ = "sync_exception"
    __table_args__ = (Index("ix_sync_exception_status", "status"), Index("ix_sync_exception_shop", "shop_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    txn_ids: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))
    resolved_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Migration 0005: whose refusal it is, and how often it came again while open (one row, not thousands).
    shop_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_seen_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


# ----- held transactions (migration 0004, docs/sync.md "Authority") ---------------------------------------


class ChainLinkRow(Base):
    """A place in a device's chain whose transaction the township held: only its number and hash are known.

    The device's next transaction chains onto this hash; the audit walks through the link as through
    a transaction with no effect. The central record also keeps the held transaction's id, so a resend
    of it is recognised.
    """

    __tablename__ = "chain_link"
    device_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    txn_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)


class HeldTxnRow(Base):
    """A pushed transaction the shop had no right to make (central record only): what, why, and the decision."""

    __tablename__ = "held_txn"
    __table_args__ = (Index("ix_held_txn_status", "status"),)
    txn_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    shop_id: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    household_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rule: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)  # the transaction's wire form, as pushed
    correction_txn_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # held | released
    created_at: Mapped[str] = mapped_column(String(32))
    decided_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    release_txn_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


# ----- abuse (migration 0005, docs/sync.md "Abuse of the server") -------------------------------------------


class DeviceRefusalRow(Base):
    """A device's refused pushes in the current window, and until when it is slowed down (429).

    Kept in the database, not in a server process's memory, so several server processes agree.
    """

    __tablename__ = "device_refusal"
    device_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_start: Mapped[str] = mapped_column(String(32))
    refusals: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[str | None] = mapped_column(String(32), nullable=True)


# ----- people of the township console (migration 0007, ledger.access) ---------------------------------------

# Integer ids that count up: the rowid on SQLite, a BIGSERIAL on PostgreSQL.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")


class ConsoleUserRow(Base):
    """Someone who signs in to the console or calls the API with a personal token."""

    __tablename__ = "console_user"
    user_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # Argon2; None: tokens only
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[str] = mapped_column(String(32))


class ConsoleGrantRow(Base):
    """One role of a user, with its village or shop ('' for none: part of the key, so never NULL)."""

    __tablename__ = "console_grant"
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.user_id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(16), primary_key=True)


class ConsoleSessionRow(Base):
    """A signed-in browser. The cookie holds a random value; only its sha256 is stored. Times in epoch
    seconds, so every server process compares them the same way whatever its time zone."""

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_user", "user_id"),)
    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.user_id"))
    csrf: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    created_s: Mapped[int] = mapped_column(BigInteger)
    seen_s: Mapped[int] = mapped_column(BigInteger)
    expires_s: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(64))


class ApiTokenRow(Base):
    """A personal API token: the user's roles, for scripts and ``lovemart central`` (stored as sha256)."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id"),)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), unique=True)  # shown in lists, to revoke by
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.user_id"))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(32))
    last_used_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SignInFailureRow(Base):
    """Wrong passwords in a row for a user name (real or not), and until when it is locked (epoch s)."""

    __tablename__ = "sign_in_failure"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until_s: Mapped[int] = mapped_column(BigInteger)


class ActivityRow(Base):
    """Every change made in the console or through the API: append-only (triggers refuse UPDATE/DELETE)."""

    __tablename__ = "activity_log"
    __table_args__ = (Index("ix_activity_log_user", "user_name"), Index("ix_activity_log_action", "action"))
    activity_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)


# ----- the console's running figures (migration 0009) ---------------------------------------------------------
# Kept up to date in the unit that stores each transaction at the central record, so the overview and the
# reports read a few hundred rows instead of a month of the journal. ``CentralUnit.rebuild_figures``
# makes them again from the journal (the migration, and a benchmark after COPY).


class DailyFigureRow(Base):
    """Per local day, village, shop and kind of transaction: how many, the points they moved on household
    accounts, the money (fen) into shop funds and the goods quantity. A transaction counts in the village of
    its household, or of its shop when it has none, so the villages add up to the township."""

    __tablename__ = "daily_figure"
    __table_args__ = (Index("ix_daily_figure_village_day", "village_id", "day"),)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    txns: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    fen: Mapped[int] = mapped_column(BigInteger)
    qty: Mapped[int] = mapped_column(BigInteger)


class HouseholdKeyRow(Base):
    """The words a household is found by (``Household.search_keys``), for searches "starting with".

    Byte order (SQLite's BINARY, PostgreSQL's "C" collation), so that a prefix is a range of the index.
    """

    __tablename__ = "household_key"
    __table_args__ = (Index("ix_household_key_household", "household_id"),)
    key: Mapped[str] = mapped_column(
        String(100).with_variant(String(100, collation="C"), "postgresql"), primary_key=True
    )
    household_id: Mapped[str] = mapped_column(String(16), primary_key=True)


class ShopStockRow(Base):
    """Goods on hand at each shop as its pushed transactions tell it: the sum of its goods lines."""

    __tablename__ = "shop_stock"
    shop_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger)


# ----- the award workflow and the rules catalogue (migration 0011, ledger.workflow, ledger.rulebook) ---------


class RuleVersionRow(Base):
    """One version of the rules (积分细则): the township's (``village_id`` '') or a village's changes and
    local items, in force from ``effective_from``. Append-only: a change is a new version."""

    __tablename__ = "rule_version"
    village_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[str] = mapped_column(String(10))
    content: Mapped[str] = mapped_column(Text)  # the items and changes, as JSON
    note: Mapped[str] = mapped_column(String(200))
    made_by: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[str] = mapped_column(String(32))


class PointsRecordRow(Base):
    """A recorded event on its way from record to issue: its current state (``ledger.workflow.PointsRecord``).
    What happened to it, step by step, is ``record_step``."""

    __tablename__ = "points_record"
    __table_args__ = (
        Index("ix_points_record_village_stage", "village_id", "stage"),
        Index("ix_points_record_household", "household_id"),
        Index("ix_points_record_batch", "batch_id"),
        Index("ix_points_record_issued", "issued_txn_id"),  # a transaction back to the record it issued
    )
    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[str] = mapped_column(String(16))
    item_code: Mapped[str] = mapped_column(String(16))
    item_name: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(8))
    zero_tolerance: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[str] = mapped_column(String(10))
    place: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    checked_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    notice_until: Mapped[str | None] = mapped_column(String(10), nullable=True)
    approved_by_township: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    issued_txn_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class RecordStepRow(Base):
    """Every step of every points record: who, when, what, the points before and after, why. Append-only."""

    __tablename__ = "record_step"
    __table_args__ = (Index("ix_record_step_record", "record_id"),)
    step_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    by: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[str] = mapped_column(String(32))
    points_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    points_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    note: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ReviewBatchRow(Base):
    """A review meeting's batch (第 N 批 of its village) and its notice window once published."""

    __tablename__ = "review_batch"
    __table_args__ = (UniqueConstraint("village_id", "number", name="uq_review_batch_village_number"),)
    batch_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    village_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    meeting_day: Mapped[str] = mapped_column(String(10))
    attendees: Mapped[str] = mapped_column(String(500))
    made_by: Mapped[int] = mapped_column(BigInteger)
    made_at: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    window_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    window_until: Mapped[str | None] = mapped_column(String(10), nullable=True)


class ObjectionRow(Base):
    """An objection (异议) to a record under notice, and how it was resolved."""

    __tablename__ = "objection"
    __table_args__ = (Index("ix_objection_record", "record_id"),)
    objection_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32))
    raised_by: Mapped[str] = mapped_column(String(100))
    says: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    resolved_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolution: Mapped[str] = mapped_column(String(200))


class RecordPhotoRow(Base):
    """A photo kept with a points record (images only, size-limited at the edge). Append-only."""

    __tablename__ = "record_photo"
    __table_args__ = (Index("ix_record_photo_record", "record_id"),)
    photo_id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_by: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[str] = mapped_column(String(32))
