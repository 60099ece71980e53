"""Every POS and kiosk screen, at every size ``lovemart screenshots`` makes, shows its text whole (issue 16 §1).

The same run as the README's pictures: ``take_screenshots`` drives the real app offscreen on a demo shop and
``lovemart_tools.layout_check`` looks at the window each time a picture is taken. A cut label, a number
hidden behind "…", overlapping text, a row cut in half, text under the minimum size or a line that starts
with "，" fails the test, named by picture. (Chinese: the apps' default; English is not checked yet.)
"""

from __future__ import annotations

from pathlib import Path

from lovemart.bootstrap import shop_parts
from lovemart_tools.screenshots import take_screenshots


def test_every_screen_of_both_apps_shows_its_text_whole(tmp_path: Path) -> None:
    problems: dict[str, list[str]] = {}
    saved = take_screenshots(shop_parts(tmp_path / "shop"), tmp_path / "shots", ("pos", "kiosk"), problems)
    assert len(saved) >= 94 and set(problems) == {Path(p).name for p in saved}  # every picture was checked
    assert {"kiosk-idle-480x800.png", "pos-redeem-1024x600.png", "pos-redeem-done-1280x800.png"} <= set(problems)
    found = [f"{name}: {problem}" for name, listed in sorted(problems.items()) for problem in listed]
    assert not found, "\n".join(found)
