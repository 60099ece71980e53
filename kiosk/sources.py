"""Where the kiosk's figures come from: the ``KioskSource`` port and its local, read-only implementation.

The kiosk answers two questions: "what does everybody see" (the public ranking 红榜 and the goods on
offer) and "what does this passbook hold" (one household's figures). Both are behind ``KioskSource`` so a
kiosk in the village service hall, with no shop ledger beside it, can ask the central record's read-only
kiosk endpoint instead (that source comes with the sync issue). Each answer carries its ``Freshness``
because a villager must be told how old the figures are: a shop ledger is as fresh as its last sync, the
central record as its server's clock.

``LocalSource`` reads the shop's ledger and never writes: the kiosk runs beside the POS on the same file,
and only the POS (and sync) may append. Every answer comes from one read unit, so a redemption committed
by the POS halfway through a lookup can never show a balance and a history that disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ledger import reports, services
from ledger.board import VillageBoard, stored_board
from ledger.history import Movement, describe
from ledger.model import HouseholdStatus
from ledger.ports import LedgerStore, LedgerUnit

Origin = Literal["local", "remote"]
WallClock = Callable[[], datetime]

MOVEMENTS_SHOWN = 10


@dataclass(frozen=True)
class Freshness:
    """How fresh the figures are: a local ledger's last sync (None: never), or the server's time."""

    origin: Origin
    as_of: str | None = None  # ISO 8601 with offset


@dataclass(frozen=True)
class GoodsOffer:
    """An item on the shelf, as a villager sees it: no SKU, no barcode, only what it is and costs."""

    sku: str
    name: str
    unit: str
    points: int
    on_hand: int


@dataclass(frozen=True)
class RankEntry:
    """One line of the public ranking: name and points earned, never the balance (that is private)."""

    rank: int
    household_id: str
    name: str
    earned: int


@dataclass(frozen=True)
class Ranking:
    """The public ranking (红榜) of one village, by points earned this cycle."""

    village_name: str
    entries: tuple[RankEntry, ...]
    freshness: Freshness


@dataclass(frozen=True)
class Shelf:
    """The goods on offer now, and whose shop this is."""

    shop_name: str
    goods: tuple[GoodsOffer, ...]
    freshness: Freshness


@dataclass(frozen=True)
class HouseholdFacts:
    """One household's figures for one scan; shown to whoever holds its passbook, then forgotten."""

    household_id: str
    name: str
    frozen: bool
    balance: int
    redeemable: int
    earned_cycle: int
    movements: tuple[Movement, ...]
    goods: tuple[GoodsOffer, ...]  # the shelf at the moment of the scan, for "what can I get now"
    freshness: Freshness


class KioskSource(Protocol):
    """Read-only figures for the kiosk. Every method may be called from a worker thread.

    ``ranking`` may be slow (it ranks every household of the village: about 200 ms for 5,000 households on
    a shop ledger), so the app asks for it off the UI thread and only now and then; ``shelf`` and
    ``household`` are a few milliseconds and are asked for on every visit.

    ``board`` is the village's rules and notices (公示) as the township last sent them (``ledger.board``);
    an empty board when none came yet.

    ``household`` raises ``ledger.errors.LedgerError`` for a code that is malformed, forged, unknown or
    revoked (codes ``passbook_malformed``, ``passbook_forged``, ``passbook_unknown``, ``passbook_revoked``).
    """

    def ranking(self, size: int) -> Ranking: ...

    def shelf(self) -> Shelf: ...

    def household(self, code: str) -> HouseholdFacts: ...

    def board(self) -> VillageBoard: ...


def _offers(unit: LedgerUnit) -> tuple[GoodsOffer, ...]:
    """Active items with stock, in catalogue order (category, then SKU): goods nobody can take are noise."""
    levels = unit.stock_levels()
    offers = []
    for item in unit.items():
        on_hand = levels.get(item.sku, 0)
        if item.active and on_hand > 0:
            offers.append(GoodsOffer(item.sku, item.name, item.unit, item.points, on_hand))
    return tuple(offers)


class LocalSource:
    """The shop's own ledger, read-only (see the module docstring).

    ``village_id`` chooses the ranking's village; None means the shop's own village, which is what a
    kiosk standing in the shop should show.
    """

    def __init__(
        self, store: LedgerStore, clock: WallClock = services.local_now, village_id: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.village_id = village_id

    def _freshness(self, unit: LedgerUnit) -> Freshness:
        return Freshness("local", unit.meta("last_synced"))

    def _village_and_shop(self, unit: LedgerUnit) -> tuple[str | None, str]:
        shop = unit.shop(unit.identity().shop_id)
        return self.village_id or (shop.village_id if shop else None), shop.name if shop else ""

    def ranking(self, size: int) -> Ranking:
        with self.store.read() as unit:
            village_id, _shop_name = self._village_and_shop(unit)
            village = unit.village(village_id) if village_id else None
            freshness = self._freshness(unit)
        rows = reports.ranking(self.store, village_id, size)
        entries = tuple(RankEntry(r.rank, r.household_id, r.name, r.earned_cycle) for r in rows)
        return Ranking(village.name if village else "", entries, freshness)

    def shelf(self) -> Shelf:
        with self.store.read() as unit:
            _village_id, shop_name = self._village_and_shop(unit)
            return Shelf(shop_name, _offers(unit), self._freshness(unit))

    def board(self) -> VillageBoard:
        with self.store.read() as unit:
            return stored_board(unit)

    def household(self, code: str) -> HouseholdFacts:
        with self.store.read() as unit:
            holder = services.lookup_passbook(unit, code)
            household = holder.household
            redeemable = services.redeemable_points(unit, household, holder.balance, unit.policy(), self.clock)
            hid = household.household_id
            movements = tuple(describe(unit, t, hid) for t in unit.recent_transactions(hid, MOVEMENTS_SHOWN))
            return HouseholdFacts(
                household_id=hid,
                name=household.head_name,
                frozen=household.status == HouseholdStatus.FROZEN,
                balance=holder.balance,
                redeemable=redeemable,
                earned_cycle=holder.earned_cycle,
                movements=movements,
                goods=_offers(unit),
                freshness=self._freshness(unit),
            )
