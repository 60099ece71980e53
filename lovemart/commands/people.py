"""``lovemart central user ...``: the people who sign in to the township console, on the central database.

These work on the database directly (like ``central init``), so the first administrator can be made before
anyone can sign in; afterwards people are managed in the console. Passwords are asked twice, hidden (or
read from standard input by a script), never taken as an argument.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ledger.access import ConsoleRole, Grant
from ledger.messages import N_, Message, text
from lovemart.bootstrap import ShopParts
from lovemart.commands.apps import ask_secret
from lovemart.commands.central import CentralRefusal, database_option, open_record

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands


# ``Grant.problem`` codes, said as cli.user.<code>
GRANT_PROBLEMS = (N_("cli.user.village_needed"), N_("cli.user.shop_needed"), N_("cli.user.no_scope_for_role"))


def _grants(args: argparse.Namespace) -> list[Grant]:
    role = ConsoleRole(args.role)
    villages = [v.strip().upper() for v in args.village or []]
    shops = [s.strip().upper() for s in args.shop or []]
    if villages:
        return [Grant(role, village_id=v) for v in villages]
    if shops:
        return [Grant(role, shop_id=s) for s in shops]
    return [Grant(role)]


def _ask_password(lang: str) -> str:
    from sync.errors import SyncError

    password = ask_secret(text("cli.user.ask_password", lang))
    if sys.stdin.isatty() and ask_secret(text("cli.ask_again", lang)) != password:
        raise CentralRefusal.of(SyncError("passwords_differ"))
    return password


def cmd_user_add(args: argparse.Namespace, home: ShopParts) -> int:
    from sync.errors import SyncError
    from sync.server.people import SYSTEM, Actor, People, clean_name
    from sync.server.record import FIRST_ADMIN

    lang = args.out.lang
    grants = _grants(args)
    for grant in grants:
        if (problem := grant.problem()) is not None:
            raise CentralRefusal("user_grant", Message("cli.user." + problem, role=grant.role.value))
    record = open_record(args, home)
    try:
        people = People(record)
        try:
            name = clean_name(args.name)
            if people.user_named(name) is not None:
                raise SyncError("user_exists", name=name)
            password = _ask_password(lang)
            admin = people.user_named(FIRST_ADMIN)
            actor = Actor.command_line(admin.person if admin else SYSTEM)
            user = people.add_user(actor, name, args.full_name or name, password, grants)
        except SyncError as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    roles = ", ".join(_grant_text(g) for g in user.grants)
    args.out.result(
        {"user_id": user.user_id, "name": user.name, "roles": [_grant_json(g) for g in user.grants]},
        [text("cli.user.added", lang, name=user.name, roles=roles)],
    )
    return 0


def cmd_user_list(args: argparse.Namespace, home: ShopParts) -> int:
    from sync.server.people import People

    record = open_record(args, home)
    try:
        users = People(record).users()
    finally:
        record.close()
    lang = args.out.lang
    lines = [
        text(
            "cli.user.line",
            lang,
            name=u.name,
            full_name=u.full_name,
            roles=", ".join(_grant_text(g) for g in u.grants) or "-",
            state=text("cli.user.active" if u.active else "cli.user.inactive", lang),
        )
        for u in users
    ]
    data = {
        "users": [
            {
                "user_id": u.user_id,
                "name": u.name,
                "full_name": u.full_name,
                "active": u.active,
                "roles": [_grant_json(g) for g in u.grants],
            }
            for u in users
        ]
    }
    args.out.result(data, lines or [text("cli.user.none", lang)])
    return 0


def cmd_user_password(args: argparse.Namespace, home: ShopParts) -> int:
    """A new password for a user (and every session of theirs ends): the way back in for an administrator
    who forgot theirs, for whoever can reach the central database."""
    from sync.errors import SyncError
    from sync.server.people import Actor, People

    lang = args.out.lang
    record = open_record(args, home)
    try:
        people = People(record)
        try:
            user = people.user_named(args.name)
            if user is None:
                raise SyncError("not_found", what=f"user {args.name}")
            password = _ask_password(lang)
            people.set_password(Actor.command_line(user.person), user.user_id, password)
        except SyncError as error:
            raise CentralRefusal.of(error) from error
    finally:
        record.close()
    args.out.result({"name": user.name, "password_set": True}, [text("cli.user.password_set", lang, name=user.name)])
    return 0


def _grant_text(grant: Grant) -> str:
    where = grant.village_id or grant.shop_id
    return f"{grant.role.value}@{where}" if where else grant.role.value


def _grant_json(grant: Grant) -> dict[str, str | None]:
    return {"role": grant.role.value, "village_id": grant.village_id, "shop_id": grant.shop_id}


def register(central: Subcommands, add: AddCommand) -> None:
    """``lovemart central user add|list|password``."""
    parser = central.add_parser(
        "user", help="people who sign in to the township console", description="people who sign in to the console"
    )
    users = parser.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    p = add(users, "add", cmd_user_add, "add a person with a role (the password is asked twice, never an argument)")
    database_option(p)
    p.add_argument("name", help="the user name they sign in with (letters, digits, '.', '_', '-')")
    p.add_argument("--role", required=True, choices=[r.value for r in ConsoleRole])
    p.add_argument("--village", action="append", metavar="V", help="clerk or reviewer: their village (repeatable)")
    p.add_argument("--shop", action="append", metavar="S", help="shop manager: their shop (repeatable)")
    p.add_argument("--full-name", default=None, help="the name shown in the console and the activity log")
    p = add(users, "list", cmd_user_list, "people, their roles and whether they may sign in")
    database_option(p)
    p = add(users, "password", cmd_user_password, "set a new password (asked twice); their sessions end")
    database_option(p)
    p.add_argument("name")
