"""The whole township server: the sync API of ``sync.server.app`` with the console's pages mounted on it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from console.pages import install_pages, refusal_page
from console.paper import Paper
from console.web import HERE
from ledger.errors import LedgerError
from sync.errors import SyncError
from sync.server.app import create_app
from sync.server.gate import guard_of
from sync.server.record import CentralRecord


def create_site(
    database_url: str, *, migrate: bool = True, record: CentralRecord | None = None, paper: Paper | None = None
) -> FastAPI:
    """The central record's API with the console at ``/`` (one app, one database); ``paper`` writes PDFs."""
    app = create_app(database_url, migrate=migrate, record=record)
    install_console(app, paper)
    return app


def install_console(app: FastAPI, paper: Paper | None = None) -> None:
    """Mount the pages and static files on an app made by ``create_app``; a refusal on a page is a page."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_pages(app, app.state.record, app.state.people, paper)

    def page_or_api(api_handler: Any, is_page: Callable[[Request, Exception], bool]) -> Any:
        """A handler that answers a console page with a page and anything else as the API did."""

        async def handler(request: Request, exc: Exception) -> Response:
            if is_page(request, exc):
                refusal = (
                    exc if isinstance(exc, SyncError | LedgerError) else SyncError("not_found", what=request.url.path)
                )
                return refusal_page(request, refusal)
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]

        return handler

    def on_page(request: Request, _exc: Exception) -> bool:
        return guard_of(request.url.path) == "session" or request.url.path == "/login"

    def missing_page(request: Request, exc: Exception) -> bool:
        # A page that does not exist is a page saying so (the API keeps its JSON envelope).
        return (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and guard_of(request.url.path) == "session"
        )

    for error_class in (SyncError, LedgerError):
        app.add_exception_handler(error_class, page_or_api(app.exception_handlers[error_class], on_page))
    http_handler = page_or_api(app.exception_handlers[StarletteHTTPException], missing_page)
    app.add_exception_handler(StarletteHTTPException, http_handler)
