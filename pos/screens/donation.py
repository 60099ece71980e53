"""Donations: money (whole yuan on the keypad) or goods (from the grid), a donor picked from a list, and the
donation voucher (捐赠凭证) printed after the commit."""

from __future__ import annotations

from typing import Any

from kivy.properties import NumericProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from pos.presenters.catalog import ALL
from pos.presenters.donation import GOODS, MONEY
from pos.presenters.donors import DonorChoice
from pos.presenters.redeem import is_passbook_code
from pos.screens.base import PosScreen
from pos.screens.pickers import pick_donor
from pos.screens.stock import GoodsLinesMixin
from pos.widgets import ask_digits
from ui.widgets import ask


class PosDonationScreen(GoodsLinesMixin, PosScreen):
    title_id = StringProperty(N_("pos.donation_title"))
    kind = StringProperty(MONEY)
    donor_text = StringProperty("")
    amount_digits = StringProperty("")
    count = NumericProperty(0)
    category = StringProperty(ALL)

    @property
    def presenter(self) -> Any:
        return self.app.donation

    def refresh(self) -> None:
        self.show_tiles()
        self.show()

    def show(self) -> None:
        p = self.presenter
        self.kind = p.kind
        self.donor_text = self.tr("pos.donor", name=p.donor.name) if p.donor else self.tr("pos.pick_donor")
        self.ids.lines.lines = [
            {"sku": line.sku, "label": line.label, "qty": str(line.qty), "detail": ""} for line in p.goods.lines()
        ]
        self.count = p.goods.count

    def set_kind(self, kind: str) -> None:
        self.presenter.set_kind(kind)
        self.show()

    def pick_donor(self) -> None:
        pick_donor(self.app, self._donor)

    def _donor(self, donor: DonorChoice) -> None:
        self.presenter.choose_donor(donor)
        self.show()

    def add_item(self, sku: str) -> None:
        tile = self.app.catalog.tile(sku)

        def set_qty(digits: str) -> None:
            self.presenter.goods.set(sku, int(digits))
            self.show()

        ask_digits(
            self.tr("pos.qty_donated", name=tile.label), set_qty, prompt=self.tr("ui.quantity_prompt"), max_length=6
        )

    def show_goods(self) -> None:
        self.show()

    def handle_scan(self, text: str, source: str) -> bool:
        if is_passbook_code(text) or self.kind != GOODS:
            return False
        self._change(lambda: self.presenter.goods.add(self.app.catalog.by_barcode(text).sku))
        return True

    def confirm(self) -> None:
        p = self.presenter
        try:
            if p.kind == MONEY:
                p.set_amount(self.amount_digits)
            p.check_ready()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        assert p.donor is not None
        if p.kind == MONEY:
            message = self.tr("pos.donation_money_question", donor=p.donor.name, yuan=p.amount_fen // 100)
        else:
            goods = "、".join(f"{line.label}×{line.qty}" for line in p.goods.lines())
            message = self.tr("pos.donation_goods_question", donor=p.donor.name, goods=goods)
        ask(message, lambda yes: self._commit() if yes else None)

    def _commit(self) -> None:
        try:
            txn = self.presenter.commit(self.app.session.context())
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        self.ids.keypad.clear()
        self.refresh()
        presenter = self.presenter
        done = self.tr("pos.donation_done", receipt_no=txn.receipt_no)
        self.app.print_in_background(lambda: presenter.print_receipt(txn.txn_id), done_text=done)
