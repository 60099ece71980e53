"""The two touchscreen apps from the command line, their screenshots and their benchmark.

Kivy is imported only inside these handlers (and, for screenshots and benchmarks, only in child
processes: one Kivy window per process, and an offscreen one so it works on a PC with no screen).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ledger.messages import text
from lovemart.wiring import ShopHome

SIZES_POS = ((1280, 800), (1024, 600))
SIZES_KIOSK = ((1280, 800), (1024, 600), (480, 800))


def cmd_pos(args: argparse.Namespace, home: ShopHome) -> int:
    from lovemart.pos_main import run_pos

    return run_pos(home, windowed=args.windowed)


def cmd_kiosk(args: argparse.Namespace, home: ShopHome) -> int:
    if args.set_manager_pin:
        return _set_kiosk_pin(args, home)
    if args.set_kiosk_token:
        return _set_kiosk_token(args, home)
    from lovemart.kiosk_main import run_kiosk

    return run_kiosk(home, windowed=args.windowed)


def ask_secret(prompt: str) -> str:
    """A PIN or token, typed hidden at a terminal or read from standard input (a script), never taken as
    an argument, which would leave it in the shell's history."""
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()


def _set_kiosk_pin(args: argparse.Namespace, home: ShopHome) -> int:
    """Store a hashed manager PIN in ``[kiosk] manager_pin``: who may close a kiosk with no shop ledger.

    The PIN is asked for (twice, hidden) or read from standard input, never taken as an argument, which
    would leave it in the shell's history.
    """
    from kiosk.access import pin_record_of
    from ledger.errors import LedgerError
    from lovemart import settings as settings_mod

    lang = args.out.lang
    pin = ask_secret(text("cli.kiosk.ask_pin", lang))
    if sys.stdin.isatty() and ask_secret(text("cli.ask_again", lang)) != pin:
        raise LedgerError("bad_pin")
    record = pin_record_of(pin)
    settings = home.settings
    section = dict(settings.extra.get("kiosk") or {})
    section["manager_pin"] = record
    settings.extra["kiosk"] = section
    settings_mod.save(settings)
    # Whoever may set the PIN at this PC may also lift a lock-out of wrong tries of the old one.
    from lovemart.kiosk_main import PIN_STATE_FILE

    (home.home / PIN_STATE_FILE).unlink(missing_ok=True)
    args.out.result(
        {"manager_pin": "set"},
        text("cli.kiosk.pin_set", lang),
    )
    return 0


def _set_kiosk_token(args: argparse.Namespace, home: ShopHome) -> int:
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


def _offscreen_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_WINDOW="sdl2")
    env.setdefault("KIVY_HOME", str(Path(tempfile.gettempdir()) / "lovemart-kivy-home"))
    return env


def run_child(code: str, *argv: str) -> Any:
    """Run ``code`` in a fresh offscreen Python; it prints one JSON value as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], env=_offscreen_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"child process failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


SCREENSHOT_CHILD = """
import json, sys
from pathlib import Path
from lovemart.wiring import ShopHome
from lovemart_tools.{module} import {function}
home = ShopHome.at(Path(sys.argv[1]))
paths = {function}(home, Path(sys.argv[2]), sizes=tuple(tuple(s) for s in json.loads(sys.argv[3])))
print(json.dumps([str(p) for p in paths]))
"""


def _demo_home(home: ShopHome, households: int) -> Path:
    """The shop in --home if it has a ledger, else a fresh demo shop in a temporary folder."""
    if home.exists:
        return home.home
    from lovemart_tools import demo

    folder = Path(tempfile.mkdtemp(prefix="lovemart-demo-"))
    demo.run(ShopHome.at(folder), households=households)
    return folder


def cmd_screenshots(args: argparse.Namespace, home: ShopHome) -> int:
    out = Path(args.out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    shop = _demo_home(home, 200)
    home.close()
    saved: list[str] = []
    try:
        for app, module, function, sizes in (
            ("pos", "pos_driver", "pos_screenshots", SIZES_POS),
            ("kiosk", "kiosk_driver", "kiosk_screenshots", SIZES_KIOSK),
        ):
            if args.app and app not in args.app:
                continue
            code = SCREENSHOT_CHILD.format(module=module, function=function)
            saved += run_child(code, str(shop), str(out), json.dumps(sizes))
    finally:
        if shop != home.home:  # a demo shop made only for the pictures
            import shutil

            shutil.rmtree(shop, ignore_errors=True)
    lang = args.out.lang
    args.out.result(
        {"screenshots": saved, "out": str(out)},
        [*saved, text("cli.screenshots.done", lang, count=len(saved), path=str(out))],
    )
    return 0


BENCH_CHILD = """
import json, sys
from pathlib import Path
from lovemart.wiring import ShopHome
from lovemart_tools.{module} import {function}
print(json.dumps({function}(ShopHome.at(Path(sys.argv[1])))))
"""


def cmd_bench_kiosk(args: argparse.Namespace, home: ShopHome) -> int:
    """POS and kiosk: scan to screen, cold start and memory, each app in its own offscreen process."""
    import shutil
    import time

    from lovemart_tools import demo

    folder = Path(tempfile.mkdtemp(prefix="lovemart-bench-apps-"))
    try:
        started = time.perf_counter()
        demo.run(ShopHome.at(folder / "template"), households=args.households)
        figures: dict[str, Any] = {"households": args.households, "seed_s": round(time.perf_counter() - started, 1)}
        for module, function in (("kiosk_driver", "bench_kiosk"), ("pos_driver", "bench_pos")):
            # Each app gets its own copy: the POS bench redeems, the kiosk must see an untouched ledger.
            copy = folder / module
            shutil.copytree(folder / "template", copy)
            figures.update(run_child(BENCH_CHILD.format(module=module, function=function), str(copy)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    args.out.result(figures, [f"{k}: {v}" for k, v in figures.items()])
    return 0


def register(commands: Any, add: Any) -> None:
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


def register_bench(g: Any, add: Any) -> None:
    p = add(g, "kiosk", cmd_bench_kiosk, "POS and kiosk: scan to screen, cold start, memory (5,000 households)")
    p.add_argument("--households", type=int, default=5000)
