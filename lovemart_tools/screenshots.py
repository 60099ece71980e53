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
from lovemart_tools.{app}_driver import {app}_screenshots
paths = {app}_screenshots(shop_parts(Path(sys.argv[1])), Path(sys.argv[2]))
print(json.dumps([str(p) for p in paths]))
"""


def take_screenshots(home: ShopParts, out: Path, apps: Sequence[str] = APPS) -> list[str]:
    """Every screen of ``apps`` ("pos", "kiosk") at every size, as PNG files in ``out``; the paths written."""
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
                saved += offscreen.run_child(CHILD.format(app=app), str(shop), str(out))
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return saved
