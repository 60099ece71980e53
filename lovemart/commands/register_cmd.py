"""``lovemart households add|edit|import``: a standalone shop's own household register (``ledger.register``).

A shop connected to a township is refused (``register_township_owned``): the township keeps its register and
sends it with every sync. Each household added gets passbook card 1; its code is printed, and
``lovemart passbook cards --household ID`` prints the card.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ledger import register as households_register
from ledger.errors import LedgerError
from ledger.messages import text
from ledger.passbook import make_code
from ledger.register import HouseholdInput, parse_members
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands


def _place(home: ShopParts) -> tuple[str, str]:
    """(village, shop) of this shop: a standalone shop's households are all its own village's."""
    with home.store().read() as unit:
        identity = unit.identity()
        shop = unit.shop(identity.shop_id)
    if shop is None:
        raise LedgerError("not_configured")
    return shop.village_id, shop.shop_id


def cmd_households_add(args: argparse.Namespace, home: ShopParts) -> int:
    village_id, shop_id = _place(home)
    given = HouseholdInput(
        args.household_id.strip().upper(),
        village_id,
        args.head,
        shop_id,
        parse_members(args.members or ""),
        args.group or "",
        args.house_no or "",
        args.phone or "",
    )
    card = households_register.add_household(home.store(), given, home.clock)
    with home.store().read() as unit:
        code = make_code(unit.township().passbook_key, card.household_id, card.card_no)
    args.out.result(
        {"household_id": card.household_id, "card_no": card.card_no, "passbook": code},
        [text("cli.households.added", args.out.lang, household_id=card.household_id, name=given.head_name.strip())],
    )
    return 0


def cmd_households_edit(args: argparse.Namespace, home: ShopParts) -> int:
    household_id = args.household_id.strip().upper()
    with home.store().read() as unit:
        existing = unit.household(household_id)
    if existing is None:
        raise LedgerError("household_unknown", household_id=household_id)
    given = HouseholdInput(  # only what was given changes
        household_id,
        existing.village_id,
        args.head if args.head is not None else existing.head_name,
        existing.home_shop_id,
        parse_members(args.members) if args.members is not None else existing.members,
        args.group if args.group is not None else existing.village_group,
        args.house_no if args.house_no is not None else existing.house_no,
        args.phone if args.phone is not None else existing.phone,
    )
    household = households_register.edit_household(home.store(), given)
    args.out.result(
        {"household_id": household.household_id, "name": household.head_name},
        [text("cli.households.changed", args.out.lang, household_id=household.household_id, name=household.head_name)],
    )
    return 0


def cmd_households_import(args: argparse.Namespace, home: ShopParts) -> int:
    done = households_register.import_register(home.store(), Path(args.file).expanduser(), home.clock)
    args.out.result(
        {"created": list(done.created), "updated": list(done.updated)},
        [text("cli.households.imported", args.out.lang, created=len(done.created), updated=len(done.updated))],
    )
    return 0


def register(households: Subcommands, add: AddCommand) -> None:
    """``households add|edit|import`` beside ``households list``."""
    p = add(households, "add", cmd_households_add, "add a household of this shop's village (standalone shops)")
    p.add_argument("household_id", help="its number, e.g. XF0031")
    p.add_argument("--head", required=True, help="the head of the household (户主)")
    _place_options(p)
    p = add(households, "edit", cmd_households_edit, "change a household's head, members, group, house number or phone")
    p.add_argument("household_id")
    p.add_argument("--head", default=None)
    _place_options(p)
    p = add(households, "import", cmd_households_import, "add or update households from a register (.xlsx/.csv)")
    p.add_argument("file", metavar="FILE.xlsx")


def _place_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--members", default=None, help='the others, e.g. "李四(配偶)、王五(儿子)"')
    p.add_argument("--group", default=None, help="the village group (村民小组), e.g. 3组")
    p.add_argument("--house-no", default=None, help="the house number (门牌号)")
    p.add_argument(
        "--phone", default=None, help='a phone number to call the household on (联系电话), e.g. "138 1234 5678"'
    )
