"""The receipt is stored with its print job at the commit, and every print lays out what was stored.

A reprint next month must say what the first print said (names, prices, the redeemable points of that
moment), and a ledger written before receipts were stored must still reprint its old jobs.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace

import pytest

from hardware.profiles import profile_for
from hardware.receipt_layout import build_receipt
from ledger import printing, services
from ledger.model import Household, Item
from ledger.ports import PrintJob
from ledger.receipts import ReceiptContent, ReceiptKind
from ledger.storage import open_ledger
from tests.conftest import ADMIN_CTX, ShopFixture
from tests.receipt_samples import GOLDEN, WIDTHS, receipt
from tests.sqlite_raw import rewind


class Printer:
    """The printer port: keeps what it was given."""

    def __init__(self) -> None:
        self.printed: list[ReceiptContent] = []

    def print_receipt(self, content: ReceiptContent) -> None:
        self.printed.append(content)


def sale(shop: ShopFixture) -> tuple[str, str]:
    code = shop.household("H001", "张秀英", points=300)
    shop.item("OIL", 60, stock=10, name="金龙鱼食用油 5L")
    shop.item("SOAP", 5, stock=10, name="舒肤佳香皂")
    done = services.redeem(shop.store, code, [("OIL", 1), ("SOAP", 2)], ctx=ADMIN_CTX)
    return code, done.transaction.receipt_no


def latest_job(shop: ShopFixture, receipt_no: str) -> PrintJob:
    with shop.store.read() as unit:
        txn = printing.find_receipt(unit, receipt_no)
        return unit.print_jobs(txn_id=txn.txn_id)[-1]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(ReceiptKind))
def test_a_stored_receipt_lays_out_to_the_golden_bytes(kind: ReceiptKind, width: int) -> None:
    """What the print job stores (JSON, as the database holds it) comes back as the very same receipt."""
    content = receipt(kind)
    stored = ReceiptContent.from_json(json.loads(json.dumps(content.to_json(), ensure_ascii=False)))
    assert stored == content
    assert build_receipt(stored, profile_for(width)) == (GOLDEN / f"{kind.value}_{width}.bin").read_bytes()
    again = ReceiptContent.from_json(json.loads(json.dumps(replace(content, reprint=True).to_json())))
    assert not again.reprint  # a copy is marked when it prints, never by what was stored


def test_every_job_stores_the_receipt_the_ledger_gives_at_the_commit(shop: ShopFixture) -> None:
    _, redeem_no = sale(shop)
    store = shop.store
    void = services.void(store, redeem_no, "顾客退货", ctx=ADMIN_CTX).transaction
    donation = services.record_donation(store, "县供销社", amount_fen=50_050, goods=[("SOAP", 3)], ctx=ADMIN_CTX)
    intake = services.stock_intake(store, [("OIL", 4)], supplier="粮油店", cost_fen=24_000, ctx=ADMIN_CTX)
    close = services.record_day_close(store, "2026-11-22", {"redemptions": 1, "points_redeemed": 70}, ctx=ADMIN_CTX)
    numbers = [redeem_no, void.receipt_no, donation.receipt_no, intake.receipt_no, close.receipt_no]
    kinds = []
    for number in numbers:
        job = latest_job(shop, number)
        assert job.receipt is not None and job.facts == {}
        kinds.append((job.kind, job.receipt.kind.value))
        with store.read() as unit:
            figures = {
                "redeemable_before": job.receipt.redeemable_before,
                "redeemable_after": job.receipt.redeemable_after,
                "balance_after": job.receipt.balance_after,
            }
            # The rebuild of older ledgers' jobs and the stored receipt say the same, today.
            assert printing.receipt_content(unit, printing.find_receipt(unit, number), figures) == job.receipt
    assert kinds == [(k, k) for k in ("redeem", "void", "donation", "stock_in", "day_close")]
    stored = {number: latest_job(shop, number).receipt for number in numbers}
    assert stored[donation.receipt_no].amount_fen == 50_050 and stored[intake.receipt_no].amount_fen == 24_000


def test_a_reprint_shows_the_receipt_as_it_was_at_the_sale(shop: ShopFixture) -> None:
    code, number = sale(shop)
    store = shop.store
    at_sale = printing.receipt_for(store, number)
    txn_id = latest_job(shop, number).txn_id
    # Later: the household's name is corrected, the oil renamed and repriced, and more points spent.
    services.register_household(store, Household("H001", "V1", "张秀英（户主）", "S1"))
    services.add_item(store, Item("OIL", "鲁花花生油 5L", "桶", 80))
    services.redeem(store, code, [("SOAP", 1)], ctx=ADMIN_CTX)

    printer = Printer()
    assert printing.print_job_of(store, txn_id, printer).printed
    assert printing.reprint(store, number, printer).printed
    first, copy = printer.printed
    assert first == at_sale and copy == replace(at_sale, reprint=True)
    assert copy.household_name == "张秀英" and copy.lines[0].name == "金龙鱼食用油 5L" and copy.lines[0].points == 60
    assert (copy.redeemable_before, copy.redeemable_after, copy.balance_after) == (200, 130, 230)
    assert printing.receipt_for(store, number, reprint=True) == copy  # lovemart receipt: the same document


def test_an_older_ledger_still_reprints_the_jobs_it_wrote_without_receipts(shop: ShopFixture) -> None:
    """A ledger of migration 0005 kept only the figures of the moment: migrating keeps its jobs, and their
    receipts are rebuilt from the journal with those figures, as they were before."""
    _, number = sale(shop)
    expected = printing.receipt_for(shop.store, number)
    shop.store.close()
    assert shop.path is not None
    with closing(sqlite3.connect(shop.path, isolation_level=None)) as c:
        figures = {"redeemable_before": 200, "redeemable_after": 130, "balance_after": 230}
        c.execute("UPDATE print_job SET facts = ?", (json.dumps(figures),))
        rewind(c, "0005")
    store = open_ledger(shop.path)  # migrates to the newest revision
    try:
        old = ShopFixture(store, shop.path)
        assert latest_job(old, number).receipt is None
        printer = Printer()
        assert printing.reprint(store, number, printer).printed
        assert printer.printed == [replace(expected, reprint=True)]
        assert printing.receipt_for(store, number) == expected
    finally:
        store.close()


def test_a_stored_receipt_that_is_not_one_is_refused() -> None:
    good = receipt(ReceiptKind.VOID).to_json()
    for bad in (None, [], {**good, "format": 99}, {**good, "total_points": "70"}, {**good, "lines": [["米", 1]]}):
        with pytest.raises(ValueError):
            ReceiptContent.from_json(bad)
    missing = dict(good)
    del missing["receipt_no"]
    with pytest.raises(ValueError):
        ReceiptContent.from_json(missing)
