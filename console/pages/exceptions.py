"""Exceptions and held transactions, and a transaction as the township inspects it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from console.pages.common import (
    PAGE,
    Offset,
    actor_of,
)
from console.web import (
    back_to,
    checked_form,
    field,
    person_of,
    render,
)
from ledger.access import Action
from sync.errors import SyncError
from sync.server import authz, overview, township
from sync.server.people import People
from sync.server.record import CentralRecord


def exception_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    @router.get("/exceptions", dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def exceptions_page(
        request: Request,
        status: Annotated[str, Query(max_length=16)] = "open",
        kind: Annotated[str, Query(max_length=32)] = "",
        shop: Annotated[str, Query(max_length=16)] = "",
        offset: Offset = 0,
    ) -> Response:
        found = township.exceptions_page(central, status or None, kind or None, shop.upper() or None, offset, PAGE)
        held = township.held(central, "held", shop.upper() or None, 0, PAGE)
        return render(
            request, "exceptions.html", found=found, held=held, status=status, kind=kind, shop=shop, page=PAGE
        )

    @router.get("/transactions/{txn_id}", dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def transaction_page(request: Request, txn_id: Annotated[str, PathParam(min_length=1, max_length=36)]) -> Response:
        return render(request, "transaction.html", txn=overview.transaction_view(central, txn_id))

    @router.post("/exceptions/{exception_id}/resolve", dependencies=[Depends(authz.needs(Action.MANAGE_EXCEPTIONS))])
    async def resolve(request: Request, exception_id: Annotated[int, PathParam(ge=1, le=2**62)]) -> Response:
        form = await checked_form(request)
        note = field(form, "note", 2000)
        if not note:
            raise SyncError("invalid", detail="note: say who decided and why")
        person = person_of(request)
        resolution = f"{note} ({person.name})"
        after = await run_in_threadpool(township.resolve_exception, central, exception_id, resolution)
        await run_in_threadpool(
            people.changed,
            actor_of(request),
            "exception.resolve",
            str(exception_id),
            {"status": "open"},
            {"status": after["status"], "resolution": resolution},
        )
        return back_to("/exceptions")

    @router.post("/held/{txn_id}/decide", dependencies=[Depends(authz.needs(Action.MANAGE_EXCEPTIONS))])
    async def decide(request: Request, txn_id: Annotated[str, PathParam(min_length=1, max_length=36)]) -> Response:
        form = await checked_form(request)
        what, reason = field(form, "decision", 16), field(form, "reason", 2000)
        if what not in ("keep", "release") or not reason:
            raise SyncError("invalid", detail="decision keep or release, with a reason")
        person = person_of(request)
        after = await run_in_threadpool(township.decide_held, central, txn_id, what == "release", person.name, reason)
        await run_in_threadpool(
            people.changed,
            actor_of(request),
            f"held.{what}",
            txn_id,
            {"status": "held"},
            {"status": after["status"], "reason": reason},
        )
        return back_to("/exceptions")
