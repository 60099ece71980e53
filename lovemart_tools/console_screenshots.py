"""``lovemart screenshots --console --out DIR``: every page of the township console, in Chinese and English,
from a real browser (Debian's Chromium driven by Playwright) against a real ``lovemart server`` serving
the console demo (``console_demo``). The README's console pictures come from here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lovemart_tools.console_demo import DEMO_PASSWORD, seed_console_demo
from lovemart_tools.serving import serving

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, ViewportSize

CHROMIUM = "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 800, "height": 1100}
# (file name, path, who is signed in, width): every page, as the person who would use it.
PAGES: tuple[tuple[str, str, str, ViewportSize], ...] = (
    ("overview", "/?from={month_ago}", "wang", DESKTOP),
    ("overview-village-tablet", "/?village=XF&from={month_ago}", "li", TABLET),
    ("households", "/households", "wang", DESKTOP),
    ("household", "/households/XF0002", "li", DESKTOP),
    ("household-edit", "/households/XF0002/edit", "li", DESKTOP),
    ("statement", "/households/XF0002/statement", "li", DESKTOP),
    ("shops", "/shops", "wang", DESKTOP),
    ("goods", "/goods?shop=S01", "wang", DESKTOP),
    ("exceptions", "/exceptions", "wang", DESKTOP),
    ("reports", "/reports?village=XF&from={month_ago}", "wang", DESKTOP),
    ("ranking-poster", "/reports/ranking?village=XF", "li", DESKTOP),
    ("honours", "/reports/honours?village=XF", "li", DESKTOP),
    ("helping", "/reports/helping?village=HP", "wang", DESKTOP),
    ("points", "/points?village=XF", "li", DESKTOP),
    ("points-record", "/points/XF-000006", "chen", DESKTOP),
    ("batch-on-notice", "/batches/3", "wang", DESKTOP),
    ("public-notice", "/public/XF", "", TABLET),
    ("rules", "/rules?village=XF", "li", DESKTOP),
    ("policy", "/policy", "wang", DESKTOP),
    ("users", "/users", "wang", DESKTOP),
    ("activity", "/activity", "zhao", DESKTOP),
)


def take_console_screenshots(out: Path, langs: tuple[str, ...] = ("zh", "en")) -> list[str]:
    """Save a PNG of the sign-in page and of every page in ``PAGES`` per language; return the file names."""
    from datetime import date, timedelta

    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    month_ago = (date.today() - timedelta(days=30)).isoformat()
    saved: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lovemart-console-shots-") as folder:
        url = f"sqlite:///{Path(folder) / 'central.sqlite3'}"
        seed_console_demo(url, households=45)
        with serving(["lovemart.cli", "server", "--database-url", url]) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                for lang in langs:
                    sessions: dict[str, BrowserContext] = {}
                    page = browser.new_page(viewport=DESKTOP)
                    page.goto(f"{base}/login?lang={lang}")
                    saved.append(_shot(page, out, f"console-sign-in-{lang}.png"))
                    page.close()
                    for name, path, who, viewport in PAGES:
                        context = sessions.get(who)
                        if context is None:
                            context = browser.new_context(viewport=DESKTOP)
                            if who:  # "": a page anyone may open (the public notice), in the language asked
                                _sign_in(context, base, who, lang)
                            sessions[who] = context
                        page = context.new_page()
                        page.set_viewport_size(viewport)
                        shown = path.format(month_ago=month_ago)
                        page.goto(base + shown + ("" if who else ("&" if "?" in shown else "?") + f"lang={lang}"))
                        saved.append(_shot(page, out, f"console-{name}-{lang}.png"))
                        page.close()
                    for context in sessions.values():
                        context.close()
            finally:
                browser.close()
    return saved


def _sign_in(context: BrowserContext, base: str, who: str, lang: str) -> None:
    page = context.new_page()
    page.goto(f"{base}/login?lang={lang}")
    page.fill("input[name=name]", who)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.close()


def _shot(page: Page, out: Path, name: str) -> str:
    page.screenshot(path=str(out / name), full_page=True)
    return name
