"""A malicious shop device against the real central record (issue 11): nothing it pushes creates points.

Hypothesis runs random sequences of: the township awarding points; two honest shops redeeming, voiding
and syncing; and a malicious device of a third shop appending *anything* to its own correctly chained
journal (any kind, any accounts, any amounts, any goods, any references, any pull cursor) and pushing
it. The central record is the real one (``CentralRecord`` on SQLite, the code behind ``POST /v1/push``
and ``GET /v1/pull``), called in process to keep each example fast; ``tests/integration/test_authority.py`` covers
the same rule through the HTTP server. After every step:

- points earned (the ranking) at the central record are exactly what the township awarded;
- no household's central balance is above what it would be without the malicious device: the device
  may at most spend points on goods at its own shop, as any shop may;
- every transaction of the malicious device that took effect obeys the authority rule, and every one
  that did not is held with exactly one exception;
- the honest shops never receive a held transaction, their audits are clean, and once everyone has
  synced their balances equal the central record's; the malicious shop's own ledger, corrected, too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger import services
from ledger.authority import SHOP_KINDS
from ledger.effects import Totals, effects_of
from ledger.errors import LedgerError
from ledger.model import FEN, POINTS, Item, Line, Posting, TxnDraft, TxnKind
from ledger.storage import SqlLedgerStore, open_ledger
from ledger.storage.central import CentralDevice
from sync import protocol
from sync.apply import apply_page
from sync.server import township
from sync.server.record import CentralRecord
from tests.conftest import ADMIN_CTX

HOUSEHOLDS = ["H1", "H2", "H3"]
ACCOUNTS = [
    "household:H1",
    "household:H2",
    "household:H3",
    "household:NOBODY",
    "shop:S1:redeemed",
    "shop:S3:redeemed",
    "shop:S3:fund",
    "township:awards",
    "overdraft:H1",
    "donor:某人",
    "supplier:-",
]
SKUS = ["RICE", "OIL", "PEN"]


@dataclass
class PC:
    shop_id: str
    device: CentralDevice
    store: SqlLedgerStore


class AuthorityMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="lovemart-authority-"))
        self.record = CentralRecord.open(f"sqlite:///{self.tmp / 'central.sqlite3'}")
        self.honest: list[PC] = []
        self.evil: PC | None = None
        self.awarded: Counter[str] = Counter()

    @initialize()
    def set_up(self) -> None:
        record = self.record
        record.initialise("T01", "红星镇")
        township.put_village(record, "V1", "幸福村")
        for shop_id in ("S1", "S2", "S3"):
            township.put_shop(record, shop_id, f"{shop_id}爱心超市", "V1")
        for n, household_id in enumerate(HOUSEHOLDS):
            given = township.HouseholdInput(household_id, "V1", f"户主{n}", "S1")
            township.put_household(record, given)
            self.award(household_id, 200)
        township.put_item(record, Item("RICE", "大米", "袋", 25))
        township.put_item(record, Item("OIL", "食用油", "桶", 40))
        self.honest = [self.provision("S1"), self.provision("S2")]
        self.evil = self.provision("S3")

    def teardown(self) -> None:
        for pc in [*self.honest, *([self.evil] if self.evil else [])]:
            pc.store.close()
        self.record.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ----- plumbing: what a shop PC's sync does, in process ------------------------------------------------
    def provision(self, shop_id: str) -> PC:
        reply = self.record.enrol({"token": self.record.new_enrol_token(shop_id)})
        device = self.record.device_for(reply["device_token"])
        store = open_ledger(self.tmp / f"{shop_id}.sqlite3", durable=False)
        with self.record.store.read() as unit:
            ledger = unit.ledger
            township_, policy = ledger.township(), ledger.policy()
            shop = ledger.shop(shop_id)
            assert shop is not None
            village = ledger.village(shop.village_id)
            assert village is not None
        services.set_up_shop(store, township_, village, shop, device.device_id, policy)
        pc = PC(shop_id, device, store)
        self.pull(pc)
        services.stock_intake(store, [("RICE", 100), ("OIL", 100)], supplier="供销社", ctx=ADMIN_CTX)
        return pc

    def push(self, pc: PC) -> None:
        with pc.store.read() as unit:
            acked = int(unit.meta("acked_through") or 0)
            own = [t for t in unit.journal() if t.device_id == pc.device.device_id and t.seq > acked]
        if not own:
            return
        message = protocol.push_message(pc.shop_id, pc.device.device_id, own)
        reply = self.record.push(pc.device, protocol.decode(protocol.encode(message), "push"))
        with pc.store.write() as unit:
            unit.set_meta("acked_through", str(reply["acked_through"]))

    def pull(self, pc: PC) -> None:
        while True:
            with pc.store.read() as unit:
                cursor = int(unit.meta("pull_cursor") or 0)
            page = json.loads(self.record.pull_json(pc.device.device_id, cursor))
            apply_page(pc.store, page["changes"], page["next"])
            if not page["more"]:
                return

    def sync(self, pc: PC) -> None:
        self.push(pc)
        self.pull(pc)

    def award(self, household_id: str, points: int) -> None:
        township.award(self.record, household_id, points, "卫生评比")
        self.awarded[household_id] += points

    # ----- the township and the honest shops --------------------------------------------------------------
    @rule(household=st.sampled_from(HOUSEHOLDS), points=st.integers(min_value=1, max_value=100))
    def township_awards(self, household: str, points: int) -> None:
        self.award(household, points)

    @rule(data=st.data(), household=st.sampled_from(HOUSEHOLDS), sku=st.sampled_from(["RICE", "OIL"]))
    def honest_shop_redeems(self, data: st.DataObject, household: str, sku: str) -> None:
        pc = data.draw(st.sampled_from(self.honest))
        try:
            sold = services.redeem(pc.store, services.passbook_code_of(pc.store, household), [(sku, 1)], ctx=ADMIN_CTX)
        except LedgerError as refused:
            assert refused.code in {"insufficient_points", "visitor_limit"}, refused.code
            return
        if data.draw(st.booleans()):
            services.void(pc.store, sold.transaction.receipt_no, "顾客退货", ctx=ADMIN_CTX)

    @rule(data=st.data())
    def honest_shop_syncs(self, data: st.DataObject) -> None:
        self.sync(data.draw(st.sampled_from(self.honest)))

    # ----- the malicious device ------------------------------------------------------------------------------
    @precondition(lambda self: self.evil is not None)
    @rule(
        kind=st.sampled_from(list(TxnKind)),
        household=st.sampled_from([None, *HOUSEHOLDS, "NOBODY"]),
        moves=st.lists(
            st.tuples(
                st.sampled_from(ACCOUNTS),
                st.sampled_from(ACCOUNTS),
                st.integers(min_value=-5000, max_value=5000),
                st.sampled_from([POINTS, POINTS, FEN]),
            ),
            max_size=2,
        ),
        lines=st.lists(
            st.tuples(
                st.sampled_from(SKUS),
                st.integers(min_value=-100_000, max_value=100_000),
                st.sampled_from([0, 25, 40, 1, 5000]),
            ),
            max_size=2,
        ),
        ref=st.sampled_from(["none", "random", "honest", "own"]),
        cursor=st.sampled_from(["now", "zero", "huge"]),
        push=st.booleans(),
    )
    def malicious_device_pushes_anything(
        self,
        kind: TxnKind,
        household: str | None,
        moves: Sequence[tuple[str, str, int, str]],
        lines: Sequence[tuple[str, int, int]],
        ref: str,
        cursor: str,
        push: bool,
    ) -> None:
        assert self.evil is not None
        postings: list[Posting] = []
        for debit, credit, amount, unit_ in moves:  # balanced, or the push is refused outright (409)
            postings += [Posting(debit, -amount, unit_), Posting(credit, amount, unit_)]
        with self.evil.store.write() as unit:
            pull_cursor = int(unit.meta("pull_cursor") or 0)
            draft = TxnDraft(
                txn_id=str(uuid.uuid4()),
                kind=kind,
                created_at=services.timestamp(services.local_now),
                shop_id="S3",  # another shop's id: refused (403) before any rule, tests/integration/test_server.py
                operator="evil",
                household_id=household,
                postings=tuple(postings),
                lines=tuple(Line(sku, qty, each) for sku, qty, each in lines),
                ref_txn_id=self._reference(ref),
                pull_cursor={"now": pull_cursor, "zero": 0, "huge": 10**12}[cursor],
            )
            unit.append(draft)
        if push:
            self.sync(self.evil)

    def _reference(self, ref: str) -> str | None:
        if ref == "none":
            return None
        if ref == "random":
            return str(uuid.uuid4())
        with self.record.store.read() as unit:
            txns = [
                t for t in unit.ledger.journal() if t.kind == TxnKind.REDEEM and ((t.shop_id == "S3") == (ref == "own"))
            ]
        return txns[-1].txn_id if txns else str(uuid.uuid4())

    # ----- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def no_point_comes_from_the_malicious_device(self) -> None:
        if self.evil is None:
            return
        with self.record.store.read() as unit:
            journal = list(unit.ledger.journal())
            balances = {h: unit.ledger.balance(h) for h in HOUSEHOLDS}
            held, _total = unit.held_list(limit=100_000)
            exceptions = Counter(e.txn_ids[0] for e in unit.exceptions(kind="held", limit=100_000) if e.txn_ids)
        evil_devices = {t.device_id for t in journal if t.shop_id == "S3"} | {self.evil.device.device_id}
        without = Totals()
        for txn in journal:
            from_evil = txn.device_id in evil_devices or (
                txn.kind == TxnKind.OVERDRAFT
                and any(t.txn_id == txn.ref_txn_id and t.device_id in evil_devices for t in journal)
            )
            if not from_evil:
                without.apply(effects_of(txn, "T01"))
            elif txn.kind != TxnKind.OVERDRAFT:
                assert txn.kind in SHOP_KINDS, txn
                for posting in txn.postings:
                    if posting.unit == POINTS:
                        assert posting.account in (f"household:{txn.household_id}", "shop:S3:redeemed"), txn
        for household_id in HOUSEHOLDS:
            balance, earned = balances[household_id]
            assert earned == self.awarded[household_id] + 0, household_id  # the ranking: the township's only
            assert balance <= without.balance.get(household_id, 0), household_id
        assert all(exceptions[h.txn_id] == 1 for h in held)
        held_ids = {h.txn_id for h in held}
        for pc in self.honest:
            with pc.store.read() as unit:
                assert not held_ids & {t.txn_id for t in unit.journal()}
            report = services.audit(pc.store)
            assert report.ok, report.problems

    @precondition(lambda self: self.evil is not None)
    @rule()
    def everyone_syncs(self) -> None:
        assert self.evil is not None
        for _round in range(2):
            for pc in [*self.honest, self.evil]:
                self.sync(pc)
        with self.record.store.read() as unit:
            expected = {h: unit.ledger.balance(h) for h in HOUSEHOLDS}
        for pc in [*self.honest, self.evil]:
            with pc.store.read() as unit:
                assert {h: unit.balance(h) for h in HOUSEHOLDS} == expected, pc.shop_id
            problems = services.audit(pc.store).problems
            if pc is self.evil:  # it may write off more than it has: its own shelves, its own audit's finding
                problems = [p for p in problems if p.kind != "negative_stock"]
            assert not problems, (pc.shop_id, problems)
        assert services.audit(self.record.store.ledger).ok


AuthorityMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAuthority = AuthorityMachine.TestCase
