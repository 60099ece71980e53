"""The print queue: a sale is never undone, lost or doubled by the printer (DESIGN.md §3)."""

from __future__ import annotations

import pytest

from ledger import printing, services
from ledger.errors import DeviceFault, LedgerError
from ledger.receipts import ReceiptContent, ReceiptKind
from tests.conftest import ADMIN_CTX, ShopFixture


class OutOfPaper(DeviceFault):
    """A printer fault made here, not by the hardware package: its code is a message of the catalogues."""


class FakePrinter:
    """The printer port, by hand: keeps what it printed, or fails like a printer with no paper."""

    def __init__(self) -> None:
        self.printed: list[ReceiptContent] = []
        self.broken = False

    def print_receipt(self, receipt: ReceiptContent) -> None:
        if self.broken:
            raise OutOfPaper("printer_timeout", where="memory")
        self.printed.append(receipt)


@pytest.fixture
def sale(shop: ShopFixture) -> tuple[ShopFixture, str, str]:
    code = shop.household("H001", "张秀英", points=300)
    shop.item("OIL", 60, stock=10, name="金龙鱼食用油 5L")
    shop.item("SOAP", 5, stock=10, name="舒肤佳香皂")
    receipt = services.redeem(shop.store, code, [("OIL", 1), ("SOAP", 2)], ctx=ADMIN_CTX)
    return shop, code, receipt.transaction.txn_id


def jobs(shop: ShopFixture, txn_id: str) -> list:
    with shop.store.read() as unit:
        return unit.print_jobs(txn_id=txn_id)


def test_receipt_prints_after_the_commit_with_its_figures(sale) -> None:
    shop, _, txn_id = sale
    printer = FakePrinter()
    outcome = printing.print_job_of(shop.store, txn_id, printer)
    assert outcome.printed and outcome.error is None
    (content,) = printer.printed
    assert content.kind == ReceiptKind.REDEEM and not content.reprint
    assert content.household_name == "张秀英" and content.shop_name == "幸福村爱心超市"
    assert [(ln.name, ln.qty, ln.points) for ln in content.lines] == [("金龙鱼食用油 5L", 1, 60), ("舒肤佳香皂", 2, 10)]
    assert content.total_points == 70
    assert (content.redeemable_before, content.redeemable_after, content.balance_after) == (200, 130, 230)
    assert content.receipt_no.startswith("S1-P1-") and len(content.hash8) == 8
    assert [j.status for j in jobs(shop, txn_id)] == ["printed"]
    # Printing again finds nothing pending: a retry of the counter's print step never doubles a receipt.
    assert printing.print_job_of(shop.store, txn_id, printer).printed
    assert len(printer.printed) == 1


def test_dead_printer_keeps_the_sale_and_the_job(sale) -> None:
    shop, code, txn_id = sale
    printer = FakePrinter()
    printer.broken = True
    outcome = printing.print_job_of(shop.store, txn_id, printer)
    assert not outcome.printed and outcome.error is not None and outcome.error.code == "printer_timeout"
    (job,) = jobs(shop, txn_id)
    assert job.status == "pending" and job.attempts == 1 and "有没有纸" in job.last_error
    assert services.balance_for_code(shop.store, code).balance == 230
    assert services.audit(shop.store).ok
    assert outcome.receipt_no in [receipt_no for _, receipt_no in printing.pending(shop.store)]

    # Later: other redemptions change the balance, then the paper is back and the receipt is reprinted.
    services.redeem(shop.store, code, [("SOAP", 1)], ctx=ADMIN_CTX)
    printer.broken = False
    again = printing.reprint(shop.store, outcome.receipt_no, printer)
    assert again.printed
    (content,) = printer.printed
    assert content.reprint
    assert (content.redeemable_before, content.redeemable_after, content.balance_after) == (200, 130, 230)
    assert jobs(shop, txn_id)[-1].status == "printed"
    assert outcome.receipt_no not in [r for _, r in printing.pending(shop.store)]


def test_every_receipt_kind_has_content(sale) -> None:
    shop, _, txn_id = sale
    with shop.store.read() as unit:
        redeem_no = unit.transaction(txn_id).receipt_no
    void = services.void(shop.store, redeem_no, "顾客退货", ctx=ADMIN_CTX)
    donation = services.record_donation(shop.store, "县供销社", amount_fen=50_050, goods=[("SOAP", 3)], ctx=ADMIN_CTX)
    intake = services.stock_intake(shop.store, [("OIL", 4)], supplier="粮油店", cost_fen=24_000, ctx=ADMIN_CTX)
    close = services.record_day_close(
        shop.store, "2026-11-22", {"redemptions": 1, "points_redeemed": 70}, ctx=ADMIN_CTX
    )
    v = printing.receipt_for(shop.store, void.transaction.receipt_no)
    assert v.kind == ReceiptKind.VOID and v.ref_receipt_no == redeem_no and v.memo == "顾客退货"
    assert v.total_points == 70 and [ln.qty for ln in v.lines] == [1, 2]
    d = printing.receipt_for(shop.store, donation.receipt_no)
    assert (d.kind, d.party, d.amount_fen, d.lines[0].qty) == (ReceiptKind.DONATION, "县供销社", 50_050, 3)
    s = printing.receipt_for(shop.store, intake.receipt_no)
    assert (s.kind, s.party, s.amount_fen) == (ReceiptKind.STOCK_IN, "粮油店", 24_000)
    c = printing.receipt_for(shop.store, close.receipt_no, reprint=True)
    assert c.kind == ReceiptKind.DAY_CLOSE and c.reprint and ("兑换积分", "70 分") in c.summary


def test_receipts_that_do_not_exist_are_refused(sale) -> None:
    shop, _, _ = sale
    with pytest.raises(LedgerError) as unknown:
        printing.receipt_for(shop.store, "S1-P1-999999")
    assert unknown.value.code == "receipt_unknown"
    with pytest.raises(LedgerError) as award:
        printing.receipt_for(shop.store, "S1-P1-000001")  # the household's award has no receipt
    assert award.value.code == "no_receipt"
    with pytest.raises(LedgerError):
        printing.reprint(shop.store, "not a receipt", FakePrinter())
