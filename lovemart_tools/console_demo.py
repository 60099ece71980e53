"""A demo township for the console: three villages, their shops, households, a season of points, and people.

Everything goes through the real paths: the township's services make villages, households, goods and
awards at the central record; each shop is a real shop ledger, provisioned by enrolment, selling,
taking in stock and donations with its own services, and pushing over the real sync API. One shop
has stopped syncing (the overview warns about it) and one household was redeemed twice while a
deduction was on its way (an overdraft exception). The clock is simulated so the season spreads over
the past ninety days.

``lovemart central demo --database-url URL`` runs it; the screenshots and the browser tests use it.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger import services
from ledger.access import ConsoleRole, Grant
from ledger.errors import LedgerError
from ledger.model import Item, Operator, Policy, Role
from ledger.passbook import make_code
from ledger.register import HouseholdInput
from ledger.storage import SqlLedgerStore, open_ledger
from lovemart_tools.bench_sync import MiniClient
from lovemart_tools.demo import (
    AWARDS,
    DEDUCTIONS,
    DEMO_RULES,
    DONORS,
    GOODS,
    SimulatedClock,
    family,
)
from sync.server import township
from sync.server.people import SYSTEM, Actor, People
from sync.server.record import CentralRecord

# Demo only: the console's demo people share this password (never a real township's).
DEMO_PASSWORD = "lovemart-demo"
VILLAGES = (
    ("XF", "幸福村", "S01", "幸福村爱心超市"),
    ("HP", "和平村", "S02", "和平村爱心超市"),
    ("GM", "光明村", "S03", "光明村积分超市"),
)
SILENT_SHOP = "S03"  # stops syncing 40 days ago: the overview shows it late
DEMO_PEOPLE: tuple[tuple[str, str, list[Grant]], ...] = (
    ("wang", "王建华（乡镇管理员）", [Grant(ConsoleRole.ADMIN)]),
    ("li", "李秀英（幸福村积分员）", [Grant(ConsoleRole.CLERK, village_id="XF")]),
    ("chen", "陈国强（幸福村评议小组）", [Grant(ConsoleRole.REVIEWER, village_id="XF")]),
    ("zhao", "赵敏（审计）", [Grant(ConsoleRole.AUDITOR)]),
    ("liu", "刘芳（和平村超市）", [Grant(ConsoleRole.SHOP_MANAGER, shop_id="S02")]),
)
DAYS = 90


@dataclass
class DemoShop:
    shop_id: str
    village_id: str
    store: SqlLedgerStore
    client: MiniClient
    households: list[str]


def seed_console_demo(url: str, households: int = 60, seed: int = 2026) -> dict[str, Any]:
    """Fill an empty central record at ``url``; returns what was made (people, villages, counts)."""
    rng = random.Random(seed)
    now = datetime.now().astimezone().replace(microsecond=0)
    clock = SimulatedClock((now - timedelta(days=DAYS)).replace(hour=8, minute=0, second=0))
    record = CentralRecord.open(url, clock=clock)
    folder = Path(tempfile.mkdtemp(prefix="lovemart-console-demo-"))
    try:
        return _seed(record, rng, clock, now, households, folder)
    finally:
        record.close()
        for path in sorted(folder.glob("*"), reverse=True):
            path.unlink()
        folder.rmdir()


def _seed(
    record: CentralRecord, rng: random.Random, clock: SimulatedClock, now: datetime, households: int, folder: Path
) -> dict[str, Any]:
    import warnings

    with warnings.catch_warnings():  # Starlette's note on httpx versions, said on stderr of the command
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from sync.server.app import create_app

    policy = Policy(base_points=100, redeemable_floor=100, cycle="annual", visitor_limit=50, max_offline_days=30)
    if not record.initialise("T01", "红星镇", policy):
        raise LedgerError("demo_needs_empty_database")
    for sku, name, unit, points, category, barcode in GOODS:
        township.put_item(record, Item(sku, name, unit, points, barcode, category))
    used: set[str] = set()
    per_village = max(1, households // len(VILLAGES))
    ids_of: dict[str, list[str]] = {}
    for village_id, village_name, shop_id, shop_name in VILLAGES:
        township.put_village(record, village_id, village_name)
        township.put_shop(record, shop_id, shop_name, village_id)
        ids_of[village_id] = []
        for n in range(1, per_village + 1):
            hid = f"{village_id}{n:04d}"
            head, members = family(rng, used)
            township.put_household(record, HouseholdInput(hid, village_id, head, shop_id, tuple(members)))
            ids_of[village_id].append(hid)
    people = People(record)
    actor = Actor(SYSTEM, "demo")
    for name, full_name, grants in DEMO_PEOPLE:
        people.add_user(actor, name, full_name, DEMO_PASSWORD, grants)
    township.grant_base(record)

    app = create_app("unused", record=record)
    shops: list[DemoShop] = []
    with TestClient(app, base_url="http://127.0.0.1") as http:
        for village_id, _name_v, shop_id, _shop_name in VILLAGES:
            store = open_ledger(folder / f"{shop_id}.sqlite3", durable=False)
            client = MiniClient("http://127.0.0.1", http=http)
            client.provision(store, record.new_enrol_token(shop_id))
            shops.append(DemoShop(shop_id, village_id, store, client, ids_of[village_id]))
        clerk = Operator("02", "李建国", Role.CLERK)
        for shop in shops:
            ctx = services.Context(operator=clerk, clock=clock)
            services.stock_intake(
                shop.store, [(g[0], rng.randint(40, 120)) for g in GOODS], "县供销社", 1_500_000, ctx=ctx
            )
        for day in range(DAYS):
            _one_day(record, shops, rng, clock, now, day, clerk)
        _overdraft(record, shops[1], clock, now, clerk)
        for shop in shops:
            shop.store.close()
    _workflow(record, people, clock, now, ids_of["XF"])
    with record.store.read() as reading:
        counts = {"households": reading.household_count(), "transactions": reading.transaction_count()}
    return {
        "township": "红星镇",
        "villages": [v[0] for v in VILLAGES],
        "people": [{"name": n, "full_name": f} for n, f, _g in DEMO_PEOPLE],
        "password": DEMO_PASSWORD,
        **counts,
    }


def _one_day(
    record: CentralRecord,
    shops: list[DemoShop],
    rng: random.Random,
    clock: SimulatedClock,
    now: datetime,
    day: int,
    clerk: Operator,
) -> None:
    """A day: the committee's awards in the morning, the shops' sales in the afternoon, the sync at night."""
    today = (now - timedelta(days=DAYS - day)).replace(hour=9, minute=0, second=0)
    weights = [w for _, _, w in AWARDS]
    for shop in shops:
        for hid in rng.sample(shop.households, k=min(len(shop.households), rng.randint(0, 4))):
            clock.now = today + timedelta(minutes=rng.randint(0, 120))
            reason, points, _ = rng.choices(AWARDS, weights)[0]
            township.award(record, hid, points, reason)
        if rng.random() < 0.05:
            clock.now = today + timedelta(hours=2)
            reason, points = rng.choice(DEDUCTIONS)
            township.award(record, rng.choice(shop.households), points, reason, kind="deduct")
    for shop in shops:
        silent = shop.shop_id == SILENT_SHOP and day >= DAYS - 40
        ctx = services.Context(operator=clerk, clock=clock)
        if not silent:
            shop.client.pull(shop.store)
        for hid in rng.sample(shop.households, k=min(len(shop.households), rng.randint(0, 3))):
            clock.now = today + timedelta(hours=5, minutes=rng.randint(0, 240))
            _redeem(shop, rng, hid, ctx)
        if rng.random() < 0.08:
            clock.now = today + timedelta(hours=4)
            donor = rng.choice(DONORS)
            if rng.random() < 0.5:
                services.record_donation(shop.store, donor, amount_fen=rng.choice([50_000, 100_000]), ctx=ctx)
            else:
                goods = [(g[0], rng.randint(5, 20)) for g in rng.sample(GOODS, 2)]
                services.record_donation(shop.store, donor, goods=goods, memo="捐赠物资", ctx=ctx)
        if not silent:
            clock.now = today + timedelta(hours=12)
            shop.client.push(shop.store)


def _redeem(shop: DemoShop, rng: random.Random, hid: str, ctx: services.Context) -> str | None:
    try:
        view = services.balance_for_household(shop.store, hid, ctx.clock)
        if view.redeemable < 5 or view.card_no is None:
            return None
        with shop.store.read() as unit:
            code = make_code(unit.township().passbook_key, hid, view.card_no)
            stock = unit.stock_levels()
        cart: list[tuple[str, int]] = []
        spent = 0
        for sku, _n, _u, points, _c, _b in rng.sample(GOODS, len(GOODS)):
            if stock.get(sku, 0) > 0 and spent + points <= view.redeemable and len(cart) < 3:
                cart.append((sku, 1))
                spent += points
        if not cart:
            return None
        return services.redeem(shop.store, code, cart, ctx).transaction.receipt_no
    except LedgerError:
        return None  # as at a real counter: the villager could not afford it, or the shelf was empty


def _overdraft(record: CentralRecord, shop: DemoShop, clock: SimulatedClock, now: datetime, clerk: Operator) -> None:
    """Yesterday: the committee cleared a household's points while the shop, not yet told, sold to it."""
    clock.now = (now - timedelta(days=1)).replace(hour=9)
    shop.client.pull(shop.store)
    ctx = services.Context(operator=clerk, clock=clock)
    views = {hid: services.balance_for_household(shop.store, hid, clock) for hid in shop.households}
    hid = max(shop.households, key=lambda h: (views[h].redeemable, h))
    township.clear(record, hid, "酒驾（零容忍）")
    clock.now = (now - timedelta(days=1)).replace(hour=15)
    _redeem(shop, random.Random(7), hid, ctx)
    clock.now = (now - timedelta(days=1)).replace(hour=21)
    shop.client.push(shop.store)


def _workflow(record: CentralRecord, people: People, clock: SimulatedClock, now: datetime, xf: list[str]) -> None:
    """幸福村's points made the scheme's way: batch 1 published and issued, batch 2 past its notice and ready to
    issue, batch 3 on notice with an objection (record XF-000006), records waiting for review and for their
    check (one of them late)."""
    from sync.server import awards

    def actor(name: str) -> Actor:
        user = people.user_named(name)
        assert user is not None
        return Actor(user.person, "demo")

    li, chen, wang = actor("li"), actor("chen"), actor("wang")
    clock.now = now - timedelta(days=DAYS)
    awards.put_rules(
        record,
        people,
        wang,
        village_id=None,
        effective_from=clock.now.date().isoformat(),
        items=DEMO_RULES,
        note="2026 年积分细则",
    )

    def at(days_ago: int) -> str:
        clock.now = now - timedelta(days=days_ago)
        return clock.now.date().isoformat()

    def made(n: int, item: str, points: int, days_ago: int, reason: str, source: str) -> str:
        day = at(days_ago)
        return awards.record_points(
            record,
            people,
            li,
            household_ids=[xf[n % len(xf)]],
            item_code=item,
            points=points,
            day=day,
            place="",
            reason=reason,
            source=source,
        )[0].record_id

    def on_notice(
        records: list[str], checked: int, met: int, published: int, corrections: dict[str, tuple[int, str]]
    ) -> Any:
        """Check ``records`` (days ago), review them at a meeting (approved, or corrected with the reason) and
        publish the batch: the days it all happened, as a village committee would."""
        at(checked)
        for record_id in records:
            awards.check_record(record, people, li, record_id, "confirm")
        batch = awards.new_batch(record, people, chen, "XF", at(met), "陈国强、张伟、刘玉兰")
        for record_id in records:
            points, note = corrections.get(record_id, (None, ""))
            outcome = "approve" if points is None else "correct"
            awards.review_record(record, people, chen, record_id, batch.batch_id, outcome, points=points, note=note)
        at(published)
        return awards.publish_batch(record, people, chen, batch.batch_id)

    first = [
        made(0, "A01", 8, 20, "庭院干净，花草整齐", "cadre_visit"),
        made(1, "B01", 5, 20, "清扫村道", "declaration"),
        made(2, "D01", 5, 20, "柴草堆在路边", "neighbours"),
    ]
    meeting = on_notice(first, 19, 18, 18, {})
    # The second batch's window closed without objection: ready for the township to issue (核发).
    second = [
        made(3, "A02", 10, 10, "照顾瘫痪婆婆多年", "neighbours"),
        made(7, "B01", 5, 10, "帮助五保户收玉米", "cadre_visit"),
    ]
    on_notice(second, 9, 8, 8, {})
    # The third is on notice now, with an objection to one of its items.
    third = [
        made(4, "B02", 6, 5, "参加果树修剪培训", "declaration"),
        made(8, "A01", 9, 5, "院落干净，柴草堆放整齐", "cadre_visit"),
    ]
    on_notice(third, 4, 3, 2, {third[0]: (4, "只参加了半天")})
    at(1)
    awards.object_to(record, people, li, third[0], "张大爷", "他那天没去培训")
    waiting = made(5, "B01", 5, 2, "帮邻居抢收玉米", "cadre_visit")
    at(1)
    awards.check_record(record, people, li, waiting, "confirm")
    made(6, "A01", 6, 9, "院子打扫干净", "cadre_visit")  # not checked within the week: flagged
    clock.now = now
    awards.issue_batch(record, people, wang, meeting.batch_id)
