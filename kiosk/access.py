"""Who may leave the kiosk: a manager of this shop, by PIN. Plain Python (no Kivy).

The kiosk is read-only, so its only guarded act is closing it. The PIN is checked by the ledger's own
``services.login`` (salted PBKDF2 hashes, the same operators as the POS) and the operator must be a
manager: a clerk can sell, but leaving the kiosk means leaving the shop PC open. ``LockoutAccess`` limits
wrong PINs with a lock-out that grows, kept across restarts.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ledger import services
from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.ports import LedgerStore

log = logging.getLogger(__name__)


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
            return [Manager(o.operator_id, o.name) for o in unit.operators() if o.is_manager and o.active]

    def check(self, operator_id: str, pin: str) -> str | None:
        try:
            operator = services.login(self.store, operator_id, pin)
        except LedgerError:
            return N_("kiosk.maint_wrong")  # unknown operator or wrong PIN: the same words, no hint which
        if not operator.is_manager:
            return N_("kiosk.maint_not_manager")
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
            return N_("kiosk.maint_wrong")
        try:
            right = hmac.compare_digest(services.hash_pin(pin, self.salt), self.digest)
        except ValueError:  # a damaged setting: nobody gets in by it
            return N_("kiosk.maint_wrong")
        return None if right else N_("kiosk.maint_wrong")


def pin_record_of(pin: str) -> str:
    """The ``[kiosk] manager_pin`` value for ``pin`` (4 to 8 digits, as an operator's PIN)."""
    import secrets

    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise LedgerError("pin_format")
    salt = secrets.token_hex(16)
    return f"{salt}:{services.hash_pin(pin, salt)}"


class LockoutAccess:
    """Any ``ManagerAccess`` with a limit on wrong PINs: after ``free_tries`` wrong ones in a row every try
    is refused, unchecked, for ``first_lock_s`` seconds, and each wrong PIN after that doubles the wait (30 s,
    1 min, 2 min... at most ``max_lock_s``). A right PIN starts the count again.

    A PIN of four digits is 10,000 guesses; at the kiosk, in a public hall, nobody watches the screen. The
    count and the end of the lock-out are kept in ``state_path`` (this user's only), so switching the kiosk
    off and on does not give a fresh set of tries, and the wall clock is used for the same reason: a monotonic
    clock starts again at boot. A clock set back cannot make a lock-out longer than ``max_lock_s``.
    """

    def __init__(
        self,
        inner: ManagerAccess,
        state_path: Path | None,
        *,
        clock: Callable[[], float] = time.time,
        free_tries: int = 5,
        first_lock_s: float = 30.0,
        max_lock_s: float = 24 * 3600.0,
    ) -> None:
        self.inner = inner
        self.state_path = state_path
        self.clock = clock
        self.free_tries = free_tries
        self.first_lock_s = first_lock_s
        self.max_lock_s = max_lock_s
        self._failures, self._locked_until = self._load()

    def managers(self) -> list[Manager]:
        return self.inner.managers()

    def locked_for(self) -> int:
        """Whole seconds until a PIN is checked again (0: now)."""
        left = min(self._locked_until - self.clock(), self.max_lock_s)
        return max(0, math.ceil(left))

    def check(self, operator_id: str, pin: str) -> str | None:
        if self.locked_for() > 0:
            return N_("kiosk.maint_locked")
        refusal = self.inner.check(operator_id, pin)
        if refusal is None:
            self._failures, self._locked_until = 0, 0.0
        elif refusal == "kiosk.maint_wrong":
            self._failures += 1
            if self._failures >= self.free_tries:
                wait = min(self.first_lock_s * 2 ** (self._failures - self.free_tries), self.max_lock_s)
                self._locked_until = self.clock() + wait
        self._save()
        if refusal == "kiosk.maint_wrong" and self.locked_for() > 0:
            return N_("kiosk.maint_locked")
        return refusal

    def _load(self) -> tuple[int, float]:
        if self.state_path is None:
            return 0, 0.0
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return max(0, int(data["failures"])), float(data["locked_until"])
        except FileNotFoundError:
            return 0, 0.0
        except (OSError, ValueError, KeyError, TypeError):
            # A damaged record must not open the door: start locked, as after the first lock-out.
            return self.free_tries, self.clock() + self.first_lock_s

    def _save(self) -> None:
        if self.state_path is None:
            return
        data = json.dumps({"failures": self._failures, "locked_until": self._locked_until}).encode("ascii")
        tmp = self.state_path.with_name(f".{self.state_path.name}.tmp")
        try:
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)
        except OSError:
            log.warning("kiosk: could not keep the count of wrong PINs in %s", self.state_path)
