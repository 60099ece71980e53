"""Shops, their devices and enrolment codes; the goods and each shop's stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from console.pages.common import (
    actor_of,
)
from console.web import (
    back_to,
    checked_form,
    field,
    person_of,
    render,
)
from ledger.access import Action, Scope, may
from ledger.errors import LedgerError
from ledger.model import Item
from sync.errors import SyncError
from sync.server import authz, overview, township
from sync.server.people import People
from sync.server.record import CentralRecord


def shop_routes(router: APIRouter, central: CentralRecord, people: People) -> None:
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
            actor_of(request),
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
        await run_in_threadpool(people.changed, actor_of(request), "shop.enrol_code", shop_id)
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
            people.changed, actor_of(request), "device.revoke", device_id, {"active": True}, {"active": False}
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

    @router.post("/goods", dependencies=[Depends(authz.needs(Action.MANAGE_CATALOGUE))])
    async def put_goods(request: Request) -> Response:
        """Add an item to the township's catalogue or change one (its price reaches each shop at its next sync)."""
        form = await checked_form(request)
        sku = field(form, "sku", 32).upper()
        points = field(form, "points", 9)
        if not points.isdigit():
            raise LedgerError("bad_points", value=points or "—", max=1_000_000)
        before = next((i for i in township.items(central) if i["sku"] == sku), None)
        item = Item(
            sku,
            field(form, "name"),
            field(form, "unit", 16),
            int(points),
            field(form, "barcode", 64) or None,
            field(form, "category", 64),
            form.get("active", "1") == "1",
        )
        await run_in_threadpool(township.put_item, central, item)
        after = next((i for i in township.items(central) if i["sku"] == sku), None)
        await run_in_threadpool(people.changed, actor_of(request), "item.put", sku, before, after)
        return back_to("/goods")
