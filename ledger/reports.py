"""Reports read from a shop ledger: the day close, the ranking (红榜), the points liability, the four 台账.

Every report is a pure function of the ledger: it opens one read unit, so all its figures come from the
same moment, and it writes nothing. Figures are recomputed from the journal rather than kept as running
totals, because a report that can disagree with the journal is worse than no report: the township
inspects these ledgers precisely to check that nothing was made up (弄虚作假) or bent for friends (优亲厚友).

The shop's own ledgers (redemptions, stock-in, donations) and the day close cover only transactions made
at this shop: a shop ledger also holds transactions pulled from the central record, and another shop's
sale must never show up in this shop's 兑换台账. A household's points ledger covers everything that moved
its points, wherever it happened, because it is the household's passbook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ledger.model import (
    FEN,
    POINTS,
    HouseholdStatus,
    Transaction,
    TxnKind,
    account_household,
    household_account,
)
from ledger.ports import LedgerStore, LedgerUnit
from ledger.services import ADMIN, Clock, local_now, redeemable_points


@dataclass(frozen=True)
class Money:
    """An amount of money in a table: exact integer fen, shown as yuan ("500.00"), and written into a
    spreadsheet as a number with two decimals, so a township clerk's column of amounts sums."""

    fen: int

    def __str__(self) -> str:
        return yuan(self.fen)


Cell = str | int | Money

# The words a points ledger uses for each kind of transaction, as a village committee writes them.
KIND_LABELS: dict[TxnKind, str] = {
    TxnKind.AWARD: "奖励",
    TxnKind.DEDUCT: "扣分",
    TxnKind.BASE_GRANT: "基础分",
    TxnKind.REDEEM: "兑换",
    TxnKind.VOID: "作废退回",
    TxnKind.CLEARING: "清零",
    TxnKind.UNFREEZE: "解冻",
    TxnKind.CYCLE_CLOSE: "年度清零",
}

SOURCE_BOUGHT = "采购"
SOURCE_DONATED = "捐赠"
VOID_MARK = "作废"


# ----- small formatting helpers ----------------------------------------------------------------------


def yuan(fen: int) -> str:
    """Integer fen as yuan text ("500.00"), exactly: money never passes through a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def local_date(created_at: str) -> str:
    """The local date of an ISO timestamp with offset: its first ten characters, as the clerk saw the day."""
    return created_at[:10]


def local_datetime(created_at: str) -> str:
    return created_at[:19].replace("T", " ")


@dataclass(frozen=True)
class _Names:
    """Names for ids, looked up once per report instead of once per row."""

    shop_id: str
    households: dict[str, str]
    items: dict[str, str]
    operators: dict[str, str]
    shops: frozenset[str] | None = None  # the shops a township report covers; None: this shop only

    def here(self, txn: Transaction) -> bool:
        """Whether the report covers the shop that made ``txn``."""
        return txn.shop_id in self.shops if self.shops is not None else txn.shop_id == self.shop_id

    @classmethod
    def of(cls, unit: LedgerUnit) -> _Names:
        operators = {ADMIN.operator_id: ADMIN.name}
        operators.update({o.operator_id: o.name for o in unit.operators()})
        return cls(
            shop_id=unit.identity().shop_id,
            households={r.household.household_id: r.household.head_name for r in unit.households()},
            items={i.sku: i.name for i in unit.items()},
            operators=operators,
        )

    def household(self, household_id: str | None) -> str:
        return self.households.get(household_id or "", "")

    def item(self, sku: str) -> str:
        return self.items.get(sku, sku)

    def operator(self, operator_id: str) -> str:
        return self.operators.get(operator_id, operator_id)

    def goods(self, txn: Transaction) -> str:
        """Goods of a transaction as a clerk writes them: "大米×2, 食用油×1"."""
        return ", ".join(f"{self.item(line.sku)}×{abs(line.qty)}" for line in txn.lines)


def _household_points(txn: Transaction) -> int:
    return txn.points_of(household_account(txn.household_id or ""))


def _money_in(txn: Transaction) -> int:
    """Fen that came into the shop with a transaction (a money donation posts it to the shop fund)."""
    return sum(p.amount for p in txn.postings if p.unit == FEN and p.amount > 0)


# ----- day close ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemTally:
    """Goods that left the shelf through redemptions on the day, net of voids made the same day."""

    sku: str
    name: str
    qty: int
    points: int


@dataclass(frozen=True)
class OperatorTally:
    operator_id: str
    name: str
    transactions: int
    redemptions: int
    points_redeemed: int


@dataclass(frozen=True)
class DayClose:
    """The totals of one local day at this shop, what the shopkeeper checks against the shelf and the till.

    Gross redemptions and voids are kept apart (rather than only a net figure) because a day with many
    voids is itself something the township wants to see.
    """

    day: dt.date
    shop_id: str
    redemptions: int
    points_redeemed: int
    items_redeemed: int
    voids: int
    points_returned: int
    items_returned: int
    donations: int
    donation_fen: int
    donated_goods: int
    stock_ins: int
    stock_in_qty: int
    write_offs: int
    write_off_qty: int
    items: tuple[ItemTally, ...]
    operators: tuple[OperatorTally, ...]

    @property
    def net_points(self) -> int:
        return self.points_redeemed - self.points_returned

    @property
    def net_items(self) -> int:
        return self.items_redeemed - self.items_returned

    @property
    def donation_yuan(self) -> str:
        return yuan(self.donation_fen)


def day_close(store: LedgerStore, day: dt.date) -> DayClose:
    """Totals of the transactions this shop made on the local date ``day``.

    Timestamps are stored as local ISO text with the offset (``2026-11-22T10:31:05+08:00``), so the
    local date is their prefix and a plain string range selects the day.
    """
    since, until = day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
    with store.read() as unit:
        names = _Names.of(unit)
        txns = [t for t in unit.transactions(since=since, until=until) if t.shop_id == names.shop_id]

    counts = dict.fromkeys(TxnKind, 0)
    points_redeemed = points_returned = 0
    items_redeemed = items_returned = 0
    donation_fen = donated_goods = stock_in_qty = write_off_qty = 0
    item_qty: dict[str, int] = {}
    item_points: dict[str, int] = {}
    per_operator: dict[str, list[int]] = {}
    for txn in txns:
        counts[txn.kind] += 1
        tally = per_operator.setdefault(txn.operator, [0, 0, 0])
        tally[0] += 1
        moved = sum(line.qty for line in txn.lines)
        if txn.kind in (TxnKind.REDEEM, TxnKind.VOID):
            for line in txn.lines:
                item_qty[line.sku] = item_qty.get(line.sku, 0) - line.qty
                item_points[line.sku] = item_points.get(line.sku, 0) - line.qty * line.points_each
        if txn.kind == TxnKind.REDEEM:
            spent = -_household_points(txn)
            points_redeemed += spent
            items_redeemed -= moved
            tally[1] += 1
            tally[2] += spent
        elif txn.kind == TxnKind.VOID:
            points_returned += _household_points(txn)
            items_returned += moved
        elif txn.kind == TxnKind.DONATION:
            donation_fen += _money_in(txn)
            donated_goods += moved
        elif txn.kind == TxnKind.STOCK_IN:
            stock_in_qty += moved
        elif txn.kind == TxnKind.WRITE_OFF:
            write_off_qty -= moved

    items = sorted(
        (
            ItemTally(sku, names.item(sku), qty, item_points[sku])
            for sku, qty in item_qty.items()
            if qty or item_points[sku]
        ),
        key=lambda t: (-t.qty, t.sku),
    )
    operators = tuple(OperatorTally(op, names.operator(op), n, r, p) for op, (n, r, p) in sorted(per_operator.items()))
    return DayClose(
        day=day,
        shop_id=names.shop_id,
        redemptions=counts[TxnKind.REDEEM],
        points_redeemed=points_redeemed,
        items_redeemed=items_redeemed,
        voids=counts[TxnKind.VOID],
        points_returned=points_returned,
        items_returned=items_returned,
        donations=counts[TxnKind.DONATION],
        donation_fen=donation_fen,
        donated_goods=donated_goods,
        stock_ins=counts[TxnKind.STOCK_IN],
        stock_in_qty=stock_in_qty,
        write_offs=counts[TxnKind.WRITE_OFF],
        write_off_qty=write_off_qty,
        items=tuple(items),
        operators=operators,
    )


# ----- ranking (红榜) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankRow:
    rank: int
    household_id: str
    name: str
    earned_cycle: int
    balance: int


def ranking(store: LedgerStore, village_id: str | None = None, limit: int | None = None) -> list[RankRow]:
    """Households by points *earned* this cycle, so spending points at the shop never lowers a standing.

    Equal points share a rank and the next rank is skipped (1, 2, 2, 4), the way a village notice board
    ranks; the household id only fixes the order of the tied rows so the board is the same every day.
    A frozen household (zero tolerance) is left off the red list while it is frozen.
    """
    with store.read() as unit:
        rows = [
            r
            for r in unit.households()
            if (village_id is None or r.household.village_id == village_id)
            and r.household.status != HouseholdStatus.FROZEN
        ]
    rows.sort(key=lambda r: (-r.earned_cycle, r.household.household_id))
    result: list[RankRow] = []
    for position, row in enumerate(rows, start=1):
        tied = result and result[-1].earned_cycle == row.earned_cycle
        rank = result[-1].rank if tied else position
        result.append(RankRow(rank, row.household.household_id, row.household.head_name, row.earned_cycle, row.balance))
    return result if limit is None else result[: max(0, limit)]


# ----- liability -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Liability:
    """Points the shop owes against the goods it holds to pay them with.

    ``ratio`` is a display figure (redeemable points per point of stock), not ledger arithmetic, so a
    float is fine there; every total is an integer.
    """

    households: int
    total_balance: int
    total_redeemable: int
    stock_points: int

    @property
    def ratio(self) -> float | None:
        """Redeemable points per point of goods on the shelf; None when the shelf is empty."""
        if self.stock_points == 0:
            return None
        return self.total_redeemable / self.stock_points

    @property
    def shortfall(self) -> int:
        """Points that could be asked for today with no goods to give for them."""
        return max(0, self.total_redeemable - self.stock_points)

    @property
    def at_risk(self) -> bool:
        """More points redeemable than goods: villagers would find an empty shop, which the township must see."""
        return self.shortfall > 0


def liability(store: LedgerStore, clock: Clock = local_now) -> Liability:
    """Total balance and redeemable points of all households against the points value of the stock.

    Redeemable follows the policy (floor, frozen households, visitor limit), exactly as the till would
    allow today. Stock counts only goods on offer: an item taken off the shelf cannot pay any points.
    """
    with store.read() as unit:
        policy = unit.policy()
        rows = unit.households()
        redeemable = sum(redeemable_points(unit, r.household, r.balance, policy, clock) for r in rows)
        levels = unit.stock_levels()
        stock_points = sum(max(0, levels.get(i.sku, 0)) * i.points for i in unit.items() if i.active)
    return Liability(
        households=len(rows),
        total_balance=sum(r.balance for r in rows),
        total_redeemable=redeemable,
        stock_points=stock_points,
    )


# ----- the four ledgers (台账) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A ledger ready to print or to write as a spreadsheet sheet: a name, a header row, and rows."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class RedemptionRow:
    """One line of the 兑换台账. A void is its own row (作废) naming the original receipt; points are
    negative there, so the column sums to the points really redeemed."""

    HEADER: ClassVar[tuple[str, ...]] = (
        "日期时间",
        "小票号",
        "户号",
        "户主",
        "兑换物品",
        "积分",
        "操作员",
        "状态",
        "备注",
    )
    when: str
    receipt_no: str
    household_id: str
    name: str
    goods: str
    points: int
    operator: str
    status: str
    note: str

    def cells(self) -> tuple[Cell, ...]:
        return (
            self.when,
            self.receipt_no,
            self.household_id,
            self.name,
            self.goods,
            self.points,
            self.operator,
            self.status,
            self.note,
        )


@dataclass(frozen=True)
class StockInRow:
    """One goods line of the 入库台账: bought (采购) or donated (捐赠)."""

    HEADER: ClassVar[tuple[str, ...]] = (
        "日期",
        "单号",
        "来源",
        "供货/捐赠单位",
        "商品编码",
        "商品",
        "数量",
        "单价积分",
    )
    date: str
    receipt_no: str
    source: str
    party: str
    sku: str
    name: str
    qty: int
    points_each: int

    def cells(self) -> tuple[Cell, ...]:
        return (self.date, self.receipt_no, self.source, self.party, self.sku, self.name, self.qty, self.points_each)


@dataclass(frozen=True)
class DonationRow:
    """One donation of the 捐赠台账. Money is yuan text made from integer fen, never a float."""

    HEADER: ClassVar[tuple[str, ...]] = ("日期", "单号", "捐赠人", "金额（元）", "物品", "备注")
    date: str
    receipt_no: str
    donor: str
    amount_fen: int
    goods: str
    memo: str

    @property
    def amount_yuan(self) -> str:
        return yuan(self.amount_fen)

    def cells(self) -> tuple[Cell, ...]:
        return (self.date, self.receipt_no, self.donor, Money(self.amount_fen), self.goods, self.memo)


@dataclass(frozen=True)
class PointsRow:
    """One movement of a household's points (积分台账), with the balance after it."""

    HEADER: ClassVar[tuple[str, ...]] = ("户号", "户主", "日期", "单号", "类型", "摘要", "变动", "余额")
    household_id: str
    name: str
    date: str
    receipt_no: str
    kind: str
    memo: str
    change: int
    balance: int

    def cells(self) -> tuple[Cell, ...]:
        return (
            self.household_id,
            self.name,
            self.date,
            self.receipt_no,
            self.kind,
            self.memo,
            self.change,
            self.balance,
        )


REDEMPTION_LEDGER = "兑换台账"
STOCK_IN_LEDGER = "入库台账"
DONATION_LEDGER = "捐赠台账"
POINTS_LEDGER = "积分台账"


def _redemption_rows(
    txns: Sequence[Transaction], names: _Names, fetch: Callable[[str], Transaction | None]
) -> list[RedemptionRow]:
    ours = [t for t in txns if names.here(t) and t.kind in (TxnKind.REDEEM, TxnKind.VOID)]
    by_id = {t.txn_id: t for t in ours if t.kind == TxnKind.REDEEM}
    voided_by = {t.ref_txn_id: t for t in ours if t.kind == TxnKind.VOID and t.ref_txn_id}
    rows = []
    for txn in ours:
        if txn.kind == TxnKind.REDEEM:
            void = voided_by.get(txn.txn_id)
            status, note = ("已作废", f"作废单 {void.receipt_no}") if void else ("", "")
        else:
            # The original is normally earlier in the same list; a void pulled without it is looked up.
            original = by_id.get(txn.ref_txn_id or "") or (fetch(txn.ref_txn_id) if txn.ref_txn_id else None)
            original_no = original.receipt_no if original else (txn.ref_txn_id or "")
            status, note = VOID_MARK, f"原小票 {original_no}；原因：{txn.memo}"
        rows.append(
            RedemptionRow(
                when=local_datetime(txn.created_at),
                receipt_no=txn.receipt_no,
                household_id=txn.household_id or "",
                name=names.household(txn.household_id),
                goods=names.goods(txn),
                points=-_household_points(txn),
                operator=names.operator(txn.operator),
                status=status,
                note=note,
            )
        )
    return rows


def _stock_in_rows(txns: Iterable[Transaction], names: _Names) -> list[StockInRow]:
    rows = []
    for txn in txns:
        if not names.here(txn) or not txn.lines:
            continue
        if txn.kind == TxnKind.STOCK_IN:
            source = SOURCE_BOUGHT
        elif txn.kind == TxnKind.DONATION:
            source = SOURCE_DONATED
        else:
            continue
        for line in txn.lines:
            rows.append(
                StockInRow(
                    date=local_date(txn.created_at),
                    receipt_no=txn.receipt_no,
                    source=source,
                    party=txn.party or "",
                    sku=line.sku,
                    name=names.item(line.sku),
                    qty=line.qty,
                    points_each=line.points_each,
                )
            )
    return rows


def _donation_rows(txns: Iterable[Transaction], names: _Names) -> list[DonationRow]:
    return [
        DonationRow(
            date=local_date(txn.created_at),
            receipt_no=txn.receipt_no,
            donor=txn.party or "",
            amount_fen=_money_in(txn),
            goods=names.goods(txn),
            memo=txn.memo,
        )
        for txn in txns
        if txn.kind == TxnKind.DONATION and names.here(txn)
    ]


def _points_memo(txn: Transaction, names: _Names, receipts: dict[str, str]) -> str:
    if txn.kind == TxnKind.REDEEM:
        return names.goods(txn)
    if txn.kind == TxnKind.VOID:
        original = receipts.get(txn.ref_txn_id or "", txn.ref_txn_id or "")
        return f"作废 {original}：{txn.memo}"
    if txn.kind in (TxnKind.BASE_GRANT, TxnKind.CYCLE_CLOSE) and txn.memo.startswith("cycle "):
        return f"第{txn.memo[len('cycle ') :]}周期"
    return txn.memo


def _points_rows(
    txns: Iterable[Transaction], names: _Names, household_id: str | None, openings: dict[str, int] | None = None
) -> list[PointsRow]:
    """Rows grouped by household (in household id order), each group in journal order with running balance
    (from ``openings``, each household's balance before the first of ``txns``, when they start mid-way)."""
    by_household: dict[str, list[PointsRow]] = {}
    balances: dict[str, int] = dict(openings or {})
    receipts: dict[str, str] = {}
    for txn in txns:
        if txn.kind == TxnKind.REDEEM:
            receipts[txn.txn_id] = txn.receipt_no
        touched = {h for p in txn.postings if p.unit == POINTS and (h := account_household(p.account)) is not None}
        if txn.household_id:
            touched.add(txn.household_id)
        for hid in sorted(touched):
            if household_id is not None and hid != household_id:
                continue
            if names.shops is not None and hid not in names.households:
                continue  # another village's household in a transfer or a shop's sale: not this report's
            change = txn.points_of(household_account(hid))
            balances[hid] = balances.get(hid, 0) + change
            by_household.setdefault(hid, []).append(
                PointsRow(
                    household_id=hid,
                    name=names.household(hid),
                    date=local_date(txn.created_at),
                    receipt_no=txn.receipt_no,
                    kind=KIND_LABELS.get(txn.kind, str(txn.kind)),
                    memo=_points_memo(txn, names, receipts),
                    change=change,
                    balance=balances[hid],
                )
            )
    return [row for hid in sorted(by_household) for row in by_household[hid]]


def redemption_ledger(store: LedgerStore) -> list[RedemptionRow]:
    """兑换台账: every redemption of this shop, and every void as a row of its own marked 作废."""
    with store.read() as unit:
        return _redemption_rows(list(unit.journal()), _Names.of(unit), unit.transaction)


def stock_in_ledger(store: LedgerStore) -> list[StockInRow]:
    """入库台账: goods bought (stock-in) and goods donated, one row per item."""
    with store.read() as unit:
        return _stock_in_rows(unit.journal(), _Names.of(unit))


def donation_ledger(store: LedgerStore) -> list[DonationRow]:
    """捐赠台账: every donation of money or goods, with its donor."""
    with store.read() as unit:
        return _donation_rows(unit.journal(), _Names.of(unit))


def points_ledger(store: LedgerStore, household_id: str | None = None) -> list[PointsRow]:
    """积分台账: every movement of each household's points, with the running balance after it.

    Voids name the redemption they reverse by receipt number, which is only known from the journal
    before them; so even one household's ledger is folded over that household's whole history.
    """
    with store.read() as unit:
        names = _Names.of(unit)
        if household_id is None:
            return _points_rows(unit.journal(), names, None)
        return _points_rows(unit.transactions(household_id=household_id), names, household_id)


def ledger_tables(store: LedgerStore) -> list[Table]:
    """The four ledgers from one read of the journal, so they agree with each other to the transaction."""
    with store.read() as unit:
        names = _Names.of(unit)
        txns = list(unit.journal())
        redemptions = _redemption_rows(txns, names, unit.transaction)
    return [
        Table(REDEMPTION_LEDGER, RedemptionRow.HEADER, tuple(r.cells() for r in redemptions)),
        Table(STOCK_IN_LEDGER, StockInRow.HEADER, tuple(r.cells() for r in _stock_in_rows(txns, names))),
        Table(DONATION_LEDGER, DonationRow.HEADER, tuple(r.cells() for r in _donation_rows(txns, names))),
        Table(POINTS_LEDGER, PointsRow.HEADER, tuple(r.cells() for r in _points_rows(txns, names, None))),
    ]


def township_ledger_tables(
    unit: LedgerUnit,
    txns: Sequence[Transaction],
    shops: frozenset[str],
    households: dict[str, str],
    openings: dict[str, int],
) -> list[Table]:
    """The four ledgers of a village, a shop or the township for a period, at the central record.

    ``txns`` are the period's transactions in journal order; ``shops`` the shops whose redemptions,
    stock and donations the report covers; ``households`` (id to head's name) those whose points it
    covers, each starting from its balance before the period (``openings``).
    """
    operators = {ADMIN.operator_id: ADMIN.name} | {o.operator_id: o.name for o in unit.operators()}
    names = _Names(unit.identity().shop_id, households, {i.sku: i.name for i in unit.items()}, operators, shops)
    redemptions = _redemption_rows(txns, names, unit.transaction)
    return [
        Table(REDEMPTION_LEDGER, RedemptionRow.HEADER, tuple(r.cells() for r in redemptions)),
        Table(STOCK_IN_LEDGER, StockInRow.HEADER, tuple(r.cells() for r in _stock_in_rows(txns, names))),
        Table(DONATION_LEDGER, DonationRow.HEADER, tuple(r.cells() for r in _donation_rows(txns, names))),
        Table(POINTS_LEDGER, PointsRow.HEADER, tuple(r.cells() for r in _points_rows(txns, names, None, openings))),
    ]
