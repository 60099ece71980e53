"""The rules catalogue (积分细则): what a household can earn or lose points for, and how many, as pure rules.

A points record is trusted when it is scored against rules everyone can read on the notice board. The
township writes the rules: classes (基础分 / 评议分 / 贡献分, or 有事积分 / 评比积分 / 表彰积分) and under them
items, each a reward or a penalty with a standard value (a fixed number, or a range such as 1–10), some of
them zero-tolerance items that clear a household. A village may switch a township item off, narrow or move
its range within the bounds the township allows (``village_low``..``village_high``), and add local items.

Rules change with the seasons (more for farm work in the busy season), so they are kept as **versions**
that take effect on a date, and nothing is ever edited in place: a record is scored against the version in
force on the day of its event, for its village (``in_force``). ``problems`` checks a version before it is
kept, as the audit checks a ledger: it returns every problem, not the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from ledger.errors import LedgerError

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
MAX_ITEM_POINTS = 100_000  # the seeds' largest standard value is 2,000; a typo of three zeros is refused
NAME_LEN = 100


class Direction(StrEnum):
    REWARD = "reward"  # 加分
    PENALTY = "penalty"  # 扣分

    def signed(self, points: int) -> int:
        """The points a record moves on the household's account: a penalty takes them away."""
        return points if self is Direction.REWARD else -points


@dataclass(frozen=True)
class RuleItem:
    """One line of the rules: "庭院整洁, 评议分, reward 1–10".

    ``low``..``high`` is the standard value (equal for a fixed value). ``village_low``..``village_high`` are
    the bounds within which a village may set its own range (equal to the standard when it may not).
    ``zero_tolerance`` (a penalty) clears the household's points of the cycle and freezes it, whatever the
    number of points. ``local`` items are a village's own.
    """

    code: str
    name: str
    category: str
    direction: Direction
    low: int
    high: int
    zero_tolerance: bool = False
    village_low: int | None = None
    village_high: int | None = None
    active: bool = True
    local: bool = False

    @property
    def bounds(self) -> tuple[int, int]:
        """The range a village may choose within (the standard range when the township allows no change)."""
        low = self.low if self.village_low is None else self.village_low
        high = self.high if self.village_high is None else self.village_high
        return low, high

    def points_problem(self, points: int) -> LedgerError | None:
        """Why ``points`` cannot be given under this item, or None."""
        if isinstance(points, bool) or not isinstance(points, int) or not self.low <= points <= self.high:
            return LedgerError("rule_points_range", item=self.name, low=self.low, high=self.high, points=points)
        return None

    def signed(self, points: int) -> int:
        return self.direction.signed(points)


@dataclass(frozen=True)
class VillageChange:
    """A village's change to a township item: switched off, or its range moved within the item's bounds."""

    code: str
    low: int | None = None
    high: int | None = None
    active: bool = True


@dataclass(frozen=True)
class RuleVersion:
    """One version of the rules, in force from ``effective_from`` (an ISO date) until a later version's.

    The township's version (``village_id`` None) lists its items. A village's version lists its changes
    to township items and its local items; it applies over whichever township version is in force.
    """

    version: int
    effective_from: str
    village_id: str | None = None
    items: tuple[RuleItem, ...] = ()
    changes: tuple[VillageChange, ...] = ()
    note: str = ""
    made_by: str = ""
    made_at: str = ""

    @property
    def township(self) -> bool:
        return self.village_id is None


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a version of the rules: which item, and the refusal that says what."""

    code: str
    error: LedgerError


def problems(version: RuleVersion, township_items: Mapping[str, RuleItem] | None = None) -> list[RuleProblem]:
    """Every problem of ``version``; for a village's version, against the township's items it changes
    (``township_items``: those of the township version in force on the same date). Empty when it can be kept.
    """
    found: list[RuleProblem] = []
    try:
        date.fromisoformat(version.effective_from)
    except (TypeError, ValueError):
        found.append(RuleProblem("", LedgerError("rule_date_invalid", day=version.effective_from)))
    seen: set[str] = set()
    for item in version.items:
        if item.code in seen:
            found.append(RuleProblem(item.code, LedgerError("rule_code_twice", rule=item.code)))
        seen.add(item.code)
        found += [RuleProblem(item.code, e) for e in _item_problems(item)]
        if version.township and item.local:
            found.append(RuleProblem(item.code, LedgerError("rule_local_in_township", rule=item.code)))
        if not version.township:
            if not item.local:
                found.append(RuleProblem(item.code, LedgerError("rule_village_item_not_local", rule=item.code)))
            if township_items is not None and item.code in township_items:
                found.append(RuleProblem(item.code, LedgerError("rule_local_code_taken", rule=item.code)))
    if version.township and version.changes:
        found.append(RuleProblem("", LedgerError("rule_changes_in_township")))
    changed: set[str] = set()
    for change in version.changes:
        if change.code in changed:
            found.append(RuleProblem(change.code, LedgerError("rule_code_twice", rule=change.code)))
        changed.add(change.code)
        base = (township_items or {}).get(change.code)
        if base is None:
            found.append(RuleProblem(change.code, LedgerError("rule_unknown", rule=change.code)))
            continue
        low = base.low if change.low is None else change.low
        high = base.high if change.high is None else change.high
        bound_low, bound_high = base.bounds
        if not bound_low <= low <= high <= bound_high:
            found.append(
                RuleProblem(
                    change.code,
                    LedgerError(
                        "rule_village_range",
                        item=base.name,
                        low=low,
                        high=high,
                        bound_low=bound_low,
                        bound_high=bound_high,
                    ),
                )
            )
        if base.zero_tolerance and not change.active:
            found.append(RuleProblem(change.code, LedgerError("rule_zero_tolerance_kept", item=base.name)))
    return found


def _item_problems(item: RuleItem) -> list[LedgerError]:
    found: list[LedgerError] = []
    if not isinstance(item.code, str) or not CODE_PATTERN.match(item.code):
        found.append(LedgerError("rule_code_invalid", rule=item.code))
    if not item.name.strip() or len(item.name) > NAME_LEN or not item.category.strip() or len(item.category) > NAME_LEN:
        found.append(LedgerError("rule_name_invalid", rule=item.code))
    numbers = (item.low, item.high, *item.bounds)
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        found.append(LedgerError("rule_range_invalid", item=item.name, low=item.low, high=item.high))
        return found
    if not 1 <= item.low <= item.high <= MAX_ITEM_POINTS:
        found.append(LedgerError("rule_range_invalid", item=item.name, low=item.low, high=item.high))
    bound_low, bound_high = item.bounds
    if not 1 <= bound_low <= item.low or not item.high <= bound_high <= MAX_ITEM_POINTS:
        found.append(
            LedgerError(
                "rule_bounds_invalid",
                item=item.name,
                low=item.low,
                high=item.high,
                bound_low=bound_low,
                bound_high=bound_high,
            )
        )
    if item.zero_tolerance and item.direction is not Direction.PENALTY:
        found.append(LedgerError("rule_zero_tolerance_reward", item=item.name))
    return found


def version_on(versions: Iterable[RuleVersion], day: str, village_id: str | None) -> RuleVersion | None:
    """The version of one scope (the township's for None) in force on ``day``: the latest that took effect
    on or before it (the higher version number when two take effect the same day)."""
    candidates = [v for v in versions if v.village_id == village_id and v.effective_from <= day]
    return max(candidates, key=lambda v: (v.effective_from, v.version), default=None)


def in_force(versions: Sequence[RuleVersion], village_id: str, day: str) -> dict[str, RuleItem]:
    """The items a record of ``village_id`` dated ``day`` is scored against, by code, switched-off items
    left out: the township's version in force that day, with the village's own version of that day over it."""
    township = version_on(versions, day, None)
    items = {i.code: i for i in township.items} if township else {}
    village = version_on(versions, day, village_id)
    if village is not None:
        for change in village.changes:
            base = items.get(change.code)
            if base is None:
                continue  # a change to an item the township has since dropped changes nothing
            items[change.code] = replace(
                base,
                low=base.low if change.low is None else change.low,
                high=base.high if change.high is None else change.high,
                active=base.active and change.active,
            )
        for item in village.items:
            items.setdefault(item.code, replace(item, local=True))
    return {code: item for code, item in items.items() if item.active}


def item_for(versions: Sequence[RuleVersion], village_id: str, day: str, code: str) -> RuleItem:
    """The item ``code`` as in force for a village on a day, or the refusal that says it is not."""
    found = in_force(versions, village_id, day).get(code)
    if found is None:
        raise LedgerError("rule_unknown", rule=code)
    return found


@dataclass(frozen=True)
class RuleSheet:
    """The rules of a village on a day, grouped by class in the order the township wrote them: the notice
    board's sheet, the kiosk's "怎样得积分", the console's page."""

    village_id: str
    day: str
    classes: tuple[tuple[str, tuple[RuleItem, ...]], ...] = field(default_factory=tuple)


def sheet(versions: Sequence[RuleVersion], village_id: str, day: str) -> RuleSheet:
    grouped: dict[str, list[RuleItem]] = {}
    for item in in_force(versions, village_id, day).values():
        grouped.setdefault(item.category, []).append(item)
    return RuleSheet(village_id, day, tuple((name, tuple(items)) for name, items in grouped.items()))


def value_text(item: RuleItem) -> str:
    """ "+5", "−1～−10": an item's standard value as the notice board writes it (full-width tilde, real minus)."""
    sign = "+" if item.direction is Direction.REWARD else "−"
    if item.low == item.high:
        return f"{sign}{item.low}"
    return f"{sign}{item.low}～{sign}{item.high}"
