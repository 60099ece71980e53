"""A standalone shop's household register at the till: a manager adds a household and prints its passbook card.

The same rules as ``lovemart households add`` (``ledger.register``): the number is the village's prefix and
digits (the next free one is offered), the head's name is required, members are listed as
``李四(配偶)、王五(儿子)``, and 村民小组, 门牌号 and 联系电话 are optional. A shop connected to a township
refuses (the township owns the register, ``register_township_owned``): the screen says so before anyone
types. The card prints on the receipt printer, after the household is stored: a printer fault leaves the
household registered and the card to print again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import N_
from ledger.passbook import make_code
from ledger.ports import LedgerStore
from ledger.register import HouseholdInput, add_household, household_problems, parse_members
from ledger.services import Clock, connected_to_township, local_now
from pos.presenters.common import PrinterSlot, Question

QUESTIONS: tuple[Question, ...] = (
    Question("household_id", N_("pos.register.household_id"), N_("pos.register.household_id_hint"), "id"),
    Question("head_name", N_("pos.register.head_name"), N_("pos.register.head_name_hint")),
    Question("members", N_("pos.register.members"), N_("pos.register.members_hint")),
    Question("village_group", N_("pos.register.village_group"), N_("pos.register.village_group_hint")),
    Question("house_no", N_("pos.register.house_no"), N_("pos.register.house_no_hint")),
    Question("phone", N_("pos.register.phone"), N_("pos.register.phone_hint"), "phone"),
)
# Which answer a refusal of ``ledger.register`` is about, to mark it in red under its box.
FIELD_OF_CODE = {
    "household_id_invalid": "household_id",
    "household_taken": "household_id",
    "head_name_required": "head_name",
    "member_invalid": "members",
    "member_format": "members",
    "household_phone_invalid": "phone",
}
_SPLIT_NUMBER = re.compile(r"^(.*?)(\d+)$")  # XF0017 -> XF, 0017


@dataclass(frozen=True)
class Registered:
    household_id: str
    name: str
    card_no: int


@dataclass(frozen=True)
class CardPrinted:
    household_id: str
    printed: bool
    problem: DeviceFault | None = None


class RegisterPresenter:
    """The answers being typed, checked against the register's rules, and the card printing."""

    def __init__(self, store: LedgerStore, slot: PrinterSlot, clock: Clock = local_now) -> None:
        self.store = store
        self.slot = slot
        self.clock = clock
        self.answers: dict[str, str] = {}

    def own_register(self) -> bool:
        """A standalone shop keeps its own register; a connected one is refused before anything is typed."""
        with self.store.read() as unit:
            return not connected_to_township(unit)

    def start(self) -> None:
        """A blank form with the next free household number of the shop's village."""
        self.answers = {q.name: "" for q in QUESTIONS}
        self.answers["household_id"] = self.next_number()

    def set(self, name: str, value: str) -> None:
        self.answers[name] = value

    def _place(self) -> tuple[str, str]:
        with self.store.read() as unit:
            shop_id = unit.identity().shop_id
            shop = unit.shop(shop_id)
        return (shop.village_id if shop else "", shop_id)

    def next_number(self) -> str:
        """One more than the highest number of the village's households, with their prefix and width
        (XF0200 → XF0201). The prefix is the one most of them carry, which is usually but not always the
        village's number; a village with no households yet starts at its number and 0001."""
        village_id, _shop = self._place()
        numbers: dict[str, list[tuple[int, int]]] = {}  # prefix -> (value, width) of each household
        with self.store.read() as unit:
            for row in unit.households():
                match = _SPLIT_NUMBER.match(row.household.household_id)
                if row.household.village_id == village_id and match:
                    numbers.setdefault(match.group(1), []).append((int(match.group(2)), len(match.group(2))))
        if not numbers:
            return f"{village_id}0001"
        prefix = max(numbers, key=lambda p: (len(numbers[p]), p))
        highest, width = max(numbers[prefix])
        return f"{prefix}{highest + 1:0{width}d}"

    def _input(self) -> HouseholdInput:
        village_id, shop_id = self._place()
        answers = self.answers
        return HouseholdInput(
            household_id=answers.get("household_id", "").strip().upper(),
            village_id=village_id,
            head_name=answers.get("head_name", "").strip(),
            home_shop_id=shop_id,
            members=parse_members(answers.get("members", "")),
            village_group=answers.get("village_group", ""),
            house_no=answers.get("house_no", ""),
            phone=answers.get("phone", ""),
        )

    def problems(self) -> dict[str, LedgerError]:
        """Each wrong answer by the field it is about (a refusal about no one field goes under "")."""
        try:
            given = self._input()
        except LedgerError as bad_members:
            return {"members": bad_members}
        found: dict[str, LedgerError] = {}
        for problem in household_problems(given):
            field = FIELD_OF_CODE.get(problem.code)
            if field is None and problem.code == "household_place_too_long":
                text = str(problem.params.get("text", ""))
                field = "village_group" if given.village_group[:40] == text else "house_no"
            found.setdefault(field or "", problem)
        return found

    def add(self) -> Registered:
        """Store the household with its first card; refuses (the answers kept) with the first problem."""
        found = self.problems()
        if found:
            raise next(iter(found.values()))
        given = self._input()
        card = add_household(self.store, given, self.clock)
        return Registered(given.household_id, given.head_name, card.card_no)

    def print_card(self, household_id: str) -> CardPrinted:
        """Print the household's card on the receipt printer (on a worker); a fault is said, not raised."""
        with self.store.read() as unit:
            household = unit.household(household_id)
            card = unit.active_card(household_id) if household else None
            if household is None or card is None:
                raise LedgerError("household_unknown", household_id=household_id)
            village = unit.village(household.village_id)
            code = make_code(unit.township().passbook_key, household_id, card.card_no)
        try:
            printer = self.slot.get()
            printer.print_passbook_card(  # type: ignore[attr-defined]
                household_id, household.head_name, village.name if village else "", card.card_no, code
            )
        except DeviceFault as fault:
            return CardPrinted(household_id, False, fault)
        return CardPrinted(household_id, True)
