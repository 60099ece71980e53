"""The kiosk's screens: each a ``.py`` (behaviour) and a ``.kv`` (layout and looks) of the same name.

``load_kv()`` loads the rules once per process; the App calls it before ``build``. Nothing is loaded at
import time, so importing a screen module for its types costs no kv parsing.
"""

from __future__ import annotations

from pathlib import Path

KV_FILES = ("widgets.kv", "idle.kv", "household.kv", "rules.kv", "error.kv", "maintenance.kv")
_HERE = Path(__file__).parent


def load_kv() -> None:
    """Load every screen's ``.kv`` (idempotent); the kit (fonts, ``_``, ``theme``) must be installed first."""
    from kivy.lang import Builder

    # The Python classes must be registered with the Factory before their rules are applied.
    from kiosk.screens import error, household, idle, maintenance, rules, widgets  # noqa: F401

    for name in KV_FILES:
        path = str(_HERE / name)
        if path not in Builder.files:
            Builder.load_file(path)
