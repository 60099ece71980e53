"""A donation of money or goods, and its voucher (捐赠凭证).

Money is typed in whole yuan on the keypad and kept as integer fen (DESIGN §3: money never passes
through a float). The donor is picked (``pos.presenters.donors``), never typed.
"""

from __future__ import annotations

from ledger import printing, services
from ledger.errors import LedgerError
from ledger.model import Transaction
from ledger.ports import LedgerStore
from pos.presenters.catalog import Catalog
from pos.presenters.common import Clock, PrinterSlot, local_now, print_committed
from pos.presenters.donors import DonorChoice
from pos.presenters.goods import GoodsList

MONEY = "money"
GOODS = "goods"
MAX_YUAN = 10_000_000  # a village shop's donation; more is a finger resting on a key


def yuan_to_fen(text: str) -> int:
    """Keypad digits (whole yuan) to fen; refuses empty, non-digits, zero and absurd amounts."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or not 0 < int(cleaned) <= MAX_YUAN:
        raise LedgerError("bad_amount", value=cleaned or "0")
    return int(cleaned) * 100


class DonationPresenter:
    def __init__(self, store: LedgerStore, catalog: Catalog, printer: PrinterSlot, clock: Clock = local_now) -> None:
        self.store = store
        self.catalog = catalog
        self.printer = printer
        self.clock = clock
        self.kind = MONEY
        self.donor: DonorChoice | None = None
        self.amount_fen = 0
        self.goods = GoodsList(catalog)

    def set_kind(self, kind: str) -> None:
        if kind not in (MONEY, GOODS):
            raise ValueError(kind)
        self.kind = kind

    def set_amount(self, keypad_text: str) -> int:
        self.amount_fen = yuan_to_fen(keypad_text)
        return self.amount_fen

    def choose_donor(self, donor: DonorChoice) -> None:
        self.donor = donor

    def check_ready(self) -> None:
        if self.donor is None:
            raise LedgerError("donor_required")
        if self.kind == MONEY and self.amount_fen <= 0:
            raise LedgerError("bad_amount", value=0)
        if self.kind == GOODS and self.goods.empty:
            raise LedgerError("empty_cart")

    def commit(self, ctx: services.Context) -> Transaction:
        self.check_ready()
        assert self.donor is not None
        if self.kind == MONEY:
            txn = services.record_donation(
                self.store, self.donor.name, amount_fen=self.amount_fen, memo="用于爱心超市", ctx=ctx
            )
        else:
            txn = services.record_donation(
                self.store, self.donor.name, goods=self.goods.pairs(), memo="捐赠物资", ctx=ctx
            )
            self.catalog.refresh()
        self.reset()
        return txn

    def reset(self) -> None:
        self.donor = None
        self.amount_fen = 0
        self.goods.clear()

    def print_receipt(self, txn_id: str) -> printing.PrintOutcome:
        return print_committed(self.store, txn_id, self.printer, self.clock)
