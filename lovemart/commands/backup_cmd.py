"""``lovemart backup`` and ``lovemart restore``: the shop's copies of its ledger (``lovemart.backups``).

``restore`` says before it acts what it will do and asks (``--yes`` for scripts); afterwards it says what
happens next in plain words: the old ledger kept aside, and for a backup older than the township's
acknowledgement, the sales taken back from the township (``--resync``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.messages import text
from lovemart.bootstrap import ShopParts
from lovemart.commands.apps import confirmed

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands


def cmd_backup(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.backups import backup_if_due, take_backup

    lang = args.out.lang
    now = home.clock()
    home.close()  # the copy reads the file itself; nothing of ours holds it meanwhile
    if args.if_due and args.to is None:
        taken = backup_if_due(home.settings, now)
        if taken is None:
            args.out.result({"taken": False}, [text("cli.backup.not_due", lang)])
            return 0
    else:
        taken = take_backup(home.settings, now, extra=Path(args.to).expanduser() if args.to else None)
    lines = [text("cli.backup.done", lang, path=str(taken.path))]
    lines += [text("cli.backup.copied", lang, path=str(p)) for p in taken.usb]
    lines += [text("cli.backup.usb_failed", lang, detail=d) for d in taken.usb_problems]
    args.out.result(
        {
            "taken": True,
            "path": str(taken.path),
            "copies": [str(p) for p in taken.usb],
            "removed": list(taken.removed),
            "problems": list(taken.usb_problems),
        },
        lines,
    )
    return 0


def cmd_restore(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.backups import restore

    lang = args.out.lang
    source = Path(args.file).expanduser()
    if not args.yes and not confirmed(text("cli.restore.question", lang, path=str(source))):
        raise LedgerError("not_confirmed")
    with home.pos_lock():  # no till may sell from the ledger while it is replaced
        home.close()
        restored = restore(home.settings, source, home.clock(), allow_older=args.resync)
        lines = [text("cli.restore.done", lang, path=str(source), transactions=restored.transactions)]
        if restored.kept_aside is not None:
            lines.append(text("cli.restore.kept_aside", lang, path=str(restored.kept_aside)))
        recovered = 0
        if restored.needs_resync:
            recovered = _take_back_from_township(home)
            lines.append(text("cli.restore.recovered", lang, count=recovered))
        elif restored.township_acked:
            lines.append(text("cli.restore.sync_next", lang))
    args.out.result(
        {
            "restored": str(source),
            "transactions": restored.transactions,
            "kept_aside": str(restored.kept_aside) if restored.kept_aside else None,
            "own_head": restored.own_head,
            "township_acked": restored.township_acked,
            "recovered": recovered,
        },
        lines,
    )
    return 0


def _take_back_from_township(home: ShopParts) -> int:
    """The PC's own sales the township holds and the backup lacks, then a normal sync."""
    from lovemart.sync_wiring import build_client

    client = build_client(home.settings, home.store)
    try:
        recovered = client.recover_own()
        client.sync()
        return recovered
    finally:
        client.close()


def register(commands: Subcommands, add: AddCommand) -> None:
    p = add(commands, "backup", cmd_backup, "copy the ledger into backups/ (and onto a USB stick), kept in rotation")
    p.add_argument("--to", metavar="DIR", default=None, help="also write the copy into DIR")
    p.add_argument("--if-due", action="store_true", help="only when the newest copy is a day old (for timers)")
    p = add(commands, "restore", cmd_restore, "put a backup in place of the ledger (the current one is kept aside)")
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--resync",
        action="store_true",
        help="the backup is older than what the township has: take this PC's missing sales back from it",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for a confirmation")
