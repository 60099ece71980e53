"""``lovemart screenshots``: a PNG of every POS and kiosk screen, each app in a fresh offscreen process.

The pictures are taken on the shop in ``--home`` when it has a ledger (the POS works on a private copy of
it, the kiosk only reads), else on a demo shop made for them and removed after.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lovemart.bootstrap import ShopParts, shop_parts
from lovemart_tools import demo, offscreen

APPS = ("pos", "kiosk")
DEMO_HOUSEHOLDS = 200

# Kivy has one window per process: each app's pictures are taken by a child (see ``offscreen.run_child``).
CHILD = """
import json, sys
from pathlib import Path
from lovemart.bootstrap import shop_parts
from lovemart_tools.layout_check import watch_shots
from lovemart_tools.{app}_driver import {app}_screenshots
problems = {{}}
if sys.argv[3] == "check":
    watch_shots(problems)
paths = {app}_screenshots(shop_parts(Path(sys.argv[1])), Path(sys.argv[2]), lang=sys.argv[4])
print(json.dumps({{"paths": [str(p) for p in paths], "problems": problems}}))
"""


def take_screenshots(
    home: ShopParts,
    out: Path,
    apps: Sequence[str] = APPS,
    problems: dict[str, list[str]] | None = None,
    lang: str = "zh",
) -> list[str]:
    """Every screen of ``apps`` ("pos", "kiosk") at every size, as PNG files in ``out``; the paths written.

    ``problems``: each picture's screen is also checked for cut, elided, overlapping, half-shown, too small
    or badly broken text (``lovemart_tools.layout_check``), and what was found goes in here by file name.
    ``lang``: the apps' language in the pictures."""
    out.mkdir(parents=True, exist_ok=True)
    made: Path | None = None
    if home.exists:
        shop = home.home
    else:
        made = shop = Path(tempfile.mkdtemp(prefix="lovemart-demo-"))
        demo.run(shop_parts(made), households=DEMO_HOUSEHOLDS)
    home.close()  # the children open the ledger themselves
    saved: list[str] = []
    try:
        for app in APPS:
            if app in apps:
                check = "check" if problems is not None else "-"
                taken = offscreen.run_child(CHILD.format(app=app), str(shop), str(out), check, lang)
                saved += taken["paths"]
                if problems is not None:
                    problems.update(taken["problems"])
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return saved
