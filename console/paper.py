"""What the console prints as PDF, as a port: the composition root hands in the real writer.

The console never imports device or document libraries (``hardware``); ``lovemart.site`` passes
``hardware.documents`` in, tests can pass the same, and a console without one says that PDFs are not
available here rather than failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ledger.documents import Certificate, TableDocument

# (household id, head's name, village name, card number, passbook code): one card of the sheet.
CardText = tuple[str, str, str, int, str]


class Paper(Protocol):
    def table_pdf(self, document: TableDocument) -> bytes: ...

    def cards_pdf(self, cards: Sequence[CardText], title: str) -> bytes: ...

    def certificates_pdf(self, certificates: Sequence[Certificate]) -> bytes: ...
