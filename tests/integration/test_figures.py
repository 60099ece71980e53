"""The central record's running figures (``daily_figure``, ``shop_stock``) always equal the journal's.

They are kept up to date as transactions are stored (pushed by shops, made by the township) and can be
rebuilt from the journal; the console reads them instead of the journal. After a season of real
pushes and awards (the console demo), on SQLite and PostgreSQL, the kept figures must equal the rebuilt
ones row for row, and a shop's stock must equal the sum of its goods lines.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.storage.central import T_FIGURE, T_STOCK_FIGURE, CentralStore
from lovemart_tools.console_demo import seed_console_demo
from tests.sqlite_raw import rewind


def _rows(store: CentralStore) -> tuple[list[Any], list[Any]]:
    from sqlalchemy import select

    with store.read() as unit:
        figures = sorted(tuple(r) for r in unit.c.execute(select(T_FIGURE)))
        stock = sorted(tuple(r) for r in unit.c.execute(select(T_STOCK_FIGURE)) if r.on_hand != 0)
    return figures, stock


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_kept_figures_equal_the_figures_rebuilt_from_the_journal(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    seed_console_demo(url, households=9)
    store = CentralStore.open(url)
    try:
        kept = _rows(store)
        assert kept[0] and kept[1], "the demo pushed and awarded"
        with store.write() as unit:
            unit.rebuild_figures()
        assert _rows(store) == kept
        from sqlalchemy import func, select

        from ledger.storage.store import T_LINE, T_TXN

        with store.read() as unit:
            for shop in unit.shops():
                lines = unit.c.execute(
                    select(T_LINE.c.sku, func.sum(T_LINE.c.qty))
                    .select_from(T_LINE.join(T_TXN, T_TXN.c.id == T_LINE.c.txn_pk))
                    .where(T_TXN.c.shop_id == shop.shop_id)
                    .group_by(T_LINE.c.sku)
                )
                assert unit.shop_stock(shop.shop_id) == {sku: int(qty) for sku, qty in lines}
            households = unit.household_count()
            figures = unit.period_figures("2000-01-01", "2100-01-01")
            assert sum(f["txns"] for f in figures.values()) == unit.transaction_count()
            # The township's own rows are the sum of its villages' rows, day by day and kind by kind.
            by_village: dict[tuple[str, str], list[int]] = {}
            for village in [*unit.villages(), None]:
                village_id = village.village_id if village else ""
                for day, kind, points in unit.daily_points("2000-01-01", "2100-01-01", village_id):
                    by_village.setdefault((day, kind), [0])[0] += points
            township = unit.daily_points("2000-01-01", "2100-01-01")
            assert {(day, kind): [points] for day, kind, points in township} == by_village
        assert households == 9
    finally:
        store.close()


@pytest.mark.parametrize("revision", ["0008", "0009"])
def test_an_older_central_record_gets_its_figures_when_it_is_upgraded(tmp_path: Any, revision: str) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "central.sqlite3"
    seed_console_demo(f"sqlite:///{path}", households=6)
    store = CentralStore.open(f"sqlite:///{path}")
    kept = _rows(store)
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        rewind(c, revision)
    # Migrates: 0009 makes the tables and fills them, 0010 adds the township's rows.
    store = CentralStore.open(f"sqlite:///{path}")
    try:
        assert _rows(store) == kept and kept[0]
    finally:
        store.close()
