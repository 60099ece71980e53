"""The shop's sync client against a central record on loopback: exactly once, whatever the network does.

Most tests run against the fake central record of ``tests/sync_fake.py`` (a real HTTP server and a real
ledger, with faults on demand); the last ones run against the real server when it is there.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Household, HouseholdStatus, Member, Transaction
from ledger.storage import SqlLedgerStore, open_ledger
from lovemart import cli as cli_module
from lovemart import settings as settings_mod
from lovemart.bootstrap import shop_parts
from lovemart.sync_wiring import HomeSyncPort, next_sync_at, read_device_token
from sync import protocol
from sync.bundle import open_sealed, seal
from sync.client import SyncClient
from sync.errors import SyncError
from tests.conftest import ADMIN_CTX
from tests.sync_fake import KEY, Crash, FakeCentral

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(home: Path, *args: str, lang: str = "zh") -> tuple[int, dict[str, Any], str]:
        code = cli_module.main(["--home", str(home), "--lang", lang, *args, "--json"])
        captured = capsys.readouterr()
        data = json.loads(captured.out) if captured.out.strip() else {}
        return code, data, captured.err

    return run


# ----- a township with one village, two shops, five households and goods ------------------------------------


@pytest.fixture
def central(tmp_path: Path) -> Iterator[FakeCentral]:
    c = FakeCentral(tmp_path / "central")
    c.add_village("V1")
    c.add_shop("S1")
    c.add_shop("S2")
    for i in range(1, 6):
        c.add_household(f"H00{i}", name=f"户主{i}", home_shop="S1" if i < 5 else "S2")
    c.add_item("RICE", 25, "大米")
    c.add_item("OIL", 40, "食用油")
    c.award("H001", 300)
    c.award("H002", 200)
    c.award("H003", 150)
    yield c
    c.close()


@pytest.fixture
def url(central: FakeCentral) -> Iterator[str]:
    with central.serve() as base:
        yield base


def quick(home: Path) -> None:
    """No waiting between retries in CLI runs (the CLI uses the real sleep)."""
    settings_mod.update(settings_mod.load(home), {"sync": {"backoff": 0, "attempts": 3, "timeout": 5}})


@pytest.fixture
def shop(tmp_path: Path, central: FakeCentral, url: str, cli: Any) -> Path:
    """Shop S1's PC, provisioned through the command line."""
    home = tmp_path / "s1"
    code, data, err = cli(home, "provision", "--server", url, f"--token={central.enrol_token('S1')}")
    assert code == 0, err
    assert data["shop_id"] == "S1" and data["device_id"] == "P1"
    quick(home)
    return home


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def open_shop(home: Path) -> SqlLedgerStore:
    return open_ledger(home / "ledger.sqlite3")


def client_of(home: Path, url: str, store: SqlLedgerStore, sleep: Recorder | None = None, **kw: Any) -> SyncClient:
    token = read_device_token(home)
    assert token
    return SyncClient(store, url, token, sleep=sleep or Recorder(), backoff=1.0, max_attempts=4, timeout=5, **kw)


def balances(store: SqlLedgerStore) -> dict[str, tuple[int, int]]:
    with store.read() as unit:
        return {r.household.household_id: (r.balance, r.earned_cycle) for r in unit.households()}


def journal(store: SqlLedgerStore) -> list[Transaction]:
    with store.read() as unit:
        return list(unit.journal())


def own(store: SqlLedgerStore, device: str = "P1") -> list[Transaction]:
    return [t for t in journal(store) if t.device_id == device]


def meta(store: SqlLedgerStore, key: str) -> str | None:
    with store.read() as unit:
        return unit.meta(key)


def code_of(store: SqlLedgerStore, household_id: str) -> str:
    return services.passbook_code_of(store, household_id)


def sell(store: SqlLedgerStore, household_id: str, sku: str = "RICE", qty: int = 1) -> Transaction:
    return services.redeem(store, code_of(store, household_id), [(sku, qty)], ctx=ADMIN_CTX).transaction


def stock_up(store: SqlLedgerStore) -> None:
    services.stock_intake(store, [("RICE", 50), ("OIL", 20)], supplier="供销社", ctx=ADMIN_CTX)


def assert_stored_once(central: FakeCentral) -> None:
    txns = central.journal()
    assert len({t.txn_id for t in txns}) == len(txns)
    numbers = Counter((t.device_id, t.seq) for t in txns)
    assert max(numbers.values()) == 1
    logged = Counter(c.data["i"] for c in central.log if c.type == "txn")
    assert not logged or max(logged.values()) == 1


# ----- provisioning and the plain round trip ----------------------------------------------------------------


def test_provision_builds_the_shop_from_the_central_record(shop: Path, central: FakeCentral, cli: Any) -> None:
    token_file = shop / "device-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    toml = (shop / "lovemart.toml").read_text(encoding="utf-8")
    assert "[sync]" in toml and "server = " in toml and token_file.read_text().strip() not in toml
    settings = settings_mod.load(shop)
    assert (settings.shop.id, settings.shop.device) == ("S1", "P1")
    store = open_shop(shop)
    try:
        assert balances(store) == central.balances()
        with store.read() as unit:
            assert unit.identity().shop_id == "S1" and unit.township().passbook_key == KEY
            assert {i.sku for i in unit.items()} == {"RICE", "OIL"}
            assert int(unit.meta("pull_cursor") or 0) == len(central.log)
            assert unit.meta("last_synced")
            # A township server older than the village board (this fake answers 404) syncs all the same.
            assert unit.meta("village_board") is None
        assert central.count("GET", "/v1/board") >= 1
    finally:
        store.close()
    code, audit, _ = cli(shop, "audit", "verify")
    assert code == 0 and audit["ok"], audit


def test_provision_makes_the_first_manager_so_the_till_can_be_opened(
    tmp_path: Path, central: FakeCentral, url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    plain = tmp_path / "plain"
    code, data, err = cli(plain, "provision", "--server", url, f"--token={central.enrol_token('S1')}")
    assert code == 0 and data["manager"] is None, err  # a script that named nobody: told how to add one
    home = tmp_path / "managed"
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    token = central.enrol_token("S1")
    code, data, err = cli(home, "provision", "--server", url, f"--token={token}", "--manager", "王秀兰")
    assert code == 0 and data["manager"] == "01", err
    store = open_shop(home)
    try:
        assert services.login(store, "01", "2468").is_manager
    finally:
        store.close()


def test_provision_refuses_a_home_that_already_has_a_ledger(
    shop: Path, central: FakeCentral, url: str, cli: Any
) -> None:
    token = central.enrol_token("S1")
    code, data, err = cli(shop, "provision", "--server", url, f"--token={token}")
    assert code == 1 and data["error"]["code"] == "already_provisioned" and "空目录" in err
    assert token in central.enrol_tokens  # refused before the token was spent


def test_provision_with_a_used_token_is_refused(tmp_path: Path, central: FakeCentral, url: str, cli: Any) -> None:
    code, data, err = cli(tmp_path / "x", "provision", "--server", url, "--token", "not-a-token")
    assert code == 1 and data["error"]["code"] == "enrol_invalid"
    assert not (tmp_path / "x" / "ledger.sqlite3").exists()


def test_fresh_home_redeems_and_pushes(shop: Path, central: FakeCentral, cli: Any) -> None:
    store = open_shop(shop)
    code_h1 = code_of(store, "H001")
    store.close()
    assert cli(shop, "stock", "in", "RICE=10", "--supplier", "供销社")[0] == 0
    code, redeemed, err = cli(shop, "redeem", code_h1, "RICE=2")
    assert code == 0, err
    code, summary, err = cli(shop, "sync")
    assert code == 0, err
    assert summary["pushed"] == 2 and summary["acked_through"] == 2 and summary["exceptions"] == 0
    assert set(summary) >= {"pushed", "pulled", "acked_through", "exceptions"}
    assert "上传" in err  # progress for people on stderr
    assert central.head("P1") == 2
    assert central.balances()["H001"][0] == 300 - 50
    store = open_shop(shop)
    assert balances(store) == central.balances()
    store.close()
    code, again, _ = cli(shop, "sync")
    assert code == 0 and again["pushed"] == 0 and again["pulled"] == 0
    assert_stored_once(central)


def test_award_pull_redeem_offline_push_totals_equal(shop: Path, central: FakeCentral, url: str) -> None:
    store = open_shop(shop)
    sleep = Recorder()
    client = client_of(shop, url, store, sleep)
    stock_up(store)
    central.award("H004", 150)
    client.sync()
    assert balances(store)["H004"] == central.balances()["H004"] == (150, 150)
    # Offline: the server is unreachable, the shop keeps redeeming.
    offline = client_of(shop, "http://127.0.0.1:9", store)
    for hid in ("H001", "H002", "H004"):
        sell(store, hid)
    sell(store, "H001", "OIL")
    with pytest.raises(SyncError) as refused:
        offline.sync()
    assert refused.value.code == "unreachable"
    assert meta(store, "acked_through") == "1"
    central.award("H002", 30)  # the township goes on meanwhile
    summary = client.sync()
    assert summary.pushed == 4 and summary.acked_through == 5 and summary.pulled == 1
    assert balances(store) == central.balances()
    assert central.balances()["H001"] == (300 - 25 - 40, 300)
    assert sum(b for b, _ in central.balances().values()) == sum(b for b, _ in balances(store).values())
    assert services.audit(store).ok and services.audit(central.store).ok
    assert sleep.sleeps == []
    client.close()
    store.close()


# ----- faults on the way ---------------------------------------------------------------------------------------


@pytest.fixture
def busy_shop(shop: Path, url: str) -> Iterator[tuple[SqlLedgerStore, SyncClient, Recorder]]:
    """The shop with four unsynced transactions and an in-process client."""
    store = open_shop(shop)
    sleep = Recorder()
    client = client_of(shop, url, store, sleep)
    stock_up(store)
    for hid in ("H001", "H002", "H003"):
        sell(store, hid)
    yield store, client, sleep
    client.close()
    store.close()


def test_a_lost_request_is_sent_again(busy_shop: Any, central: FakeCentral) -> None:
    store, client, sleep = busy_shop
    central.fault("/v1/push", "drop_request")
    summary = client.sync()
    assert summary.pushed == 4 and central.head("P1") == 4
    assert sleep.sleeps == [1.0]
    assert_stored_once(central)
    assert balances(store) == central.balances()


def test_a_lost_reply_is_recovered_from_the_status(busy_shop: Any, central: FakeCentral) -> None:
    store, client, sleep = busy_shop
    central.fault("/v1/push", "drop_reply")
    summary = client.sync()
    assert central.count("GET", "/v1/status") == 1
    assert central.count("POST", "/v1/push") == 1  # the status said everything was stored: nothing resent
    assert summary.pushed == 4 and summary.acked_through == 4
    assert meta(store, "acked_through") == "4"
    assert_stored_once(central)


def test_a_duplicate_delivery_is_stored_once(busy_shop: Any, central: FakeCentral) -> None:
    store, client, _ = busy_shop
    central.fault("/v1/push", "duplicate")
    assert client.sync().pushed == 4
    assert_stored_once(central)
    assert balances(store) == central.balances()


def test_server_errors_are_retried_with_growing_pauses(busy_shop: Any, central: FakeCentral) -> None:
    store, client, sleep = busy_shop
    central.fault("/v1/push", "error_500", times=2)
    central.fault("/v1/pull", "error_500")
    summary = client.sync()
    assert summary.pushed == 4
    assert sleep.sleeps == [1.0, 2.0, 1.0]
    assert_stored_once(central)


def test_a_slow_server_times_out_and_nothing_is_stored_twice(shop: Path, url: str, central: FakeCentral) -> None:
    store = open_shop(shop)
    stock_up(store)
    client = SyncClient(store, url, read_device_token(shop) or "", sleep=Recorder(), timeout=0.3)
    central.fault("/v1/push", "slow", delay=0.8)
    summary = client.sync()  # the first push times out; the server stores it anyway
    time.sleep(0.6)
    assert summary.acked_through == 1 and central.head("P1") == 1
    assert_stored_once(central)
    client.close()
    store.close()


def test_a_refusal_is_not_retried_and_changes_nothing(busy_shop: Any, central: FakeCentral) -> None:
    store, client, sleep = busy_shop
    for device in central.devices.values():
        device.revoked = True
    before = journal(store)
    with pytest.raises(SyncError) as refused:
        client.sync()
    assert refused.value.code == "token_invalid" and refused.value.status == 401 and not refused.value.retryable
    assert sleep.sleeps == []
    assert journal(store) == before and meta(store, "acked_through") in (None, "0")
    status = client.status()
    assert status.error and "令牌" in status.error.message("zh") and status.waiting == 4


def test_unreachable_server_exit_1_and_nothing_lost(shop: Path, cli: Any) -> None:
    store = open_shop(shop)
    stock_up(store)
    sell(store, "H001")
    before = journal(store)
    store.close()
    settings_mod.update(settings_mod.load(shop), {"sync": {"server": "http://127.0.0.1:9"}})
    code, data, err = cli(shop, "sync")
    assert code == 1
    assert data["error"]["code"] == "unreachable" and "连不上乡镇服务器" in err and "保存在本机" in err
    code, data, err = cli(shop, "sync", lang="en")
    assert code == 1 and "Cannot reach the central record" in err
    store = open_shop(shop)
    assert journal(store) == before and meta(store, "acked_through") in (None, "0")
    assert json.loads(meta(store, "sync_error") or "{}")["zh"].startswith("连不上")
    store.close()


def test_a_conflict_stops_with_the_message_and_changes_nothing(
    shop: Path, tmp_path: Path, central: FakeCentral, url: str, cli: Any
) -> None:
    import shutil

    backup = tmp_path / "backup"
    shutil.copytree(shop, backup)  # an old copy of the PC, restored after the original pushed
    store = open_shop(shop)
    stock_up(store)
    store.close()
    assert cli(shop, "sync")[0] == 0
    restored = open_shop(backup)
    services.stock_intake(restored, [("OIL", 1)], supplier="别处", ctx=ADMIN_CTX)  # a different transaction 1
    before = journal(restored)
    restored.close()
    code, data, err = cli(backup, "sync")
    assert code == 1 and data["error"]["code"] == "conflict" and "同步冲突" in err
    restored = open_shop(backup)
    assert journal(restored) == before and meta(restored, "acked_through") in (None, "0")
    restored.close()
    assert central.head("P1") == 1


def test_a_crash_before_the_ack_is_saved_stores_nothing_twice(shop: Path, url: str, central: FakeCentral) -> None:
    """A real process is killed (SIGKILL) after the server stored the push and before the ack was saved."""
    store = open_shop(shop)
    stock_up(store)
    for hid in ("H001", "H002"):
        sell(store, hid)
    store.close()
    script = (
        "import os, signal, sys\n"
        "from ledger.storage import open_ledger\n"
        "from sync.client import SyncClient\n"
        "def hook(point):\n"
        "    if point == 'push_replied':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "SyncClient(open_ledger(sys.argv[1]), sys.argv[2], sys.argv[3], hook=hook).sync()\n"
    )
    token = read_device_token(shop) or ""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, str(shop / "ledger.sqlite3"), url, token], cwd=ROOT, env=env, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    assert central.head("P1") == 3  # stored at the central record...
    store = open_shop(shop)
    assert meta(store, "acked_through") in (None, "0")  # ...but never acknowledged here
    client = client_of(shop, url, store)
    summary = client.sync()
    assert summary.acked_through == 3 and summary.pushed == 3
    assert_stored_once(central)
    assert balances(store) == central.balances()
    client.close()
    store.close()


def test_a_crash_while_pulling_leaves_the_cursor_and_the_page_for_later(
    shop: Path, url: str, central: FakeCentral
) -> None:
    store = open_shop(shop)
    cursor = meta(store, "pull_cursor")
    central.award("H003", 40)
    central.clear("H002")

    def crash(point: str) -> None:
        if point == "pull_received":
            raise Crash

    with pytest.raises(Crash):
        client_of(shop, url, store, hook=crash).sync()
    assert meta(store, "pull_cursor") == cursor
    client_of(shop, url, store).sync()
    assert balances(store) == central.balances()
    with store.read() as unit:
        frozen = unit.household("H002")
    assert frozen is not None and frozen.status == HouseholdStatus.FROZEN
    store.close()


def test_pushes_go_in_batches_and_pulls_in_pages(
    shop: Path, url: str, central: FakeCentral, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol, "MAX_PUSH_TXNS", 3)
    monkeypatch.setattr(protocol, "PULL_PAGE", 2)
    store = open_shop(shop)
    stock_up(store)
    for _ in range(4):
        sell(store, "H001")
        sell(store, "H002")
    for _ in range(5):
        central.award("H003", 5)
    seen: list[str] = []
    client = client_of(shop, url, store, progress=lambda p: seen.append(p.message("en")))
    summary = client.sync()
    assert summary.pushed == 9 and summary.pulled == 5
    assert central.count("POST", "/v1/push") == 3 and central.count("GET", "/v1/pull") >= 3
    assert "Pushed 9/9 transactions" in seen
    assert balances(store) == central.balances()
    assert_stored_once(central)
    store.close()


# ----- master data from the township --------------------------------------------------------------------------


def test_revocations_and_household_status_come_down_right(shop: Path, url: str, central: FakeCentral) -> None:
    store = open_shop(shop)
    old_code = code_of(store, "H001")
    new_code = central.reissue("H001")
    central.clear("H003")
    # A re-sent household record (a member added) must not unfreeze it: status follows transactions.
    central._master(Household("H003", "V1", "户主3", "S1", HouseholdStatus.ACTIVE, (Member("户主3", "户主"),)))
    client_of(shop, url, store).sync()
    with pytest.raises(LedgerError) as revoked:
        services.balance_for_code(store, old_code)
    assert revoked.value.code == "passbook_revoked"
    assert services.balance_for_code(store, new_code).balance == 300
    view = services.balance_for_household(store, "H003")
    assert view.status == "frozen" and view.balance == 0 and view.redeemable == 0
    assert view.household.members == (Member("户主3", "户主"),)
    store.close()


# ----- bundles on a USB stick -----------------------------------------------------------------------------------


def test_bundles_round_trip_and_twice_is_once(shop: Path, tmp_path: Path, central: FakeCentral, cli: Any) -> None:
    store = open_shop(shop)
    stock_up(store)
    sell(store, "H001")
    store.close()
    central.award("H002", 25)
    stick = tmp_path / "stick"
    code, exported, err = cli(shop, "sync", "--export", str(stick / "s1.lmsync"))
    assert code == 0, err
    assert exported["txns"] == 2 and exported["remaining"] == 0
    applied = central.apply_bundle((stick / "s1.lmsync").read_bytes())
    assert applied["acked_through"] == 2
    central.apply_bundle((stick / "s1.lmsync").read_bytes())  # the township applies it twice: no change
    assert_stored_once(central)
    reply = central.reply_bundle(applied["device"], applied["cursor"])
    (stick / "reply.lmsync").write_bytes(reply)
    code, imported, err = cli(shop, "sync", "--import", str(stick / "reply.lmsync"))
    assert code == 0, err
    assert imported["acked_through"] == 2 and imported["pulled"] == 1 and not imported["more"]
    store = open_shop(shop)
    after_once = (balances(store), journal(store), meta(store, "pull_cursor"), meta(store, "acked_through"))
    assert after_once[0] == central.balances()
    store.close()
    code, again, _ = cli(shop, "sync", "--import", str(stick / "reply.lmsync"))
    assert code == 0 and again["pulled"] == 0
    store = open_shop(shop)
    assert (balances(store), journal(store), meta(store, "pull_cursor"), meta(store, "acked_through")) == after_once
    store.close()


def test_a_tampered_bundle_is_refused(shop: Path, tmp_path: Path, central: FakeCentral, cli: Any) -> None:
    device = next(iter(central.devices.values()))
    central.award("H002", 25)
    good = central.reply_bundle(device, 0)
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    (tmp_path / "flipped").write_bytes(bytes(flipped))
    message = protocol.decode(good)
    for change in message["pull"]["changes"]:
        if change["type"] == "txn":
            change["data"]["p"][0][1] = 999_999  # a forged award
    (tmp_path / "forged").write_bytes(protocol.encode(message))
    other = dict(message, device_id="P9")
    (tmp_path / "other").write_bytes(seal(other, device.token))
    store = open_shop(shop)
    before = (balances(store), meta(store, "pull_cursor"))
    store.close()
    for name, phrase in (("flipped", "同步文件"), ("forged", "同步文件"), ("other", "P9")):
        code, data, err = cli(shop, "sync", "--import", str(tmp_path / name))
        assert code == 1 and data["error"]["code"] == "bundle_invalid" and phrase in err, (name, err)
    code, data, err = cli(shop, "sync", "--import", str(tmp_path / "missing"))
    assert code == 1 and data["error"]["code"] == "bundle_invalid"
    store = open_shop(shop)
    assert (balances(store), meta(store, "pull_cursor")) == before
    store.close()


def test_an_export_is_signed_for_this_device_only(shop: Path, tmp_path: Path, central: FakeCentral, cli: Any) -> None:
    assert cli(shop, "sync", "--export", str(tmp_path / "out"))[0] == 0
    body = (tmp_path / "out").read_bytes()
    device = next(iter(central.devices.values()))
    assert open_sealed(body, device.token, "bundle")["device_id"] == "P1"
    with pytest.raises(SyncError) as refused:
        open_sealed(body, "another-token", "bundle")
    assert refused.value.code == "bundle_invalid"


# ----- the apps' port ---------------------------------------------------------------------------------------------


def test_status_and_sync_now_for_the_pos(shop: Path, url: str, central: FakeCentral) -> None:
    home = shop_parts(shop)
    port = HomeSyncPort(home.settings, home.store, sleep=Recorder())
    store = home.store()
    stock_up(store)
    sell(store, "H001")
    status = port.status()
    assert status.configured and status.waiting == 2 and not status.running and status.error is None
    central.fault("/v1/push", "slow", delay=1.0)
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(port.sync_now()))
    first.start()
    deadline = time.monotonic() + 10
    while not port.status().running and time.monotonic() < deadline:
        time.sleep(0.01)
    during = port.sync_now()  # the nightly timer fires while the shopkeeper's sync runs
    first.join(timeout=10)
    assert during.running
    assert central.count("POST", "/v1/push") == 1
    assert results[0].waiting == 0 and results[0].error is None and results[0].last_success
    port.close()
    home.close()


def test_a_standalone_shop_is_not_connected(tmp_path: Path) -> None:
    from lovemart_tools import demo

    home = shop_parts(tmp_path / "demo")
    demo.run(home, households=3, seed=1, reset=False)
    port = HomeSyncPort(home.settings, home.store)
    assert port.status().configured is False and port.sync_now().configured is False
    home.close()


def test_sync_without_provisioning_is_refused(tmp_path: Path, cli: Any) -> None:
    code, data, err = cli(tmp_path / "nothing", "sync")
    assert code == 1 and data["error"]["code"] == "not_provisioned" and "lovemart provision" in err


def test_next_sync_at_is_the_next_nightly_hour() -> None:
    tz = timezone(timedelta(hours=8))
    evening = datetime(2026, 11, 22, 18, 30, tzinfo=tz)
    assert next_sync_at(evening, 2) == datetime(2026, 11, 23, 2, 0, tzinfo=tz)
    assert next_sync_at(evening, 23) == datetime(2026, 11, 22, 23, 0, tzinfo=tz)
    assert next_sync_at(datetime(2026, 11, 22, 2, 0, tzinfo=tz), 2) == datetime(2026, 11, 23, 2, 0, tzinfo=tz)
    assert next_sync_at(datetime(2026, 12, 31, 3, 0), 2) == datetime(2027, 1, 1, 2, 0)
    with pytest.raises(ValueError):
        next_sync_at(evening, 24)


def test_the_http_client_is_injectable(shop: Path, url: str, central: FakeCentral) -> None:
    store = open_shop(shop)
    with httpx.Client(timeout=5) as http:
        client = SyncClient(store, url, read_device_token(shop) or "", http=http, sleep=Recorder())
        assert client.sync().pulled == 0
        client.close()
        assert not http.is_closed  # the caller's client stays the caller's
    store.close()


# ----- against the real central record (sync/server) on loopback ---------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def real_town(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The township's real server process, with two villages, two shops, goods and households."""
    harness = pytest.importorskip("tests.server_harness")
    from ledger.model import Item
    from sync.server import township
    from sync.server.record import CentralRecord

    context = None
    if request.param == "postgresql":
        if not harness.PG_URL:
            pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
        context = harness.pg_schema()
        database_url = context.__enter__()
    else:
        database_url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    record = CentralRecord.open(database_url)
    record.initialise("T01", "红星镇")
    for n, name in ((1, "幸福村"), (2, "光明村")):
        township.put_village(record, f"V0{n}", name)
        township.put_shop(record, f"S0{n}", f"{name}爱心超市", f"V0{n}")
    township.put_item(record, Item("SOAP", "肥皂", "块", 3))
    township.put_item(record, Item("OIL5", "食用油", "5L桶", 60))
    for i, shop_id in ((1, "S01"), (2, "S01"), (3, "S02")):
        township.put_household(
            record, township.HouseholdInput(f"H{i}", "V01" if shop_id == "S01" else "V02", f"户主{i}", shop_id)
        )
        township.award(record, f"H{i}", 200, "卫生评比")
    server = harness.ServerProcess(database_url).start()
    try:
        yield record, server
    finally:
        server.stop()
        record.close()
        if context is not None:
            context.__exit__(None, None, None)


def central_balances(record: Any) -> dict[str, tuple[int, int]]:
    with record.store.read() as unit:
        return {r.household.household_id: (r.balance, r.earned_cycle) for r in unit.ledger.households()}


def test_end_to_end_with_the_real_server(real_town: Any, tmp_path: Path, cli: Any) -> None:
    record, server = real_town
    from sync.server import township

    homes = {}
    for shop_id in ("S01", "S02"):
        home = tmp_path / shop_id
        token = record.new_enrol_token(shop_id)
        code, data, err = cli(home, "provision", "--server", server.url, f"--token={token}")
        assert code == 0, err
        assert data["shop_id"] == shop_id and data["device_id"].startswith("P")
        quick(home)
        homes[shop_id] = home
        assert cli(home, "stock", "in", "OIL5=10", "SOAP=10", "--supplier", "供销社")[0] == 0
    store = open_shop(homes["S01"])
    assert balances(store) == central_balances(record)
    h1 = code_of(store, "H1")
    store.close()
    # award at the township -> pull -> redeem offline -> push: the totals agree
    township.award(record, "H1", 50, "志愿服务")
    assert cli(homes["S01"], "sync")[0] == 0
    code, redeemed, err = cli(homes["S01"], "redeem", h1, "OIL5=2", "SOAP=3")
    assert code == 0, err
    code, summary, err = cli(homes["S01"], "sync")
    assert code == 0, err
    assert summary["pushed"] == 1 and summary["exceptions"] == 0
    # H1 (200 + 50 - 129 = 121, floor 100) redeems at both shops while both are offline: an overdraft
    for shop_id, goods in (("S01", "SOAP=7"), ("S02", "SOAP=7")):
        code, _, err = cli(homes[shop_id], "redeem", h1, goods)
        assert code == 0, err
    results = [cli(homes[s], "sync") for s in ("S01", "S02")]
    assert all(code == 0 for code, _, _ in results)
    assert sum(data["exceptions"] for _, data, _ in results) >= 1
    for shop_id in ("S01", "S02", "S01"):
        assert cli(homes[shop_id], "sync")[0] == 0
    expected = central_balances(record)
    for shop_id in ("S01", "S02"):
        store = open_shop(homes[shop_id])
        assert balances(store) == expected, shop_id
        assert services.audit(store).ok
        store.close()
    with record.store.read() as unit:
        assert unit.count_exceptions() >= 1
        txns = list(unit.ledger.journal())
    assert len({t.txn_id for t in txns}) == len(txns)
    # lovemart doctor sees the server and this PC's acknowledged transactions
    code, report, _ = cli(homes["S02"], "doctor")
    assert {c["name"]: c["status"] for c in report["checks"]}["server"] == "ok"
    # the server goes down: exit 1, nothing lost; back up: the sale goes up once
    server.kill()
    code, report, _ = cli(homes["S02"], "doctor")
    assert code == 1 and {c["name"]: c["status"] for c in report["checks"]}["server"] == "fail"
    assert cli(homes["S02"], "stock", "in", "SOAP=1", "--supplier", "供销社")[0] == 0
    code, data, err = cli(homes["S02"], "sync")
    assert code == 1 and data["error"]["code"] == "unreachable"
    server.start()
    code, data, err = cli(homes["S02"], "sync")
    assert code == 0 and data["pushed"] == 1, err


def test_a_phone_added_at_the_township_reaches_the_shop(real_town: Any, tmp_path: Path, cli: Any) -> None:
    """联系电话 is kept by the township's register and comes down to the household's shop with it."""
    from tests.server_harness import HTTP

    record, server = real_town
    headers = {"Authorization": f"Bearer {record.new_admin_token()}"}
    home = tmp_path / "S01"
    code, _, err = cli(home, "provision", "--server", server.url, f"--token={record.new_enrol_token('S01')}")
    assert code == 0, err
    quick(home)
    body = {"household_id": "H9", "village_id": "V01", "head_name": "周小芳", "home_shop_id": "S01"}

    def post(**fields: Any) -> httpx.Response:
        return HTTP.post(server.url + "/v1/admin/households", json={**body, **fields}, headers=headers)

    for bad in ("12ab", "1" * 21, "138\x0012345"):  # refused with a 4xx, nothing stored
        refused = post(phone=bad)
        assert 400 <= refused.status_code < 500, (bad, refused.text)
    with record.store.read() as unit:
        assert unit.ledger.household("H9") is None
    added = post(phone=" 138 1234 5678 ", house_no="幸福路 9 号")
    assert added.status_code == 200, added.text
    assert added.json()["phone"] == "138 1234 5678"
    assert cli(home, "sync")[0] == 0
    store = open_shop(home)
    try:
        with store.read() as unit:
            household = unit.household("H9")
        assert household is not None and (household.phone, household.house_no) == ("138 1234 5678", "幸福路 9 号")
    finally:
        store.close()
    assert post(phone="").status_code == 200  # taken away at the township: gone at the shop too
    assert cli(home, "sync")[0] == 0
    store = open_shop(home)
    try:
        with store.read() as unit:
            household = unit.household("H9")
        assert household is not None and household.phone == ""
    finally:
        store.close()


def test_bundles_with_the_real_server(real_town: Any, tmp_path: Path, cli: Any) -> None:
    record, server = real_town
    from sync.server import bundles, township

    home = tmp_path / "S01"
    code, _, err = cli(home, "provision", "--server", server.url, f"--token={record.new_enrol_token('S01')}")
    assert code == 0, err
    # The key that signs this PC's bundles came with the enrolment; it is this user's only (issue 11 §3).
    assert stat.S_IMODE((home / "bundle-key").stat().st_mode) == 0o600
    assert cli(home, "stock", "in", "SOAP=5", "--supplier", "供销社")[0] == 0
    township.award(record, "H2", 30, "义务劳动")
    code, exported, err = cli(home, "sync", "--export", str(tmp_path / "out.lmsync"))
    assert code == 0 and exported["txns"] == 1, err
    body = (tmp_path / "out.lmsync").read_bytes()
    (tmp_path / "reply.lmsync").write_bytes(bundles.apply_and_reply(record, body))
    bundles.apply_bundle(record, body)  # applied twice at the township: stored once
    for _ in range(2):  # and imported twice at the shop: applied once
        code, imported, err = cli(home, "sync", "--import", str(tmp_path / "reply.lmsync"))
        assert code == 0, err
        assert imported["acked_through"] == 1
    store = open_shop(home)
    assert balances(store) == central_balances(record)
    store.close()
    with record.store.read() as unit:
        txns = list(unit.ledger.journal())
    assert len({t.txn_id for t in txns}) == len(txns) and sum(1 for t in txns if t.device_id != "C") == 1


def test_a_connected_shop_refuses_to_make_points_and_a_standalone_one_keeps_them(
    shop: Path, tmp_path: Path, cli: Any
) -> None:
    """Points come from the village committee through the township (issue 11); the till only spends them."""
    sheet = tmp_path / "scores.csv"
    sheet.write_text("户号,分值,事由\nH001,5,卫生\n", encoding="utf-8")
    store = open_shop(shop)
    try:
        before = balances(store)
    finally:
        store.close()
    attempts = [
        ("points", "award", "H001", "10", "--reason", "志愿服务"),
        ("points", "deduct", "H001", "10", "--reason", "乱倒垃圾"),
        ("points", "grant-base"),
        ("points", "close-cycle"),
        ("points", "clear", "H001", "--reason", "零容忍", "--yes"),
        ("points", "unfreeze", "H001", "--reason", "整改"),
        ("points", "import", str(sheet)),
    ]
    for args in attempts:
        code, data, err = cli(shop, *args)
        assert code == 1, (args, data, err)
        assert data["error"]["code"] == "township_only", (args, data)
        assert "乡镇" in data["error"]["message"]
    store = open_shop(shop)
    try:
        assert balances(store) == before
        with store.read() as unit:
            assert not [t for t in unit.journal() if t.device_id == "P1"]  # nothing was written
    finally:
        store.close()
    # A standalone shop is its own township and keeps the commands.
    standalone = tmp_path / "standalone"
    assert cli(standalone, "demo", "--households", "3", "--no-ui")[0] == 0
    code, data, _ = cli(standalone, "households", "list")
    household = data["households"][0]["household_id"]
    code, data, err = cli(standalone, "points", "award", household, "10", "--reason", "志愿服务")
    assert code == 0, err


def test_a_shop_that_awarded_points_itself_is_corrected_at_its_next_sync(
    real_town: Any, tmp_path: Path, cli: Any
) -> None:
    """Issue 11: an award made at a shop (by an older version, or by hand) is held by the township; the same
    ``lovemart sync`` brings the correction back, says so in plain words, and the shop's audit stays clean."""
    import uuid

    from ledger.model import Posting, TxnDraft, TxnKind

    record, server = real_town
    home = tmp_path / "S01"
    code, _, err = cli(home, "provision", "--server", server.url, f"--token={record.new_enrol_token('S01')}")
    assert code == 0, err
    quick(home)
    store = open_shop(home)
    try:
        with store.write() as unit:  # what `points award` did before a connected shop refused it
            unit.append(
                TxnDraft(
                    txn_id=str(uuid.uuid4()),
                    kind=TxnKind.AWARD,
                    created_at=services.timestamp(services.local_now),
                    shop_id="S01",
                    operator="admin",
                    household_id="H1",
                    postings=(Posting("household:H1", 500), Posting("township:awards", -500)),
                    memo="店里发的",
                )
            )
        assert store_balance(store, "H1") == 700
    finally:
        store.close()
    code, data, err = cli(home, "sync", lang="zh")
    assert code == 0, err
    assert data["pushed"] == 1 and data["corrected"] == 1 and data["exceptions"] == 1
    store = open_shop(home)
    try:
        assert store_balance(store, "H1") == 200 == central_balances(record)["H1"][0]
    finally:
        store.close()
    code, audit, _ = cli(home, "audit", "verify")
    assert code == 0 and audit["ok"], audit


def store_balance(store: SqlLedgerStore, household_id: str) -> int:
    with store.read() as unit:
        return unit.balance(household_id)[0]
