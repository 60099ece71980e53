"""The township's reports at the central record: the 台账 of a period, the red list, the committee's list.

Read-only services for the console (and any script): each reads one unit, so its figures agree.
"""

from __future__ import annotations

from typing import Any

from ledger import reports
from ledger.errors import LedgerError
from ledger.model import HouseholdStatus
from ledger.spreadsheets import tables_xlsx
from sync.server.overview import Period
from sync.server.record import CentralRecord
from sync.server.views import ranking

HELP_BOTTOM = 10  # the committee's list: at most this many households at the bottom of the ranking


def ledger_tables(
    record: CentralRecord, period: Period, village_id: str | None = None, shop_id: str | None = None
) -> list[reports.Table]:
    """The four 台账 of a village, a shop or the whole township for a period."""
    with record.store.read() as unit:
        ledger = unit.ledger
        if village_id is not None and ledger.village(village_id) is None:
            raise LedgerError("village_unknown", village_id=village_id)
        shops = unit.shops()
        if shop_id is not None:
            shop = ledger.shop(shop_id)
            if shop is None:
                raise LedgerError("shop_unknown", shop_id=shop_id)
            covered = frozenset({shop_id})
            households = unit.household_names(shop.village_id)
        else:
            covered = frozenset(s.shop_id for s in shops if village_id is None or s.village_id == village_id)
            households = unit.household_names(village_id)
        txns = unit.period_transactions(period.since, period.until, village_id, shop_id)
        openings = unit.balances_before(
            period.since, None if village_id is None and shop_id is None else list(households)
        )
        return reports.township_ledger_tables(ledger, txns, covered, households, openings)


def ledgers_xlsx(record: CentralRecord, period: Period, village_id: str | None, shop_id: str | None) -> bytes:
    return tables_xlsx(ledger_tables(record, period, village_id, shop_id))


def helping_list(record: CentralRecord, village_id: str) -> list[dict[str, Any]]:
    """重点帮教: the village's households under the policy's floor, frozen, or at the bottom of the ranking
    (points earned this cycle), for the committee to visit; each with why it is on the list."""
    with record.store.read() as unit:
        ledger = unit.ledger
        if ledger.village(village_id) is None:
            raise LedgerError("village_unknown", village_id=village_id)
        floor = ledger.policy().redeemable_floor
        rows = {r.household.household_id: r for r in ledger.households() if r.household.village_id == village_id}
    board = ranking(record, village_id)
    # The last ten, or the last fifth of a small village (never the whole village).
    count = min(HELP_BOTTOM, len(board) // 5)
    bottom = {r["household_id"] for r in board[-count:]} if count else set()
    found = []
    for entry in board:
        row = rows.get(entry["household_id"])
        if row is None:
            continue
        reasons = []
        if row.household.status == HouseholdStatus.FROZEN:
            reasons.append("frozen")
        if row.balance < floor:
            reasons.append("under_floor")
        if entry["household_id"] in bottom:
            reasons.append("bottom")
        if reasons:
            found.append(
                {
                    "household_id": entry["household_id"],
                    "name": entry["name"],
                    "rank": entry["rank"],
                    "of": len(board),
                    "earned_cycle": entry["earned_cycle"],
                    "balance": row.balance,
                    "reasons": reasons,
                }
            )
    return found
