"""The HTTP API of the central record (docs/sync.md), as a FastAPI application; ``/docs`` has the OpenAPI.

Handlers are plain functions that FastAPI runs in its thread pool, because the database work is
blocking; the push handler alone is asynchronous, so that it can refuse an oversized body (413) by its
``Content-Length`` or while streaming it, before holding it all in memory. Every refusal is
``{"error": {"code", "message"}}`` with the status of ``sync.errors`` (``?lang=en`` for English).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.access import Action, Scope
from ledger.board import board_to_json
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import pick_language
from ledger.model import Item
from ledger.register import HouseholdInput
from ledger.spreadsheets import MAX_IMPORT_BYTES
from ledger.storage import DatabaseFailure
from ledger.storage.central import CentralDevice, CentralStore
from sync import bodies, protocol
from sync.errors import SyncError
from sync.server import authz, awards, bundles, imports, township, views
from sync.server.gate import MAX_SMALL_BODY, BodyTooLarge, Gate, database_refusal
from sync.server.people import Actor, People
from sync.server.record import CentralRecord, Conflict

log = logging.getLogger("lovemart.server")

GZIP_MAGIC = b"\x1f\x8b"
MAX_OFFSET = 10**9  # paging offsets; far beyond any table here, well inside every database's integers


# Bodies the routes read themselves, after the gate has checked the caller and the size (FastAPI would
# parse a declared body before any check: docs/sync.md "Abuse of the server"): the push (gzip'd) and the
# enrolment. Their models are declared in the OpenAPI by reference, and their schemas added to it.
HAND_READ_BODIES: tuple[type[BaseModel], ...] = (protocol.PushRequest, protocol.EnrolRequest)
SCHEMA_REF = "#/components/schemas/{model}"


def _body_by_reference(model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = {"$ref": SCHEMA_REF.format(model=model.__name__)}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


# Every refusal is the error envelope; documented once for all routes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": protocol.ErrorEnvelope, "description": "Refused: nothing was stored"},
    "5XX": {"model": protocol.ErrorEnvelope, "description": "The database is down or busy: try again later"},
}


# ----- errors -------------------------------------------------------------------------------------------


def _lang(request: Request) -> str:
    return pick_language(request.query_params.get("lang"))


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    envelope = protocol.ErrorEnvelope(error=protocol.ErrorBody(code=code, message=message, **extra))
    return JSONResponse(envelope.model_dump(exclude_none=True), status_code=status)


LEDGER_STATUS = {
    "household_unknown": 404,
    "village_unknown": 404,
    "receipt_unknown": 404,
    "unknown_sku": 404,
    "passbook_unknown": 404,
    "manager_required": 403,
    "import_duplicate": 409,
    "household_exists": 409,
    "nothing_to_do": 409,
    "points_direct_off": 409,
    "not_configured": 503,
    "disk_full": 503,
    "ledger_corrupt": 503,
}


def _install_error_handlers(app: FastAPI) -> None:
    async def sync_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SyncError)
        extra = {"detail": exc.detail} if isinstance(exc, Conflict) else {}
        return _error(exc.status, exc.code, exc.message(_lang(request)), **extra)

    async def import_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ImportProblem)
        lang = _lang(request)
        return _error(422, exc.code, exc.message(lang), problems=exc.lines(lang))

    async def ledger_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LedgerError)
        # Plain parameters travel too, so a client can raise the same LedgerError (the kiosk does).
        params = {k: v for k, v in exc.params.items() if isinstance(v, str | int) and not isinstance(v, bool)}
        extra = {"params": params} if params else {}
        return _error(LEDGER_STATUS.get(exc.code, 422), exc.code, exc.message(_lang(request)), **extra)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())[
            :500
        ]
        error = SyncError("invalid", detail=detail)
        return _error(error.status, error.code, error.message(_lang(request)))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc, BodyTooLarge):
            error = SyncError("payload_too_large", limit=exc.limit)
            return _error(error.status, error.code, error.message(_lang(request)))
        if exc.status_code == 400:  # FastAPI could not parse a body (not JSON, nested too deep, ...)
            error = SyncError("payload_malformed", detail=str(exc.detail)[:200])
            return _error(error.status, error.code, error.message(_lang(request)))
        if exc.status_code == 404:
            error = SyncError("not_found", what=request.url.path)
            return _error(404, error.code, error.message(_lang(request)))
        return _error(exc.status_code, "http_error", str(exc.detail))

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # Nothing was stored. The database down or busy is "try later" (503); a value it refused is not.
        log.warning("database error on %s: %s", request.url.path, exc)
        error = database_refusal(exc)
        return _error(error.status, error.code, error.message(_lang(request)))

    app.add_exception_handler(Conflict, sync_error)
    app.add_exception_handler(SyncError, sync_error)
    app.add_exception_handler(ImportProblem, import_problem)
    app.add_exception_handler(LedgerError, ledger_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DatabaseFailure, database_error)


# ----- request helpers ---------------------------------------------------------------------------------


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be larger than ``limit``."""
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise SyncError("payload_too_large", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SyncError("payload_too_large", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def json_message(body: bytes, expect_type: str | None = None) -> protocol.Message:
    """A small message, gzip'd like every protocol body or plain JSON (an operator with curl)."""
    if body.startswith(GZIP_MAGIC):
        return protocol.decode(body, expect_type, limit=MAX_SMALL_BODY)
    message = protocol.loads_bounded(body)
    if not isinstance(message, dict):
        raise SyncError("payload_malformed", detail="not a JSON object")
    if message.get("v", protocol.VERSION) != protocol.VERSION:
        raise SyncError("version_unsupported", version=message.get("v"))
    return message


def gzip_json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json", headers={"Content-Encoding": "gzip"})


# ----- path parameters (the bodies are ``sync.bodies``) --------------------------------------------------------

Id16 = Annotated[str, PathParam(min_length=1, max_length=16)]
BigId = Annotated[int, PathParam(ge=1, le=protocol.MAX_BIGINT)]
TxnIdParam = Annotated[str, PathParam(max_length=protocol.TXN_ID_LEN)]


# ----- the application ------------------------------------------------------------------------------------


def create_app(database_url: str, *, migrate: bool = True, record: CentralRecord | None = None) -> FastAPI:
    """The central record's API over the database at ``database_url`` (created or upgraded first)."""
    central = record or CentralRecord.open(database_url, migrate=migrate)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        central.close()

    app = FastAPI(
        title="爱心超市 central record",
        description="Sync API for village Love Supermarkets (docs/sync.md) and the township's administration.",
        version=str(protocol.VERSION),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    _document_hand_read_bodies(app)
    app.state.record = central
    app.state.people = People(central)
    app.add_middleware(Gate, central=central, people=app.state.people)
    _install_error_handlers(app)
    _protocol_routes(app, central)
    _admin_routes(app, central)
    _report_routes(app, central)
    return app


def _document_hand_read_bodies(app: FastAPI) -> None:
    """The OpenAPI of ``app``, with the schemas of the bodies its routes read themselves (``HAND_READ_BODIES``)
    added to its components, where those routes' request bodies refer to them."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, found = models_json_schema([(m, "validation") for m in HAND_READ_BODIES], ref_template=SCHEMA_REF)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in found.get("$defs", {}).items():
                components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its OpenAPI


def _protocol_routes(app: FastAPI, central: CentralRecord) -> None:
    @app.get("/v1/health", tags=["sync"], response_model=protocol.HealthReply)
    def health() -> dict[str, Any]:
        return {"ok": True, "configured": central.configured(), "server_time": central.now()}

    @app.post(
        "/v1/enrol",
        tags=["sync"],
        response_model=protocol.EnrolReply,
        openapi_extra=_body_by_reference(protocol.EnrolRequest, "plain JSON, or gzip'd (Content-Encoding: gzip)"),
    )
    async def enrol(request: Request) -> dict[str, Any]:
        body = await read_body(request, MAX_SMALL_BODY)
        enrolment = protocol.validated(protocol.EnrolRequest, json_message(body), "enrol")
        return await run_in_threadpool(central.enrol, enrolment)

    @app.post(
        "/v1/push",
        tags=["sync"],
        response_model=protocol.PushReply,
        openapi_extra=_body_by_reference(protocol.PushRequest, "gzip-compressed (Content-Encoding: gzip)"),
    )
    async def push(request: Request) -> dict[str, Any]:
        device = await run_in_threadpool(_device, central, request)
        body = await read_body(request, protocol.MAX_BODY_BYTES)

        def work() -> dict[str, Any]:
            # Read here, after the gate (caller, then size) and not by FastAPI: see HAND_READ_BODIES.
            return central.push(device, protocol.push_request(protocol.decode(body, "push")))

        return await run_in_threadpool(work)

    # The reply is assembled from stored change texts (``CentralRecord.pull_json``); the model documents it.
    @app.get("/v1/pull", tags=["sync"], response_model=protocol.PullReply)
    def pull(
        request: Request,
        after: Annotated[int, Query(ge=0, le=protocol.MAX_BIGINT)] = 0,
        limit: Annotated[int, Query(ge=1, le=protocol.PULL_PAGE)] = protocol.PULL_PAGE,
    ) -> Response:
        device = _device(central, request)
        return gzip_json(central.pull_body(device.device_id, after, limit))

    # A PC restored from an old backup takes back its own transactions instead of numbering new ones again.
    @app.get("/v1/own", tags=["sync"], response_model=protocol.OwnReply)
    def own(request: Request, after: Annotated[int, Query(ge=0, le=protocol.MAX_BIGINT)] = 0) -> dict[str, Any]:
        return central.own(_device(central, request), after)

    # The village's rules and notices for the shop's kiosk (``ledger.board``): replaced whole at each sync.
    @app.get("/v1/board", tags=["sync"], response_model=protocol.VillageBoardWire)
    def village_board(request: Request) -> dict[str, Any]:
        device = _device(central, request)
        return board_to_json(awards.board_for_shop(central, device.shop_id))

    @app.get("/v1/status", tags=["sync"], response_model=protocol.StatusReply)
    def status(request: Request) -> dict[str, Any]:
        return central.status(_device(central, request))

    # POST, the code in the body: a passbook code in a URL ends up in every access log and proxy log,
    # and whoever reads it can look the household up (issue 11 §3). There is no GET any more (405).
    @app.post("/v1/kiosk/balance", tags=["kiosk"], response_model=bodies.KioskBalance)
    def kiosk_balance(request: Request, body: bodies.KioskBalanceIn) -> dict[str, Any]:
        _kiosk(central, request)
        return views.kiosk_view(central, body.code, _lang(request), body.village.upper() if body.village else None)

    @app.get("/v1/kiosk/board", tags=["kiosk"], response_model=bodies.KioskBoard)
    def kiosk_board(
        request: Request,
        village: Annotated[str, Query(min_length=1, max_length=32)],
        size: Annotated[int, Query(ge=0, le=views.BOARD_MAX)] = views.RANKING_TOP,
    ) -> dict[str, Any]:
        _kiosk(central, request)
        return views.kiosk_board(central, village.upper(), size)


def _actor(request: Request) -> Actor:
    return Actor(authz.caller(request), request.client.host if request.client else "")


def _caller(request: Request) -> Any:
    return getattr(request.state, "caller", None)


def _kiosk(central: CentralRecord, request: Request) -> None:
    if _caller(request) != "kiosk":
        central.check_kiosk(bearer(request))


def _device(central: CentralRecord, request: Request) -> CentralDevice:
    caller = _caller(request)
    return caller if isinstance(caller, CentralDevice) else central.device_for(bearer(request))


def _admin_routes(app: FastAPI, central: CentralRecord) -> None:
    # Who may use each route: ``sync.server.authz`` (the gate has found the caller already).
    router = APIRouter(prefix="/v1/admin")
    people: People = app.state.people

    @router.get("/township", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_township(request: Request) -> dict[str, Any]:
        return township.township_json(central)

    @router.put("/township", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    def put_township(request: Request, body: bodies.NameIn) -> dict[str, Any]:
        t = township.rename_township(central, body.name)
        return {"township_id": t.township_id, "name": t.name}

    @router.get("/policy", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_policy(request: Request) -> dict[str, Any]:
        return township.policy_json(central)

    @router.put("/policy", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    def put_policy(request: Request, body: bodies.PolicyIn) -> dict[str, Any]:
        return protocol.master_to_wire(township.set_policy(central, body.model_dump(exclude_none=True)))[1]

    @router.get("/villages", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_villages(request: Request) -> dict[str, Any]:
        return {"villages": township.villages(central)}

    @router.post("/villages", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_POLICY))])
    def post_village(request: Request, body: bodies.VillageIn) -> dict[str, Any]:
        v = township.put_village(central, body.village_id, body.name)
        return {"village_id": v.village_id, "name": v.name}

    @router.get("/shops", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_shops(request: Request) -> dict[str, Any]:
        return {"shops": township.shops(central)}

    @router.post("/shops", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    def post_shop(request: Request, body: bodies.ShopIn) -> dict[str, Any]:
        s = township.put_shop(central, body.shop_id, body.name, body.village_id)
        return {"shop_id": s.shop_id, "name": s.name, "village_id": s.village_id}

    @router.post(
        "/shops/{shop_id}/enrol-tokens", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))]
    )
    def post_enrol_token(request: Request, shop_id: Id16) -> dict[str, Any]:
        return {"shop_id": shop_id, "enrol_token": central.new_enrol_token(shop_id)}

    @router.get("/devices", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_devices(request: Request) -> dict[str, Any]:
        return {"devices": township.devices(central)}

    @router.post(
        "/devices/{device_id}/revoke", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))]
    )
    def revoke_device(request: Request, device_id: Id16) -> dict[str, Any]:
        township.revoke_device(central, device_id)
        return {"device_id": device_id, "revoked": True}

    @router.get(
        "/households", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))]
    )
    def get_households(
        request: Request,
        village: Annotated[str | None, Query(max_length=32)] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        return township.households(central, village, offset, limit)

    @router.post(
        "/households", tags=["admin"], dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.somewhere))]
    )
    def post_household(request: Request, body: bodies.HouseholdIn) -> dict[str, Any]:
        # A clerk adds and edits in their own village, and moves a household only between their villages.
        person = authz.caller(request)
        authz.check(person, Action.EDIT_HOUSEHOLDS, Scope(village_id=body.village_id.strip().upper()))
        if (existing := authz.household_scope(central, body.household_id)) is not None:
            authz.check(person, Action.EDIT_HOUSEHOLDS, existing)
        given = HouseholdInput(
            body.household_id.strip().upper(),
            body.village_id,
            body.head_name,
            body.home_shop_id,
            township.members_from([m.model_dump() if isinstance(m, bodies.MemberIn) else m for m in body.members]),
            body.village_group,
            body.house_no,
            body.phone,
        )
        return township.put_household(central, given)

    @router.post("/households/import", tags=["admin"], dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS))])
    def import_households(request: Request, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        return with_upload(file, lambda path: imports.import_households(central, path))

    @router.get(
        "/households/{household_id}",
        tags=["admin"],
        dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.household_path))],
    )
    def get_household(request: Request, household_id: Id16) -> dict[str, Any]:
        return township.household(central, household_id.upper())

    @router.post(
        "/households/{household_id}/reissue",
        tags=["admin"],
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.household_path))],
    )
    def reissue(request: Request, household_id: Id16) -> dict[str, Any]:
        return township.reissue_card(central, household_id.upper())

    @router.post(
        "/households/{household_id}/revoke-card",
        tags=["admin"],
        dependencies=[Depends(authz.needs(Action.EDIT_HOUSEHOLDS, authz.household_path))],
    )
    def revoke_card(request: Request, household_id: Id16) -> dict[str, Any]:
        return township.revoke_card(central, household_id.upper())

    @router.post(
        "/households/{household_id}/clear", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))]
    )
    def clear(request: Request, household_id: Id16, body: bodies.ReasonIn) -> dict[str, Any]:
        return township.txn_json(township.clear(central, household_id.upper(), body.reason))

    @router.post(
        "/households/{household_id}/unfreeze", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))]
    )
    def unfreeze(request: Request, household_id: Id16, body: bodies.ReasonIn) -> dict[str, Any]:
        return township.txn_json(township.unfreeze(central, household_id.upper(), body.reason))

    @router.post("/points", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))])
    def post_points(request: Request, body: bodies.PointsIn) -> dict[str, Any]:
        household_id = body.household_id.strip().upper()
        txns = awards.direct_points(
            central,
            people,
            _actor(request),
            lambda: township.award(central, household_id, body.points, body.reason, body.kind, body.txn_id),
            {"household_id": household_id, "points": body.points, "kind": body.kind, "reason": body.reason},
        )
        return {"transactions": [township.txn_json(t) for t in txns]}

    @router.post("/points/import", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))])
    def import_points(request: Request, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        what = {"sheet": file.filename or ""}
        return with_upload(
            file,
            lambda path: awards.direct_points(
                central, people, _actor(request), lambda: township.import_score_sheet(central, path), what
            ),
        )

    @router.post("/points/base-grant", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))])
    def base_grant(request: Request) -> dict[str, Any]:
        return {"households": len(township.grant_base(central))}

    @router.post("/points/close-cycle", tags=["admin"], dependencies=[Depends(authz.needs(Action.POST_POINTS))])
    def close_cycle(request: Request) -> dict[str, Any]:
        return {"households": len(township.close_cycle(central))}

    @router.get("/items", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_items(request: Request) -> dict[str, Any]:
        return {"items": township.items(central)}

    @router.post("/items", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_CATALOGUE))])
    def post_item(request: Request, body: bodies.ItemIn) -> dict[str, Any]:
        item = Item(
            body.sku.strip().upper(),
            body.name,
            body.unit,
            body.points,
            body.barcode or None,
            body.category,
            body.active,
        )
        return dataclasses.asdict(township.put_item(central, item))

    @router.get("/exceptions", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_exceptions(
        request: Request,
        status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
        kind: Annotated[str | None, Query(max_length=32)] = None,
        shop: Annotated[str | None, Query(max_length=16)] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        limit: Annotated[int, Query(ge=1, le=township.EXCEPTIONS_PAGE_MAX)] = township.EXCEPTIONS_PAGE,
    ) -> dict[str, Any]:
        """Exceptions newest first, one page at a time, with how many match in all (``total``)."""
        chosen = None if status == "all" else status
        return township.exceptions_page(central, chosen, kind, shop.upper() if shop else None, offset, limit)

    @router.post(
        "/exceptions/{exception_id}/resolve",
        tags=["admin"],
        dependencies=[Depends(authz.needs(Action.MANAGE_EXCEPTIONS))],
    )
    def resolve(request: Request, exception_id: BigId, body: bodies.ResolutionIn) -> dict[str, Any]:
        return township.resolve_exception(central, exception_id, body.resolution)

    @router.get("/held", tags=["admin"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def get_held(
        request: Request,
        status: Annotated[str, Query(pattern="^(held|kept|released|all)$")] = "held",
        shop: Annotated[str | None, Query(max_length=16)] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        return township.held(central, None if status == "all" else status, shop, offset, limit)

    @router.post("/held/{txn_id}/keep", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_EXCEPTIONS))])
    def keep_held(request: Request, txn_id: TxnIdParam, body: bodies.DecisionIn) -> dict[str, Any]:
        return township.decide_held(central, txn_id, False, body.by, body.reason)

    @router.post(
        "/held/{txn_id}/release", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_EXCEPTIONS))]
    )
    def release_held(request: Request, txn_id: TxnIdParam, body: bodies.DecisionIn) -> dict[str, Any]:
        return township.decide_held(central, txn_id, True, body.by, body.reason)

    @router.post("/kiosk-tokens", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    def post_kiosk_token(request: Request, body: bodies.KioskTokenIn) -> dict[str, Any]:
        return {"kiosk_token": central.new_kiosk_token(body.label)}

    @router.post("/bundles/apply", tags=["admin"], dependencies=[Depends(authz.needs(Action.MANAGE_SHOPS))])
    async def apply_bundle(request: Request) -> Response:
        body = await read_body(request, protocol.MAX_BODY_BYTES)
        reply = await run_in_threadpool(bundles.apply_and_reply, central, body)
        return Response(content=reply, media_type="application/octet-stream")

    app.include_router(router)


def _report_routes(app: FastAPI, central: CentralRecord) -> None:
    router = APIRouter(prefix="/v1/admin/reports")

    @router.get("/totals", tags=["reports"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def totals(request: Request) -> dict[str, Any]:
        return views.totals(central)

    @router.get(
        "/ranking", tags=["reports"], dependencies=[Depends(authz.needs(Action.READ_VILLAGE, authz.village_query()))]
    )
    def ranking(
        request: Request,
        village: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> dict[str, Any]:
        return {"village_id": village, "ranking": views.ranking(central, village, limit)}

    @router.get("/shops", tags=["reports"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def shop_totals(request: Request) -> dict[str, Any]:
        return {"shops": views.shop_totals(central)}

    @router.get("/liability", tags=["reports"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def liability(request: Request) -> dict[str, Any]:
        return views.liability(central)

    @router.get("/overdrafts", tags=["reports"], dependencies=[Depends(authz.needs(Action.READ_TOWNSHIP))])
    def overdrafts(request: Request) -> dict[str, Any]:
        return views.overdrafts(central)

    app.include_router(router)


def upload_name(filename: str | None) -> str:
    """The file name a client gave its upload, made safe to create and to store: its last part, printable
    characters of valid Unicode (no NUL, no lone surrogate, no slash), never "." or ".."; else "upload"."""
    name = Path(filename or "").name.encode("utf-8", "ignore").decode("utf-8")
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "/\\")[:100]
    return name if name.strip(". ") else "upload"


Done = TypeVar("Done")


def with_upload(upload: StarletteUpload, work: Callable[[Path], Done]) -> Done:
    """Save an uploaded sheet in a temporary folder (the readers want a path, the result names the file)."""
    name = upload_name(upload.filename)
    folder = Path(tempfile.mkdtemp(prefix="lovemart-upload-"))
    try:
        path = folder / name
        with path.open("wb") as out:
            size = 0
            while chunk := upload.file.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_IMPORT_BYTES:
                    raise SyncError("payload_too_large", limit=MAX_IMPORT_BYTES)
                out.write(chunk)
        return work(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


DATABASE_ENV = "LOVEMART_DATABASE_URL"


def app_from_env() -> FastAPI:
    """The application of a worker process (``serve(workers=N)``): the database comes from the environment.

    The parent process has already migrated the schema; workers never migrate, so two of them cannot
    race to create the same tables.
    """
    url = os.environ.get(DATABASE_ENV)
    if not url:
        raise RuntimeError(f"{DATABASE_ENV} is not set")
    return create_app(url, migrate=False)


def serve(
    database_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    workers: int = 1,
    log_level: str = "info",
    access_log: bool = True,
    certfile: str | None = None,
    keyfile: str | None = None,
    factory: str = "sync.server.app:app_from_env",
) -> None:
    """Run the central record with uvicorn until interrupted (``lovemart server``).

    ``workers`` > 1 runs that many processes on the same socket: a push's decoding and checks then use
    another core while one process holds the database's write lock (one writer at a time either way).
    ``certfile``/``keyfile`` (PEM) serve HTTPS directly, for a township without a reverse proxy
    (``deploy/`` has one): device and admin tokens must not cross a network in clear text.
    ``factory`` names the function each process builds its application with ("module:function", reading
    the database from ``LOVEMART_DATABASE_URL``): ``lovemart server`` passes the one with the console.
    """
    import uvicorn

    if (certfile is None) != (keyfile is None):
        raise ValueError("HTTPS needs both a certificate and its key")
    tls: dict[str, Any] = {"ssl_certfile": certfile, "ssl_keyfile": keyfile} if certfile else {}
    CentralStore.open(database_url).close()  # create or upgrade the schema once, before the workers start
    os.environ[DATABASE_ENV] = database_url
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        **tls,
    )
