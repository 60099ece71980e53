"""Honours from a cycle's points earned (issue 14): each village's star households (thresholds set by the
township), the honours list for the notice board and a certificate for each household on it.

Points *earned* decide, as for the red list (``views.ranking``): spending points at the shop never lowers
an honour, and a frozen household (zero tolerance) has none while it is frozen.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.access import Action, Scope, may
from ledger.errors import LedgerError
from sync.errors import SyncError
from sync.server import views
from sync.server.people import Actor, People
from sync.server.record import CentralRecord

STARS_KEY = "honours.stars"
DEFAULT_STARS = (100, 200, 300, 400, 500)  # points earned for one to five stars until the township sets its own
MAX_STARS = 5


def star_thresholds(record: CentralRecord) -> tuple[int, ...]:
    """Points earned for one, two, ... stars, increasing."""
    with record.store.read() as unit:
        said = unit.ledger.meta(STARS_KEY)
    if not said:
        return DEFAULT_STARS
    return tuple(int(n) for n in json.loads(said))


def set_star_thresholds(record: CentralRecord, people: People, actor: Actor, thresholds: list[int]) -> None:
    """The township's thresholds: one to five increasing whole numbers of points earned."""
    if not may(actor.person, Action.MANAGE_POLICY, Scope()):
        raise SyncError("forbidden")
    if (
        not 1 <= len(thresholds) <= MAX_STARS
        or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1_000_000 for n in thresholds)
        or list(thresholds) != sorted(set(thresholds))
    ):
        raise LedgerError("honours_thresholds_invalid", limit=MAX_STARS)
    with record.write() as unit:
        before = unit.ledger.meta(STARS_KEY)
        unit.ledger.set_meta(STARS_KEY, json.dumps(list(thresholds)))
        people.log(unit, actor, "honours.stars", "policy", before, thresholds)


def stars_for(earned: int, thresholds: tuple[int, ...]) -> int:
    return sum(1 for n in thresholds if earned >= n)


def honours(record: CentralRecord, village_id: str) -> dict[str, Any]:
    """The village's star households, most points earned first, with their stars."""
    thresholds = star_thresholds(record)
    with record.store.read() as unit:
        village = unit.ledger.village(village_id)
        township = unit.ledger.township()
    if village is None:
        raise LedgerError("village_unknown", village_id=village_id)
    rows = [
        {**row, "stars": stars_for(row["earned_cycle"], thresholds)}
        for row in views.ranking(record, village_id)
        if stars_for(row["earned_cycle"], thresholds) > 0
    ]
    return {
        "village_id": village_id,
        "village": village.name,
        "township": township.name if township else "",
        "thresholds": thresholds,
        "rows": rows,
    }
