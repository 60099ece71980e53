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
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger import services
from ledger.errors import LedgerError
from ledger.messages import N_, text
from ledger.model import Policy, Role, Shop, Township, Village
from ledger.passbook import key_of_text, key_qr_text, key_text
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands

RECOVERY_SHEET = "recovery-sheet.pdf"
_ID = re.compile(r"^[A-Z0-9]{1,16}$")


@dataclass(frozen=True)
class _Question:
    option: str  # the argparse destination
    prompt: str  # message key
    is_id: bool = False


QUESTIONS = (
    _Question("township", N_("cli.init.ask_township")),
    _Question("township_id", N_("cli.init.ask_township_id"), True),
    _Question("village", N_("cli.init.ask_village")),
    _Question("village_id", N_("cli.init.ask_village_id"), True),
    _Question("shop", N_("cli.init.ask_shop")),
    _Question("shop_id", N_("cli.init.ask_shop_id"), True),
    _Question("manager", N_("cli.init.ask_manager")),
)


def cmd_init(args: argparse.Namespace, home: ShopParts) -> int:
    lang = args.out.lang
    if home.exists:
        raise LedgerError("init_ledger_exists", path=str(home.settings.ledger_path))
    answers = {q.option: _answer(args, q, lang) for q in QUESTIONS}
    for option in ("base_points", "floor", "visitor_limit"):
        if (getattr(args, option) or 0) < 0:
            raise LedgerError("init_value", option="--" + option.replace("_", "-"), value=getattr(args, option))
    key = _key(args, lang)
    from lovemart.commands.apps import ask_new_pin

    pin = ask_new_pin(lang)
    services.check_pin_format(pin)  # said before anything is made, not after
    policy = Policy(
        base_points=args.base_points,
        redeemable_floor=args.base_points if args.floor is None else args.floor,
        cycle=args.cycle,
        visitor_limit=args.visitor_limit,
    )
    township = Township(answers["township_id"], answers["township"], key)
    village = Village(answers["village_id"], answers["village"])
    shop = Shop(answers["shop_id"], answers["shop"], village.village_id)
    store = home.store(create=True)
    services.set_up_shop(store, township, village, shop, args.device, policy)
    manager = services.add_operator(store, args.manager_no, answers["manager"], Role.MANAGER, pin)
    from lovemart import settings as settings_mod

    settings_mod.update(home.settings, {"shop": {"id": shop.shop_id, "device": args.device}})
    sheet = _recovery_sheet(home, township, village, shop, lang)
    lines = [
        text("cli.init.done", lang, shop=shop.name, shop_id=shop.shop_id, village=village.name),
        text("cli.init.manager", lang, name=manager.name, operator=manager.operator_id),
        text("cli.init.sheet", lang, path=str(sheet)),
        text("cli.init.next", lang),
    ]
    args.out.result(
        {
            "shop_id": shop.shop_id,
            "device_id": args.device,
            "township_id": township.township_id,
            "village_id": village.village_id,
            "manager": manager.operator_id,
            "recovery_sheet": str(sheet),
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


def _answer(args: argparse.Namespace, question: _Question, lang: str) -> str:
    """The option's value, else asked at a terminal; a script without it is refused, naming the option."""
    value: str | None = getattr(args, question.option)
    if value is None:
        if not sys.stdin.isatty():
            raise LedgerError("init_missing", option="--" + question.option.replace("_", "-"))
        sys.stderr.write(text(question.prompt, lang) + " ")
        sys.stderr.flush()
        value = sys.stdin.readline()
    value = value.strip()
    if question.is_id:
        value = value.upper()
        if not _ID.match(value):
            raise LedgerError("init_id", option="--" + question.option.replace("_", "-"), value=value)
    elif not value or len(value) > 100:
        raise LedgerError("init_value", option="--" + question.option.replace("_", "-"), value=value)
    return value


def _key(args: argparse.Namespace, lang: str) -> bytes:
    """A new township key, or (``--recovery-key``) the one typed off the recovery sheet, asked hidden."""
    if not args.recovery_key:
        return secrets.token_bytes(32)
    from lovemart.commands.apps import ask_secret

    return key_of_text(ask_secret(text("cli.init.ask_key", lang)))


def _recovery_sheet(home: ShopParts, township: Township, village: Village, shop: Shop, lang: str) -> Path:
    from hardware.documents import recovery_sheet_pdf
    from lovemart.wiring import PRIVATE_FILE, replace_file

    lines = [
        text("cli.init.sheet_what", "zh", township=township.name, township_id=township.township_id),
        text("cli.init.sheet_shop", "zh", village=village.name, shop=shop.name, shop_id=shop.shop_id),
        text("cli.init.sheet_keep", "zh"),
        text("cli.init.sheet_use", "zh"),
    ]
    pdf = recovery_sheet_pdf(
        text("cli.init.sheet_title", "zh"),
        lines,
        key_qr_text(township.township_id, township.passbook_key),
        key_text(township.passbook_key),
    )
    path = home.home / RECOVERY_SHEET
    replace_file(path, pdf, PRIVATE_FILE)  # the key forges passbooks: this user's only, like the ledger
    return path


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
