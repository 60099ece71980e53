"""The central record's running figures (``daily_figure``, ``shop_stock``): how they are counted and rebuilt.

A transaction counts in the village of its household, or of its shop when it has no household, on the
local day of its ``created_at``; its points are those it moved on household accounts, its money the fen
into shop funds, its quantity the sum of its goods lines. It counts a second time in the township's row
of its day and kind (village and shop ``TOWNSHIP_ROW``): the township's overview of a month then reads a
hundred rows, not the 120,000 of 2,000 villages. Writes at the central record are serialised anyway
(``CentralUnit.lock``), so these shared rows make no one wait. ``count_rows`` does this for transactions as
they are stored; ``REBUILD_FIGURES`` for a whole journal (migration 0009, a benchmark after COPY). Both
must agree: ``tests/integration/test_figures.py`` compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.model import FEN, HOUSEHOLD_PREFIX, POINTS, Transaction

# The village and shop of the township's rows: no village or shop id has this character.
TOWNSHIP_ROW = "*"

# The township's rows, added up from the villages' (after a rebuild, and by migration 0010 once).
TOWNSHIP_FROM_VILLAGES = """INSERT INTO daily_figure (day, village_id, shop_id, kind, txns, points, fen, qty)
    SELECT day, '*', '*', kind, sum(txns), sum(points), sum(fen), sum(qty)
    FROM daily_figure WHERE village_id <> '*' GROUP BY day, kind"""

# Statements for SQLAlchemy's ``text()``, where a backslash before a colon keeps it from starting a parameter name.
REBUILD_FIGURES = (
    "DELETE FROM daily_figure",
    """INSERT INTO daily_figure (day, village_id, shop_id, kind, txns, points, fen, qty)
    SELECT substr(t.created_at, 1, 10), COALESCE(h.village_id, s.village_id, ''), t.shop_id, t.kind, count(*),
           COALESCE(sum(p.points), 0), COALESCE(sum(p.fen), 0), COALESCE(sum(l.qty), 0)
    FROM txn t
    LEFT JOIN household h ON h.household_id = t.household_id
    LEFT JOIN shop s ON s.shop_id = t.shop_id
    LEFT JOIN (SELECT txn_pk,
                      sum(CASE WHEN account LIKE 'household:%' AND unit = 'pt' THEN amount ELSE 0 END) AS points,
                      sum(CASE WHEN account LIKE 'shop:%\\:fund' AND unit = 'fen' THEN amount ELSE 0 END) AS fen
               FROM posting GROUP BY txn_pk) p ON p.txn_pk = t.id
    LEFT JOIN (SELECT txn_pk, sum(qty) AS qty FROM line GROUP BY txn_pk) l ON l.txn_pk = t.id
    GROUP BY substr(t.created_at, 1, 10), COALESCE(h.village_id, s.village_id, ''), t.shop_id, t.kind""",
    TOWNSHIP_FROM_VILLAGES,
    "DELETE FROM shop_stock",
    """INSERT INTO shop_stock (shop_id, sku, on_hand)
    SELECT t.shop_id, l.sku, sum(l.qty) FROM line l JOIN txn t ON t.id = l.txn_pk GROUP BY t.shop_id, l.sku""",
)

FigureKey = tuple[str, str, str, str]  # day, village, shop, kind


def count_rows(
    txns: Iterable[Transaction], village_of_household: Mapping[str, str], village_of_shop: Mapping[str, str]
) -> tuple[dict[FigureKey, list[int]], dict[tuple[str, str], int]]:
    """The additions to ``daily_figure`` ([txns, points, fen, qty] per key) and to ``shop_stock``."""
    figures: dict[FigureKey, list[int]] = {}
    stock: dict[tuple[str, str], int] = {}
    for txn in txns:
        village = (
            village_of_household.get(txn.household_id or "") or village_of_shop.get(txn.shop_id) or ""
            if txn.household_id
            else village_of_shop.get(txn.shop_id, "")
        )
        points = sum(p.amount for p in txn.postings if p.unit == POINTS and p.account.startswith(HOUSEHOLD_PREFIX))
        fen = sum(
            p.amount
            for p in txn.postings
            if p.unit == FEN and p.account.startswith("shop:") and p.account.endswith(":fund")
        )
        qty = sum(line.qty for line in txn.lines)
        day, kind = txn.created_at[:10], str(txn.kind)
        for key in ((day, village, txn.shop_id, kind), (day, TOWNSHIP_ROW, TOWNSHIP_ROW, kind)):
            row = figures.setdefault(key, [0, 0, 0, 0])
            row[0] += 1
            row[1] += points
            row[2] += fen
            row[3] += qty
        for line in txn.lines:
            stock[(txn.shop_id, line.sku)] = stock.get((txn.shop_id, line.sku), 0) + line.qty
    return figures, stock
