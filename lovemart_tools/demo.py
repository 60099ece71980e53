"""A realistic demo township: one village shop, its households, a year of points, goods and donations.

Everything goes through the services, in the order it would have happened, with a simulated clock,
so the demo ledger is a real ledger: the audit passes, the receipts chain, the ranking means
something. The same seed gives the same names, points and goods every time (only ids and the
township key are random, as in real life).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger import integrity, services
from ledger.board import Notice, NoticeLine, VillageBoard, store_board
from ledger.errors import LedgerError
from ledger.messages import text
from ledger.model import Household, HouseholdStatus, Item, Member, Operator, Policy, Role, Shop, Township, Village
from ledger.passbook import make_code
from ledger.rulebook import Direction, RuleItem
from lovemart import settings as settings_mod
from lovemart.bootstrap import ShopParts

SHOP_ID = "S01"
DEVICE_ID = "P1"
VILLAGE_ID = "V01"
DEMO_PINS = {"01": ("王秀兰", Role.MANAGER, "1234"), "02": ("李建国", Role.CLERK, "0000")}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
# Given names by the sex they are usually given to (a name worn by both, such as 永红, is left out), so that a
# member's name fits their relation to the head of the household: no 赵凤英 listed as a son.
MALE_GIVEN = (
    "建国 志强 国庆 德福 明亮 小军 振华 文斌 长林 宝山 俊杰 学文 福生 家宝 立新 守业 树林 春生 大勇 永刚 "
    "海涛 子豪 浩然 宇航"
).split()
FEMALE_GIVEN = (
    "秀英 桂兰 玉兰 海燕 春梅 金花 丽娟 红梅 淑珍 凤英 翠兰 秀芳 兰芳 彩霞 美玲 喜梅 桂芝 巧云 婷婷 欣怡 雨涵 春燕"
).split()
GIVEN = MALE_GIVEN + FEMALE_GIVEN  # either sex (for demos that do not care whose name it is)
RELATIONS = ["配偶", "儿子", "女儿", "母亲", "父亲", "孙子", "孙女", "儿媳"]
# Whether the member in that relation to the head is a man; None: the spouse, of the head's opposite sex.
RELATION_IS_MALE: dict[str, bool | None] = {
    "配偶": None,
    "儿子": True,
    "女儿": False,
    "母亲": False,
    "父亲": True,
    "孙子": True,
    "孙女": False,
    "儿媳": False,
}
ONE_ONLY = {"配偶", "母亲", "父亲"}  # a head has one of each, however many children
HEAD_IS_MALE = 0.7  # the share of households registered under a man

# (sku, name, unit, points, category, barcode)
GOODS: list[tuple[str, str, str, int, str, str | None]] = [
    ("RICE5", "大米", "5kg袋", 30, "粮油", "6901234500011"),
    ("RICE10", "大米", "10kg袋", 58, "粮油", "6901234500028"),
    ("FLOUR5", "面粉", "5kg袋", 25, "粮油", "6901234500035"),
    ("OIL5", "食用油", "5L桶", 60, "粮油", "6901234500042"),
    ("OIL1", "食用油", "1.8L瓶", 25, "粮油", "6901234500059"),
    ("NOODLE", "挂面", "1kg包", 6, "粮油", "6901234500066"),
    ("MILLET", "小米", "2kg袋", 15, "粮油", "6901234500073"),
    ("SALT", "食盐", "400g袋", 2, "调味品", "6901234500080"),
    ("SOY", "酱油", "500ml瓶", 6, "调味品", "6901234500097"),
    ("VINEGAR", "陈醋", "500ml瓶", 5, "调味品", "6901234500103"),
    ("SUGAR", "白糖", "500g袋", 5, "调味品", "6901234500110"),
    ("MSG", "味精", "200g袋", 4, "调味品", None),
    ("CHILI", "辣椒面", "250g袋", 5, "调味品", None),
    ("SOAP", "肥皂", "块", 3, "洗护", "6901234500127"),
    ("DETERG", "洗衣粉", "1.5kg袋", 12, "洗护", "6901234500134"),
    ("LIQUID", "洗衣液", "2kg瓶", 20, "洗护", "6901234500141"),
    ("DISH", "洗洁精", "1.1kg瓶", 8, "洗护", "6901234500158"),
    ("SHAMPOO", "洗发水", "400ml瓶", 18, "洗护", "6901234500165"),
    ("PASTE", "牙膏", "支", 6, "洗护", "6901234500172"),
    ("BRUSH", "牙刷", "支", 3, "洗护", "6901234500189"),
    ("TOWEL", "毛巾", "条", 8, "洗护", "6901234500196"),
    ("TISSUE", "卫生纸", "10卷提", 15, "日用品", "6901234500202"),
    ("NAPKIN", "抽纸", "3包提", 9, "日用品", "6901234500219"),
    ("BASIN", "脸盆", "个", 10, "日用品", None),
    ("BUCKET", "水桶", "个", 15, "日用品", None),
    ("BROOM", "扫帚", "把", 10, "日用品", None),
    ("MOP", "拖把", "把", 15, "日用品", None),
    ("BAGS", "垃圾袋", "卷", 3, "日用品", "6901234500226"),
    ("BULB", "节能灯泡", "个", 8, "日用品", "6901234500233"),
    ("TORCH", "手电筒", "个", 15, "日用品", None),
    ("BATTERY", "5号电池", "4节", 5, "日用品", "6901234500240"),
    ("THERMOS", "暖水瓶", "个", 25, "日用品", None),
    ("NOTEBOOK", "作业本", "10本", 5, "文具", "6901234500257"),
    ("PEN", "中性笔", "5支", 5, "文具", "6901234500264"),
    ("PENCIL", "铅笔", "10支", 4, "文具", "6901234500271"),
    ("SCHOOLBAG", "书包", "个", 40, "文具", None),
    ("ERASER", "橡皮", "3块", 2, "文具", None),
    ("MILK", "纯牛奶", "12盒箱", 35, "食品", "6901234500288"),
    ("EGGS", "鸡蛋", "30枚", 25, "食品", None),
    ("BISCUIT", "饼干", "袋", 6, "食品", "6901234500295"),
    ("TEA", "茶叶", "250g盒", 30, "食品", None),
    ("UMBRELLA", "雨伞", "把", 20, "日用品", None),
    ("GLOVES", "劳保手套", "5双", 6, "日用品", None),
]

AWARDS = [
    ("庭院整洁（美丽庭院）", 5, 10),
    ("参加志愿服务", 10, 8),
    ("参加技能培训", 5, 5),
    ("孝老爱亲", 20, 3),
    ("移风易俗、红白事简办", 10, 2),
    ("垃圾分类到位", 5, 8),
    ("参加村民大会", 2, 6),
    ("邻里互助", 5, 4),
    ("子女考上大学", 30, 1),
    ("见义勇为", 50, 1),
]
DEDUCTIONS = [("乱堆乱放", 5), ("乱倒垃圾", 5), ("不参加集体劳动", 5), ("酒后滋事", 20)]
DONORS = ["县供销社", "华兴农业有限公司", "镇卫生院", "在外乡贤刘德福", "县邮政分公司", "爱心人士（匿名）"]


@dataclass
class DemoSummary:
    home: str
    ledger: str
    township: str
    shop: str
    households: int
    items: int
    transactions: int
    points_balance: int
    points_redeemable: int
    sample_codes: list[tuple[str, str, str]] = field(default_factory=list)
    created: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "ledger": self.ledger,
            "shop_id": SHOP_ID,
            "device_id": DEVICE_ID,
            "households": self.households,
            "items": self.items,
            "transactions": self.transactions,
            "points_balance": self.points_balance,
            "points_redeemable": self.points_redeemable,
            "created": self.created,
            "operators": [
                {"operator_id": oid, "name": name, "role": str(role), "pin": pin}
                for oid, (name, role, pin) in DEMO_PINS.items()
            ],
            "sample_passbooks": [{"household_id": h, "name": n, "passbook": c} for h, n, c in self.sample_codes],
        }

    def text(self, lang: str, program: str = "lovemart") -> list[str]:
        lines = [
            text("demo.created" if self.created else "demo.exists", lang, ledger=self.ledger),
            f"{self.township} · {self.shop}",
            text(
                "demo.figures",
                lang,
                households=self.households,
                items=self.items,
                transactions=self.transactions,
                balance=self.points_balance,
                redeemable=self.points_redeemable,
            ),
            text("demo.operators", lang),
        ]
        for oid, (name, role, pin) in DEMO_PINS.items():
            lines.append(f"  {oid} {name} {role} PIN {pin}")
        lines.append(text("demo.try", lang))
        if self.sample_codes:
            hid, name, code = self.sample_codes[0]
            lines += [
                f"  {program} --home {self.home} balance {code}",
                f"  {program} --home {self.home} redeem {code} SOAP=2 SALT=1",
            ]
        lines += [
            f"  {program} --home {self.home} stock list",
            f"  {program} --home {self.home} audit verify",
        ]
        return lines


# The township's rules (积分细则), as the seeds describe them: classes, reward and penalty items, ranges.
DEMO_RULES = (
    RuleItem("A01", "庭院整洁、房前屋后干净", "评议分", Direction.REWARD, 1, 10, village_low=1, village_high=15),
    RuleItem("A02", "孝老爱亲、邻里和睦", "评议分", Direction.REWARD, 5, 20),
    RuleItem("B01", "参加志愿服务（每次）", "贡献分", Direction.REWARD, 5, 5),
    RuleItem("B02", "参加技能培训", "贡献分", Direction.REWARD, 3, 10),
    RuleItem("C01", "见义勇为、拾金不昧", "表彰分", Direction.REWARD, 50, 100),
    RuleItem("D01", "乱倒垃圾、乱堆乱放", "扣分项", Direction.PENALTY, 2, 10),
    RuleItem("D02", "不赡养老人", "扣分项", Direction.PENALTY, 20, 50),
    RuleItem("Z01", "酒驾醉驾、黄赌毒", "零容忍", Direction.PENALTY, 1, 1, zero_tolerance=True),
)


# The demo township's passbook key is the same on every machine, so the passbook codes in the README work as
# written on anyone's demo. A demo key is public: never use a demo folder for a real shop (lovemart init).
DEMO_KEY = hashlib.sha256(b"lovemart demo township T01").digest()


def run(home: ShopParts, households: int = 200, seed: int = 2026, reset: bool = False) -> DemoSummary:
    if households < 1 or households > 100_000:
        raise LedgerError("bad_quantity", value=households, max=100_000)
    if reset and home.exists:
        home.close()
        for suffix in ("", "-wal", "-shm"):
            path = home.settings.ledger_path.with_name(home.settings.ledger_path.name + suffix)
            path.unlink(missing_ok=True)
    created = not home.exists
    if created:
        # No printer or camera is assumed: receipts go to a file in the home folder (replace the
        # [printer] section with the shop's real printer, see README), the camera is the first one.
        changes: dict[str, dict[str, str | int]] = {"shop": {"id": SHOP_ID, "device": DEVICE_ID}}
        if home.settings.printer.connection is None:
            changes["printer"] = {"connection": "file", "path": "printer-out.bin", "width": 58}
        if not home.settings.config_path.exists():
            changes["scanner"] = {"decoder": "zxing", "camera": 0}
        settings_mod.update(home.settings, changes)
        seed_township(home, households, seed)
        # As after a real shop's day close: the whole ledger audited and recorded, so the till's start-up
        # check reads from a checkpoint and doctor has an audit to report (ledger.integrity).
        integrity.full_audit(home.store())
    return summarize(home, created)


def summarize(home: ShopParts, created: bool) -> DemoSummary:
    store = home.store()
    with store.read() as unit:
        township = unit.township()
        policy = unit.policy()
        identity = unit.identity()
        shop = unit.shop(identity.shop_id)
        rows = unit.households()
        balance = sum(r.balance for r in rows)
        redeemable = sum(services.redeemable_points(unit, r.household, r.balance, policy) for r in rows)
        samples = [
            (
                r.household.household_id,
                r.household.head_name,
                make_code(township.passbook_key, r.household.household_id, r.card_no),
            )
            for r in rows
            if r.card_no and r.household.status == HouseholdStatus.ACTIVE and r.balance > policy.redeemable_floor + 20
        ][:3]
        transactions = sum(1 for _ in unit.journal())
        items = len(unit.items())
    return DemoSummary(
        home=str(home.home),
        ledger=str(home.settings.ledger_path),
        township=township.name,
        shop=shop.name if shop else identity.shop_id,
        households=len(rows),
        items=items,
        transactions=transactions,
        points_balance=balance,
        points_redeemable=redeemable,
        sample_codes=samples,
        created=created,
    )


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def seed_township(home: ShopParts, households: int, seed: int) -> None:
    rng = random.Random(seed)
    store = home.store(create=True)
    now = datetime.now().astimezone().replace(microsecond=0)
    start = (now - timedelta(days=330)).replace(hour=9, minute=0, second=0)
    clock = SimulatedClock(start)
    ctx = services.Context(operator=services.ADMIN, clock=clock)
    policy = Policy(base_points=100, redeemable_floor=100, cycle="annual", fen_per_point=100, visitor_limit=50)
    services.set_up_shop(
        store,
        Township("T01", "红星镇", DEMO_KEY),
        Village(VILLAGE_ID, "幸福村"),
        Shop(SHOP_ID, "幸福村爱心超市", VILLAGE_ID),
        DEVICE_ID,
        policy,
    )
    for oid, (name, role, pin) in DEMO_PINS.items():
        services.add_operator(store, oid, name, role, pin)
    clerk = services.Context(operator=Operator("02", DEMO_PINS["02"][0], Role.CLERK), clock=clock)
    manager = services.Context(operator=Operator("01", DEMO_PINS["01"][0], Role.MANAGER), clock=clock)

    with store.write():
        ids = []
        used_names: set[str] = set()
        for n in range(1, households + 1):
            hid = f"XF{n:04d}"
            name, members = family(rng, used_names)
            services.register_household(store, Household(hid, VILLAGE_ID, name, SHOP_ID, members=tuple(members)), clock)
            ids.append(hid)
        for sku, name, unit, points, category, barcode in GOODS:
            services.add_item(store, Item(sku, name, unit, points, barcode, category))
        services.stock_intake(store, [(g[0], rng.randint(40, 120)) for g in GOODS], "县供销社", 1_500_000, ctx=ctx)
        services.grant_base(store, ctx)

        events = _year_of_events(rng, ids, start, now)
        receipts: list[str] = []
        for when, kind, payload in sorted(events, key=lambda e: e[0]):
            clock.now = when
            try:
                if kind == "award":
                    services.award(store, payload[0], payload[1], payload[2], ctx)
                elif kind == "deduct":
                    services.deduct(store, payload[0], payload[1], payload[2], ctx)
                elif kind == "redeem":
                    receipt = _redeem_something(store, rng, payload[0], clerk)
                    if receipt:
                        receipts.append(receipt)
                elif kind == "restock":
                    low = [sku for sku, on_hand in _stock(store).items() if on_hand < 30]
                    if low:
                        services.stock_intake(
                            store, [(s, rng.randint(30, 80)) for s in low], "县供销社", 300_000, ctx=ctx
                        )
                elif kind == "donation":
                    donor = rng.choice(DONORS)
                    if rng.random() < 0.5:
                        services.record_donation(
                            store,
                            donor,
                            amount_fen=rng.choice([50_000, 100_000, 200_000]),
                            memo="用于爱心超市采购",
                            ctx=ctx,
                        )
                    else:
                        goods = [(g[0], rng.randint(5, 20)) for g in rng.sample(GOODS, 3)]
                        services.record_donation(store, donor, goods=goods, memo="捐赠物资", ctx=ctx)
                elif kind == "void" and receipts:
                    services.void(store, receipts.pop(rng.randrange(len(receipts))), "顾客换货", manager)
            except LedgerError:
                continue  # the demo villager could not afford it, as happens at a real counter
        clock.now = now - timedelta(days=20)
        services.clear_household(store, ids[-1], "酒驾（零容忍）", manager)
        if len(ids) > 2:
            services.reissue_passbook(store, ids[-2], clock)
        clock.now = now - timedelta(days=3)
        services.stock_count(store, {"SOAP": max(0, _stock(store).get("SOAP", 0) - 1)}, "月底盘点", ctx=manager)
        _notice_board(store, now)
        # The past year's receipts were printed at the time; only what happens from now on waits to print.
        with store.write() as writing:
            for job in writing.print_jobs(status="pending"):
                writing.finish_print_job(job.job_id, job.created_at)


def _notice_board(store: Any, now: datetime) -> None:
    """The village board a township would send the shop (``ledger.board``): its rules, and a notice (公示) on
    which the households with the most points earned have an item, so the kiosk's notice panel and a
    household's "on notice" lines can be seen. A real standalone shop has no township to send one."""
    with store.read() as unit:
        rows = [r for r in unit.households() if r.household.status == HouseholdStatus.ACTIVE and r.card_no]
    top = sorted(rows, key=lambda r: (-r.earned_cycle, r.household.household_id))[:6]
    items = [
        ("庭院整洁、房前屋后干净", 8, "院落干净，柴草堆放整齐"),
        ("参加志愿服务（每次）", 5, "清扫村道"),
        ("孝老爱亲、邻里和睦", 10, "照顾瘫痪在床的婆婆十年"),
        ("参加技能培训", 3, "参加县里的电商培训"),
        ("乱倒垃圾、乱堆乱放", -4, "垃圾倒在河边"),
        ("庭院整洁、房前屋后干净", 6, "房前屋后干净"),
    ]
    lines = tuple(
        NoticeLine(r.household.household_id, r.household.head_name, item, points, reason)
        for r, (item, points, reason) in zip(top, items, strict=False)
    )
    first, last = (now - timedelta(days=1)).date(), (now + timedelta(days=3)).date()
    notice = Notice(3, "幸福村", first.isoformat(), last.isoformat(), lines)
    with store.write() as unit:
        store_board(unit, VillageBoard(VILLAGE_ID, DEMO_RULES, (notice,), now.isoformat()))


def family(rng: random.Random, used: set[str]) -> tuple[str, list[Member]]:
    """A household's head (a name not in ``used``, which is added to it) and its members, the head first.

    Each member's given name fits the sex of their relation to the head (the spouse is of the head's opposite
    sex). Sons, daughters and grandchildren carry the family's surname: the head's if the head is a man, else
    the husband's; the head's father carries the head's surname; the spouse of a man, the head's mother and a
    daughter-in-law were born into other families. No relation that a head has only one of is drawn twice,
    and no two members share a name.
    """
    head_is_male = rng.random() < HEAD_IS_MALE
    head = _unique_name(rng, used, MALE_GIVEN if head_is_male else FEMALE_GIVEN)
    head_surname = head[0]
    family_surname = head_surname if head_is_male else rng.choice(SURNAMES)
    members = [Member(head, "户主")]
    names = {head}
    for _ in range(rng.randint(1, 4)):
        taken = {m.relation for m in members} & ONE_ONLY
        relation = rng.choice([r for r in RELATIONS if r not in taken])
        is_male = RELATION_IS_MALE[relation]
        if is_male is None:
            is_male = not head_is_male
        if relation == "父亲":
            surname = head_surname
        elif relation in ("儿子", "女儿", "孙子", "孙女") or (relation == "配偶" and is_male):
            surname = family_surname
        else:
            surname = rng.choice(SURNAMES)
        given = MALE_GIVEN if is_male else FEMALE_GIVEN
        name = surname + rng.choice(given)
        while name in names:
            name = surname + rng.choice(given)
        names.add(name)
        members.append(Member(name, relation))
    return head, members


def _unique_name(rng: random.Random, used: set[str], given: list[str] | None = None) -> str:
    """A full name not in ``used`` (which it is added to), its given name from ``given`` (either sex if None)."""
    pool = GIVEN if given is None else given
    for _ in range(50):
        name = rng.choice(SURNAMES) + rng.choice(pool)
        if name not in used:
            used.add(name)
            return name
    name = rng.choice(SURNAMES) + rng.choice(pool) + rng.choice(pool)[0]
    used.add(name)
    return name


def _stock(store: Any) -> dict[str, int]:
    with store.read() as unit:
        levels: dict[str, int] = unit.stock_levels()
        return levels


def _year_of_events(
    rng: random.Random, ids: list[str], start: datetime, end: datetime
) -> list[tuple[datetime, str, tuple[Any, ...]]]:
    # Whole days before today, whatever the time the demo is made: the same seed makes the same year on
    # every machine and at every hour (the README's receipt numbers and balances are this demo's).
    days = max(1, (end.date() - start.date()).days)

    def when() -> datetime:
        moment = start + timedelta(days=rng.randrange(days))
        return moment.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59))

    events: list[tuple[datetime, str, tuple[Any, ...]]] = []
    weights = [w for _, _, w in AWARDS]
    for hid in ids:
        diligence = rng.random()
        for _ in range(int(4 + diligence * 16)):
            reason, points, _ = rng.choices(AWARDS, weights)[0]
            events.append((when(), "award", (hid, points, reason)))
        if rng.random() < 0.15:
            reason, points = rng.choice(DEDUCTIONS)
            events.append((when(), "deduct", (hid, points, reason)))
        for _ in range(rng.randint(0, 6)):
            events.append((when(), "redeem", (hid,)))
    for _ in range(max(4, len(ids) // 40)):
        events.append((when(), "donation", ()))
    for _ in range(12):
        events.append((when(), "restock", ()))
    for _ in range(max(2, len(ids) // 100)):
        events.append((when(), "void", ()))
    return events


def _redeem_something(store: Any, rng: random.Random, hid: str, ctx: services.Context) -> str | None:
    view = services.balance_for_household(store, hid, ctx.clock)
    if view.redeemable < 5 or view.card_no is None:
        return None
    with store.read() as unit:
        code = make_code(unit.township().passbook_key, hid, view.card_no)
    budget = rng.randint(5, view.redeemable)
    cart: list[tuple[str, int]] = []
    spent = 0
    for sku, _name, _unit, points, _cat, _bc in rng.sample(GOODS, len(GOODS)):
        if spent + points <= budget and len(cart) < 4:
            cart.append((sku, 1 if points > 10 else rng.randint(1, 3)))
            spent += points * cart[-1][1]
    cart = [(s, q) for s, q in cart if q]
    if not cart:
        return None
    return services.redeem(store, code, cart, ctx).transaction.receipt_no
