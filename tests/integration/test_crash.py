"""A killed process at any point of a redemption: all or nothing on restart (DESIGN §8).

A real shop process (tests/crash_worker.py) redeems and voids on a durable ledger file through the
services until it is killed with SIGKILL at a random point; the ledger is then opened again and
checked: every redemption the worker saw commit is there, every redemption it began is whole or
absent, sequence numbers run 1..N without a gap, balances and stock add up, the audit is clean.
The worker is restarted on the same ledger (retrying the redemptions it never saw commit, with the
same txn_id, as a POS resends after a crash) and killed again, more than a hundred times.

Most kills hit children forked from a fork server that has already imported the ledger code, so
that a kill cycle costs a few milliseconds instead of an interpreter start-up; some kills hit a
freshly started interpreter, including during its start-up and the opening of the ledger.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from ledger import services
from ledger.audit import check_transaction
from ledger.model import Transaction, TxnKind, household_account, shop_account
from ledger.passbook import make_code
from ledger.storage import open_ledger
from tests.conftest import ADMIN_CTX, TEST_KEY, ShopFixture, set_up

ROOT = Path(__file__).resolve().parents[2]
KILLS = 120
SPAWN_EVERY = 15  # every 15th kill hits a freshly started interpreter instead of a forked child
MAX_LINES_BEFORE_KILL = 40
MAX_SPIN = 300_000  # loop iterations between the last line read and the kill (~0-10 ms)
LINE_TIMEOUT = 60.0  # a safety net against a hung worker, not a synchronisation
HOUSEHOLDS = [f"H{i:03d}" for i in range(1, 21)]
ITEMS = {"RICE": 25, "OIL": 40, "SOAP": 6, "SALT": 3, "TOWEL": 12}

Cart = list[tuple[str, int]]


def worker_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.crash_worker", *args]


class LineReader:
    """Lines of a pipe, read by a thread so that the test can wait with a timeout; None at EOF."""

    def __init__(self, pipe: IO[bytes], errors: Path) -> None:
        self.errors = errors
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self.thread.start()

    def _pump(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put(None)

    def next(self) -> str | None:
        try:
            return self.lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"worker silent for {LINE_TIMEOUT} s; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.errors.read_text(errors="replace")[-4000:] if self.errors.exists() else ""


def spin(iterations: int) -> None:
    for _ in range(iterations):
        pass


@dataclass
class Cycle:
    """What one worker run reported."""

    pid: int
    lines: list[str] = field(default_factory=list)


class ForkServer:
    """tests/crash_worker.py --serve: forks a worker per run; reports ``exit <pid> <status>``."""

    def __init__(self, path: Path, errors: Path) -> None:
        self.errors_file = errors.open("ab")
        self.proc = subprocess.Popen(
            worker_command("--serve", str(path)),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors_file,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.reader = LineReader(self.proc.stdout, errors)

    def run_and_kill(self, options: dict[str, object], lines_before_kill: int, spin_for: int) -> Cycle:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(options) + "\n").encode())
        self.proc.stdin.flush()
        first = self.reader.next()
        assert first is not None and first.startswith("pid "), (first, self.reader.stderr())
        cycle = Cycle(int(first.split()[1]))
        while len(cycle.lines) < lines_before_kill:
            line = self.reader.next()
            assert line is not None and not line.startswith(("exit ", "error ")), (line, self.reader.stderr())
            cycle.lines.append(line)
        spin(spin_for)
        os.kill(cycle.pid, signal.SIGKILL)
        while True:
            line = self.reader.next()
            assert line is not None, f"fork server died; stderr:\n{self.reader.stderr()}"
            if line.startswith("exit "):
                _, pid, status = line.split()
                assert int(pid) == cycle.pid and int(status) == -signal.SIGKILL, (line, self.reader.stderr())
                return cycle
            cycle.lines.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(b'{"quit": true}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.errors_file.close()


def spawn_and_kill(path: Path, errors: Path, seed: int, options: dict[str, object], lines: int, spin_for: int) -> Cycle:
    """A freshly started interpreter, killed after ``lines`` lines (0: during start-up or opening)."""
    with errors.open("ab") as err:
        proc = subprocess.Popen(
            worker_command(str(path), str(seed), json.dumps(options)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout, errors)
    try:
        cycle = Cycle(proc.pid)
        if lines > 0:
            first = reader.next()
            assert first is not None and first == f"pid {proc.pid}", (first, reader.stderr())
            while len(cycle.lines) < lines - 1:
                line = reader.next()
                assert line is not None and not line.startswith("error "), (line, reader.stderr())
                cycle.lines.append(line)
        spin(spin_for)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=LINE_TIMEOUT) == -signal.SIGKILL, reader.stderr()
        while (line := reader.next()) is not None:
            if not line.startswith("pid "):
                cycle.lines.append(line)
        return cycle
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse_cart(text: str) -> Cart:
    return [(sku, int(qty)) for sku, qty in (part.split(":") for part in text.split(","))]


def make_shop(path: Path, households: list[str], points: int, stock: int) -> None:
    store = open_ledger(path)
    try:
        set_up(store)
        shop = ShopFixture(store, path)
        for household_id in households:
            shop.household(household_id, name=f"户{household_id}")
            for _ in range(points // 10_000):
                services.award(store, household_id, 10_000, "崩溃测试积分", ctx=ADMIN_CTX)
        for sku, points_each in ITEMS.items():
            shop.item(sku, points_each, stock=stock)
    finally:
        store.close()


@dataclass
class Model:
    """What the workers have told us, and what the ledger held at the last check."""

    begun: dict[str, tuple[str, Cart]] = field(default_factory=dict)  # txn_id -> household, cart
    receipts: dict[str, str] = field(default_factory=dict)  # txn_id -> receipt no. (seen done or committed)
    unsure: set[str] = field(default_factory=set)  # begun, never reported done
    voids: dict[str, str] = field(default_factory=dict)  # receipt no. -> its void's receipt no.
    committed: set[str] = field(default_factory=set)  # redemptions in the ledger at the last check
    redeemed_counts: list[int] = field(default_factory=list)
    absent_after_kill: int = 0  # begun, killed before commit
    committed_unreported: int = 0  # committed, killed before "done" was written
    idempotent_retries: int = 0  # a retry that found its committed transaction

    def take(self, lines: list[str]) -> set[str]:
        """Fold a run's lines in; returns the txn_ids the run touched."""
        touched: set[str] = set()
        for line in lines:
            word, *rest = line.split()
            if word == "begin":
                txn_id, household_id, cart_text = rest
                entry = (household_id, parse_cart(cart_text))
                assert self.begun.setdefault(txn_id, entry) == entry, f"retry of {txn_id} changed the cart"
                if txn_id not in self.receipts:
                    self.unsure.add(txn_id)
                touched.add(txn_id)
            elif word == "done":
                txn_id, receipt_no = rest
                if txn_id in self.receipts:
                    assert self.receipts[txn_id] == receipt_no, f"retry of {txn_id} made a second receipt"
                    self.idempotent_retries += 1
                self.receipts[txn_id] = receipt_no
                self.unsure.discard(txn_id)
            elif word == "vdone":
                receipt_no, void_no = rest
                assert receipt_no not in self.voids, f"{receipt_no} voided twice: {self.voids[receipt_no]}, {void_no}"
                self.voids[receipt_no] = void_no
            elif word == "vrefused":
                assert rest[1] == "already_voided", line
            elif word in ("refused", "error"):
                pytest.fail(f"worker: {line}")
            else:
                assert word == "vbegin", line
        return touched

    def options(self, rng: random.Random, seed: int) -> dict[str, object]:
        retry = [[t, self.begun[t][0], ",".join(f"{s}:{q}" for s, q in self.begun[t][1])] for t in sorted(self.unsure)]
        done = sorted(self.receipts.values())
        return {"seed": seed, "retry": retry, "receipts": rng.sample(done, min(3, len(done)))}


def check_ledger(path: Path, model: Model, touched: set[str]) -> int:
    """Open the ledger as a restarted shop would and check everything; returns the number of transactions."""
    store = open_ledger(path)
    try:
        with store.read() as unit:
            journal = list(unit.journal())
            points_of = {item.sku: item.points for item in unit.items()}
            by_id = {t.txn_id: t for t in journal}
            assert len(by_id) == len(journal), "a txn_id is in the journal twice"
            assert {t.device_id for t in journal} == {"P1"}
            assert [t.seq for t in journal] == list(range(1, len(journal) + 1)), "sequence gap or disorder"
            for t in journal:
                assert check_transaction(t) == [], (t, check_transaction(t))

            redeems = {t.txn_id: t for t in journal if t.kind == TxnKind.REDEEM}
            assert set(redeems) <= set(model.begun), "a redemption nobody began"
            assert model.committed <= set(redeems), f"committed redemptions lost: {model.committed - set(redeems)}"
            for txn_id, receipt_no in model.receipts.items():
                assert txn_id in redeems, f"{txn_id} reported done ({receipt_no}) but is not in the ledger"
                assert redeems[txn_id].receipt_no == receipt_no

            # Everything this run began, read back one by one: whole, or absent.
            for txn_id in touched:
                txn = unit.transaction(txn_id)
                if txn is None:
                    assert txn_id not in redeems and txn_id not in model.receipts
                    model.absent_after_kill += 1
                    continue
                assert txn == redeems[txn_id]
                if txn_id in model.unsure and txn_id not in model.committed:
                    model.committed_unreported += 1
            # Every redemption in the ledger is exactly what its worker asked for.
            for txn_id, txn in redeems.items():
                household_id, cart = model.begun[txn_id]
                assert_whole_redemption(txn, household_id, cart, points_of)
                model.receipts.setdefault(txn_id, txn.receipt_no)

            voids = [t for t in journal if t.kind == TxnKind.VOID]
            refs = Counter(t.ref_txn_id for t in voids)
            assert all(n == 1 for n in refs.values()), "a redemption voided twice"
            assert set(refs) <= set(redeems)
            void_by_receipt = {redeems[str(t.ref_txn_id)].receipt_no: t.receipt_no for t in voids}
            for receipt_no, void_no in model.voids.items():
                assert void_by_receipt.get(receipt_no) == void_no, f"void {void_no} of {receipt_no} lost"

            jobs = Counter(job.txn_id for job in unit.print_jobs())
            assert set(jobs) <= set(by_id), "a print job without its transaction"
            for t in journal:
                if t.kind in (TxnKind.REDEEM, TxnKind.VOID, TxnKind.STOCK_IN):
                    assert jobs[t.txn_id] == 1, f"{t.receipt_no}: {jobs[t.txn_id]} print jobs"

            assert {t.kind for t in journal} <= {TxnKind.AWARD, TxnKind.REDEEM, TxnKind.VOID, TxnKind.STOCK_IN}
            awards, spent, returned = Counter[str](), Counter[str](), Counter[str]()
            stock_in, stock_out, stock_back = Counter[str](), Counter[str](), Counter[str]()
            for t in journal:
                account = household_account(t.household_id or "")
                if t.kind == TxnKind.AWARD:
                    awards[t.household_id or ""] += t.points_of(account)
                elif t.kind == TxnKind.REDEEM:
                    spent[t.household_id or ""] -= t.points_of(account)
                    stock_out.update({ln.sku: -ln.qty for ln in t.lines})
                elif t.kind == TxnKind.VOID:
                    returned[t.household_id or ""] += t.points_of(account)
                    stock_back.update({ln.sku: ln.qty for ln in t.lines})
                else:
                    stock_in.update({ln.sku: ln.qty for ln in t.lines})
            for household_id in HOUSEHOLDS:
                balance, _earned = unit.balance(household_id)
                expected = awards[household_id] - spent[household_id] + returned[household_id]
                assert balance == expected, f"{household_id}: balance {balance}, journal says {expected}"
            for sku in ITEMS:
                assert unit.stock(sku) == stock_in[sku] - stock_out[sku] + stock_back[sku], sku

        report = services.audit(store)
        assert report.ok, report.problems
        assert report.transactions == len(journal)
    finally:
        store.close()
    model.committed = set(redeems)
    model.redeemed_counts.append(len(redeems))
    return len(journal)


def assert_whole_redemption(txn: Transaction, household_id: str, cart: Cart, points_of: dict[str, int]) -> None:
    assert txn.kind == TxnKind.REDEEM and txn.household_id == household_id
    assert check_transaction(txn) == []
    wanted = sorted((sku, -qty, points_of[sku]) for sku, qty in cart)
    assert sorted((ln.sku, ln.qty, ln.points_each) for ln in txn.lines) == wanted, txn
    total = sum(qty * points_of[sku] for sku, qty in cart)
    assert sorted((p.account, p.amount, p.unit) for p in txn.postings) == sorted(
        [(household_account(household_id), -total, "pt"), (shop_account("S1", "redeemed"), total, "pt")]
    ), txn


@pytest.fixture
def fork_server(tmp_path: Path) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path / "ledger.sqlite3", tmp_path / "worker.stderr")
    yield server
    server.close()


@pytest.mark.slow
def test_sigkill_during_redemptions_leaves_whole_or_absent(tmp_path: Path, fork_server: ForkServer) -> None:
    path = tmp_path / "ledger.sqlite3"
    errors = tmp_path / "worker.stderr"
    make_shop(path, HOUSEHOLDS, points=30_000, stock=100_000)
    model = Model()
    sizes = [check_ledger(path, model, set())]
    rng = random.Random(20240611)

    for kill in range(1, KILLS + 1):
        seed = rng.randrange(2**32)
        options = model.options(rng, seed)
        lines = rng.randint(0, MAX_LINES_BEFORE_KILL)
        spin_for = rng.randrange(MAX_SPIN)
        if kill % SPAWN_EVERY == 0:
            cycle = spawn_and_kill(path, errors, seed, options, lines, spin_for)
        else:
            cycle = fork_server.run_and_kill(options, lines, spin_for)
        touched = model.take(cycle.lines)
        sizes.append(check_ledger(path, model, touched | model.unsure))

    assert sizes == sorted(sizes), "the journal shrank"
    assert model.redeemed_counts == sorted(model.redeemed_counts), "committed redemptions went down"
    assert model.redeemed_counts[-1] > KILLS, model.redeemed_counts[-1]
    # The kills did land inside redemptions, and crashed redemptions were resent and settled.
    assert model.absent_after_kill > 0
    assert model.voids
    print(
        f"\n{KILLS} kills, {sizes[-1]} transactions, {model.redeemed_counts[-1]} redemptions,"
        f" {len(model.voids)} voids, {model.absent_after_kill} begun redemptions absent after a kill,"
        f" {model.committed_unreported} committed but unreported, {model.idempotent_retries} idempotent retries"
    )


def test_killed_open_write_unit_leaves_no_trace_and_retry_commits_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    errors = tmp_path / "worker.stderr"
    make_shop(path, ["H001", "H002"], points=10_000, stock=100)
    txn_id = services.new_txn_id()
    cart = "RICE:2,OIL:1"

    def ledger_state() -> tuple[list[Transaction], tuple[int, int], dict[str, int], int]:
        store = open_ledger(path)
        try:
            with store.read() as unit:
                return list(unit.journal()), unit.balance("H001"), unit.stock_levels(), len(unit.print_jobs())
        finally:
            store.close()

    before = ledger_state()

    with errors.open("ab") as err:
        proc = subprocess.Popen(
            worker_command("--hold", str(path), txn_id, "H001", cart), cwd=ROOT, stdout=subprocess.PIPE, stderr=err
        )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout, errors)
    try:
        seen = []
        while not seen or not seen[-1].startswith("holding"):
            line = reader.next()
            assert line is not None and not line.startswith(("error", "refused")), (line, reader.stderr())
            seen.append(line)
        assert seen[-1] == f"holding {txn_id}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=LINE_TIMEOUT) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # No trace: not in the journal, no print job, balance, stock and sequence as before.
    assert ledger_state() == before
    store = open_ledger(path)
    try:
        with store.read() as unit:
            assert unit.transaction(txn_id) is None
        assert services.audit(store).ok
    finally:
        store.close()

    # After the restart the POS resends the same confirmation: it commits once, however often it is sent.
    receipts = []
    for _ in range(2):
        options = {"retry": [[txn_id, "H001", cart]], "count": 0}
        done = subprocess.run(
            worker_command(str(path), "1", json.dumps(options)), cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[1] == f"begin {txn_id} H001 {cart}"
        word, done_id, receipt_no = lines[2].split()
        assert (word, done_id) == ("done", txn_id)
        receipts.append(receipt_no)
    assert receipts[0] == receipts[1]

    store = open_ledger(path)
    try:
        again = services.redeem(store, make_code(TEST_KEY, "H001", 1), parse_cart(cart), txn_id=txn_id, ctx=ADMIN_CTX)
        assert again.transaction.receipt_no == receipts[0]
        with store.read() as unit:
            journal = list(unit.journal())
            assert [t.txn_id for t in journal].count(txn_id) == 1
            assert [t.seq for t in journal] == list(range(1, len(before[0]) + 2))
            txn = unit.transaction(txn_id)
            assert txn is not None and txn.receipt_no == receipts[0]
            assert_whole_redemption(txn, "H001", parse_cart(cart), dict(ITEMS))
            assert unit.balance("H001")[0] == before[1][0] - 2 * ITEMS["RICE"] - ITEMS["OIL"]
            assert unit.stock("RICE") == before[2]["RICE"] - 2 and unit.stock("OIL") == before[2]["OIL"] - 1
            assert [job.txn_id for job in unit.print_jobs()].count(txn_id) == 1
        report = services.audit(store)
        assert report.ok, report.problems
    finally:
        store.close()
