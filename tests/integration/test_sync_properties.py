"""Sync as a state machine: 2-3 shops offline and online, the township awarding and clearing, faults anywhere.

Hypothesis runs random sequences of: an award or a clearing at the central record, a redemption at a
shop (offline: nothing is sent), and a sync of one shop with a random fault on the way (a lost request,
a lost reply, a duplicate delivery, a server error, or the client process dying after the server
stored the push but before the ack was saved, or with a pulled page in hand). After every step:

- every transaction is stored at the central record exactly once (by id and by device and number), and
  everything a shop believes acknowledged is there with the same hash;
- points are conserved: the postings of every ledger sum to zero;
- a sync repeated at once (with a duplicate delivery, even) changes nothing;
- once everyone has synced, every shop's balances and points earned equal the central record's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger import services
from ledger.errors import LedgerError
from ledger.model import HouseholdStatus
from ledger.storage import SqlLedgerStore
from sync.client import SyncClient
from tests.conftest import ADMIN_CTX
from tests.sync_fake import Crash, FakeCentral, fresh_ledger, journal_of, meta_int, points_total

HOUSEHOLDS = ["H1", "H2", "H3", "H4"]
FAULTS = [
    None,
    ("/v1/push", "drop_request"),
    ("/v1/push", "drop_reply"),
    ("/v1/push", "duplicate"),
    ("/v1/push", "error_500"),
    ("/v1/pull", "drop_reply"),
    ("/v1/pull", "error_500"),
    ("/v1/status", "error_500"),
    "crash_after_push",
    "crash_before_apply",
]


@dataclass
class ShopPC:
    shop_id: str
    device_id: str
    token: str
    store: SqlLedgerStore


def _balances(store: SqlLedgerStore) -> dict[str, tuple[int, int, str]]:
    with store.read() as unit:
        return {
            r.household.household_id: (r.balance, r.earned_cycle, str(r.household.status)) for r in unit.households()
        }


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="lovemart-sync-"))
        self.stack = ExitStack()
        self.central = FakeCentral(self.tmp / "central")
        self.shops: list[ShopPC] = []
        self.url = ""
        # One connection pool for the whole run, as one long-lived client has (making one costs ~70 ms of TLS set-up).
        self.http = self.stack.enter_context(httpx.Client(timeout=10))

    @initialize(count=st.integers(min_value=2, max_value=3))
    def set_up(self, count: int) -> None:
        central = self.central
        central.add_village("V1")
        shop_ids = [f"S{i}" for i in range(1, count + 1)]
        for shop_id in shop_ids:
            central.add_shop(shop_id)
        for i, hid in enumerate(HOUSEHOLDS):
            central.add_household(hid, name=f"户{hid}", home_shop=shop_ids[i % count])
            central.award(hid, 200)
        central.add_item("RICE", 25)
        central.add_item("OIL", 40)
        self.url = self.stack.enter_context(central.serve())
        for shop_id in shop_ids:
            device = central.register_device(shop_id)
            store = fresh_ledger(self.tmp / f"{shop_id}.sqlite3")
            pc = ShopPC(shop_id, device.device_id, device.token, store)
            self.client(pc).bootstrap(shop_id, device.device_id)
            services.stock_intake(store, [("RICE", 200), ("OIL", 200)], supplier="供销社", ctx=ADMIN_CTX)
            self.shops.append(pc)

    def teardown(self) -> None:
        try:
            if self.shops:
                self.everyone_syncs()
        finally:
            for pc in self.shops:
                pc.store.close()
            self.stack.close()
            self.central.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def client(self, pc: ShopPC, hook: Any = None) -> SyncClient:
        return SyncClient(
            pc.store, self.url, pc.token, http=self.http, sleep=lambda _s: None, max_attempts=4, hook=hook
        )

    # ----- the township -------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(household=st.sampled_from(HOUSEHOLDS), points=st.integers(min_value=1, max_value=150))
    def award_at_central(self, household: str, points: int) -> None:
        with self.central.store.read() as unit:
            frozen = unit.household(household).status == HouseholdStatus.FROZEN  # type: ignore[union-attr]
        if frozen:  # a frozen household receives no award while frozen
            with pytest.raises(LedgerError) as refused:
                self.central.award(household, points)
            assert refused.value.code == "household_frozen_no_award"
            return
        self.central.award(household, points)

    @precondition(lambda self: bool(self.shops))
    @rule(household=st.sampled_from(HOUSEHOLDS))
    def clear_or_unfreeze_at_central(self, household: str) -> None:
        with self.central.store.read() as unit:
            frozen = unit.household(household).status == HouseholdStatus.FROZEN  # type: ignore[union-attr]
        if frozen:
            self.central.unfreeze(household)
        else:
            self.central.clear(household)

    # ----- a shop, offline ------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data(), household=st.sampled_from(HOUSEHOLDS), sku=st.sampled_from(["RICE", "OIL"]))
    def redeem_at_a_shop(self, data: st.DataObject, household: str, sku: str) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        try:
            code = services.passbook_code_of(pc.store, household)
            services.redeem(pc.store, code, [(sku, 1)], ctx=ADMIN_CTX)
        except LedgerError as refused:  # not enough points, frozen, visitor limit: the counter says no
            assert refused.code in {"insufficient_points", "household_frozen", "visitor_limit"}, refused.code

    # ----- sync -----------------------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data(), fault=st.sampled_from(FAULTS))
    def sync_a_shop(self, data: st.DataObject, fault: Any) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        if fault == "crash_after_push" or (isinstance(fault, tuple) and fault[0] == "/v1/push"):
            # A fault on the push bites only if something waits to go up: goods arriving will do.
            services.stock_intake(pc.store, [("RICE", 1)], supplier="供销社", ctx=ADMIN_CTX)
        if isinstance(fault, tuple):
            self.central.fault(*fault)
        point = {"crash_after_push": "push_replied", "crash_before_apply": "pull_received"}.get(fault or "")

        def hook(at: str) -> None:
            if at == point:
                raise Crash

        before_acked = meta_int(pc.store, "acked_through")
        try:
            self.client(pc, hook).sync()
        except Crash:
            if point == "push_replied":
                assert meta_int(pc.store, "acked_through") == before_acked  # died before saving the ack
        finally:
            self.central.faults.clear()  # an unused fault must not fall on a later step

    @precondition(lambda self: bool(self.shops))
    @rule(data=st.data())
    def sync_twice_is_sync_once(self, data: st.DataObject) -> None:
        pc = data.draw(st.sampled_from(self.shops))
        self.client(pc).sync()
        state = (_balances(pc.store), len(journal_of(pc.store)), meta_int(pc.store, "pull_cursor"))
        stored = len(self.central.journal())
        self.central.fault("/v1/pull", "duplicate")
        summary = self.client(pc).sync()
        self.central.faults.clear()
        assert summary.pushed == 0 and summary.pulled == 0
        assert (_balances(pc.store), len(journal_of(pc.store)), meta_int(pc.store, "pull_cursor")) == state
        assert len(self.central.journal()) == stored

    @precondition(lambda self: bool(self.shops))
    @rule()
    def everyone_syncs(self) -> None:
        for _round in range(2):  # the first round takes everyone's pushes up, the second brings them down
            for pc in self.shops:
                self.client(pc).sync()
        expected = _balances(self.central.store)
        for pc in self.shops:
            assert _balances(pc.store) == expected, pc.shop_id
            own = {t.txn_id: t.hash for t in journal_of(pc.store) if t.device_id == pc.device_id}
            there = {t.txn_id: t.hash for t in self.central.journal() if t.device_id == pc.device_id}
            assert own == there, pc.shop_id

    # ----- invariants -------------------------------------------------------------------------------------------
    @invariant()
    def stored_exactly_once_and_points_conserved(self) -> None:
        if not self.shops:
            return
        txns = self.central.journal()
        assert len({t.txn_id for t in txns}) == len(txns)
        assert max(Counter((t.device_id, t.seq) for t in txns).values()) == 1
        logged = Counter(c.data["i"] for c in self.central.log if c.type == "txn")
        assert max(logged.values()) == 1
        assert points_total(txns) == 0
        stored = {t.txn_id: t.hash for t in txns}
        for pc in self.shops:
            acked = meta_int(pc.store, "acked_through")
            journal = journal_of(pc.store)
            assert points_total(journal) == 0
            for t in journal:
                if t.device_id == pc.device_id and t.seq <= acked:
                    assert stored.get(t.txn_id) == t.hash, (pc.shop_id, t.seq)


SyncMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSync = SyncMachine.TestCase
