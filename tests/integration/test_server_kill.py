"""SIGKILL the central record at random moments while shops push: every transaction is stored exactly once.

Two shop PCs push their journals in small batches. Before some pushes a killer thread waits a random
few milliseconds and SIGKILLs the server process, so kills land before the request is read, inside the
database transaction, between the commit and the reply, or between requests. After a kill the server
is restarted and the shop does what the client does after a lost reply: it asks ``/v1/status`` for
what was stored and pushes from there (or, every third time, simply sends the same batch again).
At the end the central record holds each shop transaction once, in order, once in the change log
too, and its audit is clean.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import httpx
import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.model import Item, Member, Transaction
from ledger.passbook import make_code
from ledger.storage import SqlLedgerStore, open_ledger
from lovemart_tools.bench_sync import MiniClient
from sync.server import township
from sync.server.record import CentralRecord
from tests.conftest import ADMIN_CTX
from tests.server_harness import HTTP, PG_URL, ServerProcess, pg_schema

KILLS = 30
BATCH = 12
REDEMPTIONS_PER_SHOP = 150
NETWORK_ERRORS = (httpx.TransportError,)


def _set_up(record: CentralRecord) -> list[str]:
    record.initialise("T01", "红星镇")
    codes = []
    with record.store.read() as unit:
        key = unit.ledger.township().passbook_key
    for n in (1, 2):
        township.put_village(record, f"V0{n}", f"村{n}")
        township.put_shop(record, f"S0{n}", f"村{n}爱心超市", f"V0{n}")
    township.put_item(record, Item("SOAP", "肥皂", "块", 1))
    for n in range(6):
        hid = f"K{n:03d}"
        shop = "S01" if n % 2 == 0 else "S02"
        given = township.HouseholdInput(
            hid, "V01" if shop == "S01" else "V02", "刘德福", shop, (Member("刘德福", "户主"),)
        )
        with record.write() as unit:
            township.store_household(unit, given, record.now())
        township.award(record, hid, 5000, "测试")
        codes.append(make_code(key, hid, 1))
    return codes


def _shop(
    server: ServerProcess, record: CentralRecord, shop_id: str, path: Path, codes: list[str]
) -> tuple[MiniClient, SqlLedgerStore]:
    client = MiniClient(server.url, http=HTTP)
    store = open_ledger(path, durable=False)
    client.provision(store, record.new_enrol_token(shop_id))
    services.stock_intake(store, [("SOAP", 10_000)], supplier="供销社", ctx=ADMIN_CTX)
    rng = random.Random(shop_id)
    with store.write():
        for _ in range(REDEMPTIONS_PER_SHOP):
            code = rng.choice(codes)
            # Every household may be a visitor here: small carts stay within the visitor limit.
            try:
                services.redeem(store, code, [("SOAP", rng.randint(1, 2))], ctx=ADMIN_CTX)
            except LedgerError as error:  # a refusal (visitor limit) just means no sale
                if error.code not in ("visitor_limit", "insufficient_points"):
                    raise
    return client, store


def _journal(store: SqlLedgerStore) -> list[Transaction]:
    with store.read() as unit:
        device = unit.identity().device_id
        return [t for t in unit.journal() if t.device_id == device]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_every_transaction_is_stored_exactly_once_through_30_kills(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
    with pg_schema() if backend == "postgresql" else nullcontext(f"sqlite:///{tmp_path / 'central.sqlite3'}") as url:
        record = CentralRecord.open(url)
        codes = _set_up(record)
        server = ServerProcess(url).start()
        try:
            shops = [_shop(server, record, s, tmp_path / f"{s}.sqlite3", codes) for s in ("S01", "S02")]
            journals = [_journal(store) for _client, store in shops]
            kills, resends = _push_through_kills(server, shops, journals)
            _check(record, shops, journals)
        finally:
            server.stop()
            for _client, store in locals().get("shops", []):
                store.close()
            record.close()
    assert kills >= KILLS and resends > 0


def _push_through_kills(
    server: ServerProcess, shops: list[tuple[MiniClient, SqlLedgerStore]], journals: list[list[Transaction]]
) -> tuple[int, int]:
    rng = random.Random(7)
    acked = [0 for _ in shops]
    kills = resends = failures = lost_replies = 0
    deadline = time.monotonic() + 120
    while any(a < len(j) for a, j in zip(acked, journals, strict=True)):
        assert time.monotonic() < deadline, "pushing through the kills took too long"
        i = rng.choice([k for k, (a, j) in enumerate(zip(acked, journals, strict=True)) if a < len(j)])
        client, _store = shops[i]
        batch = journals[i][acked[i] : acked[i] + BATCH]
        killer = None
        if kills < KILLS:
            killer = threading.Thread(target=_kill_soon, args=(server, rng.uniform(0.0, 0.04)))
            killer.start()
        try:
            reply = client.push_txns(batch)
            acked[i] = reply["acked_through"]
        except NETWORK_ERRORS:
            failures += 1
        if killer is not None:
            killer.join()
            kills += 1
            server.start()
            # A lost reply: every third time resend the same batch as it is, else ask what was stored.
            if kills % 3 == 0:
                resends += 1
                acked[i] = client.push_txns(batch)["acked_through"]
            else:
                for k, (other, _s) in enumerate(shops):
                    stored = other.status()["acked_through"]
                    lost_replies += k == i and stored > acked[k]
                    acked[k] = stored
    assert failures > 0  # some kills did cut a push short
    return kills, resends


def _kill_soon(server: ServerProcess, delay: float) -> None:
    time.sleep(delay)
    server.kill()


def _check(
    record: CentralRecord, shops: list[tuple[MiniClient, SqlLedgerStore]], journals: list[list[Transaction]]
) -> None:
    with record.store.read() as unit:
        for (client, _store), journal in zip(shops, journals, strict=True):
            stored = [unit.ledger.transaction(t.txn_id) for t in journal]
            assert stored == journal  # every one, unaltered
            assert unit.device_head(client.device_id) == (journal[-1].seq, journal[-1].hash)
            logged = unit.logged_keys("txn", [t.txn_id for t in journal])
            assert len(logged) == len(journal)
        everything = unit.changes_after(0, 10_000_000, None)
        keys = Counter(c.key for c in everything if c.type == "txn")
        assert max(keys.values()) == 1  # nothing logged twice
        assert unit.transaction_count() == sum(keys.values())
    report = services.audit(record.ledger)
    assert report.ok, report.problems[:5]
    # And the shops agree with the central record once they pull.
    for client, store in shops:
        client.pull(store)
        with store.read() as unit:
            local = {r.household.household_id: r.balance for r in unit.households()}
        with record.store.read() as unit:
            central = {r.household.household_id: r.balance for r in unit.ledger.households()}
        assert local == central
        assert services.audit(store).ok
