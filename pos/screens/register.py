"""A manager adds a household to a standalone shop's register and prints its passbook card
(``pos.presenters.register``). A connected shop shows why it cannot, and nothing to type."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty

from ledger.errors import LedgerError
from ledger.messages import N_
from pos.presenters.common import Question
from pos.presenters.register import QUESTIONS, CardPrinted, Registered, RegisterPresenter
from pos.screens.base import PosScreen
from pos.widgets import FormRow, mark_problems
from ui.background import run_in_background


class PosRegisterScreen(PosScreen):
    title_id = StringProperty(N_("pos.register.title"))
    own_register = BooleanProperty(True)
    last_household = StringProperty("")  # the household whose card may be printed again

    @property
    def presenter(self) -> RegisterPresenter:
        return self.app.register  # type: ignore[no-any-return]

    def on_pre_enter(self, *_args: Any) -> None:
        self.own_register = self.presenter.own_register()
        if self.own_register:
            self.presenter.start()
        self.refresh()

    def refresh(self) -> None:
        box = self.ids.fields
        box.clear_widgets()
        if not self.own_register:
            return
        for question in QUESTIONS:
            box.add_widget(self._row(question))
        self.ids.scroll.scroll_y = 1  # a blank form starts at its top

    def _row(self, question: Question) -> FormRow:
        row: FormRow = Factory.FormTextRow(
            field=question,
            kind=question.kind,
            label_text=self.tr(question.label),
            hint_text=self.tr(question.hint),
            value=self.presenter.answers.get(question.name, ""),
        )
        row.on_change = self.presenter.set
        return row

    def add(self) -> None:
        problems = self.presenter.problems()
        if mark_problems(self.ids.fields, self.ids.scroll, problems, self.app.error_text):
            self.refuse(next(iter(problems.values())))
            return
        try:
            added = self.presenter.add()
        except LedgerError as refusal:
            self.refuse(refusal)
            return
        self.last_household = added.household_id
        self.presenter.start()
        self.refresh()
        self._print(added)

    def print_again(self) -> None:
        if self.last_household:
            self._print(None)

    def _print(self, added: Registered | None) -> None:
        household_id = added.household_id if added else self.last_household
        if added is not None:
            self.notify(self.tr("pos.register.added", household=added.household_id, name=added.name), "success")
        run_in_background(lambda: self.presenter.print_card(household_id), on_done=self._printed, on_error=self.refuse)

    def _printed(self, outcome: CardPrinted) -> None:
        if outcome.printed:
            self.notify(self.tr("pos.register.card_printed", household=outcome.household_id), "success")
        else:
            problem = self.app.error_text(outcome.problem) if outcome.problem else ""
            self.notify(self.tr("pos.register.card_failed", household=outcome.household_id, problem=problem), "warning")
