"""The POS's first run: a new standalone shop set up by touch, page by page (no Kivy here).

What ``lovemart init`` asks at a terminal, asked on three pages: where the shop is (township, village, shop,
with their numbers), the points rules, and the first manager with a PIN typed twice. Each page is checked
before the next one opens (``ledger.shop_setup.setup_problems``, the same rules as ``init``), and nothing is
written until the last page: then ``make_shop`` (handed in by ``lovemart``, which knows the shop's folder)
makes the ledger, the settings and the key's recovery sheet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.services import check_pin_format
from ledger.shop_setup import NUMBERS, ShopSetup, setup_problems
from pos.presenters.common import Question

PAGES: tuple[tuple[Question, ...], ...] = (
    (
        Question("township", N_("pos.setup.township"), N_("pos.setup.township_hint")),
        Question("township_id", N_("pos.setup.township_id"), N_("pos.setup.township_id_hint"), "id"),
        Question("village", N_("pos.setup.village"), N_("pos.setup.village_hint")),
        Question("village_id", N_("pos.setup.village_id"), N_("pos.setup.village_id_hint"), "id"),
        Question("shop", N_("pos.setup.shop"), N_("pos.setup.shop_hint")),
        Question("shop_id", N_("pos.setup.shop_id"), N_("pos.setup.shop_id_hint"), "id"),
    ),
    (
        Question("base_points", N_("pos.setup.base_points"), N_("pos.setup.base_points_hint"), "number"),
        Question("floor", N_("pos.setup.floor"), N_("pos.setup.floor_hint"), "number"),
        Question(
            "cycle",
            N_("pos.setup.cycle"),
            N_("pos.setup.cycle_hint"),
            "choice",
            (("annual", N_("pos.setup.cycle_annual")), ("none", N_("pos.setup.cycle_none"))),
        ),
        Question("visitor_limit", N_("pos.setup.visitor_limit"), N_("pos.setup.visitor_limit_hint"), "number"),
    ),
    (
        Question("manager", N_("pos.setup.manager"), N_("pos.setup.manager_hint")),
        Question("manager_no", N_("pos.setup.manager_no"), N_("pos.setup.manager_no_hint"), "id"),
    ),
)
PAGE_TITLES = (N_("pos.setup.page_place"), N_("pos.setup.page_rules"), N_("pos.setup.page_manager"))
LABELS = {f.name: f.label for page in PAGES for f in page}


@dataclass(frozen=True)
class ShopMade:
    """What the shopkeeper is told once the shop exists."""

    shop: str
    shop_id: str
    manager: str
    operator_id: str
    recovery_sheet: str


MakeShop = Callable[[ShopSetup, str], ShopMade]


class FirstRunPresenter:
    """The answers so far and the page on show. ``label`` turns a message key into the screen's words (for
    problems that name their field)."""

    def __init__(self, make_shop: MakeShop, label: Callable[[str], str] = str) -> None:
        self._make_shop = make_shop
        self.label = label
        self.answers: dict[str, str] = {
            "base_points": "100",
            "floor": "",
            "cycle": "annual",
            "visitor_limit": "50",
            "manager_no": "01",
        }
        self.page = 0
        self.made: ShopMade | None = None

    @property
    def fields(self) -> tuple[Question, ...]:
        return PAGES[self.page]

    @property
    def last_page(self) -> bool:
        return self.page == len(PAGES) - 1

    def set(self, name: str, value: str) -> None:
        self.answers[name] = value

    def setup(self) -> ShopSetup:
        """The answers as a ``ShopSetup``; a number that is not a whole number stays visible as a problem
        (-1 is never a valid answer, so ``setup_problems`` names it)."""
        values: dict[str, object] = {}
        for name, given in self.answers.items():
            if name in NUMBERS:
                text = given.strip()
                if name == "floor" and not text:
                    values[name] = None  # blank: as many as the base points
                else:
                    values[name] = int(text) if text.isascii() and text.isdigit() else -1
            else:
                values[name] = given
        return replace(ShopSetup(), **values).cleaned()  # type: ignore[arg-type]

    def next(self) -> dict[str, LedgerError]:
        """Go to the next page when this one is right; else the problems, by field (the page stays)."""
        names = tuple(f.name for f in self.fields)
        found = setup_problems(self.setup(), only=names, name_of=lambda n: self.label(LABELS[n]))
        for name in names:
            typed = self.answers.get(name, "").strip()
            if name in found and name in NUMBERS:
                # the message names what was typed ("十"), not the -1 it was read as
                found[name] = LedgerError("init_value", option=self.label(LABELS[name]), value=typed[:40])
        if not found:
            self.page = min(self.page + 1, len(PAGES) - 1)
        return found

    def back(self) -> None:
        self.page = max(self.page - 1, 0)

    def finish(self, pin: str, pin_again: str) -> ShopMade:
        """Make the shop (the last page's answers and the PIN typed twice). Refuses with the first problem,
        changing nothing."""
        found = self.next()
        if found:
            raise next(iter(found.values()))
        check_pin_format(pin)
        if pin != pin_again:
            raise LedgerError("pin_mismatch")
        self.made = self._make_shop(self.setup(), pin)
        return self.made
