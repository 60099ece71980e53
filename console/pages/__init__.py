"""The console's pages: each route states what it may do (``authz.needs``), calls a service, renders a template.

No SQL here: reads go through ``sync.server.overview``, ``reports``, ``views`` and ``township``; changes
through the same services as the API, and each change is written to the activity log with before and
after. A refusal (a ``SyncError`` or ``LedgerError``) on a form comes back as a page with the message.
One module per area; ``install_pages`` puts their routes on the app (the household form's routes before
``/households/{household_id}``, which would otherwise take "new" for a household number).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from console.pages.common import refusal_page
from console.pages.exceptions import exception_routes
from console.pages.households import household_form_routes, household_routes
from console.pages.overview import overview_routes
from console.pages.people import people_routes
from console.pages.points import points_routes, rules_routes
from console.pages.policy import policy_routes
from console.pages.reports import honours_routes, report_routes
from console.pages.shops import shop_routes
from console.pages.signin import sign_in_routes
from console.paper import Paper
from sync.server.people import People
from sync.server.record import CentralRecord

__all__ = ["install_pages", "refusal_page"]


def install_pages(app: FastAPI, central: CentralRecord, people: People, paper: Paper | None = None) -> None:
    router = APIRouter(include_in_schema=False)
    sign_in_routes(router, central, people)
    overview_routes(router, central)
    household_form_routes(router, central, people)
    household_routes(router, central, people, paper)
    shop_routes(router, central, people)
    exception_routes(router, central, people)
    policy_routes(router, central, people)
    people_routes(router, central, people)
    report_routes(router, central, paper)
    honours_routes(router, central, paper)
    points_routes(router, central, people, paper)
    rules_routes(router, central, people, paper)
    app.include_router(router)
