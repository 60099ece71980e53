"""The POS's presenters, made once around one store from the parts ``lovemart`` hands in (plain Python, no Kivy).

``PosApp`` receives them ready-made (``lovemart.pos_main.build_pos`` calls ``pos_presenters`` with the shop's
parts; tests call it with a fake printer and clock), so the app only composes screens around them and a
presenter can be tested without a window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger.ports import BackupPort, LedgerStore, ReceiptPrinter, SyncPort
from pos.presenters.catalog import Catalog, PicturesOf, no_pictures
from pos.presenters.common import Clock, PrinterFactory, PrinterSlot, local_now
from pos.presenters.day_close import DayClosePresenter
from pos.presenters.donation import DonationPresenter
from pos.presenters.receipts import ReceiptsPresenter
from pos.presenters.redeem import RedeemPresenter
from pos.presenters.register import RegisterPresenter
from pos.presenters.session import DEFAULT_IDLE_LOCK_S, Session
from pos.presenters.stock import CountPresenter, StockInPresenter, WriteOffPresenter
from pos.presenters.sync import SyncPresenter


@dataclass(frozen=True)
class PosPresenters:
    """Everything the POS's screens call, sharing one store, one catalogue, one printer slot and one clock."""

    store: LedgerStore
    clock: Clock
    session: Session
    printer_slot: PrinterSlot
    catalog: Catalog
    redeem: RedeemPresenter
    receipts: ReceiptsPresenter
    stock_in: StockInPresenter
    count: CountPresenter
    write_off: WriteOffPresenter
    donation: DonationPresenter
    day_close: DayClosePresenter
    sync: SyncPresenter
    register: RegisterPresenter


def pos_presenters(
    store: LedgerStore,
    *,
    printer: ReceiptPrinter | None = None,
    printer_factory: PrinterFactory | None = None,
    sync: SyncPort | None = None,
    clock: Clock = local_now,
    monotonic: Callable[[], float] = time.monotonic,
    idle_lock_s: float = DEFAULT_IDLE_LOCK_S,
    backups: BackupPort | None = None,
    pictures_of: PicturesOf = no_pictures,
) -> PosPresenters:
    """The POS's presenters on ``store``. The printer is ``printer``, or asked of ``printer_factory`` until it
    gives one (a printer plugged in after the till started); ``sync`` None means "not connected"."""
    slot = PrinterSlot(printer, printer_factory)
    catalog = Catalog(store, pictures_of)
    return PosPresenters(
        store=store,
        clock=clock,
        session=Session(store, idle_lock_s, monotonic, clock),
        printer_slot=slot,
        catalog=catalog,
        redeem=RedeemPresenter(store, catalog, clock),
        receipts=ReceiptsPresenter(store, slot, clock),
        stock_in=StockInPresenter(store, catalog, slot, clock),
        count=CountPresenter(store, catalog),
        write_off=WriteOffPresenter(store, catalog),
        donation=DonationPresenter(store, catalog, slot, clock),
        day_close=DayClosePresenter(store, slot, clock, backups),
        sync=SyncPresenter(sync),
        register=RegisterPresenter(store, slot, clock),
    )
