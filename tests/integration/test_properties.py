"""Random sequences of business events on a real SQLite ledger, checked against a plain-Python model.

Hypothesis drives a state machine: awards, deductions, redemptions (valid and invalid carts), voids,
stock intake, write-offs, donations, counts, clearing and unfreezing, base grants and cycle closes.
After every step the ledger must agree with the model, points and stock must be conserved, and a
refused operation must have changed nothing; at the end the audit must find nothing wrong.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Household, Item, Operator, Role
from ledger.passbook import make_code
from ledger.services import Context
from ledger.storage import open_ledger
from tests.conftest import ADMIN_CTX, TEST_KEY, TEST_POLICY, set_up

POLICY = TEST_POLICY
HOUSEHOLDS = {"H1": "S1", "H2": "S1", "V1": "S2"}  # household -> home shop (V1 is a visitor here)
ITEMS = {"A": (7, True), "B": (30, True), "OLD": (5, False)}  # sku -> (points, offered)
SKUS = [*ITEMS, "NOPE"]
CLERK = Operator("c1", "店员", Role.CLERK)
MANAGER = Operator("m1", "店长", Role.MANAGER)

_template: dict[str, Path] = {}


def template() -> Path:
    """A migrated, set-up ledger file made once; each example starts from a copy of it."""
    if "path" not in _template:
        directory = Path(tempfile.mkdtemp(prefix="lovemart-template-"))
        atexit.register(shutil.rmtree, directory, True)
        path = directory / "ledger.sqlite3"
        store = open_ledger(path, durable=False)
        set_up(store)
        for household_id, home in HOUSEHOLDS.items():
            services.register_household(store, Household(household_id, "V1", f"户主{household_id}", home))
        for sku, (points, active) in ITEMS.items():
            services.add_item(store, Item(sku, f"商品{sku}", "件", points, active=active))
        store.close()  # the last connection checkpoints the WAL into the main file
        _template["path"] = path
    return _template["path"]


def valid_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


quantities = st.one_of(st.integers(1, 6), st.sampled_from([0, -1, 100, 1.5, True]))
intake_quantities = st.one_of(st.integers(1, 40), st.sampled_from([0, -2, 100_001, 2.5]))
points_values = st.one_of(st.integers(1, 400), st.sampled_from([0, -5, POLICY.max_points_per_award + 1, 2.5, True]))
households = st.sampled_from([*HOUSEHOLDS, "H404"])
known_households = st.sampled_from(list(HOUSEHOLDS))
# mostly carts that can go through, so that redemptions and voids really happen, and some that cannot
valid_carts = st.lists(st.tuples(st.sampled_from(["A", "A", "B"]), st.integers(1, 3)), min_size=1, max_size=3)
carts = st.one_of(valid_carts, valid_carts, st.lists(st.tuples(st.sampled_from(SKUS), quantities), max_size=3))


@dataclass
class Redemption:
    receipt_no: str
    txn_id: str
    household_id: str
    points: int
    goods: dict[str, int]
    voided: bool = False


@dataclass
class Model:
    balance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOUSEHOLDS, 0))
    earned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOUSEHOLDS, 0))
    frozen: set[str] = field(default_factory=set)
    spent_here: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOUSEHOLDS, 0))
    stock: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ITEMS, 0))
    transactions: int = 0
    base_granted: bool = False
    redemptions: list[Redemption] = field(default_factory=list)
    other_receipts: list[str] = field(default_factory=list)

    def redeemable(self, household_id: str) -> int:
        if household_id in self.frozen:
            return 0
        value = max(0, self.balance[household_id] - POLICY.redeemable_floor)
        if HOUSEHOLDS[household_id] != "S1":  # bounded over all its redemptions here (no sync in this test)
            value = min(value, max(0, POLICY.visitor_limit - self.spent_here[household_id]))
        return value


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="lovemart-prop-"))
        path = self.directory / "ledger.sqlite3"
        shutil.copy(template(), path)
        self.store = open_ledger(path, durable=False)
        self.model = Model()
        self.codes = {h: make_code(TEST_KEY, h, 1) for h in HOUSEHOLDS}

    def teardown(self) -> None:
        try:
            if hasattr(self, "store"):
                report = services.audit(self.store)
                assert report.ok, report.problems
                assert report.transactions == self.model.transactions
        finally:
            if hasattr(self, "store"):
                self.store.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    # ----- the call itself: success exactly when the model expects it --------------------------

    def attempt(self, expected: set[str], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``. If ``expected`` (the refusals that apply) is empty it must succeed, otherwise it
        must be refused with one of them and change nothing."""
        if not expected:
            return fn(*args, **kwargs)
        before = self.state()
        with pytest.raises(LedgerError) as caught:
            fn(*args, **kwargs)
        assert caught.value.code in expected, f"{fn.__name__}{args[1:]}: {caught.value.code} not in {expected}"
        assert self.state() == before, f"refused {fn.__name__} changed the ledger"
        return None

    def state(self) -> tuple[Any, ...]:
        with self.store.read() as unit:
            rows = unit.households()
            return (
                tuple((r.household, r.balance, r.earned_cycle) for r in rows),
                tuple(sorted(unit.stock_levels().items())),
                unit.c.exec_driver_sql("SELECT count(*), max(seq) FROM txn").one(),
                unit.c.exec_driver_sql("SELECT count(*) FROM print_job").scalar(),
                unit.meta("cycle_no"),
                unit.meta("base_granted_cycle"),
            )

    # ----- points --------------------------------------------------------------------------------

    @initialize(
        awards=st.tuples(*(st.one_of(st.just(0), st.integers(150, 900)) for _ in HOUSEHOLDS)),
        stock=st.tuples(st.integers(5, 40), st.integers(0, 15), st.integers(0, 5)),
    )
    def starting_points_and_goods(self, awards, stock):
        for household_id, points in zip(HOUSEHOLDS, awards, strict=True):
            if points:
                self.award(household_id, points)
        for sku, qty in zip(ITEMS, stock, strict=True):
            if qty:
                self.stock_intake(sku, qty)

    @rule(household_id=households, points=points_values)
    def award(self, household_id, points):
        self._points(services.award, household_id, points, +1)

    @rule(household_id=households, points=points_values)
    def deduct(self, household_id, points):
        self._points(services.deduct, household_id, points, -1)

    def _points(self, fn, household_id, points, sign):
        expected = set()
        if not valid_int(points, 1, POLICY.max_points_per_award):
            expected.add("bad_points")
        if household_id not in HOUSEHOLDS:
            expected.add("household_unknown")
        elif sign > 0 and household_id in self.model.frozen:
            expected.add("household_frozen_no_award")  # a frozen household receives no award while frozen
        txn = self.attempt(expected, fn, self.store, household_id, points, "测试", ctx=ADMIN_CTX)
        if txn is not None:
            self.model.balance[household_id] += sign * points
            self.model.earned[household_id] += sign * points
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    @rule(household_id=households)
    def clear(self, household_id):
        expected = set() if household_id in HOUSEHOLDS else {"household_unknown"}
        if household_id in self.model.frozen:
            expected.add("household_already_cleared")  # cleared once is enough: no second transaction
        txn = self.attempt(
            expected,
            services.clear_household,
            self.store,
            household_id,
            "零容忍",
            Context(MANAGER),
        )
        if txn is not None:
            m = self.model
            m.balance[household_id] = min(0, m.balance[household_id])
            m.earned[household_id] = 0
            m.frozen.add(household_id)
            m.transactions += 1
            m.other_receipts.append(txn.receipt_no)

    @rule(household_id=known_households)
    def unfreeze(self, household_id):
        expected = set() if household_id in self.model.frozen else {"nothing_to_do"}
        txn = self.attempt(expected, services.unfreeze, self.store, household_id, "整改", Context(MANAGER))
        if txn is not None:
            self.model.frozen.discard(household_id)
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    @rule()
    def grant_base(self):
        granted = self.attempt(
            {"nothing_to_do"} if self.model.base_granted else set(), services.grant_base, self.store, ctx=ADMIN_CTX
        )
        if granted is not None:
            active = [h for h in HOUSEHOLDS if h not in self.model.frozen]
            assert sorted(t.household_id for t in granted) == sorted(active)
            for household_id in active:
                self.model.balance[household_id] += POLICY.base_points
                self.model.earned[household_id] += POLICY.base_points
            self.model.transactions += len(active)
            self.model.base_granted = True

    @rule()
    def close_cycle(self):
        m = self.model
        touched = [h for h in HOUSEHOLDS if m.balance[h] != 0 or m.earned[h] != 0]
        closed = services.close_cycle(self.store, Context(MANAGER))
        assert sorted(t.household_id for t in closed) == sorted(touched)
        for household_id in HOUSEHOLDS:
            m.balance[household_id] = min(0, m.balance[household_id])
            m.earned[household_id] = 0
        m.transactions += len(touched)
        m.base_granted = False

    # ----- redemption and void -----------------------------------------------------------------

    def expected_redeem(self, household_id: str, cart: list[tuple[str, Any]]) -> tuple[set[str], dict[str, int], int]:
        """Every refusal that applies to this cart (any of them may be the one reported)."""
        m = self.model
        expected: set[str] = set()
        if household_id in m.frozen:
            expected.add("household_frozen")
        if not cart:
            expected.add("empty_cart")
        merged: dict[str, int] = {}
        quantities_ok = True
        for sku, qty in cart:
            if not valid_int(qty, 1, POLICY.max_quantity):
                expected.add("bad_quantity")
                quantities_ok = False
            else:
                merged[sku] = merged.get(sku, 0) + qty
        if any(total > POLICY.max_quantity for total in merged.values()):
            expected.add("bad_quantity_total")
        total = 0
        skus_ok = True
        for sku, qty in merged.items():
            if sku not in ITEMS:
                expected.add("unknown_sku")
                skus_ok = False
                continue
            points, active = ITEMS[sku]
            if not active:
                expected.add("item_inactive")
            if qty > m.stock[sku]:
                expected.add("out_of_stock")
            total += qty * points
        if quantities_ok and skus_ok and cart and total > m.redeemable(household_id):
            floor_room = max(0, m.balance[household_id] - POLICY.redeemable_floor)
            expected.add("visitor_limit" if total <= floor_room else "insufficient_points")
        return expected, merged, total

    def _redeem(self, household_id, cart):
        expected, merged, total = self.expected_redeem(household_id, cart)
        before_redeemable = self.model.redeemable(household_id)
        txn_id = str(uuid.uuid4())
        receipt = self.attempt(
            expected, services.redeem, self.store, self.codes[household_id], cart, txn_id=txn_id, ctx=ADMIN_CTX
        )
        if receipt is None:
            return None
        m = self.model
        assert receipt.transaction.txn_id == txn_id
        assert receipt.redeemable_before == before_redeemable
        assert receipt.balance_after == m.balance[household_id] - total
        m.balance[household_id] -= total
        m.spent_here[household_id] += total
        for sku, qty in merged.items():
            m.stock[sku] -= qty
        m.transactions += 1
        redemption = Redemption(receipt.transaction.receipt_no, txn_id, household_id, total, merged)
        m.redemptions.append(redemption)
        return redemption

    @rule(household_id=known_households, cart=carts)
    def redeem(self, household_id, cart):
        self._redeem(household_id, cart)

    @rule(household_id=known_households, sku=st.sampled_from(["A", "B"]), qty=st.integers(1, 3))
    def redeem_one_item(self, household_id, sku, qty):
        self._redeem(household_id, [(sku, qty)])

    @rule(household_id=known_households, cart=carts)
    def redeem_then_void(self, household_id, cart):
        before = self.state()
        redemption = self._redeem(household_id, cart)
        if redemption is not None:
            self._void(redemption.receipt_no, MANAGER)
            after = self.state()
            assert after[:2] == before[:2], "void after redeem did not restore balances and stock"
            assert after[2][0] == before[2][0] + 2

    @rule(index=st.integers(0, 20))
    def retry_redeem(self, index):
        if not self.model.redemptions:
            return
        redemption = self.model.redemptions[index % len(self.model.redemptions)]
        before = self.state()
        receipt = services.redeem(
            self.store, self.codes[redemption.household_id], [("A", 1)], txn_id=redemption.txn_id, ctx=ADMIN_CTX
        )
        assert receipt.transaction.receipt_no == redemption.receipt_no
        assert self.state() == before

    @rule(
        which=st.one_of(
            st.integers(0, 20),
            st.sampled_from(["S1-P1-999999", "rubbish", "other"]),
        ),
        manager=st.booleans(),
    )
    def void(self, which, manager):
        m = self.model
        if isinstance(which, int):
            if not m.redemptions:
                return
            receipt_no = m.redemptions[which % len(m.redemptions)].receipt_no
        elif which == "other":
            if not m.other_receipts:
                return
            receipt_no = m.other_receipts[-1]
        else:
            receipt_no = which
        self._void(receipt_no, MANAGER if manager else CLERK)

    def _void(self, receipt_no: str, operator: Operator) -> None:
        m = self.model
        redemption = next((r for r in m.redemptions if r.receipt_no == receipt_no), None)
        if not operator.is_manager:
            expected = {"manager_required"}
        elif receipt_no in m.other_receipts:
            expected = {"not_voidable"}
        elif redemption is None:
            expected = {"receipt_unknown"}
        elif redemption.voided:
            expected = {"already_voided"}
        else:
            expected = set()
        receipt = self.attempt(expected, services.void, self.store, receipt_no, "退货", Context(operator))
        if receipt is not None:
            assert redemption is not None
            assert receipt.transaction.ref_txn_id == redemption.txn_id
            redemption.voided = True
            m.balance[redemption.household_id] += redemption.points
            m.spent_here[redemption.household_id] -= redemption.points
            for sku, qty in redemption.goods.items():
                m.stock[sku] += qty
            m.transactions += 1
            m.other_receipts.append(receipt.transaction.receipt_no)

    # ----- goods ---------------------------------------------------------------------------------

    @rule(sku=st.sampled_from(SKUS), qty=intake_quantities)
    def stock_intake(self, sku, qty):
        expected = set()
        if not valid_int(qty, 1, 100_000):
            expected.add("bad_quantity")
        if sku not in ITEMS:
            expected.add("unknown_sku")
        txn = self.attempt(expected, services.stock_intake, self.store, [(sku, qty)], supplier="供销社", ctx=ADMIN_CTX)
        if txn is not None:
            self.model.stock[sku] += qty
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    @rule(sku=st.sampled_from(SKUS), qty=quantities)
    def write_off(self, sku, qty):
        expected = set()
        if not valid_int(qty, 1, 100_000):
            expected.add("bad_quantity")
        elif sku in ITEMS and qty > self.model.stock[sku]:
            expected.add("out_of_stock")
        if sku not in ITEMS:
            expected.add("unknown_sku")
        txn = self.attempt(expected, services.write_off, self.store, sku, qty, "破损", ctx=ADMIN_CTX)
        if txn is not None:
            self.model.stock[sku] -= qty
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    @rule(
        donor=st.sampled_from(["爱心企业", "李四", "", " "]),
        amount=st.one_of(st.integers(0, 50_000), st.sampled_from([-100, 1.5])),
        goods=st.lists(st.tuples(st.sampled_from(SKUS), intake_quantities), max_size=2),
    )
    def donation(self, donor, amount, goods):
        expected = set()
        if not donor.strip():
            expected.add("donor_required")
        if not valid_int(amount, 0, 10**12):
            expected.add("bad_amount")
        elif amount == 0 and not goods:
            expected.add("donation_empty")
        merged: dict[str, int] = {}
        for sku, qty in goods:
            if not valid_int(qty, 1, 100_000):
                expected.add("bad_quantity")
            else:
                merged[sku] = merged.get(sku, 0) + qty
            if sku not in ITEMS:
                expected.add("unknown_sku")
        if any(q > 100_000 for q in merged.values()):
            expected.add("bad_quantity_total")
        txn = self.attempt(
            expected, services.record_donation, self.store, donor, amount_fen=amount, goods=goods, ctx=ADMIN_CTX
        )
        if txn is not None:
            for sku, qty in merged.items():
                self.model.stock[sku] += qty
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    @rule(counted=st.dictionaries(st.sampled_from(SKUS), st.one_of(st.integers(0, 30), st.just(-1)), max_size=3))
    def stock_count(self, counted):
        expected = set()
        if not counted:
            expected.add("empty_cart")
        if any(sku not in ITEMS for sku in counted):
            expected.add("unknown_sku")
        if any(qty < 0 for qty in counted.values()):
            expected.add("count_quantity")
        result = self.attempt(expected, services.stock_count, self.store, counted, ctx=ADMIN_CTX)
        if result is not None:
            txn, differences = result
            assert {d.sku: d.expected for d in differences} == {sku: self.model.stock[sku] for sku in counted}
            self.model.stock.update(counted)
            self.model.transactions += 1
            self.model.other_receipts.append(txn.receipt_no)

    # ----- invariants ----------------------------------------------------------------------------

    @invariant()
    def ledger_agrees_with_the_model(self):
        m = self.model
        with self.store.read() as unit:
            rows = {r.household.household_id: r for r in unit.households()}
            assert {h: rows[h].balance for h in HOUSEHOLDS} == m.balance
            assert {h: rows[h].earned_cycle for h in HOUSEHOLDS} == m.earned
            assert {h for h in HOUSEHOLDS if rows[h].household.status == "frozen"} == m.frozen
            assert {sku: unit.stock(sku) for sku in ITEMS} == m.stock
            count, last_seq = unit.c.exec_driver_sql("SELECT count(*), coalesce(max(seq), 0) FROM txn").one()
            assert count == last_seq == m.transactions  # gap-free

    @invariant()
    def points_and_stock_are_conserved(self):
        with self.store.read() as unit:
            sql = unit.c.exec_driver_sql
            assert sql("SELECT coalesce(sum(amount), 0) FROM posting WHERE unit = 'pt'").scalar() == 0
            assert (
                sql(
                    "SELECT count(*) FROM (SELECT txn_pk, unit FROM posting GROUP BY txn_pk, unit "
                    "HAVING sum(amount) != 0)"
                ).scalar()
                == 0
            )
            posted = dict(
                sql(
                    "SELECT substr(account, 11), sum(amount) FROM posting "
                    "WHERE unit = 'pt' AND account LIKE 'household:%' GROUP BY account"
                ).all()
            )
            for row in unit.households():
                assert row.balance == posted.get(row.household.household_id, 0)
            moved = dict(sql("SELECT sku, sum(qty) FROM line GROUP BY sku").all())
            for sku, on_hand in unit.stock_levels().items():
                assert on_hand == moved.get(sku, 0)
                assert on_hand >= 0


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerProperties = LedgerMachine.TestCase
