"""People, their roles and tokens, one's own account, and the activity log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from console.pages.common import (
    PAGE,
    Offset,
    Words,
    actor_of,
)
from console.web import (
    back_to,
    checked_form,
    field,
    lang_of,
    person_of,
    render,
    to_sign_in_signed_out,
)
from ledger.access import Action, ConsoleRole, Grant
from sync.errors import SyncError
from sync.server import authz
from sync.server.people import People
from sync.server.record import CentralRecord


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


def people_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
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
            people.change_user, actor_of(request), user_id, full_name, user.active, _grants_from(form)
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
            actor_of(request),
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
        await run_in_threadpool(
            people.change_user, actor_of(request), user_id, user.full_name, active, list(user.grants)
        )
        return back_to("/users")

    @router.post("/users/{user_id}/sign-out", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def sign_out_user(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        await checked_form(request)
        await run_in_threadpool(people.sign_out_everywhere, actor_of(request), user_id)
        return back_to("/users")

    @router.post("/users/{user_id}/password", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def set_password(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        password, again = field(form, "password", 1000), field(form, "password_again", 1000)
        if password != again:
            raise SyncError("passwords_differ")
        await run_in_threadpool(people.set_password, actor_of(request), user_id, password)
        return back_to("/users")

    @router.post("/users/{user_id}/tokens", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def new_token(request: Request, user_id: Annotated[int, PathParam(ge=1, le=2**31)]) -> Response:
        form = await checked_form(request)
        token, token_id = await run_in_threadpool(
            people.new_api_token, actor_of(request), user_id, field(form, "label", 100)
        )
        # Shown once, on this answer only (the page is not cached; only its sha256 is kept).
        return users_page_with(request, {"token": token, "token_id": token_id, "user": people.user(user_id).name})

    @router.post("/tokens/{token_id}/revoke", dependencies=[Depends(authz.needs(Action.MANAGE_PEOPLE))])
    async def revoke_token(
        request: Request, token_id: Annotated[str, PathParam(min_length=1, max_length=16)]
    ) -> Response:
        await checked_form(request)
        await run_in_threadpool(people.revoke_token, actor_of(request), token_id)
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
            await run_in_threadpool(people.change_own_password, actor_of(request), current, new)
        except SyncError as error:
            # A wrong current password is a mistake in the form (422), not a refused sign-in (401).
            return _account(request, None, error.message(lang_of(request)), 422)
        return to_sign_in_signed_out()  # every session ended, this one too

    @router.post("/account/tokens", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def own_token(request: Request) -> Response:
        form = await checked_form(request)
        person = person_of(request)
        token, token_id = await run_in_threadpool(
            people.new_api_token, actor_of(request), person.user_id, field(form, "label", 100)
        )
        return _account(request, {"token": token, "token_id": token_id, "user": person.name}, None)

    @router.post("/account/tokens/{token_id}/revoke", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def own_token_revoke(
        request: Request, token_id: Annotated[str, PathParam(min_length=1, max_length=16)]
    ) -> Response:
        await checked_form(request)
        person = person_of(request)
        await run_in_threadpool(people.revoke_token, actor_of(request), token_id, person.user_id)
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
