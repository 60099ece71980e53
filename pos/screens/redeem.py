"""Redemption: the household panel, the item grid, the cart with +/−, confirm, commit, print.

The rules live in ``RedeemPresenter``; this screen turns taps and scans into its calls and its answers
(or refusals) into widgets. The commit runs on the UI thread on purpose: it is one short SQLite
transaction, and the screen must not accept another tap until the ledger has answered. The receipt prints
after, on a worker; a printer that fails leaves the sale done and lights the reprint button.
"""

from __future__ import annotations

import logging
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.model import Operator
from pos.presenters.catalog import ALL
from pos.presenters.common import HouseholdChoice, village_prefix
from pos.presenters.redeem import CommitResult
from pos.screens.base import PosScreen
from pos.widgets import ask_digits, choose
from ui.preview import CameraPreview  # noqa: F401  (registers the widget for redeem.kv)
from ui.widgets import ConfirmDialog, ask

log = logging.getLogger(__name__)


class PosRedeemScreen(PosScreen):
    title_id = StringProperty(N_("pos.redeem_title"))
    has_household = BooleanProperty(False)
    hh_name = StringProperty("")
    hh_id = StringProperty("")
    hh_members = StringProperty("")
    hh_names = StringProperty("")
    hh_synced = StringProperty("")
    hh_redeemable = NumericProperty(0)
    hh_frozen = BooleanProperty(False)
    total = NumericProperty(0)
    remaining = NumericProperty(0)
    can_confirm = BooleanProperty(False)
    uncertain = BooleanProperty(False)
    category = StringProperty(ALL)
    reprint_receipt = StringProperty("")  # mirrors the app's: the last receipt that did not print
    # The sale just made, shown in the cart's place until the next tap, scan or 下一位 ("" when none).
    done_receipt = StringProperty("")
    done_points = NumericProperty(0)
    done_left = NumericProperty(0)
    done_print = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dialog: ConfirmDialog | None = None
        self._shown = False
        self.ids.preview.frames = getattr(self.app, "preview", None)

    # ----- the camera's mirror: it moves only while this screen waits for a passbook
    def on_enter(self, *_args: Any) -> None:
        self._shown = True
        self._aim_preview()

    def on_leave(self, *_args: Any) -> None:
        self._shown = False
        self._aim_preview()

    def on_has_household(self, *_args: Any) -> None:
        self._aim_preview()

    def _aim_preview(self) -> None:
        self.ids.preview.active = self._shown and not self.has_household

    @property
    def presenter(self) -> Any:
        return self.app.redeem

    # ----- showing

    def refresh(self) -> None:
        grid = self.ids.grid
        grid.all_label = self.tr("pos.all")
        grid.categories = self.app.catalog.categories()
        self.show_tiles()
        self.show_household()
        self.show_cart()

    def show_tiles(self) -> None:
        catalog, grid = self.app.catalog, self.ids.grid
        tiles = catalog.shown(self.category, grid.query)
        grid.example_of = catalog.search_example
        grid.tiles = [
            {
                "sku": t.sku,
                "text": f"{t.label}\n{self.tr('pos.tile_points', points=t.points, on_hand=t.on_hand)}",
                "low": t.on_hand <= 0,
                "picture": t.picture,
            }
            for t in tiles
        ]

    def select_category(self, category: str) -> None:
        self.category = category
        self.show_tiles()

    def show_household(self) -> None:
        card = self.presenter.household
        self.has_household = card is not None
        if card is None:
            self.hh_name = self.hh_id = self.hh_members = self.hh_names = self.hh_synced = ""
            self.hh_redeemable = 0
            self.hh_frozen = False
            return
        self.hh_id = card.household_id
        self.hh_members = self.tr("pos.members", household_id=card.household_id, count=card.member_count)
        self.hh_names = "、".join(card.names)
        if card.last_synced:
            self.hh_synced = self.tr("pos.last_synced", when=card.last_synced[:16].replace("T", " "))
        else:
            self.hh_synced = self.tr("pos.standalone")
        self.hh_redeemable = card.redeemable
        self.hh_frozen = card.frozen
        self.hh_name = card.name  # last: the benchmark watches this label for the household to be on screen

    def show_cart(self) -> None:
        view = self.presenter.cart()
        # Newest first: the line just tapped is in view with its stepper even when the cart scrolls.
        self.ids.cart.lines = [
            {
                "sku": line.sku,
                "label": line.label,
                "qty": str(line.qty),
                "detail": self.tr("pos.points_short", points=line.points),
            }
            for line in reversed(view.lines)
        ]
        if not view.empty:
            self.done_receipt = ""  # a new cart: the last sale has been seen
        self.total = view.total
        self.remaining = view.remaining
        self.uncertain = self.presenter.uncertain
        self.can_confirm = (not view.empty and view.total <= view.redeemable) or self.uncertain

    # ----- scans and taps

    def handle_scan(self, text: str, source: str) -> bool:
        try:
            outcome = self.presenter.scan(text)
        except LedgerError as refusal:
            self.refuse(refusal)
            return True
        if outcome.kind == "household":
            self.done_receipt = ""  # the next villager
            self.show_household()
            self.app.root.ids.banner.hide()
        self.show_cart()
        return True

    def add_item(self, sku: str) -> None:
        self._change(lambda: self.presenter.add(sku))

    def plus(self, sku: str) -> None:
        self._change(lambda: self.presenter.add(sku))

    def minus(self, sku: str) -> None:
        self._change(lambda: self.presenter.decrement(sku))

    def type_quantity(self, sku: str) -> None:
        tile = self.app.catalog.tile(sku)

        def set_qty(digits: str) -> None:
            self.presenter.set_quantity(sku, int(digits))
            self.show_cart()

        ask_digits(
            self.tr("pos.qty_of", name=tile.label),
            set_qty,
            prompt=self.tr("ui.quantity_prompt"),
            max_length=3,
            initial=str(self.presenter.quantity(sku)),
        )

    def clear_cart(self) -> None:
        self._change(self.presenter.clear)

    def next_customer(self) -> None:
        self.done_receipt = ""
        try:
            self.presenter.finish()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        self.ids.grid.find("")  # the next villager starts from every item, not the last one's search
        self.show_household()
        self.show_cart()

    def _change(self, action: Any) -> None:
        try:
            action()
        except LedgerError as refusal:
            self.refuse(refusal)
        self.show_cart()

    # ----- manual household number (manager confirms)

    def manual_entry(self) -> None:
        def found(digits: str) -> None:
            choices = self.presenter.find_households(digits)  # a refusal stays in the keypad dialog
            if len(choices) == 1:
                self._confirm_manual(choices[0])
            else:
                choose(
                    self.tr("pos.pick_household"),
                    [(c, c.label) for c in choices],
                    self._confirm_manual,
                )

        finder = self.presenter.finder
        example = finder.example()
        prefixes = finder.prefixes()
        detail = ""
        if example:
            prefix = village_prefix(example[0])
            if prefix not in prefixes:
                key = N_("pos.manual_detail")
            elif len(prefixes) == 1:
                key = N_("pos.manual_detail_chosen")
            else:
                key = N_("pos.manual_detail_prefix")
            detail = self.tr(key, household_id=example[0], digits=example[1], prefix=prefix)
        ask_digits(
            self.tr("pos.manual_title"),
            found,
            prompt=self.tr("ui.household_prompt"),
            max_length=8,
            detail=detail,
            prefixes=prefixes,
            # one village: chosen already, so the digits alone find the household
            prefix=prefixes[0] if len(prefixes) == 1 else "",
        )

    def _confirm_manual(self, choice: HouseholdChoice) -> None:
        def open_with(manager: Operator) -> None:
            try:
                self.presenter.open_household(choice.household_id, manager)
            except LedgerError as refusal:
                self.refuse(refusal)
                return
            self.show_household()
            self.show_cart()

        self.app.ask_manager(open_with, N_("pos.manual_manager"))

    # ----- confirm, commit, print

    def confirm(self) -> None:
        if self._dialog is not None:  # a second tap while the question is open
            return
        if self.presenter.uncertain:
            self._commit()  # the last "yes" got no answer from the ledger: ask it again with the same id
            return
        try:
            view = self.presenter.check_ready()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        card = self.presenter.household
        goods = "、".join(f"{line.label}×{line.qty}" for line in view.lines)
        message = self.tr(
            "pos.confirm_redeem_question",
            name=card.name if card else "",
            goods=goods,
            total=view.total,
            remaining=view.remaining,
        )
        self._dialog = ask(
            message,
            self._answered,
            title=self.tr("pos.confirm_redeem_title"),
            yes_text=self.tr("pos.confirm_yes"),
            no_text=self.tr("pos.confirm_no"),
        )
        # Closed without an answer (the till locked itself meanwhile): the next tap may ask again.
        self._dialog.bind(on_dismiss=self._dialog_gone)

    def _dialog_gone(self, *_args: Any) -> None:
        self._dialog = None

    def _answered(self, yes: bool) -> None:
        self._dialog = None
        if yes:
            self._commit()

    def _commit(self) -> None:
        try:
            ctx = self.app.session.context()
            result: CommitResult = self.presenter.commit(ctx)
        except LedgerError as refusal:
            self.refuse(refusal)
            self.show_cart()
            return
        except Exception as error:  # the ledger did not answer: the sale may or may not be in; retry is safe
            log.error("redemption commit failed without a refusal", exc_info=error)
            self.notify(self.tr("pos.commit_uncertain_retry"), "error")
            self.show_cart()
            return
        self.show_household()
        self.show_cart()
        self.show_tiles()
        if not result.first:
            return
        self.done_points, self.done_left = result.points, self.hh_redeemable
        self.done_print = self.tr("pos.printing")
        self.done_receipt = result.receipt_no
        self.app.root.ids.banner.hide()  # the panel says it all, once
        receipts = self.app.receipts
        self.app.print_in_background(
            lambda: receipts.print_receipt(result.txn_id), on_result=self._printed, announce=False
        )

    def _printed(self, outcome: Any) -> None:
        if outcome.receipt_no == self.done_receipt:
            self.done_print = self.tr("pos.done.printed") if outcome.printed else self.tr("pos.print_failed_short")

    def reprint_last(self) -> None:
        receipt_no = self.app.reprint_receipt or (self.presenter.last.receipt_no if self.presenter.last else "")
        if not receipt_no:
            self.notify(self.tr("pos.nothing_to_reprint"), "warning")
            return
        self.app.reprint(receipt_no)
