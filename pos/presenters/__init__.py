"""Presenters of the POS: plain Python that calls ``ledger`` services and returns what a screen shows.

No Kivy here (import-linter does not check that, ``tests/unit/test_pos_presenters.py`` does): a rule of the counter
— a cart may not go over the household's redeemable points, a confirmation redeems once, a void needs a
manager — is decided here and tested without a window. Screens only bind widgets to these objects.

Refusals are ``LedgerError`` (the ledger's own codes and messages, or ``pos.messages`` ones for rules of
the counter); device problems are ``DeviceFault``. Screens turn both into words with ``ui.messages``.
"""
