"""Typed refusals of the ledger.

A refusal is not a crash: it is the ledger saying "no" to a person, so every error carries a stable
``code`` (scripts and tests match on it) and the ``params`` that fill its message. The words are not
here: the code is the message id in the gettext catalogues (``ledger.messages``, ``locale/``), so the same
refusal reads well in Chinese and in English, at the counter, on the command line and in the server's reply.
"""

from __future__ import annotations

from ledger.messages import N_, CodedError, Listing, Message


class LedgerError(CodedError):
    """A refusal with a stable ``code`` and a message for people (``message(lang)``, from the catalogues).

    Nothing was written when one is raised: services validate before they append, and storage rolls
    back the whole write unit on any exception.
    """


class ImportProblem(LedgerError):
    """A spreadsheet import refused as a whole, with the row number of every bad row.

    Each problem is kept as (row, error) and said in the reader's language when shown, so the
    shopkeeper reads "第 3 行：…" and a technician running ``--lang en`` reads "Row 3: …".
    """

    def __init__(self, problems: list[tuple[int | None, LedgerError]]) -> None:
        self.row_problems = problems
        lines = Listing.of((_row_line(r, e) for r, e in problems), N_("list.lines"))
        super().__init__(N_("import_invalid"), problems=lines)

    def lines(self, lang: str = "zh") -> list[str]:
        return [_row_line(row, error).message(lang) for row, error in self.row_problems]

    @property
    def problems(self) -> list[str]:
        return self.lines("zh")


def _row_line(row: int | None, error: LedgerError) -> LedgerError | Message:
    return error if row is None else Message("import.row", row=row, problem=error)


class DeviceFault(CodedError):
    """A device (printer, scanner) that could not do its job; the ledger change it follows still stands.

    The ledger defines only this base so its print queue can record a failed print without knowing
    about printers; ``hardware.errors.HardwareError`` is the devices' own.
    """
