"""Who may leave the kiosk: a manager of this shop, by PIN. Plain Python (no Kivy).

The kiosk is read-only, so its only guarded act is closing it. The PIN is checked by the ledger's own
``services.login`` (salted PBKDF2 hashes, the same operators as the POS) and the operator must be a
manager: a clerk can sell, but leaving the kiosk means leaving the shop PC open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ledger import services
from ledger.errors import LedgerError
from ledger.ports import LedgerStore


@dataclass(frozen=True)
class Manager:
    operator_id: str
    name: str


class ManagerAccess(Protocol):
    def managers(self) -> list[Manager]: ...

    def check(self, operator_id: str, pin: str) -> str | None:
        """None when ``pin`` is right and the operator is a manager, else a message id to show."""
        ...


class LedgerAccess:
    """Managers and PIN checks from the shop's ledger (read-only)."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def managers(self) -> list[Manager]:
        with self.store.read() as unit:
            return [Manager(o.operator_id, o.name) for o in unit.operators() if o.is_manager]

    def check(self, operator_id: str, pin: str) -> str | None:
        try:
            operator = services.login(self.store, operator_id, pin)
        except LedgerError:
            return "kiosk_maint_wrong"  # unknown operator or wrong PIN: the same words, no hint which
        if not operator.is_manager:
            return "kiosk_maint_not_manager"
        return None
