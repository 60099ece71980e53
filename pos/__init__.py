"""The shopkeeper's app (POS) of the Love Supermarket: login, redemption, voids, stock, donations, day close, sync.

Two halves, so the rules of the counter can be tested without a window:

- ``pos.presenters`` — plain Python, no Kivy: each presenter calls ``ledger`` services and returns what a
  screen shows (views with numbers, names and message ids). Unit-tested in ``tests/unit/test_pos_presenters.py``.
- ``pos.app``, ``pos.screens``, ``pos.widgets`` — Kivy: screens are ``.py`` + ``.kv`` pairs that bind
  widgets to presenters; ``PosApp`` only composes them. Driven offscreen in ``tests/e2e/test_pos_ui.py``.

Hardware (printer, scanners, keyboard wedge) and the sync client reach the app as objects handed in by
``lovemart.pos_main``; this package never imports ``hardware``, ``sync`` or storage.

Importing ``pos`` loads nothing (Kivy reads its environment on first import; see ``ui``).
"""
