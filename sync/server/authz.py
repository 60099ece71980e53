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


def _village_of(central: CentralRecord, find: Callable[[Any], str | None]) -> Scope:
    """A scope from a village looked up in the workflow's tables; unknown: the township (as for households)."""
    with central.store.read() as unit:
        village_id = find(unit.awards)
    return Scope(village_id=village_id) if village_id else TOWNSHIP


def _number(request: Request, name: str) -> int | None:
    value = str(request.path_params.get(name, ""))
    return int(value) if value.isdigit() and len(value) < 18 else None


def record_path(request: Request, central: CentralRecord) -> Scope:
    """The village of the points record in the path."""
    record_id = str(request.path_params.get("record_id", "")).strip().upper()

    def find(awards: Any) -> str | None:
        found = awards.record(record_id)
        return found.village_id if found else None

    return _village_of(central, find)


def batch_path(request: Request, central: CentralRecord) -> Scope:
    """The village of the review batch in the path."""
    batch_id = _number(request, "batch_id")

    def find(awards: Any) -> str | None:
        found = awards.batch(batch_id) if batch_id else None
        return found.village_id if found else None

    return _village_of(central, find)


def objection_path(request: Request, central: CentralRecord) -> Scope:
    """The village of the record an objection in the path is about."""
    objection_id = _number(request, "objection_id")

    def find(awards: Any) -> str | None:
        found = awards.objection(objection_id) if objection_id else None
        record = awards.record(found.record_id) if found else None
        return record.village_id if record else None

    return _village_of(central, find)


def photo_path(request: Request, central: CentralRecord) -> Scope:
    """The village of the record a photo in the path belongs to."""
    photo_id = _number(request, "photo_id")

    def find(awards: Any) -> str | None:
        found = awards.photo(photo_id) if photo_id else None
        record = awards.record(found[0]) if found else None
        return record.village_id if record else None

    return _village_of(central, find)
