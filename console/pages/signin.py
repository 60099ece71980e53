"""Signing in (a form with its own CSRF cookie), signing out here or everywhere, the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.pages.common import (
    actor_of,
)
from console.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    address_of,
    back_to,
    checked_form,
    lang_of,
    person_of,
    render,
    safe_next,
    session_of,
    to_sign_in_signed_out,
)
from ledger.access import Action
from ledger.messages import pick_language
from sync.errors import SyncError
from sync.server import authz
from sync.server.gate import SESSION_COOKIE
from sync.server.people import People
from sync.server.record import CentralRecord


def sign_in_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
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
            await run_in_threadpool(people.sign_out, session, actor_of(request))
        return to_sign_in_signed_out()

    @router.post("/logout-everywhere", dependencies=[Depends(authz.needs(Action.MANAGE_SELF))])
    async def logout_everywhere(request: Request) -> Response:
        await checked_form(request)
        person = person_of(request)
        await run_in_threadpool(people.sign_out_everywhere, actor_of(request), person.user_id)
        return to_sign_in_signed_out()

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
