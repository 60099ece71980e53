"""The village's notice board as a shop keeps it: the rules that apply (怎样得积分) and the notices (公示).

A points record is trusted because the village can read it before it is issued: the paper notice on the
board, a public web page, and the village's kiosks. A kiosk in a shop may be offline for weeks, so the
shop keeps the last board the township sent it (at each sync, or in a reply bundle off a USB stick) and
the kiosk reads it from the ledger like everything else.

The board is *shown*, never counted: it moves no points and no stock, so it is not part of the ledger's
chain. Each sync replaces it whole (``store_board``): a notice the township withdrew disappears at the
next sync, and a board can never be half new. A kiosk that has not synced keeps showing the last board,
with its date, and stops showing a notice a week after its window closed by its own clock, as the
township's public page does.

Households appear by the name of their head, with the item, the points and the reason, as on the paper
notice; the household id is kept so a kiosk can show a villager who scans "your items under notice".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

from ledger.ports import LedgerUnit
from ledger.rulebook import Direction, RuleItem

log = logging.getLogger(__name__)

BOARD_KEY = "village_board"
SHOWN_AFTER_WINDOW_DAYS = 7  # the public page's rule too (sync.server.awards.public_notices)


@dataclass(frozen=True)
class NoticeLine:
    """One household's item on a notice: "张三 庭院整洁 +5 (院落干净)"."""

    household_id: str
    name: str
    item: str
    points: int  # signed: a penalty is negative
    reason: str
    zero_tolerance: bool = False
    issued: bool = False  # the points were issued (核发): in the balance now, no longer "on notice"


@dataclass(frozen=True)
class Notice:
    """One published batch (第 N 批公示) of a village, and the days anyone may object."""

    number: int
    village: str
    window_from: str  # ISO dates
    window_until: str
    lines: tuple[NoticeLine, ...]

    def open_on(self, day: date) -> bool:
        """True while objections are taken (the last day included)."""
        return bool(self.window_until) and day.isoformat() <= self.window_until

    def shown_on(self, day: date) -> bool:
        if not self.window_until:
            return False
        try:
            until = date.fromisoformat(self.window_until)
        except ValueError:
            return False
        return day.toordinal() - until.toordinal() <= SHOWN_AFTER_WINDOW_DAYS


@dataclass(frozen=True)
class VillageBoard:
    """What the township last sent a shop for its village's board, and when (``made_at``, ISO time)."""

    village_id: str
    rules: tuple[RuleItem, ...]
    notices: tuple[Notice, ...]
    made_at: str = ""

    def notices_on(self, day: date) -> tuple[Notice, ...]:
        """The notices to show on ``day``: open ones and those closed within a week, newest first."""
        shown = [n for n in self.notices if n.shown_on(day)]
        return tuple(sorted(shown, key=lambda n: (n.window_from, n.number), reverse=True))

    def lines_of(self, household_id: str, day: date) -> tuple[tuple[Notice, NoticeLine], ...]:
        """A household's own items on the notices shown on ``day`` that are not issued yet."""
        return tuple(
            (n, line)
            for n in self.notices_on(day)
            for line in n.lines
            if line.household_id == household_id and not line.issued
        )


EMPTY_BOARD = VillageBoard("", (), ())


# ----- to and from the ledger's meta, and the wire -----------------------------------------------------------


# What of a rule a kiosk needs (not the bounds a village may choose within, nor switched-off items).
_RULE_FIELDS = ("code", "name", "category", "direction", "low", "high", "zero_tolerance", "local")
_LINE_FIELDS = tuple(f.name for f in fields(NoticeLine))


def board_to_json(board: VillageBoard) -> dict[str, Any]:
    """The board as plain JSON, the same shape on the wire (``sync.protocol.VillageBoardWire``) and at the shop."""
    return {
        "village_id": board.village_id,
        "made_at": board.made_at,
        "rules": [{name: getattr(r, name) for name in _RULE_FIELDS} for r in board.rules],
        "notices": [
            {
                "number": n.number,
                "village": n.village,
                "window_from": n.window_from,
                "window_until": n.window_until,
                "lines": [asdict(line) for line in n.lines],
            }
            for n in board.notices
        ],
    }


def board_of(data: Mapping[str, Any]) -> VillageBoard:
    """The board of JSON that was validated at the edge (the wire model) or written by ``store_board``."""
    return VillageBoard(
        village_id=str(data.get("village_id", "")),
        made_at=str(data.get("made_at", "")),
        rules=tuple(
            RuleItem(**{name: r[name] for name in _RULE_FIELDS if name in r} | {"direction": Direction(r["direction"])})
            for r in data.get("rules", ())
        ),
        notices=tuple(
            Notice(
                number=int(n["number"]),
                village=n.get("village", ""),
                window_from=n.get("window_from", ""),
                window_until=n.get("window_until", ""),
                lines=tuple(NoticeLine(**{k: x[k] for k in _LINE_FIELDS if k in x}) for x in n.get("lines", ())),
            )
            for n in data.get("notices", ())
        ),
    )


def store_board(unit: LedgerUnit, board: VillageBoard) -> bool:
    """Replace the shop's board (inside the caller's write unit, beside the pull it came with).

    An older board than the one kept (an old reply bundle imported late) is not stored: False.
    """
    if _older(board.made_at, stored_board(unit).made_at):
        return False
    unit.set_meta(BOARD_KEY, json.dumps(board_to_json(board), ensure_ascii=False, separators=(",", ":")))
    return True


def _older(made_at: str, kept: str) -> bool:
    try:
        return bool(made_at and kept) and datetime.fromisoformat(made_at) < datetime.fromisoformat(kept)
    except (ValueError, TypeError):  # naive against aware, or not a time: the newer message wins
        return False


def stored_board(unit: LedgerUnit) -> VillageBoard:
    """The shop's last board; an empty one when none came yet or the stored text cannot be read.

    An unreadable board only costs the kiosk its notices until the next sync replaces it, so it is logged
    and not raised: the kiosk must keep showing balances.
    """
    raw = unit.meta(BOARD_KEY)
    if not raw:
        return EMPTY_BOARD
    try:
        return board_of(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        log.exception("the stored village board cannot be read; showing none until the next sync")
        return EMPTY_BOARD
