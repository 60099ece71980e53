"""The data model of a shop ledger.

Plain frozen dataclasses, no storage: the services build them, storage persists them, the audit
recomputes them. Points are integers; money is integer fen. A transaction is one business event
with postings that sum to zero per unit (``pt`` for points, ``fen`` for money) and, for goods,
lines that move stock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

POINTS = "pt"
FEN = "fen"
GENESIS_HASH = "0" * 64


class TxnKind(StrEnum):
    AWARD = "award"
    DEDUCT = "deduct"
    BASE_GRANT = "base_grant"
    REDEEM = "redeem"
    VOID = "void"
    CLEARING = "clearing"
    UNFREEZE = "unfreeze"
    STOCK_IN = "stock_in"
    STOCK_ADJUST = "stock_adjust"
    WRITE_OFF = "write_off"
    DONATION = "donation"
    CYCLE_CLOSE = "cycle_close"
    DAY_CLOSE = "day_close"
    # Central record only (docs/sync.md): a shortfall from offline redemptions, and its repayment.
    OVERDRAFT = "overdraft"
    OVERDRAFT_REPAY = "overdraft_repay"
    # Central record only (docs/sync.md "Authority"): a shop transaction held for breaking the authority
    # rule is undone in the shop that made it by a correction; the township may later release its
    # effect, re-issued under its own authority.
    CORRECTION = "correction"
    RELEASE = "release"


# Kinds whose household postings count as points *earned* in the cycle (the ranking, 红榜).
# Redemptions and voids do not: spending points must not lower a household's standing.
EARNING_KINDS = frozenset({TxnKind.AWARD, TxnKind.DEDUCT, TxnKind.BASE_GRANT})
# Kinds that reset points earned in the cycle: a new cycle, or a zero-tolerance clearing.
EARNED_RESET_KINDS = frozenset({TxnKind.CYCLE_CLOSE, TxnKind.CLEARING})


class Role(StrEnum):
    CLERK = "clerk"
    MANAGER = "manager"
    ADMIN = "admin"


class HouseholdStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"


# Account name prefixes: storage queries and the authority rule select accounts by kind with these.
HOUSEHOLD_PREFIX = "household:"
SUPPLIER_PREFIX = "supplier:"
DONOR_PREFIX = "donor:"


def household_account(household_id: str) -> str:
    return f"{HOUSEHOLD_PREFIX}{household_id}"


def shop_account(shop_id: str, purpose: str) -> str:
    """Counter-accounts of a shop: ``redeemed`` (points taken in), ``fund`` (money), ``goods_donated``."""
    return f"shop:{shop_id}:{purpose}"


TOWNSHIP_AWARDS = "township:awards"
TOWNSHIP_BASE = "township:base"
TOWNSHIP_CLEARED = "township:cleared"
TOWNSHIP_EXPIRED = "township:expired"


def overdraft_account(household_id: str) -> str:
    """What a household owes after redeeming more than it had (two shops offline at once)."""
    return f"overdraft:{household_id}"


def donor_account(donor: str) -> str:
    return f"{DONOR_PREFIX}{donor}"


def supplier_account(supplier: str) -> str:
    """Where the fund's money went for goods bought (a stock intake with a cost)."""
    return f"{SUPPLIER_PREFIX}{supplier}"


def account_household(account: str) -> str | None:
    if account.startswith(HOUSEHOLD_PREFIX):
        return account.removeprefix(HOUSEHOLD_PREFIX)
    return None


@dataclass(frozen=True)
class Posting:
    account: str
    amount: int
    unit: str = POINTS


@dataclass(frozen=True)
class Line:
    """A goods movement: ``qty`` is the signed change of the shop's stock (a redemption is negative)."""

    sku: str
    qty: int
    points_each: int


@dataclass(frozen=True)
class TxnDraft:
    """What a service asks storage to append; storage gives it a sequence number and a chain hash."""

    txn_id: str
    kind: TxnKind
    created_at: str
    shop_id: str
    operator: str
    household_id: str | None = None
    postings: tuple[Posting, ...] = ()
    lines: tuple[Line, ...] = ()
    memo: str = ""
    ref_txn_id: str | None = None
    party: str | None = None
    pull_cursor: int = 0


@dataclass(frozen=True)
class Transaction:
    txn_id: str
    device_id: str
    seq: int
    kind: TxnKind
    created_at: str
    shop_id: str
    operator: str
    household_id: str | None
    postings: tuple[Posting, ...]
    lines: tuple[Line, ...]
    memo: str
    ref_txn_id: str | None
    party: str | None
    pull_cursor: int
    prev_hash: str
    hash: str

    @property
    def receipt_no(self) -> str:
        return receipt_number(self.shop_id, self.device_id, self.seq)

    def points_of(self, account: str) -> int:
        return sum(p.amount for p in self.postings if p.account == account and p.unit == POINTS)

    @property
    def household_points(self) -> int:
        """What this transaction moved on its household's account (0 when it names no household)."""
        return self.points_of(household_account(self.household_id)) if self.household_id else 0


def chained(draft: TxnDraft, device_id: str, seq: int, prev_hash: str, digest: str) -> Transaction:
    """The stored form of ``draft`` once storage has given it its place in the device's chain."""
    return Transaction(
        txn_id=draft.txn_id,
        device_id=device_id,
        seq=seq,
        kind=draft.kind,
        created_at=draft.created_at,
        shop_id=draft.shop_id,
        operator=draft.operator,
        household_id=draft.household_id,
        postings=draft.postings,
        lines=draft.lines,
        memo=draft.memo,
        ref_txn_id=draft.ref_txn_id,
        party=draft.party,
        pull_cursor=draft.pull_cursor,
        prev_hash=prev_hash,
        hash=digest,
    )


# What the chain hash and the effects read: a draft before it is stored, or a stored transaction
# (the audit passes transactions as they stream, without copying each into a draft).
TxnContent = TxnDraft | Transaction


def receipt_number(shop_id: str, device_id: str, seq: int) -> str:
    return f"{shop_id}-{device_id}-{seq:06d}"


def parse_receipt_number(text: str) -> tuple[str, str, int] | None:
    parts = text.strip().upper().split("-")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


@dataclass(frozen=True)
class Policy:
    """A township's points scheme. ``redeemable_floor`` points of the balance can never be spent."""

    version: int = 1
    base_points: int = 0
    redeemable_floor: int = 0
    cycle: str = "annual"  # "annual": points restart at cycle close; "none": points keep forever
    fen_per_point: int = 100
    visitor_limit: int = 50
    max_offline_days: int = 30
    max_quantity: int = 99
    max_points_per_award: int = 10_000


@dataclass(frozen=True)
class Member:
    name: str
    relation: str = ""


SEARCH_KEY_LEN = 100


@dataclass(frozen=True)
class Household:
    household_id: str
    village_id: str
    head_name: str
    home_shop_id: str
    status: HouseholdStatus = HouseholdStatus.ACTIVE
    members: tuple[Member, ...] = ()
    village_group: str = ""  # 村民小组, as the village's own lists have it ("3组")
    house_no: str = ""  # 门牌号
    phone: str = ""  # 联系电话 (optional): for the shopkeeper to call; never on a kiosk or a receipt

    def search_keys(self) -> frozenset[str]:
        """What a clerk may type to find this household, each matched from its start: its number, the head's
        and every member's name, its house number and its village group (upper case, as typed ids are)."""
        words = {self.household_id, self.head_name, self.house_no, self.village_group}
        words.update(m.name for m in self.members)
        return frozenset(w.strip().upper()[:SEARCH_KEY_LEN] for w in words if w.strip())


@dataclass(frozen=True)
class PassbookCard:
    household_id: str
    card_no: int
    active: bool = True
    issued_at: str = ""
    revoked_at: str | None = None


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    unit: str
    points: int
    barcode: str | None = None
    category: str = ""
    active: bool = True


@dataclass(frozen=True)
class Operator:
    operator_id: str
    name: str
    role: Role
    pin_salt: str = ""
    pin_hash: str = ""
    active: bool = True  # a disabled operator's PIN no longer opens the till; past receipts keep the name

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.MANAGER, Role.ADMIN)


# Who headless commands record (``lovemart redeem`` and the like, without ``--operator``): one name, 管理员,
# on receipts, in the day close and in every 台账. Whoever can run commands can read the ledger file anyway.
COMMAND_LINE_OPERATOR = Operator("admin", "管理员", Role.ADMIN)


@dataclass(frozen=True)
class BalanceView:
    """What a shopkeeper or villager is shown for one household."""

    household: Household
    balance: int
    redeemable: int
    earned_cycle: int
    last_synced: str | None
    card_no: int | None = None

    @property
    def status(self) -> str:
        return str(self.household.status)


@dataclass(frozen=True)
class Shop:
    shop_id: str
    name: str
    village_id: str


@dataclass(frozen=True)
class Village:
    village_id: str
    name: str


@dataclass(frozen=True)
class Township:
    township_id: str
    name: str
    passbook_key: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class Receipt:
    """The outcome of a committed redemption or void, everything a receipt prints."""

    transaction: Transaction
    household_name: str
    redeemable_before: int
    redeemable_after: int
    balance_after: int
    printed: bool = False
