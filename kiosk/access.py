"""Who may leave the kiosk: a manager of this shop, by PIN. Plain Python (no Kivy).

The kiosk is read-only, so its only guarded act is closing it. The PIN is checked by the ledger's own
``services.login`` (salted PBKDF2 hashes, the same operators as the POS) and the operator must be a
manager: a clerk can sell, but leaving the kiosk means leaving the shop PC open.
"""

from __future__ import annotations

import hmac
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


class PinAccess:
    """One manager PIN from the kiosk's settings, for a kiosk with no shop ledger beside it (the village
    service hall). ``pin_record`` is ``"<salt>:<pbkdf2 hash>"`` as ``pin_record_of`` makes it: the
    settings file never holds the PIN itself."""

    OPERATOR_ID = "kiosk"

    def __init__(self, pin_record: str, name: str = "管理员") -> None:
        self.salt, _, self.digest = pin_record.partition(":")
        self.name = name

    def managers(self) -> list[Manager]:
        return [Manager(self.OPERATOR_ID, self.name)] if self.salt and self.digest else []

    def check(self, operator_id: str, pin: str) -> str | None:
        if not self.salt or not self.digest or operator_id != self.OPERATOR_ID:
            return "kiosk_maint_wrong"
        try:
            right = hmac.compare_digest(services.hash_pin(pin, self.salt), self.digest)
        except ValueError:  # a damaged setting: nobody gets in by it
            return "kiosk_maint_wrong"
        return None if right else "kiosk_maint_wrong"


def pin_record_of(pin: str) -> str:
    """The ``[kiosk] manager_pin`` value for ``pin`` (4 to 8 digits, as an operator's PIN)."""
    import secrets

    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise LedgerError("pin_format")
    salt = secrets.token_hex(16)
    return f"{salt}:{services.hash_pin(pin, salt)}"
