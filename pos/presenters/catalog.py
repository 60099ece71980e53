"""The goods on offer as the screens show them: categories, tiles with points and stock, barcodes.

Read once and refreshed after anything that moves stock (a redemption, an intake, a count), so the item
grid never runs a query per tap. The stock shown is a guide for the shopkeeper; the service checks stock
again inside the transaction that takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.model import Item, Policy
from ledger.ports import LedgerStore

ALL = ""  # the category tab that shows every item


@dataclass(frozen=True)
class ItemTile:
    sku: str
    name: str
    unit: str
    points: int
    on_hand: int
    category: str
    barcode: str | None

    @property
    def label(self) -> str:
        """ "大米 5kg袋": names repeat across sizes (大米 5 kg and 10 kg), so the unit is part of the name."""
        return f"{self.name} {self.unit}".strip()


class Catalog:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self._tiles: dict[str, ItemTile] = {}
        self._barcodes: dict[str, str] = {}
        self.policy = Policy()
        self.refresh()

    def refresh(self) -> None:
        with self.store.read() as unit:
            items: list[Item] = unit.items()
            levels = unit.stock_levels()
            self.policy = unit.policy()
        self._tiles = {
            i.sku: ItemTile(i.sku, i.name, i.unit, i.points, levels.get(i.sku, 0), i.category, i.barcode)
            for i in items
            if i.active
        }
        self._barcodes = {t.barcode: t.sku for t in self._tiles.values() if t.barcode}

    def categories(self) -> list[str]:
        """Category names in the order goods were first listed (``ALL`` first, for the "全部" tab)."""
        seen: list[str] = [ALL]
        for tile in self._tiles.values():
            if tile.category and tile.category not in seen:
                seen.append(tile.category)
        return seen

    def tiles(self, category: str = ALL) -> list[ItemTile]:
        return [t for t in self._tiles.values() if category == ALL or t.category == category]

    def tile(self, sku: str) -> ItemTile:
        found = self._tiles.get(sku)
        if found is None:
            raise LedgerError("unknown_sku", sku=sku)
        return found

    def by_barcode(self, barcode: str) -> ItemTile:
        """The item a product barcode names; ``unknown_sku`` (with the barcode) when none does."""
        sku = self._barcodes.get(barcode.strip())
        if sku is None:
            with self.store.read() as unit:  # an item added by sync since the last refresh
                item = unit.item_by_barcode(barcode.strip())
            if item is None or not item.active:
                raise LedgerError("unknown_sku", sku=barcode.strip())
            self.refresh()
            sku = item.sku
        return self.tile(sku)

    def by_stock(self) -> list[ItemTile]:
        """Every item on offer, fewest on the shelf first (the stock list the shopkeeper reorders from)."""
        return sorted(self._tiles.values(), key=lambda t: (t.on_hand, t.sku))

    def low_stock(self, threshold: int) -> list[ItemTile]:
        """Items with ``threshold`` or fewer on the shelf, fewest first."""
        return [t for t in self.by_stock() if t.on_hand <= threshold]
