"""The POS screens: one ``.py`` (behaviour, bound to a presenter) and one ``.kv`` (layout) per screen.

``load_kv()`` loads the POS widget rules and every screen's rules once per process. Not at import (no work
at import time), and never twice: Kivy applies a rule file loaded twice twice, and every widget would get
its children twice — tests start many apps in one process.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
KV_FILES = (
    HERE.parent / "widgets.kv",
    HERE / "login.kv",
    HERE / "home.kv",
    HERE / "redeem.kv",
    HERE / "today.kv",
    HERE / "stock.kv",
    HERE / "donation.kv",
    HERE / "day_close.kv",
    HERE / "sync.kv",
    HERE / "setup.kv",
    HERE / "register.kv",
    HERE.parent / "pos.kv",
)


def load_kv() -> None:
    from kivy.lang import Builder

    from ui.widgets import install_kit

    install_kit()
    for path in KV_FILES:
        if str(path) not in Builder.files:
            Builder.load_file(str(path))
