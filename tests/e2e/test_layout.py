"""Every POS and kiosk screen, at every size ``lovemart screenshots`` makes, in Chinese and in English, shows
its text whole (issue 16 §1).

The same run as the README's pictures: ``take_screenshots`` drives the real apps offscreen on a demo shop
and ``lovemart_tools.layout_check`` looks at the window each time a picture is taken. A cut label, a number
hidden behind "…", overlapping text, a row cut in half, text under the minimum size or a line that starts
with "，" fails the test, named by picture and language.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lovemart.bootstrap import shop_parts
from lovemart_tools import demo
from lovemart_tools.screenshots import DEMO_HOUSEHOLDS, take_screenshots


def give_pictures(shop: Path, every: int = 2) -> int:
    """Photos (upright and landscape) for every ``every``-th of the demo's goods: tiles and goods rows with a
    picture are held to the same rules as those without."""
    parts = shop_parts(shop)
    try:
        with parts.store().read() as unit:
            skus = [item.sku for item in unit.items()][::every]
        for n, sku in enumerate(skus):
            source = shop / f"{sku}.jpg"
            Image.new("RGB", (600, 900) if n % 2 else (1200, 800), (40 + n * 7 % 200, 120, 60)).save(source)
            parts.pictures.put(sku, source)
    finally:
        parts.close()
    return len(skus)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_screen_of_both_apps_shows_its_text_whole(lang: str, tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    demo.run(shop_parts(shop), households=DEMO_HOUSEHOLDS)
    assert give_pictures(shop) >= 10
    problems: dict[str, list[str]] = {}
    saved = take_screenshots(shop_parts(shop), tmp_path / "shots", ("pos", "kiosk"), problems, lang=lang)
    assert len(saved) >= 94 and set(problems) == {Path(p).name for p in saved}  # every picture was checked
    assert {"kiosk-idle-480x800.png", "pos-redeem-1024x600.png", "pos-setup-place-1024x600.png"} <= set(problems)
    found = [f"{lang} {name}: {problem}" for name, listed in sorted(problems.items()) for problem in listed]
    assert not found, "\n".join(found)
