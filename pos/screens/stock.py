"""Stock screens: goods in (bought or donated), the stock count, write-offs, and the stock list."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.model import Transaction
from pos.presenters.catalog import ALL
from pos.presenters.donors import DonorChoice
from pos.presenters.receipts import Reason
from pos.presenters.redeem import is_passbook_code
from pos.presenters.stock import BOUGHT, WRITE_OFF_REASONS, low_stock, suppliers
from pos.screens.base import PosScreen
from pos.screens.pickers import pick_donor
from pos.widgets import ask_digits, choose
from ui.widgets import ask


class GoodsGridMixin:
    """A screen with a ``PosItemGrid`` (id ``grid``) whose tiles show what is on the shelf."""

    category: str = ALL
    ids: Any
    app: Any
    tr: Any

    def show_tiles(self) -> None:
        catalog = self.app.catalog
        grid = self.ids.grid
        grid.all_label = self.tr("pos.all")
        grid.categories = catalog.categories()
        grid.example_of = catalog.search_example
        grid.tiles = [
            {
                "sku": t.sku,
                "text": f"{t.label}\n{self.tr('pos.tile_stock', on_hand=t.on_hand)}",
                "low": False,
                "picture": t.picture,
            }
            for t in catalog.shown(self.category, grid.query)
        ]

    def select_category(self, category: str) -> None:
        self.category = category
        self.show_tiles()


class GoodsLinesMixin(GoodsGridMixin):
    """... and a list of goods lines (``presenter.goods``) that +/− change; ``show_goods`` redraws it."""

    presenter: Any
    refuse: Any

    def show_goods(self) -> None:
        raise NotImplementedError

    def plus(self, sku: str) -> None:
        self._change(lambda: self.presenter.goods.add(sku))

    def minus(self, sku: str) -> None:
        self._change(lambda: self.presenter.goods.decrement(sku))

    def _change(self, action: Any) -> None:
        try:
            action()
        except LedgerError as refusal:
            self.refuse(refusal)
        self.show_goods()


class PosStockInScreen(GoodsLinesMixin, PosScreen):
    title_id = StringProperty(N_("pos.stock_in_title"))
    source = StringProperty(BOUGHT)
    party_text = StringProperty("")
    count = NumericProperty(0)

    @property
    def presenter(self) -> Any:
        return self.app.stock_in

    def refresh(self) -> None:
        self.show_tiles()
        self.show_lines()

    def show_lines(self) -> None:
        p = self.presenter
        self.source = p.source
        self.ids.lines.lines = [
            {
                "sku": line.sku,
                "label": line.label,
                "qty": str(line.qty),
                "detail": self.tr("pos.on_hand", n=line.on_hand),
            }
            for line in p.goods.lines()
        ]
        self.count = p.goods.count
        if p.source == BOUGHT:
            self.party_text = self.tr("pos.supplier", name=p.supplier) if p.supplier else self.tr("pos.pick_supplier")
        else:
            self.party_text = self.tr("pos.donor", name=p.donor) if p.donor else self.tr("pos.pick_donor")

    def set_source(self, source: str) -> None:
        self.presenter.set_source(source)
        self.show_lines()

    def pick_party(self) -> None:
        if self.presenter.source == BOUGHT:
            names = suppliers(self.app.store)
            choose(self.tr("pos.pick_supplier"), [(n, n) for n in names], self._supplier)
        else:
            pick_donor(self.app, self._donor)

    def _supplier(self, name: str) -> None:
        self.presenter.supplier = name
        self.show_lines()

    def _donor(self, donor: DonorChoice) -> None:
        self.presenter.donor = donor.name
        self.show_lines()

    def add_item(self, sku: str) -> None:
        tile = self.app.catalog.tile(sku)

        def set_qty(digits: str) -> None:
            self.presenter.goods.set(sku, int(digits))
            self.show_lines()

        ask_digits(self.tr("pos.qty_in", name=tile.label), set_qty, prompt=self.tr("ui.quantity_prompt"), max_length=6)

    def handle_scan(self, text: str, source: str) -> bool:
        """A product barcode adds one of it; a passbook is left to the redemption screen."""
        if is_passbook_code(text):
            return False
        self._change(lambda: self.presenter.goods.add(self.app.catalog.by_barcode(text).sku))
        return True

    def show_goods(self) -> None:
        self.show_lines()

    def confirm(self) -> None:
        p = self.presenter
        try:
            p.check_ready()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        goods = "、".join(f"{line.label}×{line.qty}" for line in p.goods.lines())
        msgid = N_("pos.stock_in_question") if p.source == BOUGHT else N_("pos.stock_in_donated_question")
        ask(self.tr(msgid, party=p.party, goods=goods), lambda yes: self._commit() if yes else None)

    def _commit(self) -> None:
        try:
            txn: Transaction = self.presenter.commit(self.app.session.context())
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        self.refresh()
        presenter = self.presenter
        done = self.tr("pos.stock_in_done", receipt_no=txn.receipt_no)
        self.app.print_in_background(lambda: presenter.print_receipt(txn.txn_id), done_text=done)


class PosCountScreen(PosScreen):
    title_id = StringProperty(N_("pos.count_title"))
    summary = StringProperty("")
    started = BooleanProperty(False)

    @property
    def presenter(self) -> Any:
        return self.app.count

    def refresh(self) -> None:
        if not self.started:
            self.presenter.start()
            self.started = True
        rows = self.presenter.rows()
        data = []
        differing = 0
        for row in rows:
            if row.counted is None:
                detail = self.tr("pos.count_expected", expected=row.expected)
            else:
                detail = self.tr("pos.count_detail", expected=row.expected, counted=row.counted, diff=row.difference)
                differing += 1 if row.difference else 0
            marked = bool(row.difference)
            data.append({"key": row.sku, "text": row.label, "detail": detail, "marked": marked, "detail_share": 1.0})
        self.ids.list.rows = data
        self.summary = self.tr("pos.count_summary", counted=len(self.presenter.counted), differing=differing)

    def enter_count(self, sku: str) -> None:
        tile = self.app.catalog.tile(sku)

        def set_counted(digits: str) -> None:
            self.presenter.set_counted(sku, int(digits))
            self.refresh()

        ask_digits(
            self.tr("pos.count_enter", name=tile.label), set_counted, prompt=self.tr("ui.quantity_prompt"), max_length=6
        )

    def handle_scan(self, text: str, source: str) -> bool:
        """A product barcode opens the keypad for that item's count."""
        if is_passbook_code(text):
            return False
        try:
            self.enter_count(self.app.catalog.by_barcode(text).sku)
        except LedgerError as refusal:
            self.refuse(refusal)
        return True

    def restart(self) -> None:
        self.presenter.start()
        self.refresh()

    def confirm(self) -> None:
        try:
            differences = self.presenter.preview()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        if differences:
            shown = [
                self.tr("pos.count_line", name=d.name, expected=d.expected, counted=d.counted, diff=d.difference)
                for d in differences[:8]
            ]
            if len(differences) > 8:
                shown.append(self.tr("pos.count_more", n=len(differences) - 8))
            message = self.tr("pos.count_question", lines="\n".join(shown))
        else:
            message = self.tr("pos.count_no_difference")
        ask(message, lambda yes: self._commit() if yes else None)

    def _commit(self) -> None:
        try:
            txn, differences = self.presenter.commit(self.app.session.context())
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        self.notify(self.tr("pos.count_done", receipt_no=txn.receipt_no, n=len(differences)), "success")
        self.presenter.start()
        self.refresh()


class PosWriteOffScreen(GoodsGridMixin, PosScreen):
    title_id = StringProperty(N_("pos.write_off_title"))
    last = StringProperty("")

    @property
    def presenter(self) -> Any:
        return self.app.write_off

    def refresh(self) -> None:
        self.show_tiles()

    def add_item(self, sku: str) -> None:
        tile = self.app.catalog.tile(sku)

        def qty_given(digits: str) -> None:
            qty = int(digits)
            self.presenter.check(sku, qty)  # refused in the keypad dialog (more than on the shelf…)
            choose(
                self.tr("pos.write_off_reason", name=tile.label, qty=qty),
                [(reason, reason.text(self.app.lang)) for reason in WRITE_OFF_REASONS],
                lambda reason: self._confirm(sku, qty, reason),
            )

        ask_digits(
            self.tr("pos.write_off_qty", name=tile.label), qty_given, prompt=self.tr("ui.quantity_prompt"), max_length=6
        )

    def _confirm(self, sku: str, qty: int, reason: Reason) -> None:
        tile = self.app.catalog.tile(sku)
        message = self.tr("pos.write_off_question", name=tile.label, qty=qty, reason=reason.text(self.app.lang))
        ask(message, lambda yes: self._commit(sku, qty, reason) if yes else None, yes_role="danger")

    def _commit(self, sku: str, qty: int, reason: Reason) -> None:
        try:
            txn = self.presenter.commit(sku, qty, reason, self.app.session.context())
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        tile = self.app.catalog.tile(sku)
        self.last = self.tr("pos.write_off_done", name=tile.label, qty=qty, receipt_no=txn.receipt_no)
        self.notify(self.last, "success")
        self.show_tiles()


class PosStockListScreen(PosScreen):
    title_id = StringProperty(N_("pos.stock_list_title"))
    summary = StringProperty("")

    def refresh(self) -> None:
        threshold = self.app.low_stock
        low = low_stock(self.app.catalog, threshold)
        self.summary = self.tr("pos.low_summary", n=threshold, count=len(low))
        self.ids.list.rows = [
            {
                "key": t.sku,
                "text": t.label,
                "detail": self.tr("pos.on_hand", n=t.on_hand),
                "marked": t.on_hand <= threshold,
            }
            for t in self.app.catalog.by_stock()
        ]
