"""The township's points policy, with every change logged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from console.pages.common import (
    actor_of,
)
from console.web import (
    back_to,
    checked_form,
    field,
    render,
)
from ledger.access import Action
from ledger.errors import LedgerError
from sync.errors import SyncError
from sync.server import authz, awards, honours, township
from sync.server.people import People
from sync.server.record import CentralRecord

POLICY_FIELDS = ("redeemable_floor", "base_points", "visitor_limit", "max_offline_days", "max_points_per_award")


def policy_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    @router.get("/policy", dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def policy_page(request: Request) -> Response:
        workflow = awards.workflow_settings(central)
        return render(
            request,
            "policy.html",
            policy=township.policy_json(central),
            fields=POLICY_FIELDS,
            workflow=workflow,
            stars=honours.star_thresholds(central),
        )

    @router.post("/policy/stars", dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    async def change_stars(request: Request) -> Response:
        form = await checked_form(request)
        said = field(form, "stars", 60).replace("，", ",").replace("、", ",").replace(" ", ",")
        try:
            thresholds = [int(n) for n in said.split(",") if n]
        except ValueError:
            raise LedgerError("honours_thresholds_invalid", limit=honours.MAX_STARS) from None
        await run_in_threadpool(honours.set_star_thresholds, central, people, actor_of(request), thresholds)
        return back_to("/policy")

    @router.post("/policy/workflow", dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    async def change_workflow(request: Request) -> Response:
        form = await checked_form(request)
        days = []
        for name in ("notice_days", "check_days"):
            value = field(form, name, 3)
            if not value.isdigit():
                raise SyncError("invalid", detail=f"{name}: a whole number of days")
            days.append(int(value))
        chosen = awards.WorkflowSettings(
            days[0],
            days[1],
            village_issues=field(form, "village_issues", 8) == "yes",
            direct_points=field(form, "direct_points", 8) == "yes",
        )
        await run_in_threadpool(awards.set_workflow_settings, central, people, actor_of(request), chosen)
        return back_to("/policy")

    @router.post("/policy", dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    async def change_policy(request: Request) -> Response:
        form = await checked_form(request)
        before = township.policy_json(central)
        changes: dict[str, Any] = {}
        for name in POLICY_FIELDS:
            value = field(form, name, 12)
            if not value.isdigit():
                raise SyncError("invalid", detail=f"{name}: a whole number")
            if int(value) != before.get(name):
                changes[name] = int(value)
        cycle = field(form, "cycle", 16)
        if cycle and cycle != before.get("cycle"):
            changes["cycle"] = cycle
        if changes:
            await run_in_threadpool(township.set_policy, central, changes)
            after = township.policy_json(central)
            await run_in_threadpool(
                people.changed,
                actor_of(request),
                "policy.change",
                "policy",
                {k: before.get(k) for k in changes},
                {k: after.get(k) for k in changes},
            )
        return back_to("/policy")
