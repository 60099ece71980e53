"""``lovemart init``: a real standalone shop, without a demo and without a township server.

It asks (or takes as options) the township, village and shop with their numbers, the points rules, and the
first manager; the manager's PIN is asked twice and never taken as an argument. It makes the township's
passbook key, which every passbook code is checked with, and writes ``recovery-sheet.pdf``: the key as a QR
code and as text, to print and lock away. With the sheet and a backup the shop can always be rebuilt; with
the sheet alone (``--recovery-key``), a new ledger still accepts the village's existing passbooks.

A folder that already has a ledger is refused: ``init`` never overwrites a shop.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError
from ledger.messages import N_, text
from ledger.passbook import key_of_text
from ledger.shop_setup import ShopSetup, setup_problems
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands


@dataclass(frozen=True)
class _Question:
    option: str  # the argparse destination, and the ``ShopSetup`` field
    prompt: str  # message key


QUESTIONS = (
    _Question("township", N_("cli.init.ask_township")),
    _Question("township_id", N_("cli.init.ask_township_id")),
    _Question("village", N_("cli.init.ask_village")),
    _Question("village_id", N_("cli.init.ask_village_id")),
    _Question("shop", N_("cli.init.ask_shop")),
    _Question("shop_id", N_("cli.init.ask_shop_id")),
    _Question("manager", N_("cli.init.ask_manager")),
)


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


def cmd_init(args: argparse.Namespace, home: ShopParts) -> int:
    lang = args.out.lang
    if home.exists:
        raise LedgerError("init_ledger_exists", path=str(home.settings.ledger_path))
    numbers = {n: getattr(args, n) for n in ("base_points", "floor", "visitor_limit", "cycle")}
    setup = ShopSetup(device=args.device, manager_no=args.manager_no, **numbers)  # type: ignore[arg-type]
    for question in QUESTIONS:  # each answer checked as it is given, not after the last one
        setup = _answer(args, question, setup, lang)
    problems = setup_problems(setup.cleaned(), name_of=_option)
    if problems:
        raise next(iter(problems.values()))
    key = _key(args, lang)
    from lovemart.commands.apps import ask_new_pin
    from lovemart.first_run import make_shop

    made = make_shop(home, setup, ask_new_pin(lang), key)
    setup, policy = made.setup, made.setup.policy()
    lines = [
        text("cli.init.done", lang, shop=setup.shop, shop_id=setup.shop_id, village=setup.village),
        text("cli.init.manager", lang, name=made.manager.name, operator=made.manager.operator_id),
        text("cli.init.sheet", lang, path=str(made.recovery_sheet)),
        text("cli.init.next", lang),
    ]
    args.out.result(
        {
            "shop_id": setup.shop_id,
            "device_id": setup.device,
            "township_id": setup.township_id,
            "village_id": setup.village_id,
            "manager": made.manager.operator_id,
            "recovery_sheet": str(made.recovery_sheet),
            "policy": {
                "base_points": policy.base_points,
                "redeemable_floor": policy.redeemable_floor,
                "cycle": policy.cycle,
                "visitor_limit": policy.visitor_limit,
            },
        },
        lines,
    )
    return 0


def _answer(args: argparse.Namespace, question: _Question, setup: ShopSetup, lang: str) -> ShopSetup:
    """``setup`` with the option's value, else the answer asked at a terminal; a script without it is
    refused, naming the option."""
    from dataclasses import replace

    value: str | None = getattr(args, question.option)
    if value is None:
        if not sys.stdin.isatty():
            raise LedgerError("init_missing", option=_option(question.option))
        sys.stderr.write(text(question.prompt, lang) + " ")
        sys.stderr.flush()
        value = sys.stdin.readline()
    answer: dict[str, Any] = {question.option: value}
    setup = replace(setup, **answer).cleaned()
    problems = setup_problems(setup, only=(question.option,), name_of=_option)
    if problems:
        raise problems[question.option]
    return setup


def _key(args: argparse.Namespace, lang: str) -> bytes | None:
    """None (``make_shop`` makes a new key), or (``--recovery-key``) the one typed off the recovery sheet,
    asked hidden."""
    if not args.recovery_key:
        return None
    from lovemart.commands.apps import ask_secret

    return key_of_text(ask_secret(text("cli.init.ask_key", lang)))


def register(commands: Subcommands, add: AddCommand) -> None:
    p = add(
        commands,
        "init",
        cmd_init,
        "create a standalone shop (no township server): names, points rules, the first manager, the key's "
        "recovery sheet",
    )
    p.add_argument("--township", default=None, help="the township's name, e.g. 红星镇 (asked when left out)")
    p.add_argument("--township-id", default=None, help="its short number, e.g. T01")
    p.add_argument("--village", default=None, help="the village's name, e.g. 幸福村")
    p.add_argument("--village-id", default=None, help="its short number, the start of household numbers, e.g. XF")
    p.add_argument("--shop", default=None, help="the shop's name, e.g. 幸福村爱心超市")
    p.add_argument("--shop-id", default=None, help="its short number, e.g. S01")
    p.add_argument("--device", default="P1", help="this PC's number (default P1)")
    p.add_argument("--manager", default=None, help="the first manager's name (the PIN is asked twice)")
    p.add_argument("--manager-no", default="01", help="the manager's number (default 01)")
    p.add_argument("--base-points", type=int, default=100, help="points every household gets a cycle (default 100)")
    p.add_argument("--floor", type=int, default=None, help="points that cannot be spent (default: the base points)")
    p.add_argument("--cycle", choices=["annual", "none"], default="annual", help="points restart yearly, or never")
    p.add_argument(
        "--visitor-limit", type=int, default=50, help="most a household may spend away from its home shop (50)"
    )
    p.add_argument(
        "--recovery-key",
        action="store_true",
        help="use the key from an earlier recovery sheet (asked for), so existing passbooks keep working",
    )
