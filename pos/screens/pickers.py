"""Pickers several screens share: the donor (past donors, a household by number, or anonymous)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pos.presenters.common import HouseholdChoice
from pos.presenters.donors import DonorChoice, donor_choices, household_donor
from pos.widgets import ask_digits, choose

BY_HOUSEHOLD = "__household__"


def pick_donor(app: Any, on_donor: Callable[[DonorChoice], Any]) -> None:
    """Anonymous first, then "a villager, by household number", then past donors of this ledger."""
    choices = donor_choices(app.store)
    options: list[tuple[Any, str]] = [(choices[0], choices[0].name), (BY_HOUSEHOLD, app.tr("pos.donor_household"))]
    options += [(choice, choice.name) for choice in choices[1:]]

    def chosen(value: Any) -> None:
        if value == BY_HOUSEHOLD:
            pick_household(app, lambda household: on_donor(household_donor(household)))
        else:
            on_donor(value)

    choose(app.tr("pos.donor_title"), options, chosen)


def pick_household(app: Any, on_household: Callable[[HouseholdChoice], Any]) -> None:
    """A household by the number typed on the keypad (several matches: pick one by name)."""

    def found(digits: str) -> None:
        matches = app.redeem.finder.find(digits)  # a refusal stays in the keypad dialog
        if len(matches) == 1:
            on_household(matches[0])
        else:
            choose(app.tr("pos.pick_household"), [(m, m.label) for m in matches], on_household)

    ask_digits(app.tr("pos.household_number"), found, prompt=app.tr("ui.household_prompt"), max_length=8)
