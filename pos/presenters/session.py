"""Who is at the till: operator login by PIN, clerk and manager roles, lock after idle, switch operator.

A till left logged in is a till anyone can redeem on, so it locks itself after ``idle_lock_s`` without a
touch, a key or a scan (default five minutes; 0 turns it off). Locking keeps the operator and the screen
behind the login: the same operator's PIN returns to the sale in progress, another operator starts clean.

Manager confirmation (a void, a household number typed instead of a scanned passbook) asks for *a*
manager's PIN even when a manager is logged in: the PIN is the manager saying "yes, this one", and the
ledger records that manager as the operator of the act.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger import services
from ledger.errors import LedgerError
from ledger.messages import N_
from ledger.model import Operator
from ledger.ports import LedgerStore
from pos.presenters.common import Clock, local_now

DEFAULT_IDLE_LOCK_S = 300.0


@dataclass(frozen=True)
class OperatorChoice:
    """One big name button on the login screen."""

    operator_id: str
    name: str
    is_manager: bool

    @property
    def role_msgid(self) -> str:
        return N_("pos.role_manager") if self.is_manager else N_("pos.role_clerk")


@dataclass(frozen=True)
class LoginResult:
    operator: Operator
    same_operator: bool  # the one who was logged in before the lock: their screen and sale are kept


class Session:
    """Login state of the till. ``monotonic`` is injectable so tests move time instead of sleeping."""

    def __init__(
        self,
        store: LedgerStore,
        idle_lock_s: float = DEFAULT_IDLE_LOCK_S,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock = local_now,
    ) -> None:
        if idle_lock_s < 0:
            raise ValueError("idle_lock_s must not be negative")
        self.store = store
        self.idle_lock_s = idle_lock_s
        self.monotonic = monotonic
        self.clock = clock
        self.operator: Operator | None = None
        self.locked = True
        self._last_activity = monotonic()

    # ----- who may log in

    def operators(self) -> list[OperatorChoice]:
        """Operators of this shop, managers first, then by id (the order of the name buttons)."""
        with self.store.read() as unit:
            found = [o for o in unit.operators() if o.active]
        choices = [OperatorChoice(o.operator_id, o.name, o.is_manager) for o in found]
        return sorted(choices, key=lambda c: (not c.is_manager, c.operator_id))

    # ----- login, lock, switch

    def login(self, operator_id: str, pin: str) -> LoginResult:
        """Check the PIN (``services.login``); refuses with ``bad_pin`` or ``operator_unknown``."""
        operator = services.login(self.store, operator_id, pin)
        same = self.operator is not None and self.operator.operator_id == operator.operator_id
        self.operator = operator
        self.locked = False
        self.touch()
        return LoginResult(operator, same)

    @property
    def logged_in(self) -> bool:
        return self.operator is not None and not self.locked

    @property
    def is_manager(self) -> bool:
        return self.logged_in and self.operator is not None and self.operator.is_manager

    def lock(self) -> None:
        """Lock now (the lock button, or idle). The operator stays known so their PIN resumes the sale."""
        self.locked = True

    def switch_operator(self) -> None:
        """Hand the till over: nobody is logged in and nothing of the last operator's screen is kept."""
        self.operator = None
        self.locked = True

    def touch(self) -> None:
        """A touch, a key or a scan: the shopkeeper is there."""
        self._last_activity = self.monotonic()

    def idle_s(self) -> float:
        return self.monotonic() - self._last_activity

    def check_idle(self) -> bool:
        """Lock if idle for too long; True when this call locked the till (the app shows the login)."""
        if self.locked or self.idle_lock_s <= 0 or self.idle_s() < self.idle_lock_s:
            return False
        self.lock()
        return True

    # ----- acting

    def context(self) -> services.Context:
        """Who does the next service call; refuses when nobody is logged in (a locked till sells nothing)."""
        if not self.logged_in or self.operator is None:
            raise LedgerError("operator_unknown", operator="-")
        return services.Context(operator=self.operator, clock=self.clock)

    def manager_context(self, manager: Operator) -> services.Context:
        return services.Context(operator=manager, clock=self.clock)

    def authorize_manager(self, pin: str) -> Operator:
        """The manager whose PIN this is; ``bad_pin`` if none, ``manager_required`` if the shop has no manager."""
        with self.store.read() as unit:
            managers = [o for o in unit.operators() if o.is_manager and o.active]
        if not managers:
            raise LedgerError("manager_required")
        for manager in sorted(managers, key=lambda o: o.operator_id):
            try:
                return services.login(self.store, manager.operator_id, pin)
            except LedgerError as refusal:
                if refusal.code != "bad_pin":
                    raise
        raise LedgerError("bad_pin")
