"""Read-only views of the central record: the township's reports and the kiosk's passbook look-up."""

from __future__ import annotations

from typing import Any

from ledger import services
from ledger.board import board_to_json
from ledger.errors import LedgerError
from ledger.history import describe, shown_here
from ledger.model import HouseholdStatus, Shop
from ledger.storage.central import CentralUnit
from sync.server import awards, rules
from sync.server.record import CentralRecord
from sync.server.township import device_json

HISTORY_LENGTH = 10
RANKING_TOP = 10
BOARD_MAX = 50  # the kiosk board's ranking is at most this long


def totals(record: CentralRecord) -> dict[str, Any]:
    """The headline figures (``lovemart central report totals``) and how far each shop is acknowledged."""
    with record.store.read() as unit:
        redeemed = sum(v for k, v in unit.account_totals("shop:").items() if k.endswith(":redeemed"))
        overdraft = -sum(unit.account_totals("overdraft:").values())
        devices_of = unit.devices_by_shop()
        shop_ids = [s.shop_id for s in unit.shops()]
        figures = {
            "households": unit.household_count(),
            "balance_total": unit.balance_total(),
            "redeemed_total": redeemed,
            "transactions": unit.transaction_count(),
            "exceptions_open": unit.count_exceptions("open"),
            "overdraft_total": overdraft,
            "cursor": unit.last_seq(),
        }
    shops = []
    for shop_id in shop_ids:
        own = devices_of.get(shop_id, [])
        shops.append(
            {
                "shop_id": shop_id,
                "acked_through": max((d.acked_through for d in own if d.active), default=0),
                "devices": [device_json(d) for d in own],
            }
        )
    return figures | {"shops": shops}


def ranking(record: CentralRecord, village_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The red list (红榜) by points earned this cycle, per village or the whole township.

    Equal points share a rank and the next rank is skipped (1, 2, 2, 4), as ``ledger.reports.ranking``;
    frozen households are left off it while they are frozen.
    """
    with record.store.read() as unit:
        rows = unit.ranking_rows(village_id, include_frozen=False)
    result: list[dict[str, Any]] = []
    for position, (household_id, name, earned, balance) in enumerate(rows, start=1):
        tied = result and result[-1]["earned_cycle"] == earned
        rank = result[-1]["rank"] if tied else position
        result.append(
            {"rank": rank, "household_id": household_id, "name": name, "earned_cycle": earned, "balance": balance}
        )
    return result if limit is None else result[: max(0, limit)]


def shop_totals(record: CentralRecord) -> list[dict[str, Any]]:
    """Per shop: points redeemed (net of voids), redemptions, voids, transactions, acknowledgement."""
    with record.store.read() as unit:
        redeemed = unit.account_totals("shop:")
        counts = unit.shop_activity()
        devices_of = unit.devices_by_shop()
        shops = unit.shops()
    result = []
    for shop in shops:
        own = devices_of.get(shop.shop_id, [])
        figures = counts.get(shop.shop_id, {"transactions": 0, "redemptions": 0, "voids": 0})
        result.append(
            {
                "shop_id": shop.shop_id,
                "name": shop.name,
                "village_id": shop.village_id,
                "points_redeemed": redeemed.get(f"shop:{shop.shop_id}:redeemed", 0),
                **figures,
                "acked_through": max((d.acked_through for d in own if d.active), default=0),
                "last_push_at": max((d.last_push_at or "" for d in own), default="") or None,
            }
        )
    return result


def liability(record: CentralRecord) -> dict[str, Any]:
    """Points the township owes the households: balance, what is redeemable, and overdraft debt."""
    with record.store.read() as unit:
        policy = unit.ledger.policy()
        rows = unit.ledger.households()
        overdraft = -sum(unit.account_totals("overdraft:").values())
    redeemable = sum(
        max(0, r.balance - policy.redeemable_floor) for r in rows if r.household.status == HouseholdStatus.ACTIVE
    )
    return {
        "households": len(rows),
        "balance_total": sum(r.balance for r in rows),
        "redeemable_total": redeemable,
        "frozen": sum(1 for r in rows if r.household.status == HouseholdStatus.FROZEN),
        "overdraft_total": overdraft,
    }


def overdrafts(record: CentralRecord) -> dict[str, Any]:
    """Households that owe points after offline redemptions, and the open overdraft exceptions."""
    with record.store.read() as unit:
        debts = {
            account.removeprefix("overdraft:"): -total
            for account, total in unit.account_totals("overdraft:").items()
            if total < 0
        }
        open_ones = unit.exceptions(status="open", kind="overdraft")
    return {
        "households": [{"household_id": h, "owed": owed} for h, owed in sorted(debts.items())],
        "owed_total": sum(debts.values()),
        "exceptions_open": len(open_ones),
    }


def _village_shop(unit: CentralUnit, village_id: str | None) -> Shop | None:
    """The shop of ``village_id`` (the first by id when a village has several), or None."""
    if not village_id:
        return None
    return next((s for s in sorted(unit.shops(), key=lambda s: s.shop_id) if s.village_id == village_id), None)


def _shelf(unit: CentralUnit, village_id: str | None) -> dict[str, Any]:
    """The goods on offer at the village's shop: active catalogue items it has in stock (as LocalSource)."""
    shop = _village_shop(unit, village_id)
    if shop is None:
        return {"shop": None, "goods": [], "stock_as_of": None}
    stock = unit.shop_stock(shop.shop_id)
    goods = [
        {"sku": i.sku, "name": i.name, "unit": i.unit, "points": i.points, "on_hand": stock.get(i.sku, 0)}
        for i in unit.ledger.items()
        if i.active and stock.get(i.sku, 0) > 0
    ]
    pushes = [d.last_push_at for d in unit.devices(shop.shop_id) if d.last_push_at]
    return {
        "shop": {"shop_id": shop.shop_id, "name": shop.name},
        "goods": goods,
        "stock_as_of": max(pushes) if pushes else None,
    }


def kiosk_board(record: CentralRecord, village_id: str, size: int = RANKING_TOP) -> dict[str, Any]:
    """What everybody sees at a kiosk of ``village_id``: its public ranking (never balances) and the goods.

    ``size`` 0 skips the ranking (a kiosk refreshing only its shelf should not rank the whole village).
    """
    with record.store.read() as unit:
        village = unit.ledger.village(village_id)
        if village is None:
            raise LedgerError("village_unknown", village_id=village_id)
        shelf = _shelf(unit, village_id)
    size = max(0, min(BOARD_MAX, size))
    board = ranking(record, village_id, size) if size else []
    return {
        "village": {"village_id": village.village_id, "name": village.name},
        "ranking": [
            {"rank": r["rank"], "household_id": r["household_id"], "name": r["name"], "earned_cycle": r["earned_cycle"]}
            for r in board
        ],
        **shelf,
        "server_time": record.now(),
        # The rules and notices change far less often than the shelf: sent with the ranking only.
        **({"notice_board": board_to_json(awards.village_board(record, village_id))} if size else {}),
    }


def kiosk_view(record: CentralRecord, code: str, lang: str = "zh", village_id: str | None = None) -> dict[str, Any]:
    """Balance, recent history and standing in the village for a scanned passbook (read-only).

    ``goods`` is the shelf of ``village_id``'s shop (the kiosk's village; default the household's own), so
    a kiosk can say "what can I get now" in the same answer.
    """
    with record.store.read() as unit:
        ledger = unit.ledger
        holder = services.lookup_passbook(ledger, code)
        household = holder.household
        policy = ledger.policy()
        history = [
            describe(ledger, t, household.household_id)
            for t in ledger.recent_transactions(household.household_id, HISTORY_LENGTH)
            if shown_here(ledger, t, ledger.identity().shop_id)
        ]
        debt = rules.debt_of(unit, household.household_id)
        shelf = _shelf(unit, village_id or household.village_id)
        when = record.now()
    active = household.status == HouseholdStatus.ACTIVE
    board = ranking(record, household.village_id)
    mine = next((r for r in board if r["household_id"] == household.household_id), None)
    return {
        "household_id": household.household_id,
        "name": household.head_name,
        "village_id": household.village_id,
        "status": str(household.status),
        "frozen": household.status == HouseholdStatus.FROZEN,
        "balance": holder.balance,
        "redeemable": max(0, holder.balance - policy.redeemable_floor) if active else 0,
        "earned_cycle": holder.earned_cycle,
        "overdraft": debt,
        "history": [
            {
                "when": m.when,
                "points": m.points,
                "text": m.words(lang),
                "zh": m.zh,
                "en": m.en,
                "receipt_no": m.receipt_no,
            }
            for m in history
        ],
        "ranking": {
            "rank": mine["rank"] if mine else None,
            "of": len(board),
            "top": [
                {"rank": r["rank"], "name": r["name"], "earned_cycle": r["earned_cycle"]} for r in board[:RANKING_TOP]
            ],
        },
        **shelf,
        "server_time": when,
    }
