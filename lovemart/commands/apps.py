"""The two touchscreen apps from the command line, their screenshots and their benchmark.

Kivy is imported only inside these handlers. Screenshots and the benchmark are tooling
(``lovemart_tools.screenshots``, ``lovemart_tools.bench_apps``): each app runs in a child process, one Kivy
window per process, and an offscreen one so it works on a PC with no screen.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.messages import text
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, Subcommands


def require_display(environ: Mapping[str, str] | None = None) -> None:
    """A till or kiosk started where there is no screen (an SSH session, a service without a desktop) would
    run with nothing to see: refuse it and say so. A framebuffer panel sets ``SDL_VIDEODRIVER`` itself."""
    env = os.environ if environ is None else environ
    if sys.platform.startswith("linux") and not any(
        env.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    ):
        from ledger.errors import LedgerError

        raise LedgerError("no_display")


def cmd_pos(args: argparse.Namespace, home: ShopParts) -> int:
    require_display()
    from lovemart.pos_main import run_pos

    return run_pos(home, windowed=args.windowed)


def cmd_kiosk(args: argparse.Namespace, home: ShopParts) -> int:
    if args.set_manager_pin:
        return _set_kiosk_pin(args, home)
    if args.set_kiosk_token:
        return _set_kiosk_token(args, home)
    require_display()
    from lovemart.kiosk_main import run_kiosk

    return run_kiosk(home, windowed=args.windowed)


def ask_secret(prompt: str) -> str:
    """A PIN or token, typed hidden at a terminal or read from standard input (a script), never taken as
    an argument, which would leave it in the shell's history."""
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()


def confirmed(question: str) -> bool:
    """Asked on the terminal; with no one at a terminal (a script), it is a no: such callers pass --yes."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(question + " [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes", "是", "好", "确定")


def ask_new_pin(lang: str) -> str:
    """A new PIN, typed twice at a terminal (hidden), or read once from standard input (a script)."""
    from ledger.errors import LedgerError

    pin = ask_secret(text("cli.operators.ask_pin", lang))
    if sys.stdin.isatty() and ask_secret(text("cli.ask_again", lang)) != pin:
        raise LedgerError("pin_mismatch")
    return pin


def _set_kiosk_pin(args: argparse.Namespace, home: ShopParts) -> int:
    """Store a hashed manager PIN in ``[kiosk] manager_pin``: who may close a kiosk with no shop ledger.

    The PIN is asked for (twice, hidden) or read from standard input, never taken as an argument, which
    would leave it in the shell's history.
    """
    from kiosk.access import pin_record_of
    from ledger.errors import LedgerError
    from lovemart.settings import update

    lang = args.out.lang
    pin = ask_secret(text("cli.kiosk.ask_pin", lang))
    if sys.stdin.isatty() and ask_secret(text("cli.ask_again", lang)) != pin:
        raise LedgerError("bad_pin")
    update(home.settings, {"kiosk": {"manager_pin": pin_record_of(pin)}})
    # Whoever may set the PIN at this PC may also lift a lock-out of wrong tries of the old one.
    from lovemart.kiosk_main import PIN_STATE_FILE

    (home.home / PIN_STATE_FILE).unlink(missing_ok=True)
    args.out.result(
        {"manager_pin": "set"},
        text("cli.kiosk.pin_set", lang),
    )
    return 0


def _set_kiosk_token(args: argparse.Namespace, home: ShopParts) -> int:
    """Keep the township's read-only kiosk token in ``kiosk-token`` (this user only), for a kiosk away from
    the shop. Asked for (hidden) or read from standard input, never an argument (the shell's history)."""

    from lovemart.kiosk_main import KIOSK_TOKEN_FILE
    from lovemart.kiosk_remote import KioskServerFault
    from lovemart.wiring import write_secret

    lang = args.out.lang
    token = ask_secret(text("cli.kiosk.ask_token", lang))
    if not 20 <= len(token) <= 200 or not token.isascii() or not token.isprintable() or " " in token:
        raise KioskServerFault("kiosk_token_malformed")
    path = home.home / KIOSK_TOKEN_FILE
    write_secret(path, token)
    args.out.result(
        {"kiosk_token": "set", "file": str(path)},
        text("cli.kiosk.token_saved", lang, path=str(path)),
    )
    return 0


def cmd_screenshots(args: argparse.Namespace, home: ShopParts) -> int:
    out = Path(args.out_dir).expanduser()
    if args.console:
        from lovemart_tools.console_screenshots import take_console_screenshots

        saved = take_console_screenshots(out)
    else:
        from lovemart_tools.screenshots import APPS, take_screenshots

        problems: dict[str, list[str]] | None = {} if args.check else None
        saved = take_screenshots(home, out, args.app or APPS, problems, lang=args.out.lang)
        if problems is not None:
            return _layout_report(args, saved, out, problems)
    lang = args.out.lang
    args.out.result(
        {"screenshots": saved, "out": str(out)},
        [*saved, text("cli.screenshots.done", lang, count=len(saved), path=str(out))],
    )
    return 0


def _layout_report(args: argparse.Namespace, saved: list[str], out: Path, problems: dict[str, list[str]]) -> int:
    """``screenshots --check``: the pictures, then each screen's layout problems; exit 1 when there are any."""
    lang = args.out.lang
    bad = {name: found for name, found in sorted(problems.items()) if found}
    lines = [f"{name}: {problem}" for name, found in bad.items() for problem in found]
    count = sum(len(found) for found in bad.values())
    lines.append(text("cli.screenshots.checked", lang, screens=len(problems), bad=len(bad), problems=count))
    args.out.result({"screenshots": saved, "out": str(out), "layout_problems": bad}, lines)
    return 1 if bad else 0


def cmd_bench_kiosk(args: argparse.Namespace, home: ShopParts) -> int:
    """POS and kiosk: scan to screen, cold start and memory, each app in its own offscreen process."""
    from lovemart_tools.bench_apps import run_apps_bench
    from lovemart_tools.measure import figure_lines

    figures = run_apps_bench(args.households)
    args.out.result(figures, figure_lines(figures))
    return 0


def register(commands: Subcommands, add: AddCommand) -> None:
    p = add(commands, "pos", cmd_pos, "the shopkeeper's touchscreen POS (爱心超市收银)")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen (for trying it out)")
    p = add(commands, "kiosk", cmd_kiosk, "the villagers' touchscreen kiosk: scan your passbook, see your points")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen, no lock-down")
    p.add_argument(
        "--set-manager-pin",
        action="store_true",
        help="set the PIN that closes a kiosk with no shop ledger (asked for, or read from standard input)",
    )
    p.add_argument(
        "--set-kiosk-token",
        action="store_true",
        help="keep the township's kiosk token for a kiosk away from the shop (asked for, or read from standard input)",
    )
    p = add(commands, "screenshots", cmd_screenshots, "save a PNG of every POS and kiosk screen (demo data)")
    p.add_argument("--out", dest="out_dir", required=True, metavar="DIR")
    p.add_argument("--app", action="append", choices=["pos", "kiosk"], help="only this app (repeatable)")
    p.add_argument(
        "--check",
        action="store_true",
        help="also check every screen for cut, elided, overlapping, half-shown, too small or badly broken text; "
        "list what is found and exit 1 if anything is",
    )
    p.add_argument(
        "--console",
        action="store_true",
        help="the township console's pages instead, in Chinese and English, from Chromium (demo township)",
    )


def register_bench(g: Subcommands, add: AddCommand) -> None:
    p = add(g, "kiosk", cmd_bench_kiosk, "POS and kiosk: scan to screen, cold start, memory (5,000 households)")
    p.add_argument("--households", type=int, default=5000)
