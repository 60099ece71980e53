"""The 台账 of a period, the red list poster, the committee's list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from console import documents
from console.pages.common import (
    Day,
    LastDay,
    Village,
    pdf_answer,
    pdf_bytes_answer,
    village_arg,
    villages_for,
)
from console.paper import Paper
from console.web import (
    lang_of,
    person_of,
    render,
)
from ledger.access import Action, Person, Scope, may
from ledger.errors import LedgerError
from sync.errors import SyncError
from sync.server import authz, honours, overview, township, views
from sync.server import reports as server_reports
from sync.server.record import CentralRecord

LEDGER_TABS = ("redemptions", "stock_in", "donations", "points")
SHOWN_ROWS = 300  # on screen; the Excel file has them all


def _report_scope(
    central: CentralRecord, person: Person, village: str | None, shop: str | None
) -> tuple[str | None, str | None]:
    """The village or shop a report is about, checked against the person's grants; by default the
    township for those who read it, else their first village, else their first shop."""
    shop_id = shop.strip().upper() or None if shop else None
    village_id = village_arg(village)
    if shop_id is not None:
        found = next((s for s in township.shops(central) if s["shop_id"] == shop_id), None)
        if found is None:
            raise LedgerError("shop_unknown", shop_id=shop_id)
        authz.check(person, Action.READ_SHOP, Scope(village_id=found["village_id"], shop_id=shop_id))
        return None, shop_id
    if village_id is not None:
        authz.check(person, Action.READ_VILLAGE, Scope(village_id=village_id))
        return village_id, None
    if may(person, Action.READ_TOWNSHIP):
        return None, None
    mine = villages_for(central, person, Action.READ_VILLAGE)
    if mine:
        return mine[0]["village_id"], None
    shops = [s for s in township.shops(central) if may(person, Action.READ_SHOP, Scope(s["village_id"], s["shop_id"]))]
    if shops:
        return None, shops[0]["shop_id"]
    raise SyncError("forbidden")


def report_routes(router: APIRouter, central: CentralRecord, paper: Paper | None) -> None:
    @router.get("/reports", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def reports_page(
        request: Request,
        village: Village = None,
        shop: Annotated[str | None, Query(max_length=16)] = None,
        first: Day = None,
        last: LastDay = None,
        ledger: Annotated[str, Query(max_length=16)] = "redemptions",
    ) -> Response:
        person = person_of(request)
        village_id, shop_id = _report_scope(central, person, village, shop)
        period = overview.Period.parse(first, last, overview.today_of(central))
        tables = server_reports.ledger_tables(central, period, village_id, shop_id)
        chosen = ledger if ledger in LEDGER_TABS else LEDGER_TABS[0]
        table = tables[LEDGER_TABS.index(chosen)]
        shops = [
            s for s in township.shops(central) if may(person, Action.READ_SHOP, Scope(s["village_id"], s["shop_id"]))
        ]
        return render(
            request,
            "reports.html",
            tables=tables,
            tabs=LEDGER_TABS,
            chosen=chosen,
            table=table,
            shown=table.rows[:SHOWN_ROWS],
            village_id=village_id,
            shop_id=shop_id,
            period=period,
            villages=villages_for(central, person, Action.READ_VILLAGE),
            shops=shops,
            liability=views.liability(central) if village_id is None and shop_id is None else None,
        )

    @router.get("/reports/ledgers.xlsx", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def ledgers_xlsx(
        request: Request,
        village: Village = None,
        shop: Annotated[str | None, Query(max_length=16)] = None,
        first: Day = None,
        last: LastDay = None,
    ) -> Response:
        village_id, shop_id = _report_scope(central, person_of(request), village, shop)
        period = overview.Period.parse(first, last, overview.today_of(central))
        content = server_reports.ledgers_xlsx(central, period, village_id, shop_id)
        where = shop_id or village_id or "township"
        name = f"ledgers-{where}-{period.since}-{period.last.isoformat()}.xlsx"
        return Response(
            content,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    @router.get("/reports/ranking", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))])
    def ranking_page(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        village_id = village.strip().upper()
        board = _ranking_board(central, village_id)
        return render(request, "ranking.html", board=board, village_id=village_id)

    @router.get("/reports/ranking.pdf", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))])
    def ranking_pdf(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        village_id = village.strip().upper()
        board = _ranking_board(central, village_id)
        document = documents.ranking_poster(board, lang_of(request))
        return pdf_answer(paper, document=document, name=f"ranking-{village_id}.pdf")

    @router.get("/reports/helping", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))])
    def helping_page(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        village_id = village.strip().upper()
        rows = server_reports.helping_list(central, village_id)
        name = next((v["name"] for v in township.villages(central) if v["village_id"] == village_id), village_id)
        floor = township.policy_json(central)["redeemable_floor"]
        return render(request, "helping.html", rows=rows, village=name, village_id=village_id, floor=floor)


def honours_routes(router: APIRouter, central: CentralRecord, paper: Paper | None) -> None:
    village_scope = Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))

    @router.get("/reports/honours", dependencies=[village_scope])
    def honours_page(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        board = honours.honours(central, village.strip().upper())
        return render(request, "honours.html", board=board, village_id=board["village_id"])

    @router.get("/reports/honours.pdf", dependencies=[village_scope])
    def honours_pdf(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        board = honours.honours(central, village.strip().upper())
        board["date"] = overview.today_of(central).isoformat()
        document = documents.honours_poster(board, lang_of(request))
        return pdf_answer(paper, document=document, name=f"honours-{board['village_id']}.pdf")

    @router.get("/reports/certificates.pdf", dependencies=[village_scope])
    def certificates_pdf(
        request: Request,
        village: Annotated[str, Query(min_length=1, max_length=32)],
        household: Annotated[str, Query(max_length=16)] = "",
    ) -> Response:
        board = honours.honours(central, village.strip().upper())
        wanted = household.strip().upper()
        rows = [r for r in board["rows"] if not wanted or r["household_id"] == wanted]
        if paper is None:
            raise SyncError("pdf_unavailable")
        if not rows:
            raise LedgerError("nothing_to_do")
        today = overview.today_of(central)
        certificates = documents.certificates(board, rows, today, lang_of(request))
        name = f"certificates-{board['village_id']}{'-' + wanted if wanted else ''}.pdf"
        return pdf_bytes_answer(paper.certificates_pdf(certificates), name)


def _ranking_board(central: CentralRecord, village_id: str) -> dict[str, Any]:
    villages = {v["village_id"]: v["name"] for v in township.villages(central)}
    if village_id not in villages:
        raise LedgerError("village_unknown", village_id=village_id)
    rows = views.ranking(central, village_id, RANKING_POSTER)
    today = overview.today_of(central)
    return {
        "village": villages[village_id],
        "rows": rows,
        "date": today.isoformat(),
        "township": township.township_json(central)["name"],
    }


RANKING_POSTER = 20  # households on the red list poster
