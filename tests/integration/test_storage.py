"""Storage: durability settings, migrations, reopening, and BEGIN IMMEDIATE between writers."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from ledger import services
from ledger.errors import LedgerError
from ledger.storage import open_ledger, open_url, schema_revision
from ledger.storage.engine import BUSY_TIMEOUT_MS, make_engine, sqlite_url, upgrade
from ledger.storage.store import translate_db_error
from ledger.storage.tables import APPEND_ONLY_TABLES, Base
from tests.conftest import ADMIN_CTX, ShopFixture, set_up

TIMEOUT = 20  # seconds: only reached if something hangs


def pragma(store, name: str):
    with store.engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def metadata_diff(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, Base.metadata)


# ----- durability ---------------------------------------------------------------------------


def test_sqlite_connection_settings(store):
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "synchronous") == 2  # FULL
    assert pragma(store, "foreign_keys") == 1
    assert pragma(store, "busy_timeout") == BUSY_TIMEOUT_MS


def test_every_pooled_connection_is_configured(store):
    connections = [store.engine.connect() for _ in range(3)]
    try:
        for connection in connections:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        for connection in connections:
            connection.close()


def test_wal_mode_is_persistent_in_the_file(store, ledger_path):
    with closing(sqlite3.connect(ledger_path)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_non_durable_mode_is_only_for_seeding(tmp_path):
    store = open_ledger(tmp_path / "fast.sqlite3", durable=False)
    try:
        assert pragma(store, "synchronous") == 0
        assert pragma(store, "journal_mode") == "wal"
    finally:
        store.close()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with store.write() as unit:
            unit.c.exec_driver_sql(
                "INSERT INTO posting (txn_pk, idx, account, unit, amount) VALUES (424242, 0, 'x', 'pt', 1)"
            )
    with store.read() as unit:
        assert unit.c.exec_driver_sql("SELECT count(*) FROM posting").scalar() == 0


# ----- migrations ---------------------------------------------------------------------------


def test_migrations_build_the_models_schema_on_an_empty_database(tmp_path):
    path = tmp_path / "empty.sqlite3"
    store = open_ledger(path)
    try:
        with store.engine.connect() as connection:
            assert metadata_diff(connection) == []
            tables = set(inspect(connection).get_table_names())
        assert set(Base.metadata.tables) <= tables
        current, head = schema_revision(store.engine)
        assert current == head and head
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as plain:
        triggers = {r[0] for r in plain.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == {f"{t}_append_only_{a}" for t in APPEND_ONLY_TABLES for a in ("update", "delete")}


def test_schema_revision_of_an_unmigrated_database(tmp_path):
    engine = make_engine(sqlite_url(tmp_path / "blank.sqlite3"))
    try:
        current, head = schema_revision(engine)
        assert current is None and head
        upgrade(engine)
        assert schema_revision(engine) == (head, head)
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(store):
    upgrade(store.engine)
    upgrade(store.engine)
    current, head = schema_revision(store.engine)
    assert current == head
    assert services.audit(store).ok


def test_a_ledger_from_before_phones_gets_an_empty_phone_for_every_household(shop):
    """Migration 0013 adds 联系电话: the households a ledger had keep everything else and have no phone."""
    from dataclasses import replace

    from tests.sqlite_raw import rewind

    shop.household("H1", points=50)
    with shop.store.read() as unit:
        before = unit.household("H1")
    shop.store.close()
    with closing(sqlite3.connect(shop.path, isolation_level=None)) as c:
        rewind(c, "0012")
        assert "phone" not in {row[1] for row in c.execute("PRAGMA table_info(household)")}
    store = open_ledger(shop.path)  # migrates to the newest revision
    try:
        with store.read() as unit:
            assert unit.household("H1") == before and before.phone == ""
            assert unit.balance("H1") == (50, 50)
        with store.write() as unit:
            unit.put_household(replace(before, phone="138 1234 5678"))
        with store.read() as unit:
            assert unit.household("H1").phone == "138 1234 5678"
        assert schema_revision(store.engine)[0] == "0013"
        assert services.audit(store).ok
    finally:
        store.close()


def test_reopening_keeps_everything(ledger_path):
    first = open_ledger(ledger_path)
    set_up(first)
    shop = ShopFixture(first, ledger_path)
    code = shop.household("H1", points=300)
    shop.item("RICE", 30, stock=10)
    receipt = services.redeem(first, code, [("RICE", 2)], ctx=ADMIN_CTX)
    first.close()

    again = open_ledger(ledger_path)
    try:
        view = services.balance_for_code(again, code)
        assert (view.balance, view.redeemable, view.earned_cycle) == (240, 140, 300)
        with again.read() as unit:
            assert unit.stock("RICE") == 8
            assert unit.transaction(receipt.transaction.txn_id) == receipt.transaction
            assert [t.seq for t in unit.journal()] == [1, 2, 3]
        # the chain continues where it stopped
        award = services.award(again, "H1", 5, "清洁", ctx=ADMIN_CTX)
        assert (award.seq, award.prev_hash) == (4, receipt.transaction.hash)
        current, head = schema_revision(again.engine)
        assert current == head
        assert services.audit(again).ok
    finally:
        again.close()


def test_corrupted_file_fails_to_open_with_an_error_that_translates_to_ledger_corrupt(tmp_path):
    """open_ledger raises the driver's error; the assembly (lovemart.wiring) translates it for people."""
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a ledger\n" * 500)
    with pytest.raises(sqlalchemy.exc.DatabaseError) as caught:
        open_ledger(path)
    translated = translate_db_error(caught.value)
    assert translated is not None and translated.code == "ledger_corrupt"


def test_corrupted_file_is_refused_when_opened_without_migrating(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a ledger\n" * 500)
    store = open_ledger(path, migrate=False)
    try:
        with pytest.raises(LedgerError) as caught:
            services.audit(store)
        assert caught.value.code == "ledger_corrupt"
    finally:
        store.close()


# ----- units and BEGIN IMMEDIATE ---------------------------------------------------------------


def test_a_failing_unit_leaves_nothing_behind(shop):
    shop.household("H1", points=100)
    store = shop.store
    with pytest.raises(RuntimeError):
        with store.write():
            services.award(store, "H1", 50, "清洁", ctx=ADMIN_CTX)  # joins the open unit
            services.award(store, "H1", 50, "清洁", ctx=ADMIN_CTX)
            raise RuntimeError("power cut")
    with store.read() as unit:
        assert unit.balance("H1") == (100, 100)
        assert [t.seq for t in unit.journal()] == [1]
    assert services.award(store, "H1", 1, "清洁", ctx=ADMIN_CTX).seq == 2
    assert services.audit(store).ok


def test_nested_writes_commit_together(shop):
    shop.household("H1")
    store = shop.store
    with store.write():
        a = services.award(store, "H1", 10, "一", ctx=ADMIN_CTX)
        b = services.award(store, "H1", 20, "二", ctx=ADMIN_CTX)
    assert (a.seq, b.seq, b.prev_hash) == (1, 2, a.hash)
    assert services.balance_for_household(store, "H1").balance == 30


def test_write_takes_the_write_lock_at_begin(shop, ledger_path):
    """A write unit holds the lock from its first statement: a reader-turned-writer cannot slip in."""
    shop.household("H1", points=10)
    with shop.store.write() as unit:
        unit.balance("H1")  # only a read so far
        with closing(sqlite3.connect(ledger_path, timeout=0, isolation_level=None)) as other:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # WAL: readers are not blocked by the writer, and see the last commit
            assert other.execute("SELECT balance FROM household_balance").fetchone()[0] == 10
    with closing(sqlite3.connect(ledger_path, timeout=0, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")


def test_reads_do_not_take_the_write_lock(shop, ledger_path):
    shop.household("H1", points=10)
    with shop.store.read() as unit:
        unit.balance("H1")
        with closing(sqlite3.connect(ledger_path, timeout=0, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")


def test_second_writer_waits_for_the_first(shop, ledger_path):
    shop.household("H1", points=10)
    first = shop.store
    second = open_ledger(ledger_path)
    holding = threading.Event()
    release = threading.Event()
    second_started = threading.Event()
    second_done = threading.Event()
    results: dict[str, object] = {}

    def hold_the_lock() -> None:
        try:
            with first.write():
                results["first"] = services.award(first, "H1", 1, "先", ctx=ADMIN_CTX)
                holding.set()
                assert release.wait(TIMEOUT)
                results["second_done_while_held"] = second_done.is_set()
        except BaseException as exc:  # pragma: no cover - reported below
            results["first_error"] = exc
            holding.set()

    def write_second() -> None:
        try:
            second_started.set()
            results["second"] = services.award(second, "H1", 2, "后", ctx=ADMIN_CTX)
        except BaseException as exc:  # pragma: no cover - reported below
            results["second_error"] = exc
        finally:
            second_done.set()

    a = threading.Thread(target=hold_the_lock)
    a.start()
    assert holding.wait(TIMEOUT)
    b = threading.Thread(target=write_second)
    b.start()
    assert second_started.wait(TIMEOUT)
    # the second writer cannot finish while the first holds its unit open
    assert not second_done.wait(0.3)
    release.set()
    a.join(TIMEOUT)
    b.join(TIMEOUT)
    second.close()
    assert "first_error" not in results and "second_error" not in results, results
    assert results["second_done_while_held"] is False
    first_txn, second_txn = results["first"], results["second"]
    assert (first_txn.seq, second_txn.seq) == (2, 3)
    assert second_txn.prev_hash == first_txn.hash
    with first.read() as unit:
        assert [t.seq for t in unit.journal()] == [1, 2, 3]
        assert unit.balance("H1") == (13, 13)
    assert services.audit(first).ok


def test_many_concurrent_writers_keep_sequences_gap_free(shop, ledger_path):
    shop.household("H1")
    stores = [shop.store, open_ledger(ledger_path), open_ledger(ledger_path)]
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def work(store) -> None:
        try:
            start.wait(TIMEOUT)
            for _ in range(8):
                services.award(store, "H1", 1, "并发", ctx=ADMIN_CTX)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(stores[i % 3],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    for s in stores[1:]:
        s.close()
    assert errors == []
    with shop.store.read() as unit:
        assert [t.seq for t in unit.journal()] == list(range(1, 49))
        assert unit.balance("H1") == (48, 48)
    assert services.audit(shop.store).ok


# ----- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_migrations_and_triggers(pg_url):
    store = open_url(pg_url)
    try:
        current, head = schema_revision(store.engine)
        assert current == head and head
        with store.engine.connect() as connection:
            assert metadata_diff(connection) == []
        set_up(store)
        shop = ShopFixture(store, None)
        code = shop.household("H1", points=300)
        shop.item("RICE", 30, stock=10)
        services.redeem(store, code, [("RICE", 1)], ctx=ADMIN_CTX)
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO activity_log (at, user_name, address, action, target) VALUES ('t', 'u', 'a', 'x', 'y')"
                )
            )
            # Row triggers on PostgreSQL: each append-only table needs a row to refuse the change of.
            connection.execute(
                text(
                    "INSERT INTO rule_version (village_id, version, effective_from, content, note, made_by, made_at) "
                    "VALUES ('', 1, '2026-01-01', '{}', '', 'u', 't')"
                )
            )
            connection.execute(
                text("INSERT INTO record_step (record_id, action, by, at, note) VALUES ('R1', 'record', 1, 't', '')")
            )
            connection.execute(
                text(
                    "INSERT INTO record_photo (record_id, media_type, content, added_by, added_at) "
                    "VALUES ('R1', 'image/png', 'x', 1, 't')"
                )
            )
        changed = {"txn": "memo", "activity_log": "action", "rule_version": "note", "record_step": "note"}
        changed["record_photo"] = "media_type"
        for table in APPEND_ONLY_TABLES:
            for statement in (f"UPDATE {table} SET {changed.get(table, 'idx')} = '99'", f"DELETE FROM {table}"):
                with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
                    with store.engine.begin() as connection:
                        connection.execute(text(statement))
        with store.read() as unit:
            assert len(list(unit.journal())) == 3
        upgrade(store.engine)  # a second upgrade is a no-op
        assert services.audit(store).ok
    finally:
        store.close()
