"""Shared fixtures: real ledgers on real SQLite files (and PostgreSQL when configured)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledger import services
from ledger.model import Household, Item, Member, Policy, Shop, Township, Village
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger, open_url

TEST_KEY = bytes.fromhex("6c6f76656d6172742d746573742d6b65792d30303030303030303030303030")
TEST_POLICY = Policy(base_points=100, redeemable_floor=100, visitor_limit=50)
PG_URL = os.environ.get("LOVEMART_TEST_DATABASE_URL")
# What the headless commands act as; tests that do not test who acts use it too.
ADMIN_CTX = services.Context(services.ADMIN)
# The central record's server secret (sync.server.bundlekeys): tests never read or make the real one in
# ~/.config/lovemart; one per test process, inherited by the servers it starts.
if "LOVEMART_SERVER_SECRET_FILE" not in os.environ:
    _secret_dir = tempfile.mkdtemp(prefix="lovemart-secret-")
    atexit.register(shutil.rmtree, _secret_dir, ignore_errors=True)
    os.environ["LOVEMART_SERVER_SECRET_FILE"] = os.path.join(_secret_dir, "server-secret")


@dataclass
class ShopFixture:
    """A set-up shop ledger with helpers to add households and goods in one line."""

    store: SqlLedgerStore
    path: Path | None
    key: bytes = TEST_KEY
    shop_id: str = "S1"
    codes: dict[str, str] = field(default_factory=dict)

    def household(self, household_id: str, name: str = "张三", points: int = 0, home_shop: str = "S1") -> str:
        """Register a household (with `points` awarded) and return its passbook code."""
        services.register_household(
            self.store,
            Household(household_id, "V1", name, home_shop, members=(Member(name, "户主"),)),
        )
        if points:
            services.award(self.store, household_id, points, "测试奖励", ctx=ADMIN_CTX)
        code = make_code(self.key, household_id, 1)
        self.codes[household_id] = code
        return code

    def item(self, sku: str, points: int, stock: int = 0, name: str | None = None) -> Item:
        item = services.add_item(self.store, Item(sku, name or f"商品{sku}", "件", points))
        if stock:
            services.stock_intake(self.store, [(sku, stock)], supplier="供销社", ctx=ADMIN_CTX)
        return item


class FakeClock:
    """A monotonic clock that moves only when the test says so (scanners' repeat filter, idle timeouts)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def set_up(store: SqlLedgerStore, policy: Policy = TEST_POLICY) -> None:
    services.set_up_shop(
        store,
        Township("T1", "测试镇", TEST_KEY),
        Village("V1", "幸福村"),
        Shop("S1", "幸福村爱心超市", "V1"),
        "P1",
        policy,
    )


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def store(ledger_path: Path) -> Iterator[SqlLedgerStore]:
    s = open_ledger(ledger_path)
    set_up(s)
    yield s
    s.close()


@pytest.fixture
def shop(store: SqlLedgerStore, ledger_path: Path) -> ShopFixture:
    return ShopFixture(store, ledger_path)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    if not PG_URL:
        pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
    from ledger.storage.central import scratch_schema

    with scratch_schema(PG_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShopFixture]:
    """The same shop on SQLite and (when configured) on PostgreSQL."""
    if request.param == "sqlite":
        s = open_ledger(tmp_path / "ledger.sqlite3")
        path: Path | None = tmp_path / "ledger.sqlite3"
    else:
        s = open_url(request.getfixturevalue("pg_url"))
        path = None
    set_up(s)
    yield ShopFixture(s, path)
    s.close()


@pytest.fixture(scope="module")
def demo_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo shop made once per test module, with the module's ``DEMO_HOUSEHOLDS`` households (12 if unset)."""
    from lovemart.cli import main

    home = tmp_path_factory.mktemp("demo") / "shop"
    households = getattr(request.module, "DEMO_HOUSEHOLDS", 12)
    assert main(["--home", str(home), "demo", "--no-ui", "--households", str(households), "--json"]) == 0
    return home


@pytest.fixture
def home(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the module's demo shop, so a test may change it."""
    target = tmp_path / "shop"
    shutil.copytree(demo_template, target)
    return target


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for the PostgreSQL tests skipped without a database, instead of one line each."""
    skipped = terminalreporter.stats.get("skipped", [])
    without = [r for r in skipped if "LOVEMART_TEST_DATABASE_URL" in str(getattr(r, "longrepr", ""))]
    if without:
        terminalreporter.write_line(
            f"{len(without)} PostgreSQL tests skipped: LOVEMART_TEST_DATABASE_URL is not set (.ci/run sets it)"
        )
