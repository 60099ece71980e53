"""Stock at the counter: goods in (bought or donated), the physical count, write-offs, the low-stock list.

Every change is one ledger transaction through the services (``stock_intake``, ``record_donation``,
``stock_count``, ``write_off``); the presenters hold what the shopkeeper has entered so far and refuse
what the ledger would refuse, earlier and in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import printing, services
from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.model import Transaction, TxnKind
from ledger.ports import LedgerStore
from pos.presenters.catalog import Catalog, ItemTile
from pos.presenters.common import Clock, PosRefusal, PrinterSlot, local_now, print_committed
from pos.presenters.goods import GoodsList
from pos.presenters.receipts import Reason

DEFAULT_SUPPLIERS = ("县供销社", "镇批发部", "村集体采购")
DEFAULT_LOW_STOCK = 10
MAX_COUNT = 1_000_000

WRITE_OFF_REASONS = (
    Reason("expired", N_("pos.write_off_reason.expired")),
    Reason("broken", N_("pos.write_off_reason.broken")),
    Reason("lost", N_("pos.write_off_reason.lost")),
    Reason("other", N_("pos.reason.other")),
)

BOUGHT = "bought"
DONATED = "donated"


def suppliers(store: LedgerStore) -> list[str]:
    """Suppliers of past deliveries, most recent first, then the usual ones not yet used."""
    with store.read() as unit:
        parties = [t.party for t in unit.transactions(frozenset({TxnKind.STOCK_IN})) if t.party]
    seen: list[str] = []
    for party in reversed(parties):
        if party not in seen:
            seen.append(party)
    return seen + [s for s in DEFAULT_SUPPLIERS if s not in seen]


class StockInPresenter:
    """Goods arriving: bought from a supplier (the fund paid) or donated by a donor (a donation voucher)."""

    def __init__(self, store: LedgerStore, catalog: Catalog, printer: PrinterSlot, clock: Clock = local_now) -> None:
        self.store = store
        self.catalog = catalog
        self.printer = printer
        self.clock = clock
        self.goods = GoodsList(catalog)
        self.source = BOUGHT
        self.supplier = ""
        self.donor = ""

    def set_source(self, source: str) -> None:
        if source not in (BOUGHT, DONATED):
            raise ValueError(source)
        self.source = source

    @property
    def party(self) -> str:
        return self.supplier if self.source == BOUGHT else self.donor

    def check_ready(self) -> None:
        if self.goods.empty:
            raise LedgerError("empty_cart")
        if self.source == DONATED and not self.donor:
            raise LedgerError("donor_required")
        if self.source == BOUGHT and not self.supplier:
            raise PosRefusal("pos_supplier_required")

    def commit(self, ctx: services.Context) -> Transaction:
        self.check_ready()
        if self.source == BOUGHT:
            txn = services.stock_intake(self.store, self.goods.pairs(), supplier=self.supplier, ctx=ctx)
        else:
            txn = services.record_donation(self.store, self.donor, goods=self.goods.pairs(), memo="捐赠物资", ctx=ctx)
        self.goods.clear()
        self.catalog.refresh()
        return txn

    def print_receipt(self, txn_id: str) -> printing.PrintOutcome:
        return print_committed(self.store, txn_id, self.printer, self.clock)


@dataclass(frozen=True)
class CountRow:
    sku: str
    label: str
    expected: int  # on the books when the count started
    counted: int | None  # None: not counted yet

    @property
    def difference(self) -> int | None:
        return None if self.counted is None else self.counted - self.expected


class CountPresenter:
    """A physical stock count: counted quantities per item, the differences, then one adjustment."""

    def __init__(self, store: LedgerStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog
        self.counted: dict[str, int] = {}

    def start(self) -> None:
        self.catalog.refresh()
        self.counted.clear()

    def rows(self) -> list[CountRow]:
        return [CountRow(t.sku, t.label, t.on_hand, self.counted.get(t.sku)) for t in self.catalog.tiles()]

    def set_counted(self, sku: str, qty: int) -> None:
        self.catalog.tile(sku)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= MAX_COUNT:
            raise LedgerError("bad_quantity", value=qty, max=MAX_COUNT)
        self.counted[sku] = qty

    def preview(self) -> list[services.CountDifference]:
        """Counted items whose count differs from the books now (``services.preview_count``)."""
        if not self.counted:
            raise PosRefusal("pos_count_nothing")
        return [d for d in services.preview_count(self.store, dict(self.counted)) if d.difference]

    def commit(self, ctx: services.Context) -> tuple[Transaction, list[services.CountDifference]]:
        if not self.counted:
            raise PosRefusal("pos_count_nothing")
        txn, differences = services.stock_count(self.store, dict(self.counted), "盘点", ctx=ctx)
        self.counted.clear()
        self.catalog.refresh()
        return txn, [d for d in differences if d.difference]


class WriteOffPresenter:
    """Goods out with a reason (spoiled, broken, lost): one item at a time."""

    def __init__(self, store: LedgerStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def check(self, sku: str, qty: int) -> ItemTile:
        tile = self.catalog.tile(sku)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_COUNT:
            raise LedgerError("bad_quantity", value=qty, max=MAX_COUNT)
        if qty > tile.on_hand:
            raise LedgerError("out_of_stock", name=tile.label, wanted=qty, on_hand=tile.on_hand)
        return tile

    def commit(self, sku: str, qty: int, reason: Reason, ctx: services.Context) -> Transaction:
        self.check(sku, qty)
        txn = services.write_off(self.store, sku, qty, reason.recorded, ctx)
        self.catalog.refresh()
        return txn


def low_stock(catalog: Catalog, threshold: int = DEFAULT_LOW_STOCK) -> list[ItemTile]:
    catalog.refresh()
    return catalog.low_stock(threshold)
