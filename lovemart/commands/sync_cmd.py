"""Commands for sync with the township's central record: ``lovemart sync`` and ``lovemart provision``.

Progress goes to stderr for the person watching (or the systemd journal); stdout carries only the
result, one JSON object with ``--json``. A refusal or an unreachable server is exit status 1 with the
reason: nothing is lost locally, and the next sync starts from where this one stopped.

The sync client (and httpx) are imported inside the handlers, so other commands never load them.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.messages import text
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands
    from sync.client import Progress

Handler = Callable[[argparse.Namespace, ShopParts], int]


def refusing(handler: Handler) -> Handler:
    """Turn sync refusals into exit status 1 with the message, as ``main`` does for ledger refusals."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, home: ShopParts) -> int:
        from lovemart.sync_wiring import SetupRefused
        from sync.errors import SyncError

        try:
            return handler(args, home)
        except (SyncError, SetupRefused) as error:
            args.out.refusal(error)
            return 1

    return run


def _progress(lang: str) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        print(progress.message(lang), file=sys.stderr, flush=True)

    return show


# ----- lovemart sync ----------------------------------------------------------------------------------


@refusing
def cmd_sync(args: argparse.Namespace, home: ShopParts) -> int:
    if args.export:
        return _export(args, home)
    if args.import_file:
        return _import(args, home)
    from lovemart.sync_wiring import build_client, run_sync, server_url

    lang = args.out.lang
    _warn_plain_http(args, home, server_url(home.settings, home.store))
    client = build_client(home.settings, home.store, progress=_progress(lang))
    try:
        summary = run_sync(client, home.settings, home.store)
    finally:
        client.close()
        _daily_backup(home, lang)
    lines = [
        text("cli.sync.done", lang, pushed=summary.pushed, pulled=summary.pulled, acked_through=summary.acked_through)
    ]
    if summary.exceptions:
        lines.append(text("cli.sync.exceptions", lang, exceptions=summary.exceptions))
    if summary.corrected:
        lines.append(text("cli.sync.corrected", lang, corrected=summary.corrected))
    args.out.result(summary.as_dict(), lines)
    return 0


def _daily_backup(home: ShopParts, lang: str) -> None:
    """The nightly sync job also keeps the daily backup, whether the sync went through or not (a shop with
    its network down needs its copy most). A failed backup is said, never the sync's failure."""
    from lovemart.backups import backup_if_due

    try:
        taken = backup_if_due(home.settings, home.clock())
    except LedgerError as failure:
        print(failure.message(lang), file=sys.stderr)
        return
    if taken is not None:
        print(text("cli.backup.done", lang, path=str(taken.path)), file=sys.stderr)


def _token(home: ShopParts) -> str:
    from lovemart.sync_wiring import read_device_token
    from sync.errors import SyncError

    token = read_device_token(home.home)
    if token is None:
        raise SyncError("not_provisioned")
    return token


def _export(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.commands.devices import write_atomically
    from lovemart.sync_wiring import read_bundle_key
    from sync.bundle import export_bundle

    export = export_bundle(home.store(), _token(home), key=read_bundle_key(home.home))
    path = Path(args.export).expanduser()
    write_atomically(path, export.body)
    lang = args.out.lang
    lines = [text("cli.sync.exported", lang, path=str(path), txns=export.txns)]
    if export.remaining:
        lines.append(text("cli.sync.export_remaining", lang, remaining=export.remaining))
    args.out.result(
        {
            "file": str(path),
            "txns": export.txns,
            "first_seq": export.first_seq,
            "last_seq": export.last_seq,
            "remaining": export.remaining,
            "cursor": export.cursor,
        },
        lines,
    )
    return 0


def _import(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.sync_wiring import read_bundle_key
    from sync.bundle import import_reply
    from sync.errors import SyncError

    path = Path(args.import_file).expanduser()
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise SyncError("bundle_invalid", detail=f"{path}: {exc.strerror or exc}") from exc
    imported = import_reply(home.store(), _token(home), body, key=read_bundle_key(home.home))
    lang = args.out.lang
    lines = [text("cli.sync.imported", lang, acked_through=imported.acked_through, pulled=imported.pulled)]
    if imported.more:
        lines.append(text("cli.sync.import_more", lang))
    args.out.result({"file": str(path), **imported.as_dict()}, lines)
    return 0


def _warn_plain_http(args: argparse.Namespace, home: ShopParts, url: str | None) -> None:
    """Say on stderr that the server is reached unencrypted, when the shop's settings allow that at all
    (otherwise the client refuses it with ``plain_http_refused``)."""
    from lovemart.sync_wiring import plain_http_warning

    warning = plain_http_warning(home.settings, url)
    if warning:
        print(warning.message(args.out.lang), file=sys.stderr, flush=True)


# ----- lovemart provision -----------------------------------------------------------------------------


@refusing
def cmd_provision(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart.sync_wiring import provision

    lang = args.out.lang
    _warn_plain_http(args, home, args.server.strip())
    token = args.token
    if not token:  # asked for, so that it is not in ps or the shell's history while it is still unspent
        from lovemart.commands.apps import ask_secret

        token = ask_secret(text("cli.provision.ask_token", lang))
    shop_id, device_id, summary = provision(home.settings, home.store, args.server, token, progress=_progress(lang))
    lines = [text("cli.provision.done", lang, shop_id=shop_id, device_id=device_id, pulled=summary.pulled)]
    manager = _first_manager(args, home, lang)
    if manager is not None:
        lines.append(text("cli.provision.manager", lang, name=manager[1], operator=manager[0]))
    elif not _operators(home):
        lines.append(text("cli.provision.no_manager", lang))
    args.out.result(
        {
            "shop_id": shop_id,
            "device_id": device_id,
            "pulled": summary.pulled,
            "cursor": summary.cursor,
            "manager": manager[0] if manager else None,
        },
        lines,
    )
    return 0


def _operators(home: ShopParts) -> list[str]:
    with home.store().read() as unit:
        return [o.operator_id for o in unit.operators() if o.active]


def _first_manager(args: argparse.Namespace, home: ShopParts, lang: str) -> tuple[str, str] | None:
    """A provisioned PC with nobody to open its till gets its first manager: ``--manager NAME`` (a script,
    the PIN read from standard input), or asked at a terminal. None when the shop has operators already, or
    nobody is there to ask (said in the result, with the command to add one)."""
    if _operators(home):
        return None
    name = args.manager
    if name is None:
        if not sys.stdin.isatty():
            return None
        sys.stderr.write(text("cli.init.ask_manager", lang) + " ")
        sys.stderr.flush()
        name = sys.stdin.readline().strip()
    from ledger import services
    from ledger.model import Role
    from lovemart.commands.apps import ask_new_pin

    operator = services.add_operator(home.store(), args.manager_no, name, Role.MANAGER, ask_new_pin(lang))
    return operator.operator_id, operator.name


def register(commands: Subcommands, add: AddCommand) -> None:
    """Add ``sync`` and ``provision`` to the top-level commands (``add`` is the cli's helper)."""
    p = add(commands, "sync", cmd_sync, "push this shop's transactions to the township and pull its changes")
    exchange = p.add_mutually_exclusive_group()
    exchange.add_argument("--export", metavar="FILE", help="write a signed sync file for a USB stick instead")
    exchange.add_argument(
        "--import", dest="import_file", metavar="FILE", help="load the township's signed reply file instead"
    )
    p = add(commands, "provision", cmd_provision, "set up this PC as a shop device from the township's server")
    p.add_argument("--server", required=True, metavar="URL", help="the central record, e.g. https://lovemart.example")
    p.add_argument(
        "--token",
        default=None,
        metavar="ENROL",
        help="the one-use enrolment code from the township (asked for when left out)",
    )
    p.add_argument("--manager", default=None, help="the first manager's name (asked at a terminal; PIN asked)")
    p.add_argument("--manager-no", default="01", help="the first manager's number (default 01)")
