"""``lovemart bench kiosk``: the POS and the kiosk, each in its own offscreen process, on one demo shop.

Figures (scan to screen, cold start, memory) and their baselines are described by ``kiosk_driver.bench_kiosk``
and ``pos_driver.bench_pos``; here: ``households`` and ``seed_s``, the time to make the demo shop.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lovemart.bootstrap import shop_parts
from lovemart_tools import demo, offscreen

CHILD = """
import json, sys
from pathlib import Path
from lovemart.bootstrap import shop_parts
from lovemart_tools.{app}_driver import bench_{app}
print(json.dumps(bench_{app}(shop_parts(Path(sys.argv[1])))))
"""


def run_apps_bench(households: int = 5000) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="lovemart-bench-apps-"))
    try:
        started = time.perf_counter()
        demo.run(shop_parts(folder / "template"), households=households)
        figures: dict[str, Any] = {"households": households, "seed_s": round(time.perf_counter() - started, 1)}
        for app in ("kiosk", "pos"):
            # Each app gets its own copy: the POS bench redeems, the kiosk must see an untouched ledger.
            copy = folder / app
            shutil.copytree(folder / "template", copy)
            figures.update(offscreen.run_child(CHILD.format(app=app), str(copy)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures
