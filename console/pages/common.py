"""What the console's pages share: page sizes, query types, the person as an actor, PDF answers, refusals."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from console.paper import Paper
from console.web import (
    address_of,
    lang_of,
    person_of,
    render,
)
from ledger.access import Action, Person, visible_villages
from ledger.documents import TableDocument
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_
from sync.errors import SyncError
from sync.server import township
from sync.server.app import LEDGER_STATUS
from sync.server.people import Actor
from sync.server.record import CentralRecord

PAGE = 50
# Words the templates build from a value ("console.status." + status): named here for the catalogues.
DYNAMIC_WORDS = (
    N_("console.step.record"),
    N_("console.step.check.confirm"),
    N_("console.step.check.correct"),
    N_("console.step.check.reject"),
    N_("console.step.review.approve"),
    N_("console.step.review.correct"),
    N_("console.step.review.reject"),
    N_("console.step.township.approve"),
    N_("console.step.notice"),
    N_("console.step.objection"),
    N_("console.step.objection.dismiss"),
    N_("console.step.objection.correct"),
    N_("console.step.objection.withdraw"),
    N_("console.step.issue"),
    N_("console.points.objection_open"),
    N_("console.points.objection_upheld"),
    N_("console.points.objection_dismissed"),
    N_("console.status.active"),
    N_("console.status.frozen"),
    N_("console.role.admin"),
    N_("console.role.clerk"),
    N_("console.role.reviewer"),
    N_("console.role.auditor"),
    N_("console.role.shop_manager"),
    N_("console.exceptions.status_open"),
    N_("console.exceptions.status_resolved"),
    N_("console.exceptions.status_all"),
    N_("console.policy.redeemable_floor"),
    N_("console.policy.base_points"),
    N_("console.policy.visitor_limit"),
    N_("console.policy.max_offline_days"),
    N_("console.policy.max_points_per_award"),
    N_("console.policy.cycle_annual"),
    N_("console.policy.cycle_none"),
    N_("console.reports.tab_redemptions"),
    N_("console.reports.tab_stock_in"),
    N_("console.reports.tab_donations"),
    N_("console.reports.tab_points"),
    N_("console.helping.frozen"),
    N_("console.helping.under_floor"),
    N_("console.helping.bottom"),
    N_("console.exception.overdraft"),
    N_("console.exception.late_after_clearing"),
    N_("console.exception.redeemed_while_frozen"),
    N_("console.exception.conflict"),
    N_("console.exception.held"),
)
Village = Annotated[str | None, Query(max_length=32)]
Day = Annotated[str | None, Query(max_length=10, alias="from")]
LastDay = Annotated[str | None, Query(max_length=10, alias="to")]
Offset = Annotated[int, Query(ge=0, le=10**9)]
HouseholdId = Annotated[str, PathParam(min_length=1, max_length=16)]
Words = Annotated[str, Query(max_length=100)]


def actor_of(request: Request) -> Actor:
    return Actor(person_of(request), address_of(request))


def village_arg(village: str | None) -> str | None:
    return village.strip().upper() or None if village else None


def villages_for(central: CentralRecord, person: Person, action: Action) -> list[dict[str, str]]:
    villages = township.villages(central)
    allowed = set(visible_villages(person, action, [v["village_id"] for v in villages]))
    return [v for v in villages if v["village_id"] in allowed]


def pdf_answer(paper: Paper | None, *, document: TableDocument, name: str) -> Response:
    if paper is None:
        raise SyncError("pdf_unavailable")
    return pdf_bytes_answer(paper.table_pdf(document), name)


def pdf_bytes_answer(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def refusal_page(request: Request, error: SyncError | LedgerError) -> HTMLResponse:
    """A refusal on a console page, said in the page's language, with a way back to where it came from."""
    status = error.status if isinstance(error, SyncError) else LEDGER_STATUS.get(error.code, 422)
    referer = urlsplit(request.headers.get("referer", ""))
    back = referer.path if referer.netloc == request.url.netloc and referer.path.startswith("/") else "/"
    return render(request, "refused.html", status_code=status, message=error.message(lang_of(request)), back=back)


def uploaded_file(form: Any, what: str) -> UploadFile:
    """The file a form uploaded as ``file``, or a refusal saying which file to choose."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise SyncError("invalid", detail=f"file: choose {what}")
    return upload


def refused_sheet_page(request: Request, problem: ImportProblem, heading: str, back: str) -> HTMLResponse:
    """A sheet refused as a whole: the page that names each bad row, in the reader's language."""
    return render(
        request,
        "import_result.html",
        status_code=422,
        result=None,
        problems=problem.lines(lang_of(request)),
        heading=heading,
        back=back,
    )
