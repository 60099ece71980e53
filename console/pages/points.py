"""Points made by the village (issue 14): records, their check, review batches, public notice, objections, issue.

Every step goes through ``sync.server.awards``, which checks the person's role and village again, takes the
step by the core's rules and writes it to the record's history and the activity log. A refusal on a form
comes back as a page saying why (``refusal_page``), nothing changed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from console import documents
from console.pages.common import (
    Village,
    actor_of,
    pdf_answer,
    refused_sheet_page,
    uploaded_file,
    village_arg,
    villages_for,
)
from console.paper import Paper
from console.web import back_to, checked_form, field, lang_of, person_of, render, safe_next
from ledger import rulebook
from ledger import workflow as wf
from ledger.access import Action, Scope, may, may_somewhere
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_, text
from sync.errors import SyncError
from sync.server import authz, awards, overview
from sync.server.app import with_upload
from sync.server.people import People
from sync.server.record import CentralRecord

RecordId = Annotated[str, PathParam(min_length=1, max_length=32)]
Number = Annotated[int, PathParam(ge=1, le=2**62)]
Stage = Annotated[str, Query(max_length=16)]
PAGE = 100


def _number(form: Any, name: str) -> int | None:
    """An optional whole number from a form; text that is not one is refused in words."""
    value = field(form, name, 12)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise LedgerError("workflow_number_invalid", value=value) from None


def _photo_bytes(upload: Any) -> tuple[str, bytes]:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise LedgerError("photo_not_image")
    content = upload.file.read(awards.MAX_PHOTO_BYTES + 1)
    return str(upload.content_type or ""), content


def points_routes(router: APIRouter, central: CentralRecord, people: People, paper: Paper | None) -> None:
    # ----- records -----------------------------------------------------------------------------------------
    @router.get("/points", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def points_page(request: Request, village: Village = None, stage: Stage = "") -> Response:
        person = person_of(request)
        village_id = village_arg(village)
        if stage and stage not in {str(s) for s in wf.Stage}:
            raise SyncError("invalid", detail="stage")
        found = awards.records_of(central, person, village_id=village_id, stage=stage or None, limit=PAGE)
        return render(
            request,
            "points.html",
            records=found,
            village_id=village_id,
            stage=stage,
            stages=list(wf.Stage),
            villages=villages_for(central, person, Action.READ_VILLAGE),
            can_record=may_somewhere(person, Action.RECORD_POINTS),
            overdue=awards.late_checks(central, village_id)[0],
        )

    @router.get("/points/new", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.somewhere))])
    def new_points(request: Request, village: Village = None) -> Response:
        return _form(request, village_arg(village), {}, None)

    def _form(request: Request, village_id: str | None, values: dict[str, str], error: str | None) -> Response:
        person = person_of(request)
        villages = villages_for(central, person, Action.RECORD_POINTS)
        if village_id is None and len(villages) == 1:
            village_id = villages[0]["village_id"]
        items = awards.rules_in_force(central, village_id) if village_id else {}
        return render(
            request,
            "points_form.html",
            status_code=422 if error else 200,
            villages=villages,
            village_id=village_id,
            items=list(items.values()),
            sources=list(wf.Source),
            values={"day": overview.today_of(central).isoformat(), **values},
            error=error,
        )

    @router.post("/points/new", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.somewhere))])
    async def add_points(request: Request) -> Response:
        form = await checked_form(request)
        village_id = field(form, "village_id", 32).upper() or None
        values = {k: field(form, k, 2000) for k in ("households", "item", "points", "day", "place", "reason", "source")}
        try:
            points = _number(form, "points")
            made = await run_in_threadpool(
                lambda: awards.record_points(
                    central,
                    people,
                    actor_of(request),
                    household_ids=values["households"].replace("，", " ").replace(",", " ").replace("、", " ").split(),
                    item_code=values["item"],
                    points=points if points is not None else -1,
                    day=values["day"],
                    place=values["place"],
                    reason=values["reason"],
                    source=values["source"],
                )
            )
        except (SyncError, LedgerError) as error:
            return _form(request, village_id, values, error.message(lang_of(request)))
        if len(made) == 1:
            return back_to(f"/points/{made[0].record_id}")
        return back_to("/points", village=made[0].village_id)

    @router.post("/points/import", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.somewhere))])
    async def import_records(request: Request) -> Response:
        form = await checked_form(request, files=1)
        upload = uploaded_file(form, "the score sheet")
        try:
            records = await run_in_threadpool(
                with_upload, upload, lambda path: awards.import_records(central, people, actor_of(request), path)
            )
        except ImportProblem as problem:
            return refused_sheet_page(request, problem, N_("console.points.import"), "/points")
        return back_to("/points", village=records[0].village_id if records else None, stage="recorded")

    @router.get("/points/{record_id}", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.record_path))])
    def record_page(request: Request, record_id: RecordId) -> Response:
        person = person_of(request)
        detail = awards.record_detail(central, person, record_id.strip().upper())
        current: wf.PointsRecord = detail["record"]
        scope = Scope(village_id=current.village_id)
        batches = []
        if current.stage is wf.Stage.CHECKED and may(person, Action.REVIEW_POINTS, scope):
            batches = [b for b in awards.batches_of(central, person, current.village_id) if not b.published]
        return render(
            request,
            "points_record.html",
            r=current,
            d=detail,
            item=awards.rules_in_force(central, current.village_id, current.day).get(current.item_code),
            batches=batches,
            may_check=may(person, Action.CHECK_POINTS, scope),
            may_review=may(person, Action.REVIEW_POINTS, scope) and person.user_id != current.recorded_by,
            may_record=may(person, Action.RECORD_POINTS, scope),
            may_approve=may(person, Action.POST_POINTS, scope),
            today=overview.today_of(central).isoformat(),
        )

    async def _step(request: Request, record_id: str, take: Any) -> Response:
        """Take a step from a form, then back to the record, or to the batch page the form was on."""
        form = await checked_form(request)
        await run_in_threadpool(take, form, actor_of(request))
        back = field(form, "back", 200)
        return back_to(back if back.startswith("/batches/") and safe_next(back) == back else f"/points/{record_id}")

    @router.post(
        "/points/{record_id}/check", dependencies=[Depends(authz.needs(Action.CHECK_POINTS, authz.record_path))]
    )
    async def check(request: Request, record_id: RecordId) -> Response:
        return await _step(
            request,
            record_id,
            lambda form, actor: awards.check_record(
                central,
                people,
                actor,
                record_id,
                field(form, "outcome", 16),
                points=_number(form, "points"),
                note=field(form, "note"),
            ),
        )

    @router.post(
        "/points/{record_id}/review", dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.record_path))]
    )
    async def review(request: Request, record_id: RecordId) -> Response:
        return await _step(
            request,
            record_id,
            lambda form, actor: awards.review_record(
                central,
                people,
                actor,
                record_id,
                _number(form, "batch_id") or 0,
                field(form, "outcome", 16),
                points=_number(form, "points"),
                note=field(form, "note"),
            ),
        )

    @router.post(
        "/points/{record_id}/approve", dependencies=[Depends(authz.needs(Action.POST_POINTS, authz.record_path))]
    )
    async def approve(request: Request, record_id: RecordId) -> Response:
        return await _step(
            request, record_id, lambda _form, actor: awards.approve_zero_tolerance(central, people, actor, record_id)
        )

    @router.post(
        "/points/{record_id}/object", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.record_path))]
    )
    async def object_to(request: Request, record_id: RecordId) -> Response:
        return await _step(
            request,
            record_id,
            lambda form, actor: awards.object_to(
                central, people, actor, record_id, field(form, "raised_by", 100), field(form, "says")
            ),
        )

    @router.post(
        "/points/{record_id}/photos", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.record_path))]
    )
    async def add_photo(request: Request, record_id: RecordId) -> Response:
        form = await checked_form(request, files=1)
        media_type, content = _photo_bytes(form.get("photo"))
        await run_in_threadpool(awards.add_photo, central, people, actor_of(request), record_id, media_type, content)
        return back_to(f"/points/{record_id}")

    @router.get("/photos/{photo_id}", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.photo_path))])
    def photo(request: Request, photo_id: Number) -> Response:
        media_type, content = awards.photo(central, person_of(request), photo_id)
        return Response(content, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    @router.post(
        "/objections/{objection_id}/resolve",
        dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.objection_path))],
    )
    async def resolve(request: Request, objection_id: Number) -> Response:
        form = await checked_form(request)
        _closed, after = await run_in_threadpool(
            lambda: awards.resolve_objection(
                central,
                people,
                actor_of(request),
                objection_id,
                field(form, "outcome", 16),
                note=field(form, "note"),
                points=_number(form, "points"),
            )
        )
        return back_to(f"/points/{after.record_id}")

    # ----- batches and their notice -------------------------------------------------------------------------
    @router.get("/batches", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def batches_page(request: Request, village: Village = None) -> Response:
        person = person_of(request)
        village_id = village_arg(village)
        return render(
            request,
            "batches.html",
            batches=awards.batches_of(central, person, village_id),
            village_id=village_id,
            villages=villages_for(central, person, Action.READ_VILLAGE),
            review_villages=villages_for(central, person, Action.REVIEW_POINTS),
            today=overview.today_of(central).isoformat(),
        )

    @router.post("/batches", dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.somewhere))])
    async def add_batch(request: Request) -> Response:
        form = await checked_form(request)
        made = await run_in_threadpool(
            awards.new_batch,
            central,
            people,
            actor_of(request),
            field(form, "village_id", 32).upper(),
            field(form, "meeting_day", 10),
            field(form, "attendees", 500),
        )
        return back_to(f"/batches/{made.batch_id}")

    @router.get("/batches/{batch_id}", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.batch_path))])
    def batch_page(request: Request, batch_id: Number) -> Response:
        person = person_of(request)
        found = awards.batch_detail(central, person, batch_id)
        scope = Scope(village_id=found["batch"].village_id)
        return render(
            request,
            "batch.html",
            b=found["batch"],
            records=found["records"],
            waiting=found["checked"],
            objections=found["objections"],
            may_review=may(person, Action.REVIEW_POINTS, scope),
            may_issue=awards.may_issue(central, person, found["batch"].village_id),
            today=overview.today_of(central).isoformat(),
        )

    @router.post(
        "/batches/{batch_id}/approve-all",
        dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.batch_path))],
    )
    async def approve_all(request: Request, batch_id: Number) -> Response:
        """The meeting approves every checked record it sees on the batch page (not the reviewer's own)."""
        await checked_form(request)
        person = person_of(request)
        waiting = awards.batch_detail(central, person, batch_id)["checked"]
        ids = [r.record_id for r in waiting if r.recorded_by != person.user_id]
        if ids:
            await run_in_threadpool(awards.review_all, central, people, actor_of(request), batch_id, ids)
        return back_to(f"/batches/{batch_id}")

    @router.post(
        "/batches/{batch_id}/publish", dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.batch_path))]
    )
    async def publish(request: Request, batch_id: Number) -> Response:
        await checked_form(request)
        await run_in_threadpool(awards.publish_batch, central, people, actor_of(request), batch_id)
        return back_to(f"/batches/{batch_id}")

    # Declared as a reviewer's: the service also asks whether the township lets village reviewers issue.
    @router.post(
        "/batches/{batch_id}/issue", dependencies=[Depends(authz.needs(Action.REVIEW_POINTS, authz.batch_path))]
    )
    async def issue(request: Request, batch_id: Number) -> Response:
        await checked_form(request)
        await run_in_threadpool(awards.issue_batch, central, people, actor_of(request), batch_id)
        return back_to(f"/batches/{batch_id}")

    @router.get(
        "/batches/{batch_id}/notice.pdf", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.batch_path))]
    )
    def notice_pdf(request: Request, batch_id: Number) -> Response:
        notice = awards.notice(central, batch_id)
        document = documents.notice_document(notice, lang_of(request))
        return pdf_answer(paper, document=document, name=f"notice-{notice['village_id']}-{notice['number']}.pdf")

    # ----- the public notice: no sign-in, nothing beyond the notice itself --------------------------------------
    @router.get("/public/{village_id}")
    def public_notice(request: Request, village_id: Annotated[str, PathParam(min_length=1, max_length=32)]) -> Response:
        notices = awards.public_notices(central, village_id.strip().upper(), date.fromisoformat(_today()))
        return render(request, "public_notice.html", notices=notices, village_id=village_id.strip().upper())

    def _today() -> str:
        return overview.today_of(central).isoformat()


def rules_routes(router: APIRouter, central: CentralRecord, people: People, paper: Paper | None) -> None:
    @router.get("/rules", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def rules_page(request: Request, village: Village = None) -> Response:
        person = person_of(request)
        village_id = village_arg(village)
        if village_id is not None:
            authz.check(person, Action.READ_VILLAGE, Scope(village_id=village_id))
        today = overview.today_of(central).isoformat()
        versions = awards.rule_versions(central)
        shown = [v for v in versions if v.village_id in (None, village_id)]
        return render(
            request,
            "rules.html",
            sheet=rulebook.sheet(versions, village_id or "", today),
            versions=sorted(shown, key=lambda v: (v.effective_from, v.version), reverse=True),
            village_id=village_id,
            villages=villages_for(central, person, Action.READ_VILLAGE),
            today=today,
        )

    def _scope_checked(request: Request, village: str | None) -> str | None:
        village_id = village_arg(village)
        if village_id is not None:
            authz.check(person_of(request), Action.READ_VILLAGE, Scope(village_id=village_id))
        return village_id

    @router.get("/rules.xlsx", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def rules_xlsx(request: Request, village: Village = None) -> Response:
        village_id = _scope_checked(request, village)
        content = awards.rules_xlsx(central, village_id, lang_of(request))
        return Response(
            content,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="rules-{village_id or "township"}.xlsx"'},
        )

    @router.get("/rules.pdf", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def rules_pdf(request: Request, village: Village = None) -> Response:
        village_id = _scope_checked(request, village)
        names = {v["village_id"]: v["name"] for v in villages_for(central, person_of(request), Action.READ_VILLAGE)}
        today = overview.today_of(central).isoformat()
        items = awards.rules_for_sheet(central, village_id, today)
        where = names.get(village_id, village_id) if village_id else text("console.rules.township", lang_of(request))
        document = documents.rules_document(items, where or "", today, lang_of(request))
        return pdf_answer(paper, document=document, name=f"rules-{village_id or 'township'}.pdf")

    @router.post("/rules/import", dependencies=[Depends(authz.needs(Action.RECORD_POINTS, authz.somewhere))])
    async def import_rules(request: Request) -> Response:
        form = await checked_form(request, files=1)
        upload = uploaded_file(form, "the rules' Excel file")
        village_id = field(form, "village_id", 32).upper() or None
        effective_from = field(form, "effective_from", 10)
        note = field(form, "note")
        try:
            await run_in_threadpool(
                with_upload,
                upload,
                lambda path: awards.import_rules(
                    central,
                    people,
                    actor_of(request),
                    path,
                    village_id=village_id,
                    effective_from=effective_from,
                    note=note,
                ),
            )
        except ImportProblem as problem:
            return refused_sheet_page(request, problem, N_("console.rules.import"), "/rules")
        return back_to("/rules", village=village_id)
