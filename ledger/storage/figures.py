"""The central record's running figures (``daily_figure``, ``shop_stock``): how they are counted and rebuilt.

A transaction counts in the village of its household, or of its shop when it has no household, on the
local day of its ``created_at``; its points are those it moved on household accounts, its money the fen
into shop funds, its quantity the sum of its goods lines. ``count_rows`` does this for transactions as
they are stored; ``REBUILD_FIGURES`` for a whole journal (migration 0009, a benchmark after COPY). Both
must agree: ``tests/integration/test_figures.py`` compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.model import FEN, HOUSEHOLD_PREFIX, POINTS, Transaction

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
        row = figures.setdefault((txn.created_at[:10], village, txn.shop_id, str(txn.kind)), [0, 0, 0, 0])
        row[0] += 1
        for p in txn.postings:
            if p.unit == POINTS and p.account.startswith(HOUSEHOLD_PREFIX):
                row[1] += p.amount
            elif p.unit == FEN and p.account.startswith("shop:") and p.account.endswith(":fund"):
                row[2] += p.amount
        for line in txn.lines:
            row[3] += line.qty
            stock[(txn.shop_id, line.sku)] = stock.get((txn.shop_id, line.sku), 0) + line.qty
    return figures, stock
