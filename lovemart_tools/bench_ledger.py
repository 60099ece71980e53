"""``lovemart bench ledger``: how the ledger holds up after a busy year.

One run builds a fresh ledger in a temporary directory (deleted afterwards):

1. **Seed** a shop with ``max(1000, N / 100)`` households, 50 goods and ``N`` transactions that look
   like a real year (base grants, awards, redemptions, some deductions, voids, donations and stock
   intake), chained and inserted with ``append_many`` in batches of 10,000, with fsync off. A
   simulation tracks every balance and stock level, so no household ever redeems more than it has
   and the audit at the end must be clean.
2. Reopen the ledger **durably** (WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``) and time ``samples``
   real ``services.redeem`` calls (a random passbook, a cart of 1-3 goods) and ``samples``
   ``services.balance_for_code`` calls.
3. A **baseline** measured in the same run, interleaved with the redemptions so both meet the same
   disk and the same WAL checkpoints: the work of one redemption done with the standard library's
   ``sqlite3`` on the same file with the same settings (the tamper check's reads: the household's cached
   balance against the sum of its postings, its transactions since the checkpoint; read the device head,
   make the draft and its sha256 chain hash, insert the transaction, its postings, its lines and its print
   job, update the household balance, the stock levels and the device head, commit). It is a genuine
   redemption on the real chain, so the ledger stays valid and the audit covers it too.
4. Time ``services.audit`` over the whole ledger.

The tamper checks (``ledger.integrity``, issue 11 §4) are measured on the same ledger: after the seed, the
recorded full audit a shop runs after its day close (``checkpoint_audit_s``; it records the checkpoint); so
the redemptions above include the household check (balance recomputed from the postings, transactions since
the checkpoint re-hashed), which is also timed alone (``household_check_*_ms``); after them the till's
start-up check over every transaction since the checkpoint (``startup_check_ms``, the bench's 2 x
``samples`` redemptions) and doctor's balances aggregate (``balance_drift_s``). ``audit_ok`` is true only
when all of them found nothing.

Figures are milliseconds (``*_ms``), seconds (``*_s``) and megabytes (``peak_rss_mb``, the high-water
mark of this process). ``ratio_redeem_p99`` compares the service with the baseline, so runs on noisy
machines can still be compared.
"""

from __future__ import annotations

import gc
import random
import secrets
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ledger import integrity, services
from ledger.chain import chain_hash
from ledger.model import (
    FEN,
    TOWNSHIP_AWARDS,
    TOWNSHIP_BASE,
    Household,
    Item,
    Line,
    Member,
    PassbookCard,
    Policy,
    Posting,
    Shop,
    Township,
    TxnDraft,
    TxnKind,
    Village,
    donor_account,
    household_account,
    shop_account,
)
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger
from lovemart_tools.measure import peak_rss_mb, percentile

SHOP_ID = "S1"
DEVICE_ID = "P1"
VILLAGE_ID = "V1"
BATCH = 10_000
ITEMS = 50
START_STOCK = 2_000
TZ = timezone(timedelta(hours=8))
YEAR_START = datetime(2024, 1, 1, 8, 0, tzinfo=TZ)

GOODS = (
    "大米",
    "面粉",
    "食用油",
    "酱油",
    "醋",
    "食盐",
    "白糖",
    "洗衣粉",
    "肥皂",
    "牙膏",
    "毛巾",
    "卫生纸",
    "洗洁精",
    "作业本",
    "铅笔",
)
UNITS = ("袋", "桶", "瓶", "包", "块", "支", "条", "卷", "本")
REASONS = ("庭院整洁", "志愿服务", "参加培训", "孝老爱亲", "环境卫生", "移风易俗", "邻里互助")
DEDUCT_REASONS = ("乱堆乱放", "焚烧秸秆", "违规养殖")
DONORS = ("县供销社", "爱心企业", "驻村工作队", "在外乡贤", "镇卫生院")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "建国秀英桂兰志强明华玉梅德福春生金凤海军丽娟永红"


def _ms(values: list[float]) -> tuple[float, float]:
    return round(percentile(values, 0.50) * 1000, 3), round(percentile(values, 0.99) * 1000, 3)


@dataclass
class _Year:
    """Simulates a year of a shop and makes its transactions as drafts, keeping every balance and stock valid."""

    rng: random.Random
    households: list[str]
    prices: dict[str, int]
    total: int
    balance: list[int] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)
    voidable: list[tuple[int, TxnDraft]] = field(default_factory=list)
    made: int = 0
    skus: list[str] = field(init=False)
    step: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self.balance = [0] * len(self.households)
        self.stock = dict.fromkeys(self.prices, 0)
        self.skus = list(self.prices)
        self.step = timedelta(days=365) / max(1, self.total)

    def _draft(
        self,
        kind: TxnKind,
        operator: str,
        household_id: str | None = None,
        postings: tuple[Posting, ...] = (),
        lines: tuple[Line, ...] = (),
        memo: str = "",
        ref_txn_id: str | None = None,
        party: str | None = None,
    ) -> TxnDraft:
        """The next transaction of the year: evenly spread over its 365 days, with a reproducible id."""
        at = (YEAR_START + self.step * self.made).isoformat(timespec="seconds")
        self.made += 1
        return TxnDraft(
            txn_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            kind=kind,
            created_at=at,
            shop_id=SHOP_ID,
            operator=operator,
            household_id=household_id,
            postings=postings,
            lines=lines,
            memo=memo,
            ref_txn_id=ref_txn_id,
            party=party,
        )

    def drafts(self) -> Iterator[TxnDraft]:
        """Exactly ``total`` drafts: opening stock, a base grant per household, then a year of trading."""
        for start in range(0, len(self.skus), 10):
            if self.made < self.total:
                yield self._goods_in(self.skus[start : start + 10], START_STOCK, donated=False)
        for index in range(len(self.households)):
            if self.made < self.total:
                yield self._points(index, TxnKind.BASE_GRANT, 100)
        rng = self.rng
        while self.made < self.total:
            r = rng.random()
            if r < 0.50:
                draft = self._points(rng.randrange(len(self.households)), TxnKind.AWARD, self._award_points())
            elif r < 0.92:
                draft = self._redeem()
            elif r < 0.94:
                draft = self._deduct()
            elif r < 0.96 and self.voidable:
                draft = self._void()
            elif r < 0.995:
                draft = self._donation()
            else:
                draft = self._restock()
            yield draft

    def _restock(self) -> TxnDraft:
        """The delivery of the week: the five scarcest goods, topped up to their usual level."""
        lowest = sorted(self.skus, key=self.stock.__getitem__)[:5]
        return self._goods_in(lowest, max(20, START_STOCK - self.stock[lowest[-1]]), donated=False)

    def _award_points(self) -> int:
        return self.rng.choice((10, 20, 20, 30, 50, 50, 100, 200))

    def _points(self, index: int, kind: TxnKind, points: int) -> TxnDraft:
        household_id = self.households[index]
        sign = -1 if kind == TxnKind.DEDUCT else 1
        self.balance[index] += sign * points
        counter = TOWNSHIP_BASE if kind == TxnKind.BASE_GRANT else TOWNSHIP_AWARDS
        memo = {
            TxnKind.BASE_GRANT: "cycle 1",
            TxnKind.AWARD: self.rng.choice(REASONS),
            TxnKind.DEDUCT: self.rng.choice(DEDUCT_REASONS),
        }[kind]
        return self._draft(
            kind,
            operator="admin",
            household_id=household_id,
            postings=(Posting(household_account(household_id), sign * points), Posting(counter, -sign * points)),
            memo=memo,
        )

    def _deduct(self) -> TxnDraft:
        index = self.rng.randrange(len(self.households))
        points = self.rng.choice((5, 10, 20))
        if self.balance[index] < points:
            return self._points(index, TxnKind.AWARD, self._award_points())
        return self._points(index, TxnKind.DEDUCT, points)

    def cart(self) -> list[tuple[str, int]]:
        rng = self.rng
        skus = rng.sample(self.skus, rng.choice((1, 1, 2, 2, 2, 3)))
        return [(sku, rng.choice((1, 1, 1, 2, 2, 3))) for sku in skus if self.stock[sku] >= 3]

    def _redeem(self) -> TxnDraft:
        cart = self.cart()
        if not cart:
            return self._restock()
        cost = sum(qty * self.prices[sku] for sku, qty in cart)
        index = 0
        for _ in range(4):
            index = self.rng.randrange(len(self.households))
            if self.balance[index] >= cost:
                break
        else:
            return self._points(index, TxnKind.AWARD, self._award_points())
        household_id = self.households[index]
        self.balance[index] -= cost
        for sku, qty in cart:
            self.stock[sku] -= qty
        draft = self._draft(
            TxnKind.REDEEM,
            operator="clerk1",
            household_id=household_id,
            postings=(
                Posting(household_account(household_id), -cost),
                Posting(shop_account(SHOP_ID, "redeemed"), cost),
            ),
            lines=tuple(Line(sku, -qty, self.prices[sku]) for sku, qty in cart),
        )
        self.voidable.append((index, draft))
        if len(self.voidable) > 500:
            del self.voidable[:100]
        return draft

    def _void(self) -> TxnDraft:
        at = self.rng.randrange(len(self.voidable))
        self.voidable[at], self.voidable[-1] = self.voidable[-1], self.voidable[at]
        index, original = self.voidable.pop()
        self.balance[index] -= original.postings[0].amount
        for line in original.lines:
            self.stock[line.sku] -= line.qty
        return self._draft(
            TxnKind.VOID,
            operator="manager",
            household_id=original.household_id,
            postings=tuple(Posting(p.account, -p.amount, p.unit) for p in original.postings),
            lines=tuple(Line(ln.sku, -ln.qty, ln.points_each) for ln in original.lines),
            memo="输错了",
            ref_txn_id=original.txn_id,
        )

    def _donation(self) -> TxnDraft:
        donor = self.rng.choice(DONORS)
        if self.rng.random() < 0.6:
            amount = self.rng.choice((10_000, 50_000, 100_000, 500_000))
            return self._draft(
                TxnKind.DONATION,
                operator="manager",
                postings=(
                    Posting(shop_account(SHOP_ID, "fund"), amount, FEN),
                    Posting(donor_account(donor), -amount, FEN),
                ),
                party=donor,
                memo="捐款",
            )
        return self._goods_in(self.rng.sample(self.skus, 2), self.rng.randint(10, 50), donated=True, donor=donor)

    def _goods_in(self, skus: Sequence[str], qty: int, *, donated: bool, donor: str = "") -> TxnDraft:
        for sku in skus:
            self.stock[sku] += qty
        lines = tuple(Line(sku, qty, self.prices[sku]) for sku in skus)
        if donated:
            return self._draft(TxnKind.DONATION, operator="manager", lines=lines, party=donor, memo="捐物")
        cost = sum(qty * self.prices[sku] * 100 for sku in skus)
        return self._draft(
            TxnKind.STOCK_IN,
            operator="manager",
            postings=(Posting(shop_account(SHOP_ID, "fund"), -cost, FEN), Posting("supplier:供销社", cost, FEN)),
            lines=lines,
            party="供销社",
        )


def _seed(store: SqlLedgerStore, key: bytes, households: int, transactions: int, rng: random.Random) -> _Year:
    services.set_up_shop(
        store,
        Township("T1", "幸福镇", key),
        Village(VILLAGE_ID, "幸福村"),
        Shop(SHOP_ID, "幸福村爱心超市", VILLAGE_ID),
        DEVICE_ID,
        Policy(base_points=100, redeemable_floor=0, cycle="annual"),
    )
    ids = [f"H{n:06d}" for n in range(1, households + 1)]
    issued = YEAR_START.isoformat(timespec="seconds")
    with store.write() as unit:
        for household_id in ids:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
            unit.put_household(Household(household_id, VILLAGE_ID, name, SHOP_ID, members=(Member(name, "户主"),)))
            unit.put_card(PassbookCard(household_id, 1, True, issued))
        prices = {}
        for n in range(1, ITEMS + 1):
            sku = f"G{n:03d}"
            prices[sku] = rng.randint(2, 24)
            unit.put_item(Item(sku, f"{rng.choice(GOODS)}{n}", rng.choice(UNITS), prices[sku], f"69{n:011d}"))
    year = _Year(rng, ids, prices, transactions)
    batch: list[TxnDraft] = []
    for draft in year.drafts():
        batch.append(draft)
        if len(batch) >= BATCH:
            with store.write() as unit:
                unit.append_many(batch)
            batch = []
    with store.write() as unit:
        unit.append_many(batch)
        # A shop that synced last night: redemptions take the home-shop path, not the long-offline one.
        unit.set_meta("last_synced", services.local_now().isoformat(timespec="seconds"))
    return year


def _next_redemption(store: SqlLedgerStore, year: _Year) -> tuple[int, list[tuple[str, int]]]:
    """A household and a cart it can afford from the stock on hand, booked in the simulation.

    Tops up stock or points (untimed, through the services) if a small ledger runs dry.
    """
    for _ in range(64):
        cart = year.cart()
        index = year.rng.randrange(len(year.households))
        if cart and year.balance[index] >= sum(qty * year.prices[sku] for sku, qty in cart):
            break
    else:
        low = [(sku, START_STOCK) for sku in year.skus if year.stock[sku] < 10]
        if low:
            services.stock_intake(store, low, supplier="供销社", ctx=services.Context(services.ADMIN))
            for sku, qty in low:
                year.stock[sku] += qty
        cart = year.cart()
        index = year.rng.randrange(len(year.households))
        shortfall = sum(qty * year.prices[sku] for sku, qty in cart) - year.balance[index]
        if shortfall > 0:
            services.award(store, year.households[index], shortfall, "志愿服务", ctx=services.Context(services.ADMIN))
            year.balance[index] += shortfall
    year.balance[index] -= sum(qty * year.prices[sku] for sku, qty in cart)
    for sku, qty in cart:
        year.stock[sku] -= qty
    return index, cart


# Connection settings the baseline copies from the ledger's own connections, so both pay the same
# durability (and the same share of WAL checkpoints, which run in the commit that crosses the mark).
MIRRORED_PRAGMAS = ("synchronous", "foreign_keys", "busy_timeout", "wal_autocheckpoint", "cache_size")


def _raw_connection(path: Path, store: SqlLedgerStore) -> sqlite3.Connection:
    """The standard library's driver with the ledger's settings: WAL, synchronous=FULL, explicit BEGIN."""
    with store.engine.connect() as connection:
        settings = {name: int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()) for name in MIRRORED_PRAGMAS}
    if settings["synchronous"] != 2:  # FULL
        raise RuntimeError(f"the measured ledger is not durable: synchronous={settings['synchronous']}")
    raw = sqlite3.connect(path, isolation_level=None, timeout=10)
    raw.execute("PRAGMA journal_mode=WAL")
    for name, value in settings.items():
        raw.execute(f"PRAGMA {name}={value}")
    return raw


def _baseline_redeem(
    raw: sqlite3.Connection, household_id: str, cart: list[tuple[str, int]], prices: dict[str, int]
) -> None:
    """The work of one redemption, in plain ``sqlite3``: a real redemption on the real chain, after the same
    reads of the tamper check (the household's postings summed against its cached balance, its transactions
    since the checkpoint looked up), so the ratio still compares like with like."""
    cost = sum(qty * prices[sku] for sku, qty in cart)
    account = household_account(household_id)
    raw.execute("BEGIN IMMEDIATE")
    try:
        (cached,) = raw.execute(
            "SELECT balance FROM household_balance WHERE household_id = ?", (household_id,)
        ).fetchone()
        (posted,) = raw.execute(
            "SELECT coalesce(sum(amount), 0) FROM posting WHERE account = ? AND unit = 'pt'", (account,)
        ).fetchone()
        if posted != cached:
            raise RuntimeError(f"baseline: household {household_id} holds {cached}, its postings say {posted}")
        after = raw.execute("SELECT value FROM meta WHERE key = 'integrity:checkpoint_pk'").fetchone()
        raw.execute(
            "SELECT * FROM txn WHERE id IN (SELECT txn_pk FROM posting WHERE account = ? AND txn_pk > ?)",
            (account, int(after[0]) if after else 0),
        ).fetchall()
        seq, prev = raw.execute("SELECT last_seq, last_hash FROM device WHERE device_id = ?", (DEVICE_ID,)).fetchone()
        seq += 1
        draft = TxnDraft(
            txn_id=str(uuid.uuid4()),
            kind=TxnKind.REDEEM,
            created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
            shop_id=SHOP_ID,
            operator="admin",
            household_id=household_id,
            postings=(
                Posting(household_account(household_id), -cost),
                Posting(shop_account(SHOP_ID, "redeemed"), cost),
            ),
            lines=tuple(Line(sku, -qty, prices[sku]) for sku, qty in cart),
        )
        digest = chain_hash(prev, draft, DEVICE_ID, seq)
        pk = raw.execute(
            "INSERT INTO txn (txn_id, device_id, seq, kind, created_at, shop_id, operator, household_id, memo, "
            "ref_txn_id, party, pull_cursor, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                draft.txn_id,
                DEVICE_ID,
                seq,
                str(draft.kind),
                draft.created_at,
                SHOP_ID,
                draft.operator,
                household_id,
                draft.memo,
                None,
                None,
                0,
                prev,
                digest,
            ),
        ).lastrowid
        raw.executemany(
            "INSERT INTO posting (txn_pk, idx, account, unit, amount) VALUES (?, ?, ?, ?, ?)",
            [(pk, i, p.account, p.unit, p.amount) for i, p in enumerate(draft.postings)],
        )
        raw.executemany(
            "INSERT INTO line (txn_pk, idx, sku, qty, points_each) VALUES (?, ?, ?, ?, ?)",
            [(pk, i, ln.sku, ln.qty, ln.points_each) for i, ln in enumerate(draft.lines)],
        )
        raw.execute("UPDATE household_balance SET balance = balance - ? WHERE household_id = ?", (cost, household_id))
        raw.executemany("UPDATE stock_level SET on_hand = on_hand - ? WHERE sku = ?", [(q, s) for s, q in cart])
        raw.execute("UPDATE device SET last_seq = ?, last_hash = ? WHERE device_id = ?", (seq, digest, DEVICE_ID))
        raw.execute(
            "INSERT INTO print_job (txn_id, kind, created_at, status, attempts, last_error) "
            "VALUES (?, 'redeem', ?, 'pending', 0, '')",
            (draft.txn_id, draft.created_at),
        )
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise


def run_ledger_bench(
    transactions: int = 1_000_000, workdir: Path | None = None, samples: int = 2000
) -> dict[str, float | int]:
    """Seed a year of ``transactions``, then time redemptions, balance look-ups and the audit (see the module doc)."""
    if transactions < 1 or samples < 1:
        raise ValueError("transactions and samples must be positive")
    rng = random.Random(20240101)
    key = secrets.token_bytes(32)
    households = max(1000, transactions // 100)
    directory = Path(tempfile.mkdtemp(prefix="lovemart-bench-", dir=workdir))
    path = directory / "ledger.sqlite3"
    try:
        started = time.perf_counter()
        store = open_ledger(path, durable=False)
        try:
            year = _seed(store, key, households, transactions, rng)
        finally:
            store.close()
        with closing(sqlite3.connect(path, isolation_level=None)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # measure from a clean WAL, as after a nightly restart
        seed_s = time.perf_counter() - started
        gc.collect()
        gc.freeze()  # as a long-running till should after start-up: long-lived objects leave the GC's scans

        # The recorded audit a shop runs after its day close: its checkpoint is where the start-up chain check
        # and the household check before each redemption read from (ledger.integrity).
        store = open_ledger(path, durable=False)
        try:
            t0 = time.perf_counter()
            checkpoint_ok = integrity.full_audit(store).ok
            checkpoint_audit_s = time.perf_counter() - t0
        finally:
            store.close()

        store = open_ledger(path, durable=True)
        raw = _raw_connection(path, store)
        try:
            codes = [make_code(key, household_id, 1) for household_id in year.households]
            redeem_times: list[float] = []
            baseline_times: list[float] = []
            for _ in range(samples):
                for timings in (redeem_times, baseline_times):
                    index, cart = _next_redemption(store, year)
                    if timings is redeem_times:
                        code = codes[index]
                        t0 = time.perf_counter()
                        services.redeem(store, code, cart, ctx=services.Context(services.ADMIN))
                        timings.append(time.perf_counter() - t0)
                    else:
                        household_id = year.households[index]
                        t0 = time.perf_counter()
                        _baseline_redeem(raw, household_id, cart, year.prices)
                        timings.append(time.perf_counter() - t0)

            balance_times: list[float] = []
            for _ in range(samples):
                code = codes[rng.randrange(households)]
                t0 = time.perf_counter()
                services.balance_for_code(store, code)
                balance_times.append(time.perf_counter() - t0)

            # What the household check adds to a redemption, alone (inside the redemption's read of the holder).
            check_times: list[float] = []
            for _ in range(samples):
                household_id = year.households[rng.randrange(households)]
                with store.read() as unit:
                    household = unit.household(household_id)
                    assert household is not None
                    cached = unit.balance(household_id)[0]
                    t0 = time.perf_counter()
                    integrity.refuse_if_tampered(unit, household, cached)
                    check_times.append(time.perf_counter() - t0)

            chain = integrity.check_chain(store)  # the till's start-up check over this run's redemptions
            t0 = time.perf_counter()
            drift = integrity.balance_drift(store)  # doctor's balances check
            drift_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            report = services.audit(store)
            audit_s = time.perf_counter() - t0
        finally:
            raw.close()
            store.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    redeem_p50, redeem_p99 = _ms(redeem_times)
    baseline_p50, baseline_p99 = _ms(baseline_times)
    balance_p50, balance_p99 = _ms(balance_times)
    check_p50, check_p99 = _ms(check_times)
    return {
        "transactions": report.transactions,
        "households": households,
        "seeded_transactions": transactions,
        "samples": samples,
        "seed_s": round(seed_s, 3),
        "redeem_p50_ms": redeem_p50,
        "redeem_p99_ms": redeem_p99,
        "baseline_redeem_p50_ms": baseline_p50,
        "baseline_redeem_p99_ms": baseline_p99,
        "ratio_redeem_p99": round(redeem_p99 / baseline_p99, 3) if baseline_p99 else 0.0,
        "balance_p50_ms": balance_p50,
        "balance_p99_ms": balance_p99,
        "household_check_p50_ms": check_p50,
        "household_check_p99_ms": check_p99,
        "startup_check_ms": round(chain.elapsed_ms, 3),
        "startup_checked_transactions": chain.checked,
        "balance_drift_s": round(drift_s, 3),
        "checkpoint_audit_s": round(checkpoint_audit_s, 3),
        "audit_s": round(audit_s, 3),
        "audit_ok": report.ok and checkpoint_ok and chain.ok and not drift,
        "audit_problems": len(report.problems) + len(chain.problems) + len(drift),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
