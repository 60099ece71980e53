"""Households from a spreadsheet at the central record: every row checked first, every problem by row, all or none.

The sheet and its rows are read and checked by ``ledger.register`` (the same as a standalone shop's import);
here they are checked against the township's villages and shops and stored, each logged for the shops.
Importing a household that exists updates its record; its points, status and cards stay.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from ledger.register import checked_rows, parse_members, read_register
from sync.server.record import CentralRecord
from sync.server.township import store_household

__all__ = ["import_households", "parse_members"]


def import_households(record: CentralRecord, path: Path, villages: Collection[str] | None = None) -> dict[str, Any]:
    """Add or update the households of a register sheet, all or none; new households get card 1.

    ``villages``: the villages the importing person may edit (None: all); a row of another village, or
    of a household that lives in one, is a problem of that row like any other.
    """
    path = Path(path)
    sheet = read_register(path)
    with record.write() as unit:
        entries = checked_rows(sheet, unit.villages(), unit.shops(), unit.ledger.household, villages)
        when = record.now()
        created = 0
        for entry in entries:
            _household, card = store_household(unit, entry, when)
            created += card is not None
    return {
        "file": path.name,
        "imported": len(entries),
        "created": created,
        "updated": len(entries) - created,
        "households": [e.household_id for e in entries],
    }
