"""Making a standalone shop in a shop's folder: the ledger, the settings and the key's recovery sheet.

Shared by ``lovemart init`` (answers from the terminal) and the POS's first-run screens (answers by touch):
``ledger.shop_setup`` checks the answers and writes the ledger; this adds what lives beside the ledger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import LedgerError
from ledger.messages import text
from ledger.model import Operator
from ledger.passbook import key_qr_text, key_text
from ledger.shop_setup import ShopSetup, create_standalone_shop
from lovemart.bootstrap import ShopParts

RECOVERY_SHEET = "recovery-sheet.pdf"


@dataclass(frozen=True)
class NewShop:
    setup: ShopSetup
    manager: Operator
    recovery_sheet: Path


def make_shop(home: ShopParts, setup: ShopSetup, pin: str, key: bytes | None = None) -> NewShop:
    """A new standalone shop in ``home`` (refused, changing nothing, when the folder has a ledger or an
    answer is wrong). ``key``: the township key off a recovery sheet; None makes a new one."""
    if home.exists:
        raise LedgerError("init_ledger_exists", path=str(home.settings.ledger_path))
    from ledger import services
    from ledger.shop_setup import setup_problems

    setup = setup.cleaned()
    problems = setup_problems(setup)
    if problems:
        raise next(iter(problems.values()))
    services.check_pin_format(pin)  # said before the ledger file exists, not after
    key = key if key is not None else secrets.token_bytes(32)
    manager = create_standalone_shop(home.store(create=True), setup, pin, key)
    from lovemart import settings as settings_mod

    settings_mod.update(home.settings, {"shop": {"id": setup.shop_id, "device": setup.device}})
    return NewShop(setup, manager, write_recovery_sheet(home, setup, key))


def write_recovery_sheet(home: ShopParts, setup: ShopSetup, key: bytes) -> Path:
    """``recovery-sheet.pdf``: the key as a QR code and as text, readable by this user only (it forges
    passbooks, like the ledger it sits beside)."""
    from hardware.documents import recovery_sheet_pdf
    from lovemart.wiring import PRIVATE_FILE, replace_file

    lines = [
        text("cli.init.sheet_what", "zh", township=setup.township, township_id=setup.township_id),
        text("cli.init.sheet_shop", "zh", village=setup.village, shop=setup.shop, shop_id=setup.shop_id),
        text("cli.init.sheet_keep", "zh"),
        text("cli.init.sheet_use", "zh"),
    ]
    pdf = recovery_sheet_pdf(
        text("cli.init.sheet_title", "zh"), lines, key_qr_text(setup.township_id, key), key_text(key)
    )
    path = home.home / RECOVERY_SHEET
    replace_file(path, pdf, PRIVATE_FILE)
    return path
