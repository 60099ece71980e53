"""The overview of the township or a village for a period."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console import charts
from console.pages.common import (
    Day,
    LastDay,
    Village,
    village_arg,
    villages_for,
)
from console.web import (
    back_to,
    person_of,
    render,
)
from ledger.access import Action, Scope, may
from sync.server import authz, awards, overview
from sync.server.record import CentralRecord


def overview_routes(router: APIRouter, central: CentralRecord) -> None:
    @router.get("/", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def overview_page(request: Request, village: Village = None, first: Day = None, last: LastDay = None) -> Response:
        person = person_of(request)
        village_id = village_arg(village)
        if village_id is None and not may(person, Action.READ_TOWNSHIP):
            # A village's people start at their (first) village; a shop manager at the shops page.
            mine = villages_for(central, person, Action.READ_VILLAGE)
            if not mine:
                return back_to("/shops")
            return back_to("/", village=mine[0]["village_id"], **{"from": first, "to": last})
        if village_id is not None:
            authz.check(person, Action.READ_VILLAGE, Scope(village_id=village_id))
        period = overview.Period.parse(first, last, overview.today_of(central))
        figures = overview.overview(central, period, village_id)
        chart = charts.daily_bars(
            [(d["day"][5:], d["awarded"], d["redeemed"]) for d in figures["daily"]],
        )
        return render(
            request,
            "overview.html",
            figures=figures,
            chart=chart,
            villages=villages_for(central, person, Action.READ_VILLAGE),
            village_id=village_id,
            period=period,
            late_checks=awards.late_checks(central, village_id),
        )
