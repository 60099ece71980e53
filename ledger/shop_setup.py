"""A standalone shop's first day: what must be known to start one, checked in one place.

``lovemart init`` asks it at a terminal and the POS asks it by touch when it finds no ledger; both fill a
``ShopSetup``, both are told the same problems (``setup_problems``), and both make the shop the same way
(``create_standalone_shop``). Nothing is written until every answer is right: a half-made shop would hold a
township key nobody has a recovery sheet for.

The problems name the field the way the asker shows it (``name_of``): ``--township-id`` at a terminal,
"乡镇编号" on the screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Operator, Policy, Role, Shop, Township, Village
from ledger.ports import LedgerStore

ID_PATTERN = re.compile(r"^[A-Z0-9]{1,16}$")
NAME_LEN = 100
CYCLES = ("annual", "none")
MAX_POINTS = 100_000  # far above any scheme's base grant or visitor limit: a typo, not a policy

IDS = ("township_id", "village_id", "shop_id", "device", "manager_no")
NAMES = ("township", "village", "shop", "manager")
NUMBERS = ("base_points", "floor", "visitor_limit")


@dataclass(frozen=True)
class ShopSetup:
    """The answers, as typed (ids are upper-cased by ``cleaned``). ``floor`` None: the base points."""

    township: str = ""
    township_id: str = ""
    village: str = ""
    village_id: str = ""
    shop: str = ""
    shop_id: str = ""
    device: str = "P1"
    manager: str = ""
    manager_no: str = "01"
    base_points: int = 100
    floor: int | None = None
    cycle: str = "annual"
    visitor_limit: int = 50

    def cleaned(self) -> ShopSetup:
        """Surrounding spaces gone, ids in capitals (passbook codes and receipt numbers are upper case)."""
        changes: dict[str, object] = {name: str(getattr(self, name)).strip() for name in NAMES}
        changes.update({name: str(getattr(self, name)).strip().upper() for name in IDS})
        return ShopSetup(**{f.name: changes.get(f.name, getattr(self, f.name)) for f in fields(self)})  # type: ignore[arg-type]

    def policy(self) -> Policy:
        return Policy(
            base_points=self.base_points,
            redeemable_floor=self.base_points if self.floor is None else self.floor,
            cycle=self.cycle,
            visitor_limit=self.visitor_limit,
        )


def setup_problems(
    setup: ShopSetup, only: tuple[str, ...] | None = None, name_of: Callable[[str], str] = str
) -> dict[str, LedgerError]:
    """Each wrong answer by field (``only``: these fields, for a screen that asks a few at a time)."""
    wanted = set(only) if only is not None else {f.name for f in fields(setup)}
    problems: dict[str, LedgerError] = {}
    for name in IDS:
        value = str(getattr(setup, name))
        if name in wanted and not ID_PATTERN.match(value):
            problems[name] = LedgerError("init_id", option=name_of(name), value=value)
    for name in NAMES:
        value = str(getattr(setup, name))
        if name in wanted and (not value or len(value) > NAME_LEN or "\x00" in value):
            problems[name] = LedgerError("init_value", option=name_of(name), value=value[:40])
    for name in NUMBERS:
        number = getattr(setup, name)
        if name in wanted and number is not None and not 0 <= number <= MAX_POINTS:
            problems[name] = LedgerError("init_value", option=name_of(name), value=number)
    if "cycle" in wanted and setup.cycle not in CYCLES:
        problems["cycle"] = LedgerError("init_value", option=name_of("cycle"), value=setup.cycle)
    return problems


def create_standalone_shop(store: LedgerStore, setup: ShopSetup, pin: str, key: bytes) -> Operator:
    """Make the empty ledger ``store`` the shop of ``setup``, with its first manager; the manager.

    Refuses (the first problem) before writing anything when an answer or the PIN is wrong."""
    problems = setup_problems(setup)
    if problems:
        raise next(iter(problems.values()))
    services.check_pin_format(pin)
    township = Township(setup.township_id, setup.township, key)
    village = Village(setup.village_id, setup.village)
    shop = Shop(setup.shop_id, setup.shop, village.village_id)
    services.set_up_shop(store, township, village, shop, setup.device, setup.policy())
    return services.add_operator(store, setup.manager_no, setup.manager, Role.MANAGER, pin)
