"""The central record (DESIGN.md §4, docs/sync.md): the township's ledger and the HTTP API shops sync with.

``record`` holds the logic (enrolment, push, pull, the overdraft and late-clearing rules, the township's
own work), ``app`` the FastAPI application over it, ``bundles`` the USB-stick exchange. Storage is
``ledger.storage`` (the ledger tables) and ``ledger.storage.central`` (the central record's own).
"""
