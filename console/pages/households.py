"""The register: search, a household, its statement and cards; add, edit, move, import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from console import documents
from console.pages.common import (
    PAGE,
    Day,
    HouseholdId,
    LastDay,
    Offset,
    Village,
    Words,
    actor_of,
    pdf_answer,
    pdf_bytes_answer,
    refused_sheet_page,
    uploaded_file,
    village_arg,
    villages_for,
)
from console.paper import Paper
from console.web import (
    back_to,
    checked_form,
    field,
    lang_of,
    person_of,
    render,
)
from ledger.access import Action, Person, Scope, may, may_somewhere, visible_villages
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_
from ledger.register import HouseholdInput
from sync.errors import SyncError
from sync.server import authz, awards, imports, overview, township
from sync.server.app import LEDGER_STATUS, with_upload
from sync.server.people import People
from sync.server.record import CentralRecord

CARD_SHEETS_LISTED = 3  # card-sheet buttons on the register page before a village must be picked first

# ----- households -------------------------------------------------------------------------------------------


def household_routes(router: APIRouter, central: CentralRecord, people: People, paper: Paper | None) -> None:
    @router.get("/households", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def households_page(request: Request, q: Words = "", village: Village = None, offset: Offset = 0) -> Response:
        person = person_of(request)
        village_id = village_arg(village)
        found = overview.find_households(central, person, q, village_id, offset, PAGE)
        villages = villages_for(central, person, Action.READ_VILLAGE)
        editable = visible_villages(person, Action.EDIT_HOUSEHOLDS, [v["village_id"] for v in villages])
        # A card sheet per village a clerk keeps; a township of many villages prints the one it picked.
        shown = [village_id] if village_id else editable if len(editable) <= CARD_SHEETS_LISTED else []
        return render(
            request,
            "households.html",
            found=found,
            can_edit=may_somewhere(person, Action.EDIT_HOUSEHOLDS),
            q=q,
            village_id=village_id,
            villages=villages,
            card_sheets=[v for v in villages if v["village_id"] in shown and v["village_id"] in editable],
            page=PAGE,
        )

    @router.get(
        "/households/{household_id}",
        dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.household_path))],
    )
    def household_page(request: Request, household_id: HouseholdId) -> Response:
        found = township.household(central, household_id.strip().upper())
        records = awards.records_of(
            central, person_of(request), village_id=found["village_id"], household_id=found["household_id"], limit=50
        )
        return render(request, "household.html", h=found, shops=township.shops(central), records=records)

    @router.get(
        "/households/{household_id}/statement",
        dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.household_path))],
    )
    def statement_page(
        request: Request, household_id: HouseholdId, first: Day = None, last: LastDay = None
    ) -> Response:
        today = overview.today_of(central)
        period = overview.Period.parse(first or f"{today.year}-01-01", last, today)
        found = overview.statement(central, household_id.strip().upper(), period, lang_of(request))
        return render(request, "statement.html", s=found, period=period)

    @router.get(
        "/households/{household_id}/statement.pdf",
        dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.household_path))],
    )
    def statement_pdf(request: Request, household_id: HouseholdId, first: Day = None, last: LastDay = None) -> Response:
        today = overview.today_of(central)
        period = overview.Period.parse(first or f"{today.year}-01-01", last, today)
        found = overview.statement(central, household_id.strip().upper(), period, lang_of(request))
        document = documents.statement_document(found, lang_of(request))
        name = f"statement-{found['household_id']}-{period.since}-{period.last.isoformat()}.pdf"
        return pdf_answer(paper, document=document, name=name)

    @router.get(
        "/villages/{village_id}/cards.pdf",
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.village_path))],
    )
    def village_cards(request: Request, village_id: Annotated[str, PathParam(min_length=1, max_length=32)]) -> Response:
        village_id = village_id.strip().upper()
        cards, title = documents.village_cards(central, village_id, lang_of(request))
        if paper is None:
            raise SyncError("pdf_unavailable")
        return pdf_bytes_answer(paper.cards_pdf(cards, title), f"cards-{village_id}.pdf")

    @router.post(
        "/households/{household_id}/card",
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.household_path))],
    )
    async def card_action(request: Request, household_id: HouseholdId) -> Response:
        form = await checked_form(request)
        what = field(form, "action", 16)
        household_id = household_id.strip().upper()
        before = await run_in_threadpool(township.household, central, household_id)
        if what == "reissue":
            after = await run_in_threadpool(township.reissue_card, central, household_id)
        elif what == "revoke":
            after = await run_in_threadpool(township.revoke_card, central, household_id)
        else:
            raise SyncError("invalid", detail="action: reissue or revoke")
        await run_in_threadpool(
            people.changed,
            actor_of(request),
            f"card.{what}",
            household_id,
            {"card_no": before["card_no"]},
            {"card_no": after["card_no"]},
        )
        return back_to(f"/households/{household_id}")


# ----- adding, editing, moving and importing households -----------------------------------------------------


def _editable_villages(central: CentralRecord, person: Person) -> list[dict[str, str]]:
    return villages_for(central, person, Action.EDIT_HOUSEHOLDS)


def _known_village(central: CentralRecord, village_id: str) -> None:
    """A village that does not exist is said so (before anyone is told they may not use it)."""
    if not any(v["village_id"] == village_id for v in township.villages(central)):
        raise LedgerError("village_unknown", village_id=village_id or "—")


def _household_input(form: Any, household_id: str) -> HouseholdInput:
    try:
        members = imports.parse_members(field(form, "members", 2000))
    except LedgerError as error:
        raise error from None
    return HouseholdInput(
        household_id.strip().upper(),
        field(form, "village_id", 32).upper(),
        field(form, "head_name", 100),
        field(form, "home_shop_id", 16).upper(),
        members,
        field(form, "village_group", 32),
        field(form, "house_no", 32),
        field(form, "phone", 40),  # longer than a phone may be: the register's check says what is wrong
    )


def _form_values(form: Any) -> dict[str, str]:
    names = ("household_id", "village_id", "head_name", "home_shop_id", "members", "village_group", "house_no", "phone")
    return {name: str(form.get(name, ""))[:2000] for name in names}


def household_form_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    def form_page(
        request: Request, values: dict[str, str], editing: str | None, error: str | None, status_code: int = 200
    ) -> HTMLResponse:
        person = person_of(request)
        return render(
            request,
            "household_form.html",
            status_code=status_code,
            values=values,
            editing=editing,
            error=error,
            villages=_editable_villages(central, person),
            shops=township.shops(central),
        )

    @router.get("/households/new", dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.somewhere))])
    def new_household(request: Request, village: Village = None) -> Response:
        return form_page(request, {"village_id": village_arg(village) or ""}, None, None)

    @router.post("/households/new", dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.somewhere))])
    async def add_household(request: Request) -> Response:
        form = await checked_form(request)
        try:
            given = _household_input(form, field(form, "household_id", 16))
            _known_village(central, given.village_id)
            authz.check(person_of(request), Action.EDIT_HOUSEHOLDS, Scope(village_id=given.village_id))
            if authz.household_scope(central, given.household_id) is not None:
                raise LedgerError("household_exists", household_id=given.household_id)
            after = await run_in_threadpool(township.put_household, central, given)
        except (SyncError, LedgerError) as error:
            status = error.status if isinstance(error, SyncError) else LEDGER_STATUS.get(error.code, 422)
            return form_page(request, _form_values(form), None, error.message(lang_of(request)), status)
        await run_in_threadpool(people.changed, actor_of(request), "household.add", given.household_id, None, after)
        return back_to(f"/households/{given.household_id}")

    @router.get(
        "/households/{household_id}/edit",
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.household_path))],
    )
    def edit_household(request: Request, household_id: HouseholdId) -> Response:
        h = township.household(central, household_id.strip().upper())
        members = "、".join(f"{m['name']}({m['relation']})" if m["relation"] else m["name"] for m in h["members"])
        values = {
            "household_id": h["household_id"],
            "village_id": h["village_id"],
            "head_name": h["name"],
            "home_shop_id": h["home_shop_id"],
            "members": members,
            "village_group": h["village_group"],
            "house_no": h["house_no"],
            "phone": h["phone"],
        }
        return form_page(request, values, h["household_id"], None)

    @router.post(
        "/households/{household_id}/edit",
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.household_path))],
    )
    async def save_household(request: Request, household_id: HouseholdId) -> Response:
        form = await checked_form(request)
        household_id = household_id.strip().upper()
        before = await run_in_threadpool(township.household, central, household_id)
        try:
            given = _household_input(form, household_id)
            # Moving a household: the person must be allowed in the village it goes to as well.
            _known_village(central, given.village_id)
            authz.check(person_of(request), Action.EDIT_HOUSEHOLDS, Scope(village_id=given.village_id))
            after = await run_in_threadpool(township.put_household, central, given)
        except (SyncError, LedgerError) as error:
            status = error.status if isinstance(error, SyncError) else LEDGER_STATUS.get(error.code, 422)
            values = _form_values(form) | {"household_id": household_id}
            return form_page(request, values, household_id, error.message(lang_of(request)), status)
        action = "household.move" if after["village_id"] != before["village_id"] else "household.edit"
        kept = ("village_id", "name", "home_shop_id", "members", "village_group", "house_no", "phone")
        await run_in_threadpool(
            people.changed,
            actor_of(request),
            action,
            household_id,
            {k: before[k] for k in kept},
            {k: after[k] for k in kept},
        )
        return back_to(f"/households/{household_id}")

    @router.post("/households/import", dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.somewhere))])
    async def import_register(request: Request) -> Response:
        form = await checked_form(request, files=1)
        upload = uploaded_file(form, "the register's Excel file")
        person = person_of(request)
        allowed = (
            None
            if may(person, Action.EDIT_HOUSEHOLDS)
            else [v["village_id"] for v in _editable_villages(central, person)]
        )
        try:
            result = await run_in_threadpool(
                with_upload, upload, lambda path: imports.import_households(central, path, allowed)
            )
        except ImportProblem as problem:
            return refused_sheet_page(request, problem, N_("console.households.import"), "/households")
        await run_in_threadpool(
            people.changed,
            actor_of(request),
            "household.import",
            result["file"],
            None,
            {k: result[k] for k in ("imported", "created", "updated")},
        )
        return render(
            request,
            "import_result.html",
            result=result,
            problems=[],
            heading=N_("console.households.import"),
            back="/households",
        )
