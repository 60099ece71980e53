"""The award workflow and the rules catalogue at the central record: the use cases the console and the API call.

Each function takes the person acting (``Actor``), checks their role and village here as the routes do
(``ledger.access``), takes the step by the core's rules (``ledger.workflow``, ``ledger.rulebook``) and
stores the record's new state, the step and an activity-log row in one database transaction. Issuing
posts the awards, deductions and clearings at the central record (``services``), each naming its notice,
and sends them to the shops with their next pull (``changes.log_txns``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger import board, rule_sheets, rulebook, services
from ledger import workflow as wf
from ledger.access import Action, Person, Scope, may
from ledger.errors import ImportProblem, LedgerError
from ledger.messages import N_, Listing
from ledger.model import HouseholdStatus, TxnKind
from ledger.rulebook import Direction, RuleItem, RuleVersion, VillageChange
from ledger.spreadsheets import tables_xlsx
from ledger.storage.central import CentralUnit
from sync.errors import SyncError
from sync.server import rules
from sync.server.changes import log_txns
from sync.server.people import Actor, People
from sync.server.record import CENTRAL_DEVICE, CentralRecord

# Workflow settings the township may change (kept in the central record's meta table; shops never need them).
NOTICE_DAYS_KEY = "workflow.notice_days"
CHECK_DAYS_KEY = "workflow.check_days"
VILLAGE_ISSUES_KEY = "workflow.village_issues"
DIRECT_POINTS_KEY = "workflow.direct_points"
MAX_HOUSEHOLDS_PER_EVENT = 500  # a whole village group that swept the road, not the whole township
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
MAX_PHOTO_BYTES = 2 * 1024 * 1024
PHOTOS_PER_RECORD = 6
# Issued transactions get an id made from their record's, so issuing twice can never post twice.
ISSUE_NAMESPACE = uuid.UUID("5b0b1a4e-7f2c-4c55-9d43-0d2a1c8e6f10")


def _check(person: Person, action: Action, village_id: str | None) -> None:
    if not may(person, action, Scope(village_id=village_id)):
        raise SyncError("forbidden")


def _today(record: CentralRecord) -> str:
    return datetime.fromisoformat(record.now()).date().isoformat()


@dataclass(frozen=True)
class WorkflowSettings:
    """The township's choices for the workflow (policy page), kept in the central record's meta table."""

    notice_days: int = wf.DEFAULT_NOTICE_DAYS  # how long a batch stays on public notice
    check_days: int = wf.DEFAULT_CHECK_DAYS  # within how many days a record should be checked
    village_issues: bool = False  # each village's review group may issue its own batches
    # Points posted at once by an administrator, without record, review and notice (``direct_points``): off
    # unless the township turns it on for a while, for example to enter the old paper passbooks' points.
    direct_points: bool = False


def settings_of(unit: CentralUnit) -> WorkflowSettings:
    notice = unit.ledger.meta(NOTICE_DAYS_KEY)
    check = unit.ledger.meta(CHECK_DAYS_KEY)
    return WorkflowSettings(
        int(notice) if notice and notice.isdigit() else wf.DEFAULT_NOTICE_DAYS,
        int(check) if check and check.isdigit() else wf.DEFAULT_CHECK_DAYS,
        unit.ledger.meta(VILLAGE_ISSUES_KEY) == "yes",
        unit.ledger.meta(DIRECT_POINTS_KEY) == "yes",
    )


def workflow_settings(record: CentralRecord) -> WorkflowSettings:
    with record.store.read() as unit:
        return settings_of(unit)


def set_workflow_settings(record: CentralRecord, people: People, actor: Actor, chosen: WorkflowSettings) -> None:
    """The township's workflow settings, all at once, logged with what they were."""
    _check(actor.person, Action.MANAGE_POLICY, None)
    for value in (chosen.notice_days, chosen.check_days):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
            raise LedgerError("workflow_days_invalid", days=value)
    with record.write() as unit:
        before = settings_of(unit)
        unit.ledger.set_meta(NOTICE_DAYS_KEY, str(chosen.notice_days))
        unit.ledger.set_meta(CHECK_DAYS_KEY, str(chosen.check_days))
        unit.ledger.set_meta(VILLAGE_ISSUES_KEY, "yes" if chosen.village_issues else "no")
        unit.ledger.set_meta(DIRECT_POINTS_KEY, "yes" if chosen.direct_points else "no")
        people.log(unit, actor, "workflow.settings", "policy", asdict(before), asdict(chosen))


def may_issue(record: CentralRecord, person: Person, village_id: str) -> bool:
    """The township's administrators issue; a village's reviewers too when the township allows it."""
    if may(person, Action.POST_POINTS, Scope(village_id=village_id)):
        return True
    return workflow_settings(record).village_issues and may(person, Action.REVIEW_POINTS, Scope(village_id=village_id))


def direct_points(
    record: CentralRecord,
    people: People,
    actor: Actor,
    post: Callable[[], Any],
    what: dict[str, Any],
) -> Any:
    """Points posted without the workflow (``POST /v1/admin/points``, ``/points/import``): refused unless the
    township turned direct points on (``WorkflowSettings.direct_points``), and each posting logged with who.

    The workflow is what makes points trusted; an administrator typing an award skips the check, the review
    and the notice. Some townships need it for a while (the old paper passbooks' points on the first day),
    so it is a setting on the policy page, off by default, and every use is in the activity log.
    """
    if not workflow_settings(record).direct_points:
        raise LedgerError("points_direct_off")
    done = post()
    with record.write() as unit:
        people.log(unit, actor, "points.direct", str(what.get("household_id", "sheet")), None, what)
    return done


# ----- the rules catalogue -------------------------------------------------------------------------------------


def put_rules(
    record: CentralRecord,
    people: People,
    actor: Actor,
    *,
    village_id: str | None,
    effective_from: str,
    items: Sequence[RuleItem] = (),
    changes: Sequence[VillageChange] = (),
    note: str = "",
) -> RuleVersion:
    """A new version of the township's rules (``village_id`` None: administrators) or of a village's (its
    clerks too), checked whole (``rulebook.problems``) before it is kept; every problem is said at once."""
    _check(actor.person, Action.MANAGE_POLICY if village_id is None else Action.RECORD_POINTS, village_id)
    with record.write() as unit:
        if village_id is not None and unit.ledger.village(village_id) is None:
            raise LedgerError("village_unknown", village_id=village_id)
        awards = unit.awards
        version = RuleVersion(
            version=awards.next_rule_version(village_id),
            effective_from=effective_from,
            village_id=village_id,
            items=tuple(replace_local(i, village_id is not None) for i in items),
            changes=tuple(changes),
            note=note.strip()[:200],
            made_by=actor.person.name,
            made_at=record.now(),
        )
        township = None
        if village_id is not None:
            base = rulebook.version_on(awards.rule_versions(), effective_from, None)
            township = {i.code: i for i in base.items} if base else {}
        found = rulebook.problems(version, township)
        if found:
            raise found[0].error if len(found) == 1 else LedgerError("rule_problems", problems=_listing(found))
        awards.add_rule_version(version)
        people.log(unit, actor, "rules.put", village_id or "township", None, asdict(version))
    return version


def replace_local(item: RuleItem, local: bool) -> RuleItem:
    """A village's items are always its own (``local``); the township's never."""
    return replace(item, local=local)


def _listing(found: Sequence[rulebook.RuleProblem]) -> Listing:
    return Listing.of((p.error for p in found), N_("list.lines"))


def rule_versions(record: CentralRecord) -> list[RuleVersion]:
    with record.store.read() as unit:
        return unit.awards.rule_versions()


def rules_in_force(record: CentralRecord, village_id: str, day: str | None = None) -> dict[str, RuleItem]:
    with record.store.read() as unit:
        return rulebook.in_force(unit.awards.rule_versions(), village_id, day or _today(record))


# ----- record, check, review -------------------------------------------------------------------------------------


def record_points(
    record: CentralRecord,
    people: People,
    actor: Actor,
    *,
    household_ids: Sequence[str],
    item_code: str,
    points: int,
    day: str,
    place: str,
    reason: str,
    source: str,
) -> list[wf.PointsRecord]:
    """One record per household for one event (a household, or a whole group that swept the road). All of
    them or none: a household that does not exist, is another village's than the person's, or is frozen
    (for a reward) refuses the whole event."""
    ids = list(dict.fromkeys(h.strip().upper() for h in household_ids if h.strip()))
    if not ids:
        raise LedgerError("workflow_no_household")
    if len(ids) > MAX_HOUSEHOLDS_PER_EVENT:
        raise LedgerError("workflow_too_many_households", count=len(ids), limit=MAX_HOUSEHOLDS_PER_EVENT)
    with record.write() as unit:
        recorder = _Recorder(unit, actor, _today(record), record.now())
        made = [recorder.one(h, item_code, points, day, place, reason, source) for h in ids]
        recorder.store()
        people.log(unit, actor, "points.record", ",".join(r.record_id for r in made)[:200], None, _said(made[0]))
    return made


class _Recorder:
    """Records made in one write unit: each checked (its village the person's, the item in force that day,
    the points in range), numbered in its village ("XF-000042", counted once per village, not once per
    record) and stored with its first step when the unit is done (one statement per table)."""

    def __init__(self, unit: CentralUnit, actor: Actor, today: str, at: str) -> None:
        self.unit, self.actor, self.today, self.at = unit, actor, today, at
        self.versions = unit.awards.rule_versions()
        self.next_number: dict[str, int] = {}
        self.made: list[wf.PointsRecord] = []
        self.steps: list[wf.Step] = []

    def one(
        self, household_id: str, item_code: str, points: int, day: str, place: str, reason: str, source: str
    ) -> wf.PointsRecord:
        household = self.unit.ledger.household(household_id)
        if household is None:
            raise LedgerError("household_unknown", household_id=household_id)
        village_id = household.village_id
        _check(self.actor.person, Action.RECORD_POINTS, village_id)
        item = rulebook.item_for(self.versions, village_id, day if _is_day(day) else self.today, item_code)
        if village_id not in self.next_number:
            self.next_number[village_id] = self.unit.awards.next_record_number(village_id)
        new, step = wf.record(
            record_id=f"{village_id}-{self.next_number[village_id]:06d}",
            village_id=village_id,
            household_id=household_id,
            household_frozen=household.status == HouseholdStatus.FROZEN,
            item=item,
            points=points,
            day=day,
            place=place,
            reason=reason,
            source=source,
            by=self.actor.person.user_id,
            at=self.at,
            today=self.today,
        )
        self.next_number[village_id] += 1
        self.made.append(new)
        self.steps.append(step)
        return new

    def store(self) -> None:
        self.unit.awards.add_records(self.made)
        self.unit.awards.add_steps(self.steps)


def import_records(record: CentralRecord, people: People, actor: Actor, path: Path) -> list[wf.PointsRecord]:
    """A score sheet of many records (户号, 项目编号, 分值, 日期, 事由, optionally 地点 and 来源): every row is
    recorded, or none, and every bad row is named by its number."""
    rows = rule_sheets.read_score_sheet(path)
    problems: list[tuple[int | None, LedgerError]] = []
    with record.write() as unit:
        recorder = _Recorder(unit, actor, _today(record), record.now())
        for row in rows:
            try:
                recorder.one(row.household_id, row.item_code, row.points, row.day, row.place, row.reason, row.source)
            except SyncError:
                problems.append((row.row, LedgerError("workflow_not_your_village", household_id=row.household_id)))
            except LedgerError as error:
                problems.append((row.row, error))
        if problems:
            raise ImportProblem(problems[:100])  # the write unit rolls back: nothing is kept
        recorder.store()
        people.log(unit, actor, "points.import", path.name[:200], None, {"records": len(recorder.made)})
    return recorder.made


def _is_day(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _said(current: wf.PointsRecord) -> dict[str, Any]:
    return {
        "record_id": current.record_id,
        "household_id": current.household_id,
        "item": current.item_code,
        "points": current.signed_points,
        "stage": str(current.stage),
    }


def _load(unit: CentralUnit, record_id: str) -> tuple[wf.PointsRecord, RuleItem]:
    """A record and the rule item it is scored against (as in force for its village on its day)."""
    current = unit.awards.record(record_id)
    if current is None:
        raise SyncError("not_found", what=f"record {record_id}")
    return current, _item_of(unit.awards.rule_versions(), current)


def _item_of(versions: Sequence[RuleVersion], current: wf.PointsRecord) -> RuleItem:
    """The rule item a record is scored against, as in force for its village on its day."""
    item = rulebook.in_force(versions, current.village_id, current.day).get(current.item_code)
    if item is None:  # switched off since: still judged by its recorded direction and the points it has
        item = RuleItem(
            current.item_code,
            current.item_name,
            "",
            current.direction,
            1,
            max(current.points, 1),
            zero_tolerance=current.zero_tolerance,
        )
    return item


def add_photo(
    record: CentralRecord, people: People, actor: Actor, record_id: str, media_type: str, content: bytes
) -> int:
    """A photo kept with a record: an image (JPEG, PNG, WebP, checked by its first bytes) of at most 2 MB."""
    if media_type not in PHOTO_TYPES or not _looks_like(media_type, content):
        raise LedgerError("photo_not_image")
    if len(content) > MAX_PHOTO_BYTES:
        raise LedgerError("photo_too_big", limit_mb=MAX_PHOTO_BYTES // (1024 * 1024))
    with record.write() as unit:
        current, _item = _load(unit, record_id)
        _check(actor.person, Action.RECORD_POINTS, current.village_id)
        if len(unit.awards.photos(record_id)) >= PHOTOS_PER_RECORD:
            raise LedgerError("photo_too_many", limit=PHOTOS_PER_RECORD)
        photo_id = unit.awards.add_photo(record_id, media_type, content, actor.person.user_id, record.now())
        people.log(unit, actor, "points.photo", record_id, None, {"photo_id": photo_id, "bytes": len(content)})
    return photo_id


def _looks_like(media_type: str, content: bytes) -> bool:
    if media_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    if media_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    return content[:4] == b"RIFF" and content[8:12] == b"WEBP"


def photo(record: CentralRecord, person: Person, photo_id: int) -> tuple[str, bytes]:
    with record.store.read() as unit:
        found = unit.awards.photo(photo_id)
        if found is None:
            raise SyncError("not_found", what=f"photo {photo_id}")
        current = unit.awards.record(found[0])
    _check(person, Action.READ_VILLAGE, current.village_id if current else None)
    return found[1], found[2]


def _step(
    record: CentralRecord,
    people: People,
    actor: Actor,
    record_id: str,
    action: Action,
    take: Callable[[CentralUnit, wf.PointsRecord, RuleItem], tuple[wf.PointsRecord, wf.Step]],
) -> wf.PointsRecord:
    """Load a record, check the person may ``action`` in its village, take the step, store it, log it."""
    with record.write() as unit:
        current, item = _load(unit, record_id)
        _check(actor.person, action, current.village_id)
        after, step = take(unit, current, item)
        unit.awards.put_record(after)
        unit.awards.add_steps([step])
        people.log(unit, actor, f"points.{step.action}", record_id, _said(current), _said(after))
    return after


def check_record(
    record: CentralRecord,
    people: People,
    actor: Actor,
    record_id: str,
    outcome: str,
    *,
    points: int | None = None,
    note: str = "",
) -> wf.PointsRecord:
    """The week's check of the facts (a clerk or a reviewer of the village)."""
    person = actor.person
    return _step(
        record,
        people,
        actor,
        record_id,
        Action.CHECK_POINTS,
        lambda _u, current, item: wf.check(
            current, item, outcome, by=person.user_id, at=record.now(), points=points, note=note
        ),
    )


def new_batch(
    record: CentralRecord, people: People, actor: Actor, village_id: str, meeting_day: str, attendees: str
) -> wf.Batch:
    """A review meeting of a village's committee: the day it met and who attended."""
    with record.write() as unit:
        if unit.ledger.village(village_id) is None:  # said before anyone hears they may not use it
            raise LedgerError("village_unknown", village_id=village_id or "—")
        _check(actor.person, Action.REVIEW_POINTS, village_id)
        draft = wf.new_batch(
            batch_id=0,
            village_id=village_id,
            number=0,
            meeting_day=meeting_day,
            attendees=attendees,
            by=actor.person.user_id,
            at=record.now(),
            today=_today(record),
        )
        made = unit.awards.add_batch(draft)
        people.log(unit, actor, "points.batch", f"{village_id}#{made.number}", None, asdict(made))
    return made


def _batch(unit: CentralUnit, batch_id: int) -> wf.Batch:
    found = unit.awards.batch(batch_id)
    if found is None:
        raise SyncError("not_found", what=f"batch {batch_id}")
    return found


def review_record(
    record: CentralRecord,
    people: People,
    actor: Actor,
    record_id: str,
    batch_id: int,
    outcome: str,
    *,
    points: int | None = None,
    note: str = "",
) -> wf.PointsRecord:
    """The committee's rating of a checked record in a meeting batch (never by the recorder)."""
    person = actor.person
    return _step(
        record,
        people,
        actor,
        record_id,
        Action.REVIEW_POINTS,
        lambda unit, current, item: wf.review(
            current, _batch(unit, batch_id), item, outcome, by=person.user_id, at=record.now(), points=points, note=note
        ),
    )


def check_all(
    record: CentralRecord, people: People, actor: Actor, record_ids: Sequence[str], outcome: str = "confirm"
) -> list[wf.PointsRecord]:
    """A clerk confirms a whole sheet's records at once (each still checked by the core's rule, all or none)."""
    return _steps_all(
        record,
        people,
        actor,
        record_ids,
        Action.CHECK_POINTS,
        lambda _unit, current, item: wf.check(current, item, outcome, by=actor.person.user_id, at=record.now()),
        "points.check.all",
    )


def review_all(
    record: CentralRecord, people: People, actor: Actor, batch_id: int, record_ids: Sequence[str]
) -> list[wf.PointsRecord]:
    """The meeting approves many checked records into its batch at once (never the reviewer's own)."""
    return _steps_all(
        record,
        people,
        actor,
        record_ids,
        Action.REVIEW_POINTS,
        lambda unit, current, item: wf.review(
            current, _batch(unit, batch_id), item, wf.Outcome.APPROVE, by=actor.person.user_id, at=record.now()
        ),
        "points.review.all",
    )


def _steps_all(
    record: CentralRecord,
    people: People,
    actor: Actor,
    record_ids: Sequence[str],
    action: Action,
    take: Callable[[CentralUnit, wf.PointsRecord, RuleItem], tuple[wf.PointsRecord, wf.Step]],
    logged: str,
) -> list[wf.PointsRecord]:
    """One step for many records in one database transaction: every one of them, or none."""
    done: list[wf.PointsRecord] = []
    steps: list[wf.Step] = []
    with record.write() as unit:
        versions = unit.awards.rule_versions()
        for current in unit.awards.records_by_id(list(dict.fromkeys(record_ids))):
            _check(actor.person, action, current.village_id)
            item = _item_of(versions, current)
            after, step = take(unit, current, item)
            done.append(after)
            steps.append(step)
        unit.awards.put_records(done)
        unit.awards.add_steps(steps)
        people.log(unit, actor, logged, f"{len(done)} records", None, {"records": [r.record_id for r in done][:50]})
    return done


def approve_zero_tolerance(record: CentralRecord, people: People, actor: Actor, record_id: str) -> wf.PointsRecord:
    """The township's approval a zero-tolerance item needs before its notice."""
    return _step(
        record,
        people,
        actor,
        record_id,
        Action.POST_POINTS,
        lambda _u, current, _item: wf.approve_zero_tolerance(current, by=actor.person.user_id, at=record.now()),
    )


# ----- notice, objections, issue ---------------------------------------------------------------------------------


def publish_batch(record: CentralRecord, people: People, actor: Actor, batch_id: int) -> wf.Batch:
    """The batch's approved records go on public notice (公示) from today for the township's notice days."""
    with record.write() as unit:
        batch = _batch(unit, batch_id)
        _check(actor.person, Action.REVIEW_POINTS, batch.village_id)
        notice_days = settings_of(unit).notice_days
        after, published, steps = wf.publish(
            batch,
            unit.awards.records(batch_id=batch_id, limit=100_000),
            by=actor.person.user_id,
            at=record.now(),
            today=_today(record),
            notice_days=notice_days,
        )
        unit.awards.put_batch(after)
        unit.awards.put_records(published)
        unit.awards.add_steps(steps)
        people.log(
            unit,
            actor,
            "points.notice",
            f"{batch.village_id}#{batch.number}",
            None,
            {"records": len(published), "until": after.window_until},
        )
    return after


def object_to(
    record: CentralRecord, people: People, actor: Actor, record_id: str, raised_by: str, says: str
) -> wf.Objection:
    """An objection a villager raised to a record under notice, written down by a clerk of the village."""
    with record.write() as unit:
        current, _item = _load(unit, record_id)
        _check(actor.person, Action.RECORD_POINTS, current.village_id)
        draft = wf.object_to(
            current,
            objection_id=0,
            raised_by=raised_by,
            says=says,
            by=actor.person.user_id,
            at=record.now(),
            today=_today(record),
        )
        made = unit.awards.add_objection(draft)
        unit.awards.add_steps(
            [wf.Step(record_id, "objection", actor.person.user_id, made.recorded_at, None, None, says[:200])]
        )
        people.log(unit, actor, "points.objection", record_id, None, asdict(made))
    return made


def resolve_objection(
    record: CentralRecord,
    people: People,
    actor: Actor,
    objection_id: int,
    outcome: str,
    *,
    note: str,
    points: int | None = None,
) -> tuple[wf.Objection, wf.PointsRecord]:
    """A reviewer's answer to an objection; a correction goes back on notice for a new window."""
    with record.write() as unit:
        objection = unit.awards.objection(objection_id)
        if objection is None:
            raise SyncError("not_found", what=f"objection {objection_id}")
        current, item = _load(unit, objection.record_id)
        _check(actor.person, Action.REVIEW_POINTS, current.village_id)
        notice_days = settings_of(unit).notice_days
        closed, after, step = wf.resolve(
            objection,
            current,
            item,
            outcome,
            by=actor.person.user_id,
            at=record.now(),
            today=_today(record),
            notice_days=notice_days,
            note=note,
            points=points,
        )
        unit.awards.put_objection(closed)
        unit.awards.put_record(after)
        unit.awards.add_steps([step])
        people.log(unit, actor, f"points.{step.action}", current.record_id, _said(current), _said(after))
    return closed, after


def issue_batch(record: CentralRecord, people: People, actor: Actor, batch_id: int) -> dict[str, Any]:
    """Post every record of the batch that may be issued today; say why each other one waits.

    One award, deduction or clearing per record, made by the township, naming the notice (``party``), with
    an id made from the record's (a second issue finds it issued); shops receive them at their next pull.
    Awards and deductions go in one append (``services.post_points_many``); a zero-tolerance clearing,
    which depends on the balance at that moment, one by one after them.
    """
    waiting: list[tuple[wf.PointsRecord, LedgerError]] = []
    with record.write() as unit:
        batch = _batch(unit, batch_id)
        allowed = may(actor.person, Action.POST_POINTS, Scope(village_id=batch.village_id)) or (
            settings_of(unit).village_issues
            and may(actor.person, Action.REVIEW_POINTS, Scope(village_id=batch.village_id))
        )
        if not allowed:
            raise SyncError("forbidden")
        today, when = _today(record), record.now()
        mine = [r for r in unit.awards.records(batch_id=batch_id, limit=100_000) if r.stage is wf.Stage.ON_NOTICE]
        opened = unit.awards.objections(record_ids=[r.record_id for r in mine], status="open") if mine else []
        frozen = unit.frozen_among([r.household_id for r in mine])
        party = wf.notice_party(batch.village_id, batch.number)
        ready: list[wf.PointsRecord] = []
        for current in mine:
            problem = wf.why_not_issuable(
                current, today=today, open_objections=opened, household_frozen=current.household_id in frozen
            )
            if problem is not None:
                waiting.append((current, problem))
            else:
                ready.append(current)
        plain = [r for r in ready if not r.zero_tolerance]
        ctx = record.context()
        posted = services.post_points_many(
            record.ledger,
            [
                services.PointsEntry(
                    TxnKind.AWARD if r.direction is Direction.REWARD else TxnKind.DEDUCT,
                    r.household_id,
                    r.points,
                    r.item_name,
                    _issued_id(r),
                    party,
                )
                for r in plain
            ],
            ctx,
        )
        posted += [
            services.clear_household(record.ledger, r.household_id, r.item_name, ctx, txn_id=_issued_id(r), party=party)
            for r in ready
            if r.zero_tolerance
        ]
        by_record = dict(zip([*plain, *(r for r in ready if r.zero_tolerance)], posted, strict=True))
        issued, steps = [], []
        for current, txn in by_record.items():
            after, step = wf.issued(current, txn.txn_id, by=actor.person.user_id, at=when)
            issued.append(after)
            steps.append(step)
        unit.awards.put_records(issued)
        unit.awards.add_steps(steps)
        log_txns(unit, posted, CENTRAL_DEVICE, when)
        owing = unit.in_debt([t.household_id for t in posted if t.kind == TxnKind.AWARD and t.household_id])
        for txn in posted:
            if txn.kind == TxnKind.AWARD and txn.household_id in owing:
                rules.repay_after_award(unit, txn, when)
        if issued:
            people.log(
                unit,
                actor,
                "points.issue",
                f"{batch.village_id}#{batch.number}",
                None,
                {"issued": len(issued), "waiting": len(waiting)},
            )
    return {
        "batch": batch.number,
        "village_id": batch.village_id,
        "issued": [_said(r) for r in issued],
        "waiting": [{**_said(r), "why": problem} for r, problem in waiting],
    }


def _issued_id(current: wf.PointsRecord) -> str:
    return str(uuid.uuid5(ISSUE_NAMESPACE, current.record_id))


# ----- reading -----------------------------------------------------------------------------------------------


def records_of(
    record: CentralRecord,
    person: Person,
    *,
    village_id: str | None,
    stage: str | None = None,
    household_id: str | None = None,
    batch_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[wf.PointsRecord]:
    """Records a person may read: of one village, or of every village they read."""
    if village_id is not None:
        _check(person, Action.READ_VILLAGE, village_id)
        villages = None
    elif may(person, Action.READ_VILLAGE, Scope()):
        villages = None
    else:
        villages = sorted(person.villages)
    with record.store.read() as unit:
        return unit.awards.records(
            village_id=village_id,
            villages=villages,
            stage=stage,
            household_id=household_id,
            batch_id=batch_id,
            offset=offset,
            limit=limit,
        )


def record_detail(record: CentralRecord, person: Person, record_id: str) -> dict[str, Any]:
    """A record with every step, its objections and its photos: the auditor follows it from event to shelf."""
    with record.store.read() as unit:
        current = unit.awards.record(record_id)
        if current is None:
            raise SyncError("not_found", what=f"record {record_id}")
        _check(person, Action.READ_VILLAGE, current.village_id)
        steps = unit.awards.steps(record_id)
        users = {s.by for s in steps}
        names = {u: user.full_name or user.name for u in users if (user := unit.people.user(u)) is not None}
        return {
            "record": current,
            "steps": steps,
            "names": names,
            "objections": unit.awards.objections(record_ids=[record_id]),
            "photos": unit.awards.photos(record_id),
            "batch": unit.awards.batch(current.batch_id) if current.batch_id else None,
        }


def late_checks(record: CentralRecord, village_id: str | None) -> tuple[int, int]:
    """(records waiting for their check longer than the township allows, the days it allows): the overview's
    flag."""
    with record.store.read() as unit:
        days = settings_of(unit).check_days
        before = (datetime.fromisoformat(record.now()).date() - timedelta(days=days)).isoformat()
        return unit.awards.count_records(village_id, str(wf.Stage.RECORDED), before), days


def batches_of(record: CentralRecord, person: Person, village_id: str | None) -> list[wf.Batch]:
    """Review batches of one village, or of every village the person reads, newest first."""
    if village_id is not None:
        _check(person, Action.READ_VILLAGE, village_id)
    with record.store.read() as unit:
        found = unit.awards.batches(village_id)
    if village_id is None and not may(person, Action.READ_VILLAGE, Scope()):
        found = [b for b in found if may(person, Action.READ_VILLAGE, Scope(village_id=b.village_id))]
    return found


def batch_detail(record: CentralRecord, person: Person, batch_id: int) -> dict[str, Any]:
    """A batch, its records, the village's checked records that wait for a batch, and the open objections."""
    with record.store.read() as unit:
        batch = _batch(unit, batch_id)
        _check(person, Action.READ_VILLAGE, batch.village_id)
        mine = unit.awards.records(batch_id=batch_id, limit=100_000)
        checked = [] if batch.published else unit.awards.records(village_id=batch.village_id, stage="checked")
        objections = unit.awards.objections(record_ids=[r.record_id for r in mine]) if mine else []
    return {"batch": batch, "records": mine, "checked": checked, "objections": objections}


def notice(record: CentralRecord, batch_id: int) -> dict[str, Any]:
    """What the village's notice board shows of a published batch (公示): each household head's name with
    the item, the points and the reason, the window, how to object. Nothing else about the households."""
    with record.store.read() as unit:
        batch = _batch(unit, batch_id)
        if not batch.published:
            raise LedgerError("workflow_batch_not_published", batch=batch.number)
        village = unit.ledger.village(batch.village_id)
        township = unit.ledger.township()
        mine = [
            r
            for r in unit.awards.records(batch_id=batch_id, limit=100_000)
            if r.stage in (wf.Stage.ON_NOTICE, wf.Stage.ISSUED)
        ]
        names = {h: unit.ledger.household(h) for h in {r.household_id for r in mine}}
    rows = [
        {
            "record_id": r.record_id,
            "household_id": r.household_id,  # for the shop's kiosk ("your items"); the public page leaves it out
            "name": _head(names.get(r.household_id), r.household_id),
            "item": r.item_name,
            "points": r.signed_points,
            "zero_tolerance": r.zero_tolerance,
            "issued": r.stage is wf.Stage.ISSUED,
            "reason": r.reason,
            "until": r.notice_until,
        }
        for r in sorted(mine, key=lambda r: r.record_id)
    ]
    return {
        "township": township.name if township else "",
        "village_id": batch.village_id,
        "village": village.name if village else batch.village_id,
        "number": batch.number,
        "meeting_day": batch.meeting_day,
        "window_from": batch.window_from,
        "window_until": max([batch.window_until or "", *(r["until"] or "" for r in rows)]),
        "rows": rows,
    }


def public_notices(record: CentralRecord, village_id: str, today: date) -> list[dict[str, Any]]:
    """The notices of a village whose window is open today (or closed within the last week), for the public
    page and the kiosks: no sign-in, so nothing beyond the notice itself."""
    shown: list[dict[str, Any]] = []
    since = today.toordinal() - 7
    with record.store.read() as unit:
        batches = unit.awards.batches(village_id, published=True)
    for batch in batches:
        found = notice(record, batch.batch_id)
        if found["window_until"] and date.fromisoformat(found["window_until"]).toordinal() >= since:
            shown.append(found)
    return shown


def village_board(record: CentralRecord, village_id: str, today: date | None = None) -> board.VillageBoard:
    """What a village's kiosks show beside the ranking: the rules in force today (switched-off items left
    out) and the notices the public page shows (``ledger.board``)."""
    today = today or date.fromisoformat(_today(record))
    rules = tuple(r for r in rules_for_sheet(record, village_id, today.isoformat()) if r.active)
    notices = tuple(
        board.Notice(
            number=n["number"],
            village=n["village"],
            window_from=n["window_from"] or "",
            window_until=n["window_until"] or "",
            lines=tuple(
                board.NoticeLine(
                    r["household_id"], r["name"], r["item"], r["points"], r["reason"], r["zero_tolerance"], r["issued"]
                )
                for r in n["rows"]
            ),
        )
        for n in public_notices(record, village_id, today)
    )
    return board.VillageBoard(village_id, rules, notices, made_at=record.now())


def board_for_shop(record: CentralRecord, shop_id: str) -> board.VillageBoard:
    """The board of a shop's village (an empty one for a shop the record does not place in a village)."""
    with record.store.read() as unit:
        shop = unit.ledger.shop(shop_id)
    if shop is None or not shop.village_id:
        return board.EMPTY_BOARD
    return village_board(record, shop.village_id)


def _head(household: Any, household_id: str) -> str:
    return str(household.head_name) if household is not None else household_id


# ----- the rules as a spreadsheet and as a notice-board sheet ------------------------------------------------


def import_rules(
    record: CentralRecord,
    people: People,
    actor: Actor,
    path: Path,
    *,
    village_id: str | None,
    effective_from: str,
    note: str = "",
) -> RuleVersion:
    """A new version of the rules from a sheet (``ledger.rule_sheets``): every row, or none."""
    township_items = None
    if village_id is not None:
        with record.store.read() as unit:
            base = rulebook.version_on(unit.awards.rule_versions(), effective_from, None)
        township_items = {i.code: i for i in base.items} if base else {}
    items, changes = rule_sheets.read_rules(path, township_items)
    return put_rules(
        record,
        people,
        actor,
        village_id=village_id,
        effective_from=effective_from,
        items=items,
        changes=changes,
        note=note,
    )


def rules_for_sheet(record: CentralRecord, village_id: str | None, day: str | None = None) -> list[RuleItem]:
    """The items to print or export: a village's in force (its changes applied), or the township's version
    in force with the items it has switched off."""
    day = day or _today(record)
    with record.store.read() as unit:
        versions = unit.awards.rule_versions()
    if village_id is not None:
        return list(rulebook.in_force(versions, village_id, day).values())
    township = rulebook.version_on(versions, day, None)
    return list(township.items) if township else []


def rules_xlsx(record: CentralRecord, village_id: str | None, lang: str) -> bytes:
    return tables_xlsx([rule_sheets.rules_table(rules_for_sheet(record, village_id), lang)])
