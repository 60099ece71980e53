"""A household's movements in words (the kiosk's history)."""

from __future__ import annotations

from ledger import services
from ledger.history import recent_movements
from tests.conftest import ADMIN_CTX, ShopFixture


def test_movements_are_told_in_words_newest_first(shop: ShopFixture) -> None:
    code = shop.household("H001", "张秀英", points=0)
    shop.household("H002", "李四", points=0)
    shop.item("OIL", 60, stock=5, name="金龙鱼食用油 5L")
    services.grant_base(shop.store, ctx=ADMIN_CTX)
    services.award(shop.store, "H001", 80, "志愿服务", ctx=ADMIN_CTX)
    services.award(shop.store, "H002", 10, "别人家的奖励", ctx=ADMIN_CTX)
    services.deduct(shop.store, "H001", 5, "乱堆乱放", ctx=ADMIN_CTX)
    receipt = services.redeem(shop.store, code, [("OIL", 1)], ctx=ADMIN_CTX)
    services.void(shop.store, receipt.transaction.receipt_no, "输错", ctx=ADMIN_CTX)

    moves = recent_movements(shop.store, "H001", limit=10)
    assert [m.points for m in moves] == [60, -60, -5, 80, 100]
    assert moves[0].zh == "幸福村爱心超市兑换作废，积分退回"
    assert moves[1].zh == "在幸福村爱心超市兑换 金龙鱼食用油 5L×1"
    assert moves[2].zh == "扣分：乱堆乱放" and moves[3].zh == "奖励：志愿服务" and moves[4].zh == "年度基础积分"
    assert moves[3].words("en") == "Award: 志愿服务"
    assert all("别人家" not in m.zh for m in moves)  # never another household's movements
    assert [m.points for m in recent_movements(shop.store, "H001", limit=2)] == [60, -60]


def test_manual_household_number_gives_the_current_card(shop: ShopFixture) -> None:
    import pytest

    from ledger.errors import LedgerError

    code = shop.household("H001", "张秀英")
    assert services.passbook_code_of(shop.store, "h001") == code
    services.reissue_passbook(shop.store, "H001")
    assert services.passbook_code_of(shop.store, "H001").startswith("LM1:H001:2:")
    with pytest.raises(LedgerError) as refused:
        services.passbook_code_of(shop.store, "H999")
    assert refused.value.code == "household_unknown"
