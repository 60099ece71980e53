"""A list of goods and quantities being entered (a delivery, donated goods): shared by stock-in and donations.

Quantities come from the keypad, so they are checked here (a whole number from 1 to ``MAX_QTY``) before
the service sees them; deliveries come by the case, so the limit is far above a household's cart.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import LedgerError
from pos.presenters.catalog import Catalog

MAX_QTY = 100_000


@dataclass(frozen=True)
class GoodsLine:
    sku: str
    label: str
    qty: int
    on_hand: int


class GoodsList:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._qty: dict[str, int] = {}

    def set(self, sku: str, qty: int) -> None:
        """``qty`` of ``sku`` (0 removes the line)."""
        self.catalog.tile(sku)  # refuses an unknown sku
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= MAX_QTY:
            raise LedgerError("bad_quantity", value=qty, max=MAX_QTY)
        if qty == 0:
            self._qty.pop(sku, None)
        else:
            self._qty[sku] = qty

    def add(self, sku: str, qty: int = 1) -> None:
        self.set(sku, self.quantity(sku) + qty)

    def decrement(self, sku: str) -> None:
        self.set(sku, max(0, self.quantity(sku) - 1))

    def quantity(self, sku: str) -> int:
        return self._qty.get(sku, 0)

    def lines(self) -> list[GoodsLine]:
        result = []
        for sku, qty in self._qty.items():
            tile = self.catalog.tile(sku)
            result.append(GoodsLine(sku, tile.label, qty, tile.on_hand))
        return result

    def pairs(self) -> list[tuple[str, int]]:
        return list(self._qty.items())

    @property
    def count(self) -> int:
        return sum(self._qty.values())

    @property
    def empty(self) -> bool:
        return not self._qty

    def clear(self) -> None:
        self._qty.clear()
