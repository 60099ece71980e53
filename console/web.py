"""The console's web plumbing: templates, words, the signed-in person, forms and their CSRF check.

Pages are rendered on the server from Jinja2 templates (autoescaped: nobody's text is ever marked safe);
every word comes from the gettext catalogues through ``t("console.…")`` in the page's language. A form
that changes something carries the session's CSRF token (``csrf`` field), checked by ``checked_form``
before the route acts; the sign-in form, which has no session yet, carries a token that must equal the
one in its own short-lived cookie (double submit).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from ledger.access import TOWNSHIP, Action, Person, Scope, may, may_somewhere
from ledger.messages import LANGS, has, pick_language, text
from ledger.storage.people import SessionRecord
from sync.errors import SyncError
from sync.server.gate import SESSION_COOKIE

HERE = Path(__file__).resolve().parent
LOGIN_CSRF_COOKIE = "lovemart_login_csrf"
LANG_COOKIE = "lovemart_lang"
MAX_FORM_FIELDS = 200
HTML_LANG = {"zh": "zh-CN", "en": "en"}  # the page's ``lang`` attribute (fonts and line breaking follow it)
PICKER_MAX = 60  # more villages than this: a village id is typed, not picked from a list


@cache
def environment() -> Environment:
    """The templates, loaded once per process; autoescape on for every ``.html``."""
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["points"] = lambda n: f"{int(n):,}" if n is not None else "—"
    env.filters["yuan"] = lambda fen: f"{int(fen) / 100:,.2f}" if fen is not None else "—"
    env.filters["when"] = lambda iso: str(iso)[:16].replace("T", " ") if iso else "—"
    return env


def lang_of(request: Request) -> str:
    """The page's language: the session's, else the ``lang`` cookie or query (the sign-in page)."""
    chosen = getattr(request.state, "lang", None)
    if chosen:
        return pick_language(chosen)
    session = session_of(request)
    if session is not None:
        return pick_language(session.lang)
    return pick_language(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def session_of(request: Request) -> SessionRecord | None:
    found = getattr(request.state, "session", None)
    return found if isinstance(found, SessionRecord) else None


def person_of(request: Request) -> Person:
    found = getattr(request.state, "caller", None)
    if not isinstance(found, Person):
        raise SyncError("admin_required")
    return found


def address_of(request: Request) -> str:
    return request.client.host if request.client else "?"


# The menu: (path, key of its words, the action that shows it).
MENU: tuple[tuple[str, str, Action], ...] = (
    ("/", "console.nav.overview", Action.READ_VILLAGE),
    ("/households", "console.nav.households", Action.READ_VILLAGE),
    ("/points", "console.nav.points", Action.READ_VILLAGE),
    ("/shops", "console.nav.shops", Action.READ_SHOP),
    ("/goods", "console.nav.goods", Action.READ_SHOP),
    ("/reports", "console.nav.reports", Action.READ_SHOP),
    ("/exceptions", "console.nav.exceptions", Action.READ_TOWNSHIP),
    ("/policy", "console.nav.policy", Action.READ_TOWNSHIP),
    ("/users", "console.nav.users", Action.MANAGE_PEOPLE),
    ("/activity", "console.nav.activity", Action.READ_ACTIVITY),
)


def menu_for(person: Person | None) -> list[tuple[str, str]]:
    if person is None:
        return []
    return [(path, key) for path, key, action in MENU if may_somewhere(person, action)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page in the request's language, with the person, the menu and the form token at hand."""
    lang = lang_of(request)
    person = getattr(request.state, "caller", None)
    person = person if isinstance(person, Person) else None
    session = session_of(request)

    def t(key: str, **params: Any) -> str:
        return text(key, lang, **params)

    def word(key: str, fallback: str) -> str:
        """The words for a value named in data (an exception's kind), or the value itself if it has none."""
        return text(key, lang) if has(key, lang) else fallback

    def can(action: str, village_id: str | None = None) -> bool:
        scope = Scope(village_id=village_id) if village_id else TOWNSHIP
        return may(person, Action(action), scope)

    def url(path: str, **query: Any) -> str:
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return path + ("?" + urlencode(kept) if kept else "")

    page = (
        environment()
        .get_template(template)
        .render(
            t=t,
            word=word,
            PICKER_MAX=PICKER_MAX,
            lang=lang,
            other_lang=next(other for other in LANGS if other != lang),
            html_lang=HTML_LANG[lang],
            person=person,
            csrf=session.csrf if session else "",
            menu=menu_for(person),
            here=request.url.path,
            can=can,
            url=url,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)


# No page of the console is shown inside another site's frame or loads anything from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


async def checked_form(request: Request, files: int = 0) -> FormData:
    """The posted form (with at most ``files`` uploads), after its CSRF token was compared with the session's
    (403 ``csrf_failed``)."""
    form = await request.form(max_files=files, max_fields=MAX_FORM_FIELDS)
    session = session_of(request)
    sent = form.get("csrf")
    if session is None or not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
        raise SyncError("csrf_failed")
    return form


def field(form: Mapping[str, Any], name: str, limit: int = 200) -> str:
    """A form field as trimmed text of at most ``limit`` characters (longer is refused, not cut)."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise SyncError("invalid", detail=f"{name}: not text")
    value = value.strip()
    if len(value) > limit or "\x00" in value:
        raise SyncError("invalid", detail=f"{name}: at most {limit} characters")
    return value


def back_to(path: str, **query: Any) -> RedirectResponse:
    """After a form: to a page (303, so a reload does not post again)."""
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return RedirectResponse(path + ("?" + urlencode(kept) if kept else ""), status_code=303)


def to_sign_in_signed_out() -> RedirectResponse:
    """After this session ended (signing out, everywhere, a new password): to the sign-in page, cookie gone."""
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//elsewhere`` or a full URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
