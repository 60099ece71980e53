"""How points are made (DESIGN §11): record → check → review → public notice (公示) with objections → issue.

The seeds say why the scheme is trusted: the village records what happened (time, place, reason, source),
checks it within a week, rates it at a committee meeting, publishes it for some days where anyone may
object, and only then issues the points (核发). Each step here is a pure function of the record as it
stands, the person taking the step and the day: it returns the record as it becomes and the ``Step`` to
keep, or raises a ``LedgerError`` saying why not. Storage keeps every step (append-only) beside each
record's current state; the console and the services only call these functions.

Who may take a step at all (a clerk records, a reviewer reviews, the township issues) is ``ledger.access``;
what depends on the record is here: a reviewer never reviews their own record, nothing is issued before its
notice window has closed, no item under an open objection is issued, a change made by an upheld objection
goes back to notice, and a zero-tolerance item needs the township's approval before it is published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from ledger.errors import LedgerError
from ledger.messages import N_, Message
from ledger.rulebook import Direction, RuleItem

TEXT_LEN = 200  # place, reason, notes: what a clerk writes on the form
ATTENDEES_LEN = 500
DEFAULT_CHECK_DAYS = 7
DEFAULT_NOTICE_DAYS = 5


class Source(StrEnum):
    """Where the village learnt of the event (the seeds' four sources)."""

    DECLARATION = "declaration"  # the household's own declaration (户申报)
    NEIGHBOURS = "neighbours"  # neighbours' report (群众反映)
    CADRE_VISIT = "cadre_visit"  # a cadre's visit (干部走访)
    INSPECTION = "inspection"  # an inspection from above (上级检查)


SOURCE_WORDS = (
    N_("workflow.source.declaration"),
    N_("workflow.source.neighbours"),
    N_("workflow.source.cadre_visit"),
    N_("workflow.source.inspection"),
)


class Stage(StrEnum):
    RECORDED = "recorded"  # waiting to be checked
    CHECKED = "checked"  # confirmed or corrected; waiting for the committee
    APPROVED = "approved"  # rated in a meeting batch; waiting for the notice
    ON_NOTICE = "on_notice"  # published; anyone may object until its window closes
    ISSUED = "issued"  # posted at the central record; shops receive it at their next sync
    REJECTED = "rejected"  # at check or at review, with the reason
    WITHDRAWN = "withdrawn"  # by an upheld objection

    @property
    def final(self) -> bool:
        return self in (Stage.ISSUED, Stage.REJECTED, Stage.WITHDRAWN)

    @property
    def words(self) -> Message:
        """The stage as people say it (待核查, 公示中, 已核发...), in the reader's language."""
        return Message(STAGE_WORDS[self])


STAGE_WORDS = {
    Stage.RECORDED: N_("workflow.stage.recorded"),
    Stage.CHECKED: N_("workflow.stage.checked"),
    Stage.APPROVED: N_("workflow.stage.approved"),
    Stage.ON_NOTICE: N_("workflow.stage.on_notice"),
    Stage.ISSUED: N_("workflow.stage.issued"),
    Stage.REJECTED: N_("workflow.stage.rejected"),
    Stage.WITHDRAWN: N_("workflow.stage.withdrawn"),
}


class Outcome(StrEnum):
    CONFIRM = "confirm"  # check: as recorded
    APPROVE = "approve"  # review: as checked
    CORRECT = "correct"  # check, review or upheld objection: other points within the item's range
    REJECT = "reject"  # check or review: not scored
    WITHDRAW = "withdraw"  # upheld objection: taken back
    DISMISS = "dismiss"  # objection not upheld


class ObjectionStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class PointsRecord:
    """An event recorded for one household, scored against one rule item, on its way to being issued.

    ``points`` is the size (within the item's range); the item's direction gives the sign. ``notice_until``
    is the last day of this record's notice window (its batch's, or a later one after an upheld objection).
    """

    record_id: str
    village_id: str
    household_id: str
    item_code: str
    item_name: str
    direction: Direction
    zero_tolerance: bool
    points: int
    day: str
    place: str
    reason: str
    source: Source
    recorded_by: int
    recorded_at: str
    stage: Stage = Stage.RECORDED
    checked_by: int | None = None
    reviewed_by: int | None = None
    batch_id: int | None = None
    notice_until: str | None = None
    approved_by_township: int | None = None
    issued_txn_id: str | None = None

    @property
    def signed_points(self) -> int:
        return self.direction.signed(self.points)


@dataclass(frozen=True)
class Step:
    """One step of one record, kept for ever: who, when, what, the points before and after, and why."""

    record_id: str
    action: str
    by: int
    at: str
    points_before: int | None = None
    points_after: int | None = None
    note: str = ""
    batch_id: int | None = None


@dataclass(frozen=True)
class Batch:
    """The records a review meeting rated (评议), published together as one notice: 第 ``number`` 批 of its village."""

    batch_id: int
    village_id: str
    number: int
    meeting_day: str
    attendees: str
    made_by: int
    made_at: str
    published_at: str | None = None
    window_from: str | None = None
    window_until: str | None = None

    @property
    def published(self) -> bool:
        return self.published_at is not None


@dataclass(frozen=True)
class Objection:
    """An objection (异议) to one record under notice: who raised it and what they say, then how it ended."""

    objection_id: int
    record_id: str
    raised_by: str
    says: str
    recorded_by: int
    recorded_at: str
    status: ObjectionStatus = ObjectionStatus.OPEN
    resolved_by: int | None = None
    resolution: str = ""


# An award, deduction or clearing issued after a public notice names it in its ``party``, so that a shop's
# kiosk (which has no workflow tables) can say "庭院整洁 · 第 3 批公示" instead of a bare reason.
NOTICE_PARTY = "notice:"


def notice_party(village_id: str, number: int) -> str:
    return f"{NOTICE_PARTY}{village_id}:{number}"


def notice_number(party: str | None) -> int | None:
    """The batch number of the notice a transaction was issued after, or None."""
    if not party or not party.startswith(NOTICE_PARTY):
        return None
    number = party.rpartition(":")[2]
    return int(number) if number.isdigit() else None


# ----- checks shared by the steps ---------------------------------------------------------------------------


FIELD_WORDS = {
    "place": N_("workflow.field.place"),
    "reason": N_("workflow.field.reason"),
    "note": N_("workflow.field.note"),
    "attendees": N_("workflow.field.attendees"),
    "raised_by": N_("workflow.field.raised_by"),
    "says": N_("workflow.field.says"),
}


def _text(value: str, what: str, limit: int = TEXT_LEN, required: bool = True) -> str:
    """A text a person typed, trimmed; refused when missing (if ``required``), too long or unstorable."""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value or (required and not value.strip()):
        raise LedgerError("workflow_text_invalid", what=Message(FIELD_WORDS[what]), limit=limit)
    return value.strip()


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise LedgerError("workflow_day_invalid", day=value) from None


def _stage(record: PointsRecord, *expected: Stage) -> None:
    if record.stage not in expected:
        raise LedgerError("workflow_wrong_stage", record_id=record.record_id, stage=record.stage.words)


def _outcome(value: Outcome | str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise LedgerError("workflow_outcome_invalid", outcome=str(value)[:32]) from None


def _points(item: RuleItem, points: int | None) -> int:
    """Points within the item's range; none given (a correction without its number) is refused as out of it."""
    problem = item.points_problem(points if points is not None else -1)
    if problem is not None:
        raise problem
    assert points is not None
    return points


def _judged(
    current: PointsRecord,
    item: RuleItem,
    outcome: Outcome,
    passing: Outcome,
    passed: Stage,
    points: int | None,
    note: str,
    **marks: Any,
) -> tuple[PointsRecord, str]:
    """The three answers a check and a review give: ``passing`` (the record as it stands goes on to
    ``passed``), CORRECT (other points within the item's range, with the reason) or REJECT (with the
    reason). ``marks`` say who judged (and in which batch). Returns the record as it becomes and the note."""
    if outcome is passing:
        return replace(current, stage=passed, **marks), note
    if outcome is Outcome.CORRECT:
        return replace(current, stage=passed, points=_points(item, points), **marks), _text(note, "note")
    if outcome is Outcome.REJECT:
        return replace(current, stage=Stage.REJECTED, **marks), _text(note, "note")
    raise LedgerError("workflow_outcome_invalid", outcome=str(outcome))


def last_day(start: str, days: int) -> str:
    """The last day of a window of ``days`` days that starts on ``start`` (inclusive)."""
    return (_day(start) + timedelta(days=max(1, days) - 1)).isoformat()


# ----- the steps --------------------------------------------------------------------------------------------


def record(
    *,
    record_id: str,
    village_id: str,
    household_id: str,
    household_frozen: bool,
    item: RuleItem,
    points: int,
    day: str,
    place: str,
    reason: str,
    source: Source | str,
    by: int,
    at: str,
    today: str,
) -> tuple[PointsRecord, Step]:
    """A new record for one household (a group's event is one record per household)."""
    if _day(day) > _day(today):
        raise LedgerError("workflow_day_future", day=day)
    try:
        source = Source(source)
    except ValueError:
        raise LedgerError("workflow_source_invalid", source=str(source)) from None
    if household_frozen and item.direction is Direction.REWARD:
        raise LedgerError("household_frozen_no_award", household_id=household_id)
    made = PointsRecord(
        record_id=record_id,
        village_id=village_id,
        household_id=household_id,
        item_code=item.code,
        item_name=item.name,
        direction=item.direction,
        zero_tolerance=item.zero_tolerance,
        points=_points(item, points),
        day=day,
        place=_text(place, "place", required=False),
        reason=_text(reason, "reason"),
        source=source,
        recorded_by=by,
        recorded_at=at,
    )
    return made, Step(record_id, "record", by, at, None, made.points, made.reason)


def check(
    current: PointsRecord,
    item: RuleItem,
    outcome: Outcome | str,
    *,
    by: int,
    at: str,
    points: int | None = None,
    note: str = "",
) -> tuple[PointsRecord, Step]:
    """The check of the facts, within the week: confirmed, corrected (other points, with the reason) or
    rejected (with the reason)."""
    _stage(current, Stage.RECORDED)
    outcome = _outcome(outcome)
    after, note = _judged(current, item, outcome, Outcome.CONFIRM, Stage.CHECKED, points, note, checked_by=by)
    return after, Step(current.record_id, f"check.{outcome}", by, at, current.points, after.points, note)


def new_batch(
    *, batch_id: int, village_id: str, number: int, meeting_day: str, attendees: str, by: int, at: str, today: str
) -> Batch:
    """A review meeting's batch: the day it met and who attended (the 评议小组 and the work team)."""
    if _day(meeting_day) > _day(today):
        raise LedgerError("workflow_day_future", day=meeting_day)
    return Batch(batch_id, village_id, number, meeting_day, _text(attendees, "attendees", ATTENDEES_LEN), by, at)


def review(
    current: PointsRecord,
    batch: Batch,
    item: RuleItem,
    outcome: Outcome | str,
    *,
    by: int,
    at: str,
    points: int | None = None,
    note: str = "",
) -> tuple[PointsRecord, Step]:
    """The committee's rating of a checked record in a meeting batch: approved, changed within the item's
    range (with the reason), or rejected (with the reason). Never by the person who recorded it."""
    _stage(current, Stage.CHECKED)
    if by == current.recorded_by:
        raise LedgerError("review_own_record", record_id=current.record_id)
    if batch.village_id != current.village_id:
        raise LedgerError("workflow_batch_village", batch=batch.number, village_id=batch.village_id)
    if batch.published:
        raise LedgerError("workflow_batch_published", batch=batch.number)
    outcome = _outcome(outcome)
    after, note = _judged(
        current, item, outcome, Outcome.APPROVE, Stage.APPROVED, points, note, reviewed_by=by, batch_id=batch.batch_id
    )
    step = Step(current.record_id, f"review.{outcome}", by, at, current.points, after.points, note, batch.batch_id)
    return after, step


def approve_zero_tolerance(current: PointsRecord, *, by: int, at: str) -> tuple[PointsRecord, Step]:
    """The township's approval of a zero-tolerance item, which the notice needs (``access`` says who)."""
    _stage(current, Stage.APPROVED)
    if not current.zero_tolerance:
        raise LedgerError("workflow_not_zero_tolerance", record_id=current.record_id)
    after = replace(current, approved_by_township=by)
    return after, Step(current.record_id, "township.approve", by, at, current.points, current.points)


def publish(
    batch: Batch, records: Sequence[PointsRecord], *, by: int, at: str, today: str, notice_days: int
) -> tuple[Batch, list[PointsRecord], list[Step]]:
    """The batch's notice (公示): its approved records go on notice from today for ``notice_days`` days.

    Refused for a batch already published, with nothing approved in it, or with a zero-tolerance item the
    township has not approved."""
    if batch.published:
        raise LedgerError("workflow_batch_published", batch=batch.number)
    mine = [r for r in records if r.batch_id == batch.batch_id and r.stage is Stage.APPROVED]
    if not mine:
        raise LedgerError("workflow_batch_empty", batch=batch.number)
    waiting = [r for r in mine if r.zero_tolerance and r.approved_by_township is None]
    if waiting:
        raise LedgerError("workflow_zero_tolerance_unapproved", count=len(waiting), batch=batch.number)
    until = last_day(today, notice_days)
    after = replace(batch, published_at=at, window_from=today, window_until=until)
    published = [replace(r, stage=Stage.ON_NOTICE, notice_until=until) for r in mine]
    steps = [Step(r.record_id, "notice", by, at, r.points, r.points, until, batch.batch_id) for r in mine]
    return after, published, steps


def object_to(
    current: PointsRecord, *, objection_id: int, raised_by: str, says: str, by: int, at: str, today: str
) -> Objection:
    """An objection to a record under notice, written down by a clerk while its window is open."""
    _stage(current, Stage.ON_NOTICE)
    if current.notice_until is None or today > current.notice_until:
        raise LedgerError("workflow_notice_closed", record_id=current.record_id, until=current.notice_until or "")
    return Objection(objection_id, current.record_id, _text(raised_by, "raised_by", 100), _text(says, "says"), by, at)


def resolve(
    objection: Objection,
    current: PointsRecord,
    item: RuleItem,
    outcome: Outcome | str,
    *,
    by: int,
    at: str,
    today: str,
    notice_days: int,
    note: str,
    points: int | None = None,
) -> tuple[Objection, PointsRecord, Step]:
    """A reviewer's answer to an objection: dismissed (with the reason), or upheld, the record then corrected
    (and back on notice for a new window) or withdrawn. Never by the person who recorded the item."""
    if objection.status is not ObjectionStatus.OPEN:
        raise LedgerError("objection_closed", objection_id=objection.objection_id)
    if objection.record_id != current.record_id:
        raise LedgerError("objection_other_record", objection_id=objection.objection_id)
    if by == current.recorded_by:
        raise LedgerError("review_own_record", record_id=current.record_id)
    _stage(current, Stage.ON_NOTICE)
    note = _text(note, "note")
    outcome = _outcome(outcome)
    if outcome is Outcome.DISMISS:
        status, after = ObjectionStatus.DISMISSED, current
    elif outcome is Outcome.CORRECT:
        status = ObjectionStatus.UPHELD
        after = replace(
            current,
            points=_points(item, points),
            notice_until=last_day(today, notice_days),
        )
    elif outcome is Outcome.WITHDRAW:
        status, after = ObjectionStatus.UPHELD, replace(current, stage=Stage.WITHDRAWN)
    else:
        raise LedgerError("workflow_outcome_invalid", outcome=str(outcome))
    closed = replace(objection, status=status, resolved_by=by, resolution=note)
    step = Step(current.record_id, f"objection.{outcome}", by, at, current.points, after.points, note, current.batch_id)
    return closed, after, step


def why_not_issuable(
    current: PointsRecord, *, today: str, open_objections: Iterable[Objection], household_frozen: bool
) -> LedgerError | None:
    """Why a record cannot be issued today, or None: it must be on notice, its window closed, no objection
    to it open, and a reward needs a household that is not frozen."""
    if current.stage is not Stage.ON_NOTICE:
        return LedgerError("workflow_wrong_stage", record_id=current.record_id, stage=current.stage.words)
    if current.notice_until is None or today <= current.notice_until:
        return LedgerError("workflow_notice_open", record_id=current.record_id, until=current.notice_until or "")
    if any(o.record_id == current.record_id and o.status is ObjectionStatus.OPEN for o in open_objections):
        return LedgerError("workflow_objection_open", record_id=current.record_id)
    if household_frozen and current.direction is Direction.REWARD:
        return LedgerError("household_frozen_no_award", household_id=current.household_id)
    return None


def issued(current: PointsRecord, txn_id: str, *, by: int, at: str) -> tuple[PointsRecord, Step]:
    """The record once its award or deduction (``txn_id``) is posted; ``why_not_issuable`` came first."""
    _stage(current, Stage.ON_NOTICE)
    after = replace(current, stage=Stage.ISSUED, issued_txn_id=txn_id)
    return after, Step(current.record_id, "issue", by, at, current.points, current.points, txn_id, current.batch_id)


def overdue_for_check(records: Iterable[PointsRecord], today: str, check_days: int) -> list[PointsRecord]:
    """Records still waiting for their check more than ``check_days`` days after they were recorded."""
    limit = (_day(today) - timedelta(days=check_days)).isoformat()
    return [r for r in records if r.stage is Stage.RECORDED and r.recorded_at[:10] < limit]
