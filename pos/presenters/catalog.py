"""The goods on offer as the screens show them: categories, tiles with points and stock, barcodes.

Read once and refreshed after anything that moves stock (a redemption, an intake, a count), so the item
grid never runs a query per tap. The stock shown is a guide for the shopkeeper; the service checks stock
again inside the transaction that takes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.model import Item, Policy
from ledger.ports import LedgerStore
from ledger.search import Searchable, query_letters

ALL = ""  # the category tab that shows every item

# The pictures of those of some SKUs that have one (paths the app can load), by SKU: asked once per reading
# of the goods (``lovemart.pictures.PictureShelf.paths``).
PicturesOf = Callable[[Sequence[str]], Mapping[str, str]]


def no_pictures(_skus: Sequence[str]) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class ItemTile:
    sku: str
    name: str
    unit: str
    points: int
    on_hand: int
    category: str
    barcode: str | None
    picture: str = ""  # a path to a small square picture of it, "" when it has none

    @property
    def label(self) -> str:
        """ "大米 5kg袋": names repeat across sizes (大米 5 kg and 10 kg), so the unit is part of the name."""
        return f"{self.name} {self.unit}".strip()


class Catalog:
    def __init__(self, store: LedgerStore, pictures_of: PicturesOf = no_pictures) -> None:
        self.store = store
        self.pictures_of = pictures_of  # read at every refresh: a picture put on the shelf shows at the next one
        self._tiles: dict[str, ItemTile] = {}
        self._barcodes: dict[str, str] = {}
        self._searchable: dict[str, Searchable] | None = None  # built on first search (or by ``warm``)
        self.policy = Policy()
        self.refresh()

    def refresh(self) -> None:
        with self.store.read() as unit:
            items: list[Item] = unit.items()
            levels = unit.stock_levels()
            self.policy = unit.policy()
        pictures = self.pictures_of([i.sku for i in items if i.active])
        self._tiles = {
            i.sku: ItemTile(
                i.sku,
                i.name,
                i.unit,
                i.points,
                levels.get(i.sku, 0),
                i.category,
                i.barcode,
                pictures.get(i.sku, ""),
            )
            for i in items
            if i.active
        }
        self._barcodes = {t.barcode: t.sku for t in self._tiles.values() if t.barcode}
        self._searchable = None

    def categories(self) -> list[str]:
        """Category names in the order goods were first listed (``ALL`` first, for the "全部" tab)."""
        seen: list[str] = [ALL]
        for tile in self._tiles.values():
            if tile.category and tile.category not in seen:
                seen.append(tile.category)
        return seen

    def tiles(self, category: str = ALL) -> list[ItemTile]:
        return [t for t in self._tiles.values() if category == ALL or t.category == category]

    def shown(self, category: str = ALL, query: str = "") -> list[ItemTile]:
        """What an item grid shows: the goods a search finds, best first, or else a category's."""
        return self.search(query) if query_letters(query) else self.tiles(category)

    def search(self, query: str) -> list[ItemTile]:
        """Goods whose pinyin initials, sku or barcode match ``query`` (see ``ledger.search``), best first;
        among equals in the order they are listed, like the grid."""
        letters = query_letters(query)
        searchable = self._search_index()
        ranked = []
        for position, tile in enumerate(self._tiles.values()):
            rank = searchable[tile.sku].rank(letters)
            if rank is not None:
                ranked.append((rank, position, tile))
        return [tile for _rank, _position, tile in sorted(ranked, key=lambda r: (r[0], r[1]))]

    def search_example(self) -> tuple[str, str] | None:
        """An item's name and the letters that find it ("大米", "DM"), for the search pad's explanation;
        None when no item has a Chinese name, or before ``warm`` (the pad then explains with a general
        example)."""
        if "pypinyin" not in sys.modules:
            return None  # its tables are not loaded yet: not here, on the UI thread (``warm`` loads them)
        searchable = self._search_index()
        for tile in self._tiles.values():
            spellings = searchable[tile.sku].spellings
            if spellings and any("\u4e00" <= c <= "\u9fff" for c in tile.name):
                return tile.name, spellings[0]
        return None

    def warm(self) -> None:
        """Load the pinyin tables and index the goods now (on a worker at start-up), not at the first search."""
        self._search_index()

    def _search_index(self) -> dict[str, Searchable]:
        index = self._searchable
        if index is None or index.keys() != self._tiles.keys():
            index = {t.sku: Searchable.of(t.name, t.sku, t.barcode) for t in self._tiles.values()}
            self._searchable = index
        return index

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
