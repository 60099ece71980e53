"""The whole township server: the sync API of ``sync.server.app`` with the console's pages mounted on it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
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
    for error_class in (SyncError, LedgerError):
        api_handler = app.exception_handlers[error_class]

        async def handler(request: Request, exc: Exception, api_handler=api_handler) -> Response:  # type: ignore[no-untyped-def]
            if guard_of(request.url.path) == "session" or request.url.path == "/login":
                assert isinstance(exc, SyncError | LedgerError)
                return refusal_page(request, exc)
            answer: Response = await api_handler(request, exc)
            return answer

        app.add_exception_handler(error_class, handler)
