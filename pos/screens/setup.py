"""First run: set up a new standalone shop by touch (``pos.presenters.setup``), one page at a time.

Names are typed (a keyboard and the system's input method: this happens once, usually with whoever installs
the PC); numbers take digits only; the PIN is typed twice on the keypad. A wrong answer is said under its
field, in words, and the page stays. The last page makes the shop and says where the recovery sheet is.
"""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from pos.presenters.common import Question
from pos.presenters.setup import PAGE_TITLES, PAGES, FirstRunPresenter
from pos.screens.base import PosScreen
from pos.widgets import FormRow, mark_problems
from ui.background import run_in_background


class PosSetupScreen(PosScreen):
    title_id = StringProperty(N_("pos.setup.title"))
    page_title = StringProperty("")
    last_page = BooleanProperty(False)
    first_page = BooleanProperty(True)
    pin_prompt = StringProperty("")
    making = BooleanProperty(False)  # the shop is being written (on a worker)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._first_pin = ""

    @property
    def presenter(self) -> FirstRunPresenter:
        return self.app.first_run  # type: ignore[no-any-return]

    def refresh(self) -> None:
        presenter = self.presenter
        presenter.label = self.tr
        self.first_page = presenter.page == 0
        self.last_page = presenter.last_page
        self.page_title = self.tr(
            "pos.setup.step", page=presenter.page + 1, pages=len(PAGES), title=self.tr(PAGE_TITLES[presenter.page])
        )
        box = self.ids.fields
        box.clear_widgets()
        box.cols = 2 if len(presenter.fields) > 3 else 1
        for field in presenter.fields:
            box.add_widget(self._field_widget(field))
        self.ids.scroll.scroll_y = 1  # a new page starts at its top, wherever the last one was scrolled to
        self._reset_pin()

    def _field_widget(self, field: Question) -> FormRow:
        rule = "FormChoiceRow" if field.kind == "choice" else "FormTextRow"
        widget: FormRow = getattr(Factory, rule)(
            field=field,
            kind=field.kind,
            label_text=self.tr(field.label),
            hint_text=self.tr(field.hint),
            value=self.presenter.answers.get(field.name, ""),
            choices=list(field.choices) or [("", ""), ("", "")],
        )
        widget.on_change = self.presenter.set
        return widget

    def _show_problems(self, problems: dict[str, LedgerError]) -> bool:
        if not mark_problems(self.ids.fields, self.ids.scroll, problems, self.app.error_text):
            return False
        self.notify(self.tr("pos.setup.fix_marked"), "warning")
        return True

    def go_next(self) -> None:
        if not self._show_problems(self.presenter.next()):
            self.app.root.ids.banner.hide()
            self.refresh()

    def go_back(self) -> None:
        self.presenter.back()
        self.refresh()

    # ----- the PIN, typed twice on the keypad

    def _reset_pin(self) -> None:
        self._first_pin = ""
        self.pin_prompt = self.tr("pos.setup.pin")
        if "keypad" in self.ids:
            self.ids.keypad.clear()

    def pin_typed(self, pin: str) -> None:
        keypad = self.ids.keypad
        keypad.clear()
        if not self._first_pin:
            if self._show_problems(self.presenter.next()):  # the name and number first, then the PIN
                return
            self._first_pin = pin
            self.pin_prompt = self.tr("pos.setup.pin_again")
            return
        first, self._first_pin = self._first_pin, ""
        if self.making:
            return
        # Making the shop writes the ledger and renders the recovery sheet's PDF: on a worker, not in the
        # frame; the keypad is off until it answers.
        self.making = True
        run_in_background(lambda: self.presenter.finish(first, pin), on_done=self._made, on_error=self._not_made)

    def _made(self, _made: object) -> None:
        self.making = False
        self._show_done()

    def _not_made(self, refusal: Exception) -> None:
        self.making = False
        self._reset_pin()
        self.refuse(refusal)

    def _show_done(self) -> None:
        self.app.root.ids.banner.hide()
        self.manager.current = "done"


class PosSetupDoneScreen(PosScreen):
    """What was made, where the recovery sheet is, and 开始使用."""

    title_id = StringProperty(N_("pos.setup.title"))
    done_text = StringProperty("")

    def refresh(self) -> None:
        presenter: FirstRunPresenter = self.app.first_run
        made = presenter.made
        if made is None:
            return
        self.done_text = "\n\n".join(
            (
                self.tr("cli.init.done", shop=made.shop, shop_id=made.shop_id, village=presenter.answers["village"]),
                self.tr("pos.setup.manager_made", name=made.manager, operator=made.operator_id),
                self.tr("cli.init.sheet", path=made.recovery_sheet),
                self.tr("pos.setup.next"),
            )
        )
