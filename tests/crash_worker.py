"""A shop process for the crash tests (tests/integration/test_crash.py): redeems and voids until it is killed.

It changes the ledger only through ``ledger.services`` and reports on stdout, one line per event,
written with one ``os.write`` each (no buffer to lose when SIGKILL lands):

    pid <pid>                                   first line of every run
    begin <txn_id> <household_id> <sku:qty,...>   before the redemption is attempted
    done <txn_id> <receipt_no>                  after its unit committed
    refused <txn_id> <code>                     a LedgerError (the crash tests expect none)
    vbegin <receipt_no> / vdone <receipt_no> <void_receipt_no> / vrefused <receipt_no> <code>
    holding <txn_id>                            --hold: redeemed inside a unit that never commits
    error <text>                                anything else went wrong (exit status 3)

Modes:
    python -m tests.crash_worker LEDGER SEED [OPTIONS_JSON]
        open the ledger, first retry the redemptions in ``{"retry": [[txn_id, household_id, cart]]}``
        (same txn_id: a POS resending after a crash), then loop (``"count"`` operations, else forever);
        ``"receipts"`` are earlier receipt numbers the loop may void.
    python -m tests.crash_worker --serve LEDGER
        a fork server: imports once, then for each JSON line on stdin ``{"seed": S, ...}`` forks a
        child that runs the loop above (a real process that the test kills), waits for it and prints
        ``exit <pid> <status>``. ``{"quit": true}`` ends it. This keeps a kill cycle cheap.
    python -m tests.crash_worker --hold LEDGER TXN_ID HOUSEHOLD_ID CART
        redeem inside an open write unit and wait for a signal without committing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from typing import Any

from ledger import services
from ledger.errors import LedgerError
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger

Cart = list[tuple[str, int]]


def emit(line: str) -> None:
    data = (line + "\n").encode()
    while data:
        data = data[os.write(1, data) :]


def cart_text(cart: Cart) -> str:
    return ",".join(f"{sku}:{qty}" for sku, qty in cart)


def parse_cart(text: str) -> Cart:
    return [(sku, int(qty)) for sku, qty in (part.split(":") for part in text.split(","))]


class Shop:
    """What the worker knows about the ledger it trades on."""

    def __init__(self, path: str) -> None:
        self.store: SqlLedgerStore = open_ledger(path)
        with self.store.read() as unit:
            key = unit.township().passbook_key
            self.codes = {
                row.household.household_id: make_code(key, row.household.household_id, row.card_no)
                for row in unit.households()
                if row.card_no is not None
            }
            self.skus = [item.sku for item in unit.items()]
        self.households = sorted(self.codes)

    def redeem(self, txn_id: str, household_id: str, cart: Cart) -> str | None:
        """Announce and attempt one redemption; the receipt number, or None when refused."""
        emit(f"begin {txn_id} {household_id} {cart_text(cart)}")
        try:
            receipt = services.redeem(
                self.store, self.codes[household_id], cart, txn_id=txn_id, ctx=services.Context(services.ADMIN)
            )
        except LedgerError as exc:
            emit(f"refused {txn_id} {exc.code}")
            return None
        return receipt.transaction.receipt_no


def random_cart(rng: random.Random, skus: list[str]) -> Cart:
    return [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(1, min(3, len(skus))))]


def run(path: str, seed: int, options: dict[str, Any]) -> int:
    emit(f"pid {os.getpid()}")
    shop = Shop(path)
    rng = random.Random(seed)
    voidable: list[str] = list(options.get("receipts", []))
    admin = services.Context(operator=services.ADMIN)

    for txn_id, household_id, cart in options.get("retry", []):
        receipt_no = shop.redeem(txn_id, household_id, parse_cart(cart))
        if receipt_no is not None:
            emit(f"done {txn_id} {receipt_no}")
            voidable.append(receipt_no)

    count = options.get("count")
    done_ops = 0
    while count is None or done_ops < count:
        done_ops += 1
        choice = rng.random()
        if choice < 0.1 and voidable:
            receipt_no = voidable.pop(rng.randrange(len(voidable)))
            emit(f"vbegin {receipt_no}")
            try:
                voided = services.void(shop.store, receipt_no, "崩溃测试撤销", admin)
            except LedgerError as exc:
                emit(f"vrefused {receipt_no} {exc.code}")
                continue
            emit(f"vdone {receipt_no} {voided.transaction.receipt_no}")
            continue
        # One to three redemptions; more than one, or extra reads, share one write unit so that a
        # kill can land between statements of a transaction that is still open.
        batch = 2 if choice < 0.3 else 1
        wrapped = batch > 1 or choice < 0.45
        work = [(services.new_txn_id(), rng.choice(shop.households), random_cart(rng, shop.skus)) for _ in range(batch)]
        committed: list[tuple[str, str]] = []
        if wrapped:
            with shop.store.write():
                for txn_id, household_id, cart in work:
                    receipt_no = shop.redeem(txn_id, household_id, cart)
                    if receipt_no is not None:
                        committed.append((txn_id, receipt_no))
                    services.balance_for_household(shop.store, household_id)
        else:
            txn_id, household_id, cart = work[0]
            receipt_no = shop.redeem(txn_id, household_id, cart)
            if receipt_no is not None:
                committed.append((txn_id, receipt_no))
        for txn_id, receipt_no in committed:
            emit(f"done {txn_id} {receipt_no}")
            voidable.append(receipt_no)
    return 0


def hold(path: str, txn_id: str, household_id: str, cart: str) -> int:
    emit(f"pid {os.getpid()}")
    shop = Shop(path)
    with shop.store.write():
        shop.redeem(txn_id, household_id, parse_cart(cart))
        emit(f"holding {txn_id}")
        while True:  # never commits: the test kills us here
            signal.pause()


def guarded(body: Any, *args: Any) -> int:
    try:
        return int(body(*args))
    except BaseException as exc:
        traceback.print_exc()
        emit(f"error {type(exc).__name__}: {exc}".replace("\n", " "))
        return 3


def serve(path: str) -> int:
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        command = json.loads(line)
        if command.get("quit"):
            return 0
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 3
            try:
                status = guarded(run, path, int(command["seed"]), command)
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        emit(f"exit {pid} {os.waitstatus_to_exitcode(status)}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        return serve(argv[1])
    if argv[:1] == ["--hold"]:
        return guarded(hold, *argv[1:5])
    options = json.loads(argv[2]) if len(argv) > 2 else {}
    return guarded(run, argv[0], int(argv[1]), options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
