"""The whole township server: the sync API of ``sync.server.app`` with the console's pages mounted on it."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from console.pages import install_pages, refusal_page
from console.web import HERE
from ledger.errors import LedgerError
from sync.errors import SyncError
from sync.server.app import DATABASE_ENV, create_app
from sync.server.gate import guard_of
from sync.server.record import CentralRecord


def create_site(database_url: str, *, migrate: bool = True, record: CentralRecord | None = None) -> FastAPI:
    """The central record's API with the console at ``/`` (one app, one database)."""
    app = create_app(database_url, migrate=migrate, record=record)
    install_console(app)
    return app


def install_console(app: FastAPI) -> None:
    """Mount the pages and static files on an app made by ``create_app``; a refusal on a page is a page."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_pages(app, app.state.record, app.state.people)
    for error_class in (SyncError, LedgerError):
        api_handler = app.exception_handlers[error_class]

        async def handler(request: Request, exc: Exception, api_handler=api_handler) -> Response:  # type: ignore[no-untyped-def]
            if guard_of(request.url.path) == "session" or request.url.path == "/login":
                assert isinstance(exc, SyncError | LedgerError)
                return refusal_page(request, exc)
            answer: Response = await api_handler(request, exc)
            return answer

        app.add_exception_handler(error_class, handler)


def site_from_env() -> FastAPI:
    """A worker's whole server (``lovemart server --workers N``): the database from the environment."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        raise RuntimeError(f"{DATABASE_ENV} is not set")
    return create_site(url, migrate=False)
