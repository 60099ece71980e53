"""Faults a village shop meets: a full disk, a damaged ledger file. Each is refused and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import event

from ledger import services
from ledger.errors import LedgerError
from lovemart.cli import main
from tests.conftest import ADMIN_CTX


def count_transactions(store) -> int:
    with store.read() as unit:
        return sum(1 for _ in unit.journal())


def test_disk_full_during_a_redemption_saves_nothing(shop) -> None:
    code = shop.household("H1", points=5000)
    shop.item("RICE", 1, stock=5000)
    store = shop.store
    before = count_transactions(store)
    with store.read() as unit:
        pages = unit.c.exec_driver_sql("PRAGMA page_count").scalar()

    # SQLite's own "database or disk is full": the file may not grow by a single page.
    @event.listens_for(store.engine, "connect")
    def _cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    with pytest.raises(LedgerError) as refused:
        for _ in range(200):  # fill the last free pages, then hit the wall
            services.redeem(store, code, [("RICE", 50)], ctx=ADMIN_CTX)
    assert refused.value.code == "disk_full"
    assert "磁盘已满" in refused.value.message("zh")
    event.remove(store.engine, "connect", _cap)
    store.engine.dispose()
    report = services.audit(store)
    assert report.ok, report.problems
    committed = report.transactions - before
    view = services.balance_for_code(store, code)
    assert view.balance == 5000 - committed * 50
    with store.read() as unit:
        assert unit.stock("RICE") == 5000 - committed * 50


def test_damaged_ledger_file_is_refused_at_start(tmp_path: Path, capsys) -> None:
    home = tmp_path / "shop"
    assert main(["--home", str(home), "demo", "--no-ui", "--households", "3", "--json"]) == 0
    capsys.readouterr()
    ledger = home / "ledger.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(str(ledger) + suffix).unlink(missing_ok=True)
    ledger.write_bytes(b"this is not a ledger" * 100)
    code = main(["--home", str(home), "households", "list", "--json"])
    out = capsys.readouterr()
    assert code == 1
    assert json.loads(out.out)["error"]["code"] == "ledger_corrupt"
    assert "账本文件损坏" in out.err
