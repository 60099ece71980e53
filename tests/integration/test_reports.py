"""Reports on real SQLite ledgers: day close, ranking, liability and the four ledgers (台账)."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger import reports, services
from ledger.errors import LedgerError
from ledger.model import Household, Item, Role, Village
from tests.conftest import ADMIN_CTX

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2030, 5, 1)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> services.Context:
    when = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=CST)
    return services.Context(services.ADMIN, lambda: when)


def as_op(ctx: services.Context, operator_id: str, store) -> services.Context:
    with store.read() as unit:
        operator = unit.operator(operator_id)
    assert operator is not None
    return services.Context(operator=operator, clock=ctx.clock)


@pytest.fixture
def day_shop(shop):
    """A scripted trading day, with transactions just before and just after it."""
    store = shop.store
    services.add_operator(store, "c1", "王店员", Role.CLERK, "1111")
    services.add_operator(store, "m1", "李店长", Role.MANAGER, "2222")
    h1 = shop.household("H1", "张三", points=300)
    h2 = shop.household("H2", "李四", points=500)
    shop.item("RICE", 30, stock=20, name="大米")
    shop.item("OIL", 50, stock=10, name="食用油")

    def clerk(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> services.Context:
        return as_op(at(day, hour, minute, second), "c1", store)

    def manager(hour: int, minute: int = 0) -> services.Context:
        return as_op(at(DAY, hour, minute), "m1", store)

    services.redeem(store, h1, [("RICE", 1)], clerk(23, 59, 59, DAY - dt.timedelta(days=1)))
    first = services.redeem(store, h1, [("RICE", 2), ("OIL", 1)], clerk(9))
    mistake = services.redeem(store, h2, [("RICE", 1)], clerk(10))
    services.void(store, mistake.transaction.receipt_no, "输错户号", manager(11))
    donation = services.record_donation(store, "张老板", 50_000, [("OIL", 5)], "支持爱心超市", ctx=manager(12))
    services.stock_intake(store, [("RICE", 10)], supplier="供销社", ctx=clerk(13))
    services.write_off(store, "OIL", 1, "油桶破损", manager(14))
    last = services.redeem(store, h2, [("OIL", 1)], clerk(23, 59, 59))
    services.redeem(store, h1, [("RICE", 1)], clerk(0, 0, 1, DAY + dt.timedelta(days=1)))
    return {
        "first": first.transaction,
        "mistake": mistake.transaction,
        "donation": donation,
        "last": last.transaction,
    }


def test_day_close_counts_only_the_local_day(shop, day_shop):
    close = reports.day_close(shop.store, DAY)
    assert close.day == DAY and close.shop_id == "S1"
    assert close.redemptions == 3
    assert close.points_redeemed == 110 + 30 + 50
    assert close.items_redeemed == 3 + 1 + 1
    assert (close.voids, close.points_returned, close.items_returned) == (1, 30, 1)
    assert close.net_points == 160
    assert close.net_items == 4
    assert (close.donations, close.donation_fen, close.donation_yuan, close.donated_goods) == (1, 50_000, "500.00", 5)
    assert (close.stock_ins, close.stock_in_qty) == (1, 10)
    assert (close.write_offs, close.write_off_qty) == (1, 1)
    assert close.items == (
        reports.ItemTally("OIL", "食用油", 2, 100),
        reports.ItemTally("RICE", "大米", 2, 60),
    )
    assert close.operators == (
        reports.OperatorTally("c1", "王店员", 4, 3, 190),
        reports.OperatorTally("m1", "李店长", 3, 0, 0),
    )


def test_day_close_of_a_quiet_day_is_all_zero(shop, day_shop):
    close = reports.day_close(shop.store, DAY + dt.timedelta(days=10))
    assert close.redemptions == close.points_redeemed == close.voids == close.donations == 0
    assert close.items == () and close.operators == ()


def test_ranking_ties_share_a_rank_and_redemptions_do_not_lower_it(shop):
    with shop.store.write() as unit:
        unit.put_village(Village("V2", "团结村"))
    shop.household("A", "赵一", points=300)
    b = shop.household("B", "钱二", points=250)
    shop.household("C", "孙三", points=250)
    shop.household("D", "李四", points=210)
    services.deduct(shop.store, "D", 10, "乱扔垃圾", ctx=ADMIN_CTX)
    services.register_household(shop.store, Household("Z", "V2", "周五", "S1"))
    services.award(shop.store, "Z", 500, "外村", ctx=ADMIN_CTX)
    shop.item("RICE", 30, stock=10)

    before = reports.ranking(shop.store, village_id="V1")
    assert [(r.rank, r.household_id, r.earned_cycle) for r in before] == [
        (1, "A", 300),
        (2, "B", 250),
        (2, "C", 250),
        (4, "D", 200),
    ]
    services.redeem(shop.store, b, [("RICE", 2)], ctx=ADMIN_CTX)
    after = reports.ranking(shop.store, village_id="V1")
    assert [(r.rank, r.household_id) for r in after] == [(1, "A"), (2, "B"), (2, "C"), (4, "D")]
    row_b = after[1]
    assert (row_b.name, row_b.earned_cycle, row_b.balance) == ("钱二", 250, 190)

    everyone = reports.ranking(shop.store)
    assert everyone[0].household_id == "Z" and everyone[0].rank == 1
    assert [r.household_id for r in reports.ranking(shop.store, limit=2)] == ["Z", "A"]


def test_liability_compares_redeemable_points_with_stock(shop):
    shop.household("H1", points=300)  # floor 100: 200 redeemable
    shop.household("H2", points=50)  # under the floor: nothing redeemable
    shop.household("H3", points=400, home_shop="S2")  # a visitor: at most 50 here
    shop.household("H4", points=80)
    services.clear_household(shop.store, "H4", "违反村规", ctx=ADMIN_CTX)  # cleared and frozen
    with pytest.raises(LedgerError) as refused:
        services.award(shop.store, "H4", 80, "补记", ctx=ADMIN_CTX)  # a frozen household receives no award
    assert refused.value.code == "household_frozen_no_award"
    assert [r.household_id for r in reports.ranking(shop.store)] == ["H3", "H1", "H2"]  # frozen: off the red list
    shop.item("RICE", 30, stock=5)
    shop.item("OIL", 50, stock=2)
    shop.item("SOAP", 10, stock=10)
    services.add_item(shop.store, Item("SOAP", "商品SOAP", "件", 10, active=False))

    owed = reports.liability(shop.store)
    assert owed.households == 4
    assert owed.total_balance == 300 + 50 + 400 + 0
    assert owed.total_redeemable == 200 + 0 + 50 + 0
    assert owed.stock_points == 5 * 30 + 2 * 50
    assert owed.ratio == 1.0
    assert not owed.at_risk and owed.shortfall == 0

    services.write_off(shop.store, "OIL", 1, "过期", ctx=ADMIN_CTX)
    owed = reports.liability(shop.store)
    assert owed.stock_points == 200
    assert owed.at_risk and owed.shortfall == 50


def test_liability_with_an_empty_shelf_has_no_ratio(shop):
    shop.household("H1", points=300)
    owed = reports.liability(shop.store)
    assert owed.ratio is None and owed.at_risk and owed.shortfall == 200


def test_redemption_ledger_marks_voids(shop, day_shop):
    rows = reports.redemption_ledger(shop.store)
    assert len(rows) == 6  # five redemptions and one void
    by_receipt = {r.receipt_no: r for r in rows}
    first = by_receipt[day_shop["first"].receipt_no]
    assert first.when == "2030-05-01 09:00:00"
    assert (first.household_id, first.name, first.goods, first.points) == ("H1", "张三", "大米×2, 食用油×1", 110)
    assert (first.operator, first.status, first.note) == ("王店员", "", "")

    mistake = by_receipt[day_shop["mistake"].receipt_no]
    void_row = next(r for r in rows if r.status == reports.VOID_MARK)
    assert mistake.status == "已作废" and void_row.receipt_no in mistake.note
    assert void_row.points == -30 and void_row.goods == "大米×1"
    assert void_row.operator == "李店长"
    assert mistake.receipt_no in void_row.note and "输错户号" in void_row.note
    assert sum(r.points for r in rows) == 30 + 110 + 30 - 30 + 50 + 30
    assert rows[0].cells()[0] == rows[0].when and len(rows[0].cells()) == len(reports.RedemptionRow.HEADER)


def test_stock_in_ledger_lists_bought_and_donated_goods(shop, day_shop):
    rows = reports.stock_in_ledger(shop.store)
    assert [(r.source, r.party, r.sku, r.name, r.qty, r.points_each) for r in rows] == [
        ("采购", "供销社", "RICE", "大米", 20, 30),
        ("采购", "供销社", "OIL", "食用油", 10, 50),
        ("捐赠", "张老板", "OIL", "食用油", 5, 50),
        ("采购", "供销社", "RICE", "大米", 10, 30),
    ]
    donated = rows[2]
    assert donated.date == "2030-05-01" and donated.receipt_no == day_shop["donation"].receipt_no


def test_donation_ledger_has_money_as_exact_yuan(shop, day_shop):
    services.record_donation(shop.store, "王大妈", 1_005, ctx=ADMIN_CTX)
    rows = reports.donation_ledger(shop.store)
    assert [(r.donor, r.amount_yuan, r.goods, r.memo) for r in rows] == [
        ("张老板", "500.00", "食用油×5", "支持爱心超市"),
        ("王大妈", "10.05", "", ""),
    ]
    assert rows[0].date == "2030-05-01"


def test_points_ledger_has_running_balances_and_chinese_kinds(shop, day_shop):
    services.deduct(shop.store, "H1", 20, "乱扔垃圾", ctx=ADMIN_CTX)
    rows = reports.points_ledger(shop.store, "H1")
    assert [(r.kind, r.change, r.balance) for r in rows] == [
        ("奖励", 300, 300),
        ("兑换", -30, 270),
        ("兑换", -110, 160),
        ("兑换", -30, 130),
        ("扣分", -20, 110),
    ]
    assert rows[0].memo == "测试奖励" and rows[2].memo == "大米×2, 食用油×1"
    assert rows[2].date == "2030-05-01" and rows[2].receipt_no == day_shop["first"].receipt_no

    every = reports.points_ledger(shop.store)
    h2 = [r for r in every if r.household_id == "H2"]
    assert [(r.kind, r.change, r.balance) for r in h2] == [
        ("奖励", 500, 500),
        ("兑换", -30, 470),
        ("作废退回", 30, 500),
        ("兑换", -50, 450),
    ]
    assert h2[2].memo == f"作废 {day_shop['mistake'].receipt_no}：输错户号"
    assert [r.household_id for r in every] == sorted(r.household_id for r in every)
    for household_id in ("H1", "H2"):
        final = [r for r in every if r.household_id == household_id][-1].balance
        assert final == services.balance_for_household(shop.store, household_id).balance


def test_points_ledger_names_cycles_and_clearing(shop):
    shop.household("H1", points=30)
    services.grant_base(shop.store, ctx=ADMIN_CTX)
    services.clear_household(shop.store, "H1", "违反村规", ctx=ADMIN_CTX)
    services.unfreeze(shop.store, "H1", "整改到位", ctx=ADMIN_CTX)
    services.award(shop.store, "H1", 5, "打扫卫生", ctx=ADMIN_CTX)
    services.close_cycle(shop.store, ctx=ADMIN_CTX)
    rows = reports.points_ledger(shop.store, "H1")
    assert [(r.kind, r.memo, r.change, r.balance) for r in rows] == [
        ("奖励", "测试奖励", 30, 30),
        ("基础分", "第1周期", 100, 130),
        ("清零", "违反村规", -130, 0),
        ("解冻", "整改到位", 0, 0),
        ("奖励", "打扫卫生", 5, 5),
        ("年度清零", "第1周期", -5, 0),
    ]


def test_ledger_tables_are_the_four_ledgers(shop, day_shop):
    tables = reports.ledger_tables(shop.store)
    assert [t.name for t in tables] == ["兑换台账", "入库台账", "捐赠台账", "积分台账"]
    assert [len(t.rows) for t in tables] == [
        len(reports.redemption_ledger(shop.store)),
        len(reports.stock_in_ledger(shop.store)),
        len(reports.donation_ledger(shop.store)),
        len(reports.points_ledger(shop.store)),
    ]
    for table in tables:
        assert all(len(row) == len(table.header) for row in table.rows)


def test_yuan_is_exact():
    assert reports.yuan(0) == "0.00"
    assert reports.yuan(5) == "0.05"
    assert reports.yuan(123_456_789) == "1234567.89"
    assert reports.yuan(-250) == "-2.50"
