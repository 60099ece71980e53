"""What the township console shows: the overview of a period, a household's statement, the register searched.

Read-only services over the central record, called by the console's pages (``console``) as the API's
routes call ``township`` and ``views``. Figures are grouped reads of the journal by its time index
(``CentralUnit.period_figures``); nothing here walks the whole journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from ledger.access import TOWNSHIP, Action, Person, may, visible_villages
from ledger.errors import LedgerError
from ledger.history import describe, shown_here
from ledger.model import HOUSEHOLD_PREFIX, TxnKind
from ledger.ports import LedgerUnit
from ledger.storage.central import SEARCH_COUNT_CAP
from sync.errors import SyncError
from sync.server.record import CentralRecord

# Kinds that add to or take from what a household earned, and what it spent.
AWARD_KINDS = (str(TxnKind.AWARD), str(TxnKind.BASE_GRANT))
MAX_PERIOD_DAYS = 3 * 366
SHOPS_LISTED = 30  # shops on the overview: the silent ones first


@dataclass(frozen=True)
class Period:
    """Whole local days, ``first`` to ``last`` inclusive; compared with the journal's local ISO times."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date) -> Period:
        """The period a page asks for; by default the current month up to today. Bad dates are refused."""
        try:
            end = date.fromisoformat(last) if last else today
            start = date.fromisoformat(first) if first else end.replace(day=1)
        except ValueError as exc:
            raise SyncError("invalid", detail=f"date: {exc}") from None
        if start > end:
            start, end = end, start
        if (end - start).days > MAX_PERIOD_DAYS:
            raise SyncError("invalid", detail=f"a period of at most {MAX_PERIOD_DAYS} days")
        return cls(start, end)

    @property
    def since(self) -> str:
        return self.first.isoformat()

    @property
    def until(self) -> str:
        """The day after the last, as a bound that no time of the last day reaches."""
        return (self.last + timedelta(days=1)).isoformat()

    def days(self) -> list[str]:
        return [(self.first + timedelta(days=i)).isoformat() for i in range((self.last - self.first).days + 1)]


def today_of(record: CentralRecord) -> date:
    return datetime.fromisoformat(record.now()).date()


def _silent_days(last_push_at: str | None, now: datetime) -> int | None:
    if not last_push_at:
        return None
    return max(0, (now - datetime.fromisoformat(last_push_at)).days)


def overview(record: CentralRecord, period: Period, village_id: str | None = None) -> dict[str, Any]:
    """The headline figures of a period for the township or one village, each shop's last sync, and the
    daily points for the charts."""
    with record.store.read() as unit:
        ledger = unit.ledger
        policy = ledger.policy()
        if village_id is not None and ledger.village(village_id) is None:
            raise LedgerError("village_unknown", village_id=village_id)
        by_kind = unit.period_figures(period.since, period.until, village_id)
        daily = unit.daily_points(period.since, period.until, village_id)
        register = unit.village_household_figures(village_id)
        shops = unit.shops_last_sync(village_id)
        exceptions_open = unit.count_exceptions("open", village_id)
        stock_points = unit.stock_points(village_id)
        now = datetime.fromisoformat(record.now())

    def figure(kind: TxnKind, key: str) -> int:
        return by_kind.get(str(kind), {}).get(key, 0)

    shop_rows = []
    for shop, active, last in shops:
        silent = _silent_days(last, now)
        shop_rows.append(
            {
                "shop_id": shop.shop_id,
                "name": shop.name,
                "village_id": shop.village_id,
                "devices": active,
                "last_sync": last,
                "silent_days": silent,
                "late": silent is None or silent > policy.max_offline_days,
            }
        )
    # Silent shops first (the ones that need a call), up to SHOPS_LISTED: the page says how many are silent
    # and links to the list of every shop, instead of printing 2,000 rows on every overview.
    shop_rows.sort(key=lambda row: (not row["late"], row["shop_id"]))
    shops_late = sum(1 for row in shop_rows if row["late"])
    listed = shop_rows[:SHOPS_LISTED]
    redeemed = -(figure(TxnKind.REDEEM, "points") + figure(TxnKind.VOID, "points"))
    series: dict[str, dict[str, int]] = {day: {"awarded": 0, "redeemed": 0} for day in period.days()}
    for day, kind, points in daily:
        if day not in series:
            continue
        if kind in (str(TxnKind.AWARD), str(TxnKind.BASE_GRANT)) and points > 0:
            series[day]["awarded"] += points
        elif kind in (str(TxnKind.REDEEM), str(TxnKind.VOID)):
            series[day]["redeemed"] -= points
    balance = register["balance"]
    return {
        "period": {"first": period.since, "last": period.last.isoformat()},
        "village_id": village_id,
        "households": register["households"],
        "frozen": register["frozen"],
        "earning_cycle": register["earning"],
        "participation": round(100 * register["earning"] / register["households"]) if register["households"] else 0,
        "awarded": figure(TxnKind.AWARD, "points"),
        "base_granted": figure(TxnKind.BASE_GRANT, "points"),
        "deducted": -(figure(TxnKind.DEDUCT, "points") + figure(TxnKind.CLEARING, "points")),
        "redeemed": redeemed,
        "redemptions": figure(TxnKind.REDEEM, "txns"),
        "voids": figure(TxnKind.VOID, "txns"),
        "donations": figure(TxnKind.DONATION, "txns"),
        "donated_fen": figure(TxnKind.DONATION, "fen"),
        "donated_goods": figure(TxnKind.DONATION, "qty"),
        "stock_in_goods": figure(TxnKind.STOCK_IN, "qty"),
        "liability": balance,
        "stock_points": stock_points,
        "exceptions_open": exceptions_open,
        "max_offline_days": policy.max_offline_days,
        "shops": listed,
        "shops_total": len(shop_rows),
        "shops_late": shops_late,
        "daily": [{"day": day, **values} for day, values in series.items()],
    }


def find_households(
    record: CentralRecord, person: Person, words: str, village_id: str | None, offset: int, limit: int
) -> dict[str, Any]:
    """The register searched by number, head's name or member, within the villages ``person`` may read."""
    with record.store.read() as unit:
        villages = unit.village_names()
        everywhere = may(person, Action.READ_VILLAGE, TOWNSHIP)
        allowed = None if everywhere else visible_villages(person, Action.READ_VILLAGE, list(villages))
        if village_id is not None:
            if allowed is not None and village_id not in allowed:
                raise SyncError("forbidden")
            allowed = [village_id]
        rows, total = unit.find_households(words, allowed, offset, limit)
    return {
        "total": min(total, SEARCH_COUNT_CAP),
        "more": total > SEARCH_COUNT_CAP,
        "offset": offset,
        "households": [
            {
                "household_id": h.household_id,
                "name": h.head_name,
                "village_id": h.village_id,
                "village": villages.get(h.village_id, h.village_id),
                "members": len(h.members),
                "village_group": h.village_group,
                "house_no": h.house_no,
                "phone": h.phone,
                "status": str(h.status),
                "balance": balance,
                "earned_cycle": earned,
            }
            for h, balance, earned in rows
        ],
    }


class _Remembered:
    """A ledger unit that looks each shop and item up once: a household-year names the same few many times."""

    def __init__(self, unit: Any) -> None:
        self._unit = unit
        self._shops: dict[str, Any] = {}
        self._items: dict[str, Any] = {}

    def shop(self, shop_id: str) -> Any:
        if shop_id not in self._shops:
            self._shops[shop_id] = self._unit.shop(shop_id)
        return self._shops[shop_id]

    def item(self, sku: str) -> Any:
        if sku not in self._items:
            self._items[sku] = self._unit.item(sku)
        return self._items[sku]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)


def statement(record: CentralRecord, household_id: str, period: Period, lang: str) -> dict[str, Any]:
    """Every movement of a household's points in the period, with date, reason, shop and receipt, and the
    balance before, after each and at the end (一户一档: what the household can check line by line)."""
    account = HOUSEHOLD_PREFIX + household_id
    with record.store.read() as unit:
        ledger = cast(LedgerUnit, _Remembered(unit.ledger))
        household = ledger.household(household_id)
        if household is None:
            raise LedgerError("household_unknown", household_id=household_id)
        village = ledger.village(household.village_id)
        here = ledger.identity().shop_id
        township_name = ledger.township().name
        opening = 0
        rows: list[dict[str, Any]] = []
        for txn in ledger.transactions(household_id=household_id, until=period.until):
            if not shown_here(ledger, txn, here):
                continue
            if txn.created_at < period.since:
                opening += txn.points_of(account)
                continue
            movement = describe(ledger, txn, household_id)
            shop = ledger.shop(txn.shop_id)
            rows.append(
                {
                    "when": movement.when,
                    "kind": str(txn.kind),
                    "points": movement.points,
                    "text": movement.words(lang),
                    "shop": shop.name if shop else township_name if txn.shop_id == here else txn.shop_id,
                    "receipt_no": movement.receipt_no,
                }
            )
    running = opening
    for row in rows:
        running += row["points"]
        row["balance"] = running
    return {
        "household_id": household.household_id,
        "name": household.head_name,
        "village": village.name if village else household.village_id,
        "members": [{"name": m.name, "relation": m.relation} for m in household.members],
        "period": {"first": period.since, "last": period.last.isoformat()},
        "opening": opening,
        "closing": running,
        "earned": sum(r["points"] for r in rows if r["points"] > 0),
        "spent": -sum(r["points"] for r in rows if r["points"] < 0),
        "movements": rows,
    }


def shop_shelf(record: CentralRecord, shop_id: str) -> dict[str, Any]:
    """A shop's stock as its pushed transactions tell it, and when it last pushed (its stock "as of")."""
    with record.store.read() as unit:
        if unit.ledger.shop(shop_id) is None:
            raise LedgerError("shop_unknown", shop_id=shop_id)
        stock = unit.shop_stock(shop_id)
        pushes = [d.last_push_at for d in unit.devices(shop_id) if d.last_push_at]
    return {"on_hand": stock, "as_of": max(pushes) if pushes else None}


def transaction_view(record: CentralRecord, txn_id: str) -> dict[str, Any]:
    """One transaction as the township inspects it: what, when, where, who, every posting and line, its place
    in its device's chain; or, when it was held, what the shop pushed and why it was held."""
    with record.store.read() as unit:
        ledger = unit.ledger
        txn = ledger.transaction(txn_id)
        held = unit.held(txn_id)
        if txn is None and held is None:
            raise SyncError("not_found", what=f"transaction {txn_id}")
        items = {i.sku: i.name for i in ledger.items()}
        shop = ledger.shop(txn.shop_id if txn else held.shop_id if held else "")
        household = ledger.household((txn.household_id if txn else held.household_id if held else None) or "")
        voided_by = ledger.voiding(txn_id) if txn else None
        issued_for = unit.awards.record_issued_as(txn_id)
    found: dict[str, Any] = {
        "record_id": issued_for.record_id if issued_for else None,
        "txn_id": txn_id,
        "shop": shop.name if shop else None,
        "household": {"household_id": household.household_id, "name": household.head_name} if household else None,
        "held": {"rule": held.rule, "detail": held.detail, "status": held.status, "content": held.content}
        if held
        else None,
        "voided_by": voided_by.receipt_no if voided_by else None,
    }
    if txn is not None:
        found |= {
            "kind": str(txn.kind),
            "created_at": txn.created_at,
            "receipt_no": txn.receipt_no,
            "device_id": txn.device_id,
            "seq": txn.seq,
            "shop_id": txn.shop_id,
            "operator": txn.operator,
            "memo": txn.memo,
            "party": txn.party,
            "ref_txn_id": txn.ref_txn_id,
            "pull_cursor": txn.pull_cursor,
            "hash": txn.hash,
            "prev_hash": txn.prev_hash,
            "postings": [{"account": p.account, "amount": p.amount, "unit": p.unit} for p in txn.postings],
            "lines": [
                {"sku": ln.sku, "name": items.get(ln.sku, ln.sku), "qty": ln.qty, "points_each": ln.points_each}
                for ln in txn.lines
            ],
        }
    return found
