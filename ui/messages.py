"""What the kit says for an exception, in plain Python (presenters and tests use it without a window).

The words themselves are in the gettext catalogues (``ledger.messages``, ``locale/``): the kit's keys start
with ``ui.``, the POS's with ``pos.``, the kiosk's with ``kiosk.``. The Kivy side that re-renders labels when
the language changes lives in ``ui.i18n``.
"""

from __future__ import annotations

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import DEFAULT_LANG, text


def error_text(error: BaseException, lang: str = DEFAULT_LANG) -> str:
    """What to show a person for ``error``.

    Ledger refusals and device faults say themselves (``.message(lang)``). Anything else is a bug or an
    environment problem whose text means nothing to a shopkeeper (and may leak paths), so it gets a generic
    message; the caller logs the exception for the technician.
    """
    if isinstance(error, LedgerError | DeviceFault):
        return error.message(lang)
    return text("ui.unexpected_error", lang)
