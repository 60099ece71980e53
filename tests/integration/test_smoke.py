from __future__ import annotations

from ledger import services
from tests.conftest import ADMIN_CTX


def test_redeem_then_void_on_both_databases(any_shop):
    code = any_shop.household("H1", points=300)
    any_shop.item("RICE", 30, stock=10)
    receipt = services.redeem(any_shop.store, code, [("RICE", 2)], ctx=ADMIN_CTX)
    assert receipt.redeemable_before == 200
    assert receipt.redeemable_after == 140
    services.void(any_shop.store, receipt.transaction.receipt_no, "输错", ctx=ADMIN_CTX)
    view = services.balance_for_code(any_shop.store, code)
    assert view.balance == 300
    report = services.audit(any_shop.store)
    assert report.ok, report.problems
