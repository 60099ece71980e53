"""The console's pages: each route states what it may do (``authz.needs``), calls a service, renders a template.

No SQL here: reads go through ``sync.server.overview``, ``views`` and ``township``; changes through the
same services as the API, and each change is written to the activity log with before and after.
A refusal (a ``SyncError`` or ``LedgerError``) on a form comes back as the same page with the message.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from console import charts, documents
from console.paper import Paper
from console.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    address_of,
    back_to,
    checked_form,
    field,
    lang_of,
    person_of,
    render,
    safe_next,
    session_of,
)
from ledger.access import Action, ConsoleRole, Grant, Person, Scope, may, may_somewhere, visible_villages
from ledger.documents import TableDocument
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_, pick_language
from sync.errors import SyncError
from sync.server import authz, imports, overview, township, views
from sync.server import reports as server_reports
from sync.server.app import LEDGER_STATUS, with_upload
from sync.server.gate import SESSION_COOKIE
from sync.server.people import Actor, People
from sync.server.record import CentralRecord

PAGE = 50
# Words the templates build from a value ("console.status." + status): named here for the catalogues.
DYNAMIC_WORDS = (
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


def _actor(request: Request) -> Actor:
    return Actor(person_of(request), address_of(request))


def _village_arg(village: str | None) -> str | None:
    return village.strip().upper() or None if village else None


def _villages_for(central: CentralRecord, person: Person, action: Action) -> list[dict[str, str]]:
    villages = township.villages(central)
    allowed = set(visible_villages(person, action, [v["village_id"] for v in villages]))
    return [v for v in villages if v["village_id"] in allowed]


def install_pages(app: FastAPI, central: CentralRecord, people: People, paper: Paper | None = None) -> None:
    router = APIRouter(include_in_schema=False)
    _sign_in_routes(router, central, people)
    _overview_routes(router, central)
    _household_form_routes(router, central, people)
    _household_routes(router, central, people, paper)
    _shop_routes(router, central, people)
    _exception_routes(router, central, people)
    _policy_routes(router, central, people)
    _people_routes(router, central, people)
    _report_routes(router, central, paper)
    app.include_router(router)


# ----- signing in and out -------------------------------------------------------------------------------


def _sign_in_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    @router.get("/login")
    def login_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        page = render(request, "login.html", login_csrf=token, next=safe_next(next), error=None)
        _set_login_cookie(page, token, lang_of(request))
        return page

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        lang = pick_language(form.get("lang") or request.cookies.get(LANG_COOKIE))
        sent, kept = form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)
        target = safe_next(str(form.get("next") or "/"))
        if not isinstance(sent, str) or not kept or not secrets.compare_digest(sent, kept):
            error = SyncError("csrf_failed")
        else:
            name, password = str(form.get("name") or "")[:64], str(form.get("password") or "")[:1000]
            try:
                signed = await run_in_threadpool(people.sign_in, name, password, address_of(request), lang)
            except SyncError as exc:
                error = exc
            else:
                answer = RedirectResponse(target, status_code=303)
                answer.set_cookie(
                    SESSION_COOKIE, signed.cookie, httponly=True, secure=True, samesite="strict", path="/"
                )
                answer.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
                return answer
        token = secrets.token_urlsafe(24)
        request.state.lang = lang
        page = render(
            request, "login.html", status_code=error.status, login_csrf=token, next=target, error=error.message(lang)
        )
        _set_login_cookie(page, token, lang)
        return page

    @router.post("/logout", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def logout(request: Request) -> Response:
        await checked_form(request)
        session = session_of(request)
        if session is not None:
            await run_in_threadpool(people.sign_out, session, _actor(request))
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path="/")
        return answer

    @router.post("/logout-everywhere", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def logout_everywhere(request: Request) -> Response:
        await checked_form(request)
        person = person_of(request)
        await run_in_threadpool(people.sign_out_everywhere, _actor(request), person.user_id)
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path="/")
        return answer

    @router.post("/lang", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def switch_language(request: Request) -> Response:
        form = await checked_form(request)
        session = session_of(request)
        lang = pick_language(form.get("lang"))
        if session is not None:
            await run_in_threadpool(people.set_session_lang, session, lang)
        return back_to(safe_next(str(form.get("back") or "/")))


def _set_login_cookie(page: Response, token: str, lang: str) -> None:
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, secure=True, samesite="strict", path="/login")
    page.set_cookie(LANG_COOKIE, lang, secure=True, samesite="strict", path="/")


# ----- overview ---------------------------------------------------------------------------------------------


def _overview_routes(router: APIRouter, central: CentralRecord) -> None:
    @router.get("/", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def overview_page(request: Request, village: Village = None, first: Day = None, last: LastDay = None) -> Response:
        person = person_of(request)
        village_id = _village_arg(village)
        if village_id is None and not may(person, Action.READ_TOWNSHIP):
            # A village's people start at their (first) village; a shop manager at the shops page.
            mine = _villages_for(central, person, Action.READ_VILLAGE)
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
            villages=_villages_for(central, person, Action.READ_VILLAGE),
            village_id=village_id,
            period=period,
        )


# ----- households -------------------------------------------------------------------------------------------


def _household_routes(router: APIRouter, central: CentralRecord, people: People, paper: Paper | None) -> None:
    @router.get("/households", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.somewhere))])
    def households_page(request: Request, q: Words = "", village: Village = None, offset: Offset = 0) -> Response:
        person = person_of(request)
        found = overview.find_households(central, person, q, _village_arg(village), offset, PAGE)
        return render(
            request,
            "households.html",
            found=found,
            can_edit=may_somewhere(person, Action.EDIT_HOUSEHOLDS),
            q=q,
            village_id=_village_arg(village),
            villages=_villages_for(central, person, Action.READ_VILLAGE),
            page=PAGE,
        )

    @router.get(
        "/households/{household_id}",
        dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.household_path))],
    )
    def household_page(request: Request, household_id: HouseholdId) -> Response:
        found = township.household(central, household_id.strip().upper())
        return render(request, "household.html", h=found, shops=township.shops(central))

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
        return _pdf(paper, document=document, name=name)

    @router.get(
        "/villages/{village_id}/cards.pdf",
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.village_path))],
    )
    def village_cards(request: Request, village_id: Annotated[str, PathParam(min_length=1, max_length=32)]) -> Response:
        village_id = village_id.strip().upper()
        cards, title = documents.village_cards(central, village_id, lang_of(request))
        if paper is None:
            raise SyncError("pdf_unavailable")
        return _pdf_bytes(paper.cards_pdf(cards, title), f"cards-{village_id}.pdf")

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
            _actor(request),
            f"card.{what}",
            household_id,
            {"card_no": before["card_no"]},
            {"card_no": after["card_no"]},
        )
        return back_to(f"/households/{household_id}")


def _pdf(paper: Paper | None, *, document: TableDocument, name: str) -> Response:
    if paper is None:
        raise SyncError("pdf_unavailable")
    return _pdf_bytes(paper.table_pdf(document), name)


def _pdf_bytes(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# ----- shops and devices ------------------------------------------------------------------------------------


def _shop_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    @router.get("/shops", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def shops_page(request: Request) -> Response:
        person = person_of(request)
        rows = [
            s
            for s in township.shops(central)
            if may(person, Action.READ_SHOP, Scope(village_id=s["village_id"], shop_id=s["shop_id"]))
        ]
        return render(request, "shops.html", shops=rows, villages=township.villages(central), enrol=None, error=None)

    @router.post("/shops", dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    async def add_shop(request: Request) -> Response:
        form = await checked_form(request)
        shop_id, name, village_id = (
            field(form, "shop_id", 16).upper(),
            field(form, "name"),
            field(form, "village_id", 32),
        )
        shop = await run_in_threadpool(township.put_shop, central, shop_id, name, village_id.upper())
        await run_in_threadpool(
            people.changed,
            _actor(request),
            "shop.put",
            shop.shop_id,
            None,
            {"name": shop.name, "village_id": shop.village_id},
        )
        return back_to("/shops")

    @router.post("/shops/{shop_id}/enrol", dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    async def enrol_code(request: Request, shop_id: Annotated[str, PathParam(min_length=1, max_length=16)]) -> Response:
        await checked_form(request)
        shop_id = shop_id.strip().upper()
        if not any(s["shop_id"] == shop_id for s in township.shops(central)):
            raise SyncError("not_found", what=f"shop {shop_id}")
        token = await run_in_threadpool(central.new_enrol_token, shop_id)
        await run_in_threadpool(people.changed, _actor(request), "shop.enrol_code", shop_id)
        # Shown once, on this answer only: the page is not cached and the code is never stored in clear.
        return render(
            request,
            "shops.html",
            shops=township.shops(central),
            villages=township.villages(central),
            enrol={"shop_id": shop_id, "token": token},
            error=None,
        )

    @router.post("/devices/{device_id}/revoke", dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    async def revoke_device(
        request: Request, device_id: Annotated[str, PathParam(min_length=1, max_length=16)]
    ) -> Response:
        await checked_form(request)
        await run_in_threadpool(township.revoke_device, central, device_id)
        await run_in_threadpool(
            people.changed, _actor(request), "device.revoke", device_id, {"active": True}, {"active": False}
        )
        return back_to("/shops")

    @router.get("/goods", dependencies=[Depends(authz.needs(Action.READ_SHOP, authz.somewhere))])
    def goods_page(request: Request, shop: Annotated[str | None, Query(max_length=16)] = None) -> Response:
        person = person_of(request)
        visible = [
            s for s in township.shops(central) if may(person, Action.READ_SHOP, Scope(s["village_id"], s["shop_id"]))
        ]
        shop_id = shop.strip().upper() if shop else (visible[0]["shop_id"] if visible else None)
        chosen = next((s for s in visible if s["shop_id"] == shop_id), None)
        if shop_id is not None and chosen is None:
            raise SyncError("forbidden")
        stock = overview.shop_shelf(central, shop_id) if shop_id else None
        return render(request, "goods.html", items=township.items(central), shops=visible, chosen=chosen, stock=stock)


# ----- exceptions ----------------------------------------------------------------------------------------------


def _exception_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
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
            _actor(request),
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
            _actor(request),
            f"held.{what}",
            txn_id,
            {"status": "held"},
            {"status": after["status"], "reason": reason},
        )
        return back_to("/exceptions")


# ----- policy ------------------------------------------------------------------------------------------------

POLICY_FIELDS = ("redeemable_floor", "base_points", "visitor_limit", "max_offline_days", "max_points_per_award")


def _policy_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    @router.get("/policy", dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def policy_page(request: Request) -> Response:
        return render(request, "policy.html", policy=township.policy_json(central), fields=POLICY_FIELDS)

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
                _actor(request),
                "policy.change",
                "policy",
                {k: before.get(k) for k in changes},
                {k: after.get(k) for k in changes},
            )
        return back_to("/policy")


# ----- people, tokens and the activity log --------------------------------------------------------------------


def _ids(form: Any, name: str) -> list[str]:
    """Comma-separated ids of a form field ("XF, HP" or "XF，HP"), upper case."""
    return [part.strip().upper() for part in field(form, name, 500).replace("，", ",").split(",") if part.strip()]


def _grants_from(form: Any) -> list[Grant]:
    """A person's roles from the form: township roles ticked, village roles and shop managers with their ids.
    At least one role (a person without any could sign in and see nothing)."""
    grants = [Grant(role) for role in (ConsoleRole.ADMIN, ConsoleRole.AUDITOR) if form.get(f"role_{role.value}")]
    grants += [Grant(ConsoleRole.CLERK, village_id=v) for v in _ids(form, "clerk_villages")]
    grants += [Grant(ConsoleRole.REVIEWER, village_id=v) for v in _ids(form, "reviewer_villages")]
    grants += [Grant(ConsoleRole.SHOP_MANAGER, shop_id=s) for s in _ids(form, "manager_shops")]
    if not grants:
        raise SyncError("invalid", detail="roles: give the person at least one role")
    return grants


def _grant_fields(grants: tuple[Grant, ...]) -> dict[str, Any]:
    """The role form's values for a person's grants (the edit form starts from them)."""

    def ids(role: ConsoleRole, attribute: str) -> str:
        return ", ".join(str(getattr(g, attribute)) for g in grants if g.role == role)

    return {
        "admin": any(g.role == ConsoleRole.ADMIN for g in grants),
        "auditor": any(g.role == ConsoleRole.AUDITOR for g in grants),
        "clerk_villages": ids(ConsoleRole.CLERK, "village_id"),
        "reviewer_villages": ids(ConsoleRole.REVIEWER, "village_id"),
        "manager_shops": ids(ConsoleRole.SHOP_MANAGER, "shop_id"),
    }


def _people_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
    def users_page_with(request: Request, new_token: dict[str, str] | None) -> HTMLResponse:
        users = people.users()
        return render(
            request,
            "users.html",
            users=users,
            grant_fields={u.user_id: _grant_fields(u.grants) for u in users},
            tokens=people.tokens(),
            new_token=new_token,
        )

    @router.get("/users", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    def users_page(request: Request) -> Response:
        return users_page_with(request, None)

    @router.post("/users/{user_id}/roles", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def set_roles(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        user = people.user(user_id)
        full_name = field(form, "full_name", 100) or user.full_name
        await run_in_threadpool(
            people.change_user, _actor(request), user_id, full_name, user.active, _grants_from(form)
        )
        return back_to("/users")

    @router.post("/users", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def add_user(request: Request) -> Response:
        form = await checked_form(request)
        password, again = field(form, "password", 1000), field(form, "password_again", 1000)
        if password != again:
            raise SyncError("passwords_differ")
        await run_in_threadpool(
            people.add_user,
            _actor(request),
            field(form, "name", 64),
            field(form, "full_name", 100),
            password,
            _grants_from(form),
        )
        return back_to("/users")

    @router.post("/users/{user_id}/active", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def set_active(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        user = people.user(user_id)
        active = field(form, "active", 5) == "1"
        await run_in_threadpool(people.change_user, _actor(request), user_id, user.full_name, active, list(user.grants))
        return back_to("/users")

    @router.post("/users/{user_id}/sign-out", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def sign_out_user(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        await checked_form(request)
        await run_in_threadpool(people.sign_out_everywhere, _actor(request), user_id)
        return back_to("/users")

    @router.post("/users/{user_id}/password", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def set_password(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        password, again = field(form, "password", 1000), field(form, "password_again", 1000)
        if password != again:
            raise SyncError("passwords_differ")
        await run_in_threadpool(people.set_password, _actor(request), user_id, password)
        return back_to("/users")

    @router.post("/users/{user_id}/tokens", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def new_token(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        token, token_id = await run_in_threadpool(
            people.new_api_token, _actor(request), user_id, field(form, "label", 100)
        )
        # Shown once, on this answer only (the page is not cached; only its sha256 is kept).
        return users_page_with(request, {"token": token, "token_id": token_id, "user": people.user(user_id).name})

    @router.post("/tokens/{token_id}/revoke", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def revoke_token(
        request: Request, token_id: Annotated[str, PathParam(min_length=1, max_length=16)]
    ) -> Response:
        await checked_form(request)
        await run_in_threadpool(people.revoke_token, _actor(request), token_id)
        return back_to("/users")

    @router.get("/account", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    def account_page(request: Request) -> Response:
        return _account(request, None, None)

    def _account(
        request: Request, new_token: dict[str, str] | None, error: str | None, status_code: int = 200
    ) -> HTMLResponse:
        person = person_of(request)
        return render(
            request,
            "account.html",
            status_code=status_code,
            user=people.user(person.user_id),
            tokens=people.tokens(person.user_id),
            sessions=len(people.sessions_of(person.user_id)),
            new_token=new_token,
            error=error,
        )

    @router.post("/account/password", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def own_password(request: Request) -> Response:
        form = await checked_form(request)
        current, new, again = (
            field(form, "current", 1000),
            field(form, "password", 1000),
            field(form, "password_again", 1000),
        )
        try:
            if new != again:
                raise SyncError("passwords_differ")
            await run_in_threadpool(people.change_own_password, _actor(request), current, new)
        except SyncError as error:
            # A wrong current password is a mistake in the form (422), not a refused sign-in (401).
            return _account(request, None, error.message(lang_of(request)), 422)
        answer = RedirectResponse("/login", status_code=303)  # every session ended, this one too
        answer.delete_cookie(SESSION_COOKIE, path="/")
        return answer

    @router.post("/account/tokens", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def own_token(request: Request) -> Response:
        form = await checked_form(request)
        person = person_of(request)
        token, token_id = await run_in_threadpool(
            people.new_api_token, _actor(request), person.user_id, field(form, "label", 100)
        )
        return _account(request, {"token": token, "token_id": token_id, "user": person.name}, None)

    @router.post("/account/tokens/{token_id}/revoke", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def own_token_revoke(
        request: Request, token_id: Annotated[str, PathParam(min_length=1, max_length=16)]
    ) -> Response:
        await checked_form(request)
        person = person_of(request)
        await run_in_threadpool(people.revoke_token, _actor(request), token_id, person.user_id)
        return back_to("/account")

    @router.get("/activity", dependencies=[Depends(authz.needs(Action.READ_ACTIVITY))])
    def activity_page(
        request: Request,
        user: Annotated[str, Query(max_length=64)] = "",
        action: Annotated[str, Query(max_length=64)] = "",
        q: Words = "",
        offset: Offset = 0,
    ) -> Response:
        rows, total = people.activity(
            user=user or None, action=action or None, text=q or None, offset=offset, limit=PAGE
        )
        return render(
            request, "activity.html", rows=rows, total=total, user=user, action=action, q=q, offset=offset, page=PAGE
        )


def refusal_page(request: Request, error: SyncError | LedgerError) -> HTMLResponse:
    """A refusal on a console page, said in the page's language, with a way back to where it came from."""
    status = error.status if isinstance(error, SyncError) else LEDGER_STATUS.get(error.code, 422)
    referer = urlsplit(request.headers.get("referer", ""))
    back = referer.path if referer.netloc == request.url.netloc and referer.path.startswith("/") else "/"
    return render(request, "refused.html", status_code=status, message=error.message(lang_of(request)), back=back)


# ----- adding, editing, moving and importing households -----------------------------------------------------


def _editable_villages(central: CentralRecord, person: Person) -> list[dict[str, str]]:
    return _villages_for(central, person, Action.EDIT_HOUSEHOLDS)


def _known_village(central: CentralRecord, village_id: str) -> None:
    """A village that does not exist is said so (before anyone is told they may not use it)."""
    if not any(v["village_id"] == village_id for v in township.villages(central)):
        raise LedgerError("village_unknown", village_id=village_id or "—")


def _household_input(form: Any, household_id: str) -> township.HouseholdInput:
    try:
        members = imports.parse_members(field(form, "members", 2000))
    except LedgerError as error:
        raise error from None
    return township.HouseholdInput(
        household_id.strip().upper(),
        field(form, "village_id", 32).upper(),
        field(form, "head_name", 100),
        field(form, "home_shop_id", 16).upper(),
        members,
        field(form, "village_group", 32),
        field(form, "house_no", 32),
    )


def _form_values(form: Any) -> dict[str, str]:
    names = ("household_id", "village_id", "head_name", "home_shop_id", "members", "village_group", "house_no")
    return {name: str(form.get(name, ""))[:2000] for name in names}


def _household_form_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
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
        return form_page(request, {"village_id": _village_arg(village) or ""}, None, None)

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
        await run_in_threadpool(people.changed, _actor(request), "household.add", given.household_id, None, after)
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
        kept = ("village_id", "name", "home_shop_id", "members", "village_group", "house_no")
        await run_in_threadpool(
            people.changed,
            _actor(request),
            action,
            household_id,
            {k: before[k] for k in kept},
            {k: after[k] for k in kept},
        )
        return back_to(f"/households/{household_id}")

    @router.post("/households/import", dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.somewhere))])
    async def import_register(request: Request) -> Response:
        form = await request.form(max_files=1, max_fields=10)
        session = session_of(request)
        sent = form.get("csrf")
        if session is None or not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
            raise SyncError("csrf_failed")
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise SyncError("invalid", detail="file: choose the register's Excel file")
        person = person_of(request)
        allowed = (
            None
            if may(person, Action.EDIT_HOUSEHOLDS)
            else [v["village_id"] for v in _editable_villages(central, person)]
        )
        lang = lang_of(request)
        try:
            result = await run_in_threadpool(
                with_upload, upload, lambda path: imports.import_households(central, path, allowed)
            )
        except ImportProblem as problem:
            return render(request, "import_result.html", status_code=422, result=None, problems=problem.lines(lang))
        await run_in_threadpool(
            people.changed,
            _actor(request),
            "household.import",
            result["file"],
            None,
            {k: result[k] for k in ("imported", "created", "updated")},
        )
        return render(request, "import_result.html", result=result, problems=[])


# ----- reports --------------------------------------------------------------------------------------------

LEDGER_TABS = ("redemptions", "stock_in", "donations", "points")
SHOWN_ROWS = 300  # on screen; the Excel file has them all


def _report_scope(
    central: CentralRecord, person: Person, village: str | None, shop: str | None
) -> tuple[str | None, str | None]:
    """The village or shop a report is about, checked against the person's grants; by default the
    township for those who read it, else their first village, else their first shop."""
    shop_id = shop.strip().upper() or None if shop else None
    village_id = _village_arg(village)
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
    mine = _villages_for(central, person, Action.READ_VILLAGE)
    if mine:
        return mine[0]["village_id"], None
    shops = [s for s in township.shops(central) if may(person, Action.READ_SHOP, Scope(s["village_id"], s["shop_id"]))]
    if shops:
        return None, shops[0]["shop_id"]
    raise SyncError("forbidden")


def _report_routes(router: APIRouter, central: CentralRecord, paper: Paper | None) -> None:
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
            villages=_villages_for(central, person, Action.READ_VILLAGE),
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
        return _pdf(paper, document=document, name=f"ranking-{village_id}.pdf")

    @router.get("/reports/helping", dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))])
    def helping_page(request: Request, village: Annotated[str, Query(min_length=1, max_length=32)]) -> Response:
        village_id = village.strip().upper()
        rows = server_reports.helping_list(central, village_id)
        name = next((v["name"] for v in township.villages(central) if v["village_id"] == village_id), village_id)
        floor = township.policy_json(central)["redeemable_floor"]
        return render(request, "helping.html", rows=rows, village=name, village_id=village_id, floor=floor)


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
