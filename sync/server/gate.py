"""The gate in front of every route: who is calling, then how much they may send, then the route.

FastAPI reads and validates a request's body *before* a route's own checks run (``fastapi/routing.py``
awaits the body before solving dependencies), so a route that checks the token itself has already let
an anonymous caller make the server hold and parse whatever it sent. This ASGI middleware answers before
the application sees the request:

1. **Authentication**, from the path alone: ``/v1/admin/...`` needs a person's API token, ``/v1/push``,
   ``/v1/pull``, ``/v1/status``, ``/v1/board`` and ``/v1/own`` a device token, ``/v1/kiosk/...`` a kiosk
   token; ``/v1/health``, ``/v1/enrol`` (its enrolment token is in the body), the OpenAPI pages, the
   console's sign-in page, its static files and the public notice pages need none; every other page of the
   console needs a session cookie (without one, a page is answered with a redirect to the sign-in page). A
   refused caller gets 401 and not a byte of the body is read, so a bad body never earns validation detail
   either. What each person may do is then each route's own check (``sync.server.authz``).
2. **Bounds of the request line**: a NUL character or text that is not valid UTF-8 in the path or the
   query is refused (400): PostgreSQL refuses NUL in text, and such a value is never a real name.
3. **Throttling** of a device the central record keeps refusing (429 with ``Retry-After``), from the
   counters in the database (``sync.server.abuse``), so every server process agrees.
4. **A body limit per route**, from ``Content-Length`` at once and while the body streams in: the
   receive channel raises ``BodyTooLarge`` (413) as soon as the limit is passed, wherever the body is
   being read (FastAPI's JSON parsing, Starlette's multipart parser, ``read_body``).

The caller found here travels to the route in ``request.state.caller`` (a ``CentralDevice`` for device
routes, a ``Person`` for the API and the console; the console's session in ``request.state.session``),
so the routes do not look the token up twice.

5. **The activity log** of the API: a change (any method but GET and HEAD) that succeeds is written with
   who, from where, the route, the start of the request body and of the answer, with every value whose
   name says it is a secret (a token, a key) blanked. The console logs its changes itself, with before
   and after.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.access import Person
from ledger.spreadsheets import MAX_IMPORT_BYTES
from ledger.storage import DatabaseFailure, database_failure
from sync import protocol
from sync.errors import SyncError
from sync.server import abuse
from sync.server.people import Actor, People
from sync.server.record import CentralRecord

log = logging.getLogger("lovemart.server")

MAX_SMALL_BODY = 64 * 1024  # enrol and admin JSON bodies
MULTIPART_OVERHEAD = 64 * 1024  # the form's boundaries and headers around an uploaded sheet
UPLOADS = (
    "/v1/admin/households/import",
    "/v1/admin/points/import",
    "/households/import",
    "/rules/import",
    "/points/import",
)
UPLOAD_SUFFIXES = ("/photos",)  # a points record's photos (console, issue 14)
BIG_BODIES = ("/v1/push", "/v1/admin/bundles/apply")
OPEN_PATHS = ("/v1/health", "/v1/enrol", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
DEVICE_PATHS = ("/v1/push", "/v1/pull", "/v1/status", "/v1/board", "/v1/own")
# Console pages anyone may open: signing in, the static files, the public notices (issue 14), the icon.
CONSOLE_OPEN = ("/login", "/favicon.ico")
CONSOLE_OPEN_PREFIXES = ("/static/", "/public/")
SESSION_COOKIE = "lovemart_session"
LOGGED_BYTES = 4096


class BodyTooLarge(StarletteHTTPException):
    """Raised by the gate's receive channel once a body passes its route's limit (answered with 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body larger than {limit} bytes")
        self.limit = limit


def guard_of(path: str) -> str:
    """What a path needs: ``person`` (an API token), ``device``, ``kiosk``, ``session`` (a console cookie)
    or ``none``."""
    if path.startswith("/v1/admin/") or path == "/v1/admin":
        return "person"
    if path in DEVICE_PATHS:
        return "device"
    if path.startswith("/v1/kiosk/"):
        return "kiosk"
    if path.startswith("/v1/") or path in OPEN_PATHS or path in CONSOLE_OPEN:
        return "none"
    if path.startswith(CONSOLE_OPEN_PREFIXES):
        return "none"
    return "session"


def body_limit(path: str) -> int:
    if path in BIG_BODIES:
        return protocol.MAX_BODY_BYTES
    if path in UPLOADS or path.endswith(UPLOAD_SUFFIXES):
        return MAX_IMPORT_BYTES + MULTIPART_OVERHEAD
    return MAX_SMALL_BODY


def bearer_of(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def lang_of(scope: Scope) -> str:
    query = scope.get("query_string", b"")
    return "en" if b"lang=en" in query else "zh"


def cookie_of(headers: Headers, name: str) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def redacted(body: bytes) -> str | None:
    """The start of a JSON body for the activity log, secrets blanked; None for anything else."""
    import json

    if not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None

    def blank(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: "***" if _secret_name(k) else blank(x) for k, x in v.items()}
        if isinstance(v, list):
            return [blank(x) for x in v]
        return v

    return json.dumps(blank(value), ensure_ascii=False)[:LOGGED_BYTES]


def _secret_name(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in ("token", "key", "password", "secret"))


def error_response(error: SyncError, lang: str, headers: dict[str, str] | None = None) -> JSONResponse:
    envelope = protocol.ErrorEnvelope(error=protocol.ErrorBody(code=error.code, message=error.message(lang)))
    return JSONResponse(envelope.model_dump(exclude_none=True), status_code=error.status, headers=headers)


def database_refusal(exc: BaseException) -> SyncError:
    """A database failure as the client should see it: bad input is refused for good, the rest is "try later".

    Values the edge let through by mistake (a NUL, an overflowing number, a too-long text) and clashes
    with a stored key can never succeed on a retry, so they are 4xx; only the database being down or busy
    is 503, which a shop retries (``ledger.storage.database_failure`` tells them apart).
    """
    kind = database_failure(exc)
    if kind in ("value_refused", "value_conflict"):
        return SyncError(kind)
    return SyncError("server_error", status=503)


def clean_request_line(scope: Scope) -> None:
    """Refuse a NUL or broken UTF-8 anywhere in the path or query (400), before any route uses them."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
    for part in (raw_path, scope.get("query_string", b"")):
        decoded = unquote_to_bytes(part.replace(b"+", b" "))
        if b"\x00" in decoded:
            raise SyncError("payload_malformed", detail="NUL character in the address")
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SyncError("payload_malformed", detail="the address is not UTF-8") from exc


class Gate:
    """ASGI middleware: authentication, request-line bounds, throttling and body limits, in that order."""

    def __init__(self, app: ASGIApp, central: CentralRecord, people: People) -> None:
        self.app = app
        self.central = central
        self.people = people

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        lang = lang_of(scope)
        headers = Headers(scope=scope)
        session = None
        caller: Any
        try:
            if guard_of(path) == "session":
                found = await run_in_threadpool(self.people.session_person, cookie_of(headers, SESSION_COOKIE))
                if found is None:
                    await _to_sign_in(scope, receive, send)
                    return
                caller, session = found
            else:
                caller = await self._authenticate(path, headers)
            clean_request_line(scope)
            if path == "/v1/push" and caller is not None:
                await run_in_threadpool(abuse.check_throttle, self.central, caller)
            limit = body_limit(path)
            length = Headers(scope=scope).get("content-length")
            if length is not None and length.strip().isdigit() and int(length) > limit:
                raise SyncError("payload_too_large", limit=limit)
        except abuse.Throttled as exc:
            await error_response(exc, lang, {"Retry-After": str(exc.retry_after)})(scope, receive, send)
            return
        except SyncError as exc:
            await error_response(exc, lang)(scope, receive, send)
            return
        except DatabaseFailure as exc:
            log.warning("database error while checking a caller on %s: %s", path, exc)
            await error_response(database_refusal(exc), lang)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["caller"] = caller
        state["session"] = session
        if isinstance(caller, Person) and guard_of(path) == "person" and scope["method"] not in ("GET", "HEAD"):
            await self._logged(scope, _limited(receive, limit), send, caller)
            return
        await self.app(scope, _limited(receive, limit), send)

    async def _logged(self, scope: Scope, receive: Receive, send: Send, person: Person) -> None:
        """Run the route and write its change to the activity log if it succeeded (see the docstring, 5)."""
        sent_in = bytearray()
        sent_out = bytearray()
        status = 500

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(sent_in) < LOGGED_BYTES * 4:
                sent_in.extend(message.get("body", b""))
            return message

        async def tee_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(sent_out) < LOGGED_BYTES * 4:
                sent_out.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, tee_receive, tee_send)
        if status < 400:
            client = scope.get("client") or ("?", 0)
            actor = Actor(person, str(client[0]))
            action = f"api {scope['method']} {_route_of(scope)}"
            await run_in_threadpool(
                self.people.changed, actor, action, scope["path"], redacted(bytes(sent_in)), redacted(bytes(sent_out))
            )

    async def _authenticate(self, path: str, headers: Headers) -> Any:
        guard = guard_of(path)
        if guard == "none":
            return None
        token = bearer_of(headers)
        if guard == "person":
            return await run_in_threadpool(self.central.person_for_token, token)
        if guard == "kiosk":
            await run_in_threadpool(self.central.check_kiosk, token)
            return "kiosk"
        return await run_in_threadpool(self.central.device_for, token)


def _route_of(scope: Scope) -> str:
    """The route's path template (``/v1/admin/households/{household_id}``) when the router found one."""
    route = scope.get("route")
    return str(getattr(route, "path", scope["path"]))


async def _to_sign_in(scope: Scope, receive: Receive, send: Send) -> None:
    """A console page without a live session: to the sign-in page, coming back here afterwards."""
    from urllib.parse import quote

    from starlette.responses import RedirectResponse

    back = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
    await RedirectResponse(f"/login?next={quote(back, safe='')}", status_code=303)(scope, receive, send)


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that counts body bytes and raises ``BodyTooLarge`` once they pass ``limit``."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped
