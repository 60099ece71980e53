"""The township server as ``lovemart server`` runs it: the sync API, the console, and its PDF writer."""

from __future__ import annotations

import os
from collections.abc import Sequence

from fastapi import FastAPI

from ledger.documents import Certificate, TableDocument


class HardwarePaper:
    """The console's ``Paper`` port over ``hardware.documents`` (reportlab, imported when first used)."""

    def table_pdf(self, document: TableDocument) -> bytes:
        from hardware.documents import table_pdf

        return table_pdf(document)

    def cards_pdf(self, cards: Sequence[tuple[str, str, str, int, str]], title: str) -> bytes:
        from hardware.cards import CardFace
        from hardware.documents import cards_pdf

        return cards_pdf([CardFace(*card) for card in cards], title)

    def certificates_pdf(self, certificates: Sequence[Certificate]) -> bytes:
        from hardware.documents import certificates_pdf

        return certificates_pdf(certificates)


def create_server(database_url: str, *, migrate: bool = True) -> FastAPI:
    from console.site import create_site

    return create_site(database_url, migrate=migrate, paper=HardwarePaper())


def server_from_env() -> FastAPI:
    """A worker's whole server (``lovemart server``): the database from ``LOVEMART_DATABASE_URL``."""
    from sync.server.app import DATABASE_ENV

    url = os.environ.get(DATABASE_ENV)
    if not url:
        raise RuntimeError(f"{DATABASE_ENV} is not set")
    return create_server(url, migrate=False)
