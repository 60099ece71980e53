"""Every route says what it does and what it is about; one dependency asks ``ledger.access.may`` (issue 13).

The gate (``sync.server.gate``) has already found *who* is calling, before any body was read: a ``Person``
from a personal API token (``/v1/admin/...``) or from a console session cookie, in ``request.state.caller``.
Here each route adds ``Depends(needs(Action.X, scope_of))``: ``scope_of`` reads the village or shop the
request is about from its path or query (a household's village is looked up), and the person must hold a
grant that allows the action there, else 403 ``forbidden``. A route whose scope is in its body declares
``SOMEWHERE`` (some grant allows the action) and checks the body's village itself with ``check``.

``tests/integration/test_authorization.py`` enumerates every route of the app against a table of who may
use it, so a route added without a decision here fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from ledger.access import TOWNSHIP, Action, Person, Scope, may, may_somewhere
from sync.errors import SyncError
from sync.server.record import CentralRecord

ScopeOf = Callable[[Request, CentralRecord], Scope | None]


def caller(request: Request) -> Person:
    """The person the gate found, or 401 (a route reached without the gate, as in some tests)."""
    found = getattr(request.state, "caller", None)
    if not isinstance(found, Person):
        raise SyncError("admin_required")
    return found


def township(_request: Request, _central: CentralRecord) -> Scope:
    return TOWNSHIP


def somewhere(_request: Request, _central: CentralRecord) -> None:
    """The scope is in the body: here only "some grant allows the action"; the route calls ``check``."""
    return None


def village_query(name: str = "village") -> ScopeOf:
    """The village named by a query parameter; the township when there is none."""

    def scope(request: Request, _central: CentralRecord) -> Scope:
        village = request.query_params.get(name)
        return Scope(village_id=village.strip().upper()) if village else TOWNSHIP

    return scope


def household_scope(central: CentralRecord, household_id: str) -> Scope | None:
    """The village of a household, or None for one that does not exist."""
    with central.store.read() as unit:
        household = unit.ledger.household(household_id.strip().upper())
    return Scope(village_id=household.village_id) if household else None


def household_path(request: Request, central: CentralRecord) -> Scope:
    """The village of the household in the path (an unknown household: the township, so only township
    roles go on to hear that it does not exist)."""
    return household_scope(central, str(request.path_params.get("household_id", ""))) or TOWNSHIP


def shop_path(request: Request, central: CentralRecord) -> Scope:
    """The shop in the path, with its village (village roles read the shops of their village)."""
    shop_id = str(request.path_params.get("shop_id", "")).strip().upper()
    with central.store.read() as unit:
        shop = unit.ledger.shop(shop_id)
    return Scope(village_id=shop.village_id, shop_id=shop.shop_id) if shop else TOWNSHIP


def check(person: Person, action: Action, scope: Scope) -> None:
    if not may(person, action, scope):
        raise SyncError("forbidden")


def needs(action: Action, scope_of: ScopeOf = township) -> Callable[..., Any]:
    """A FastAPI dependency: the caller may take ``action`` on the request's scope (else 403)."""

    def dependency(request: Request) -> Person:
        person = caller(request)
        central: CentralRecord = request.app.state.record
        scope = scope_of(request, central)
        if scope is None:
            if not may_somewhere(person, action):
                raise SyncError("forbidden")
        else:
            check(person, action, scope)
        return person

    dependency.action = action  # type: ignore[attr-defined]  # read by the authorization matrix test
    return dependency


def village_path(request: Request, _central: CentralRecord) -> Scope:
    """The village in the path (``/villages/{village_id}/...``)."""
    return Scope(village_id=str(request.path_params.get("village_id", "")).strip().upper())
