"""The award workflow's pure rules (``ledger.workflow``): record → check → review → notice → objection → issue."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import workflow as wf
from ledger.errors import LedgerError
from ledger.rulebook import Direction, RuleItem
from ledger.workflow import ObjectionStatus, Outcome, Stage

YARD = RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10)
DRUNK = RuleItem("Z01", "酒驾", "零容忍", Direction.PENALTY, 1, 1, zero_tolerance=True)
CLERK, REVIEWER, OTHER_REVIEWER, ADMIN = 1, 2, 3, 9
DAY0 = "2026-11-02"


def day(n: int) -> str:
    return (date.fromisoformat(DAY0) + timedelta(days=n)).isoformat()


def record_args(**changes: Any) -> dict[str, Any]:
    """The arguments of ``wf.record`` for a yard-tidiness record of XF0001 today, with ``changes``."""
    made = {
        "record_id": "R9",
        "village_id": "XF",
        "household_id": "XF0001",
        "household_frozen": False,
        "item": YARD,
        "points": 5,
        "day": day(0),
        "place": "",
        "reason": "x",
        "source": "declaration",
        "by": CLERK,
        "at": day(0),
        "today": day(0),
    }
    return {**made, **changes}


def recorded(record_id: str = "R1", item: RuleItem = YARD, points: int = 5, by: int = CLERK) -> wf.PointsRecord:
    made, step = wf.record(
        **record_args(
            record_id=record_id,
            item=item,
            points=points,
            place="村东头",
            reason="庭院干净整洁",
            source="cadre_visit",
            by=by,
            at=day(0) + "T09:00:00+08:00",
        )
    )
    assert step.action == "record" and step.points_after == points
    return made


def batch(number: int = 1) -> wf.Batch:
    return wf.new_batch(
        batch_id=number,
        village_id="XF",
        number=number,
        meeting_day=day(2),
        attendees="张三、李四、王五",
        by=REVIEWER,
        at=day(2),
        today=day(2),
    )


def on_notice(item: RuleItem = YARD) -> tuple[wf.Batch, wf.PointsRecord]:
    record, _ = wf.check(recorded(item=item, points=item.low), item, Outcome.CONFIRM, by=CLERK, at=day(1))
    meeting = batch()
    record, _ = wf.review(record, meeting, item, Outcome.APPROVE, by=REVIEWER, at=day(2))
    if item.zero_tolerance:
        record, _ = wf.approve_zero_tolerance(record, by=ADMIN, at=day(2))
    published, records, steps = wf.publish(meeting, [record], by=REVIEWER, at=day(3), today=day(3), notice_days=5)
    assert [s.action for s in steps] == ["notice"]
    return published, records[0]


def refused(code: str, call, *args, **kwargs) -> None:  # noqa: ANN001
    with pytest.raises(LedgerError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message("en")


def test_a_record_goes_from_the_event_to_the_shelf_and_every_step_names_who() -> None:
    meeting, record = on_notice()
    assert meeting.window_from == day(3) and meeting.window_until == day(7)  # five days, inclusive
    assert record.stage is Stage.ON_NOTICE and record.notice_until == day(7)
    no = wf.why_not_issuable(record, today=day(7), open_objections=[], household_frozen=False)
    assert no is not None and no.code == "workflow_notice_open"
    assert wf.why_not_issuable(record, today=day(8), open_objections=[], household_frozen=False) is None
    done, step = wf.issued(record, "TXN-1", by=ADMIN, at=day(8))
    assert done.stage is Stage.ISSUED and done.issued_txn_id == "TXN-1" and step.by == ADMIN
    refused("workflow_wrong_stage", wf.issued, done, "TXN-2", by=ADMIN, at=day(9))  # issuing twice issues once


def test_nobody_reviews_their_own_record() -> None:
    record, _ = wf.check(recorded(by=REVIEWER), YARD, Outcome.CONFIRM, by=CLERK, at=day(1))
    refused("review_own_record", wf.review, record, batch(), YARD, Outcome.APPROVE, by=REVIEWER, at=day(2))
    approved, step = wf.review(record, batch(), YARD, Outcome.APPROVE, by=OTHER_REVIEWER, at=day(2))
    assert approved.reviewed_by == OTHER_REVIEWER and step.batch_id == 1


def test_check_and_review_change_points_only_within_the_range_and_with_a_reason() -> None:
    record = recorded()
    refused("rule_points_range", wf.check, record, YARD, Outcome.CORRECT, by=CLERK, at=day(1), points=11, note="多记")
    refused("workflow_text_invalid", wf.check, record, YARD, Outcome.CORRECT, by=CLERK, at=day(1), points=3)
    corrected, step = wf.check(record, YARD, Outcome.CORRECT, by=CLERK, at=day(1), points=3, note="只扫了一半")
    assert corrected.points == 3 and (step.points_before, step.points_after, step.note) == (5, 3, "只扫了一半")
    refused("workflow_wrong_stage", wf.check, corrected, YARD, Outcome.CONFIRM, by=CLERK, at=day(1))
    rejected, _ = wf.review(corrected, batch(), YARD, Outcome.REJECT, by=REVIEWER, at=day(2), note="不属实")
    assert rejected.stage is Stage.REJECTED and rejected.stage.final
    refused(
        "workflow_batch_empty", wf.publish, batch(), [rejected], by=REVIEWER, at=day(3), today=day(3), notice_days=5
    )


def test_an_objection_holds_the_item_and_an_upheld_change_goes_back_to_notice() -> None:
    _meeting, record = on_notice()
    objection = wf.object_to(
        record, objection_id=1, raised_by="赵大爷", says="他家院子并不干净", by=CLERK, at=day(4), today=day(4)
    )
    no = wf.why_not_issuable(record, today=day(9), open_objections=[objection], household_frozen=False)
    assert no is not None and no.code == "workflow_objection_open"
    refused(
        "review_own_record",
        wf.resolve,
        objection,
        record,
        YARD,
        Outcome.DISMISS,
        by=CLERK,
        at=day(5),
        today=day(5),
        notice_days=5,
        note="x",
    )
    closed, changed, step = wf.resolve(
        objection,
        record,
        YARD,
        Outcome.CORRECT,
        by=REVIEWER,
        at=day(6),
        today=day(6),
        notice_days=5,
        points=2,
        note="核实后改为 2 分",
    )
    assert closed.status is ObjectionStatus.UPHELD and changed.points == 2 and step.action == "objection.correct"
    assert changed.notice_until == day(10)  # a new window of five days from the change
    assert wf.why_not_issuable(changed, today=day(10), open_objections=[closed], household_frozen=False) is not None
    assert wf.why_not_issuable(changed, today=day(11), open_objections=[closed], household_frozen=False) is None
    refused(
        "workflow_notice_closed",
        wf.object_to,
        changed,
        objection_id=2,
        raised_by="x",
        says="y",
        by=CLERK,
        at=day(11),
        today=day(11),
    )
    refused(
        "objection_closed",
        wf.resolve,
        closed,
        changed,
        YARD,
        Outcome.DISMISS,
        by=REVIEWER,
        at=day(7),
        today=day(7),
        notice_days=5,
        note="x",
    )


def test_an_upheld_objection_may_withdraw_the_item() -> None:
    _meeting, record = on_notice()
    objection = wf.object_to(
        record, objection_id=1, raised_by="赵大爷", says="不属实", by=CLERK, at=day(4), today=day(4)
    )
    _closed, withdrawn, _ = wf.resolve(
        objection, record, YARD, Outcome.WITHDRAW, by=REVIEWER, at=day(5), today=day(5), notice_days=5, note="属实"
    )
    assert withdrawn.stage is Stage.WITHDRAWN
    assert wf.why_not_issuable(withdrawn, today=day(30), open_objections=[], household_frozen=False) is not None


def test_a_zero_tolerance_item_needs_the_townships_approval_before_its_notice() -> None:
    record, _ = wf.check(recorded(item=DRUNK, points=1), DRUNK, Outcome.CONFIRM, by=CLERK, at=day(1))
    meeting = batch()
    record, _ = wf.review(record, meeting, DRUNK, Outcome.APPROVE, by=REVIEWER, at=day(2))
    refused(
        "workflow_zero_tolerance_unapproved",
        wf.publish,
        meeting,
        [record],
        by=REVIEWER,
        at=day(3),
        today=day(3),
        notice_days=5,
    )
    refused(
        "workflow_not_zero_tolerance",
        wf.approve_zero_tolerance,
        replace(record, zero_tolerance=False),
        by=ADMIN,
        at=day(2),
    )
    _meeting, published = on_notice(DRUNK)
    assert published.approved_by_township == ADMIN and published.signed_points == -1


def test_a_frozen_household_receives_no_award() -> None:
    refused("household_frozen_no_award", wf.record, **record_args(household_frozen=True))
    _meeting, record = on_notice()
    no = wf.why_not_issuable(record, today=day(9), open_objections=[], household_frozen=True)
    assert no is not None and no.code == "household_frozen_no_award"


def test_bad_input_is_refused_in_plain_words() -> None:
    refused("workflow_day_future", wf.record, **record_args(day=day(1)))
    with pytest.raises(LedgerError) as caught:
        wf.record(**record_args(reason="  "))  # the reason is required
    assert caught.value.message("zh") == "请填写事由（最多 200 字）。"
    refused("workflow_source_invalid", wf.record, **record_args(source="rumour"))
    record = recorded()
    with pytest.raises(LedgerError) as caught:
        wf.review(record, batch(), YARD, Outcome.APPROVE, by=REVIEWER, at=day(2))
    assert "待核查" in caught.value.message("zh")


def test_records_left_unchecked_past_the_policys_days_are_flagged() -> None:
    old = replace(recorded("R1"), recorded_at=day(0) + "T09:00:00+08:00")
    new = replace(recorded("R2"), recorded_at=day(5) + "T09:00:00+08:00")
    checked, _ = wf.check(recorded("R3"), YARD, Outcome.CONFIRM, by=CLERK, at=day(1))
    assert [r.record_id for r in wf.overdue_for_check([old, new, checked], day(8), 7)] == ["R1"]


# ----- a state machine over the whole workflow --------------------------------------------------------------

EVERYONE = [CLERK, REVIEWER, OTHER_REVIEWER]
PEOPLE = st.sampled_from(EVERYONE)
NOTICE_DAYS = 3
POINTS = st.one_of(st.integers(1, 10), st.integers(-2, 12))  # mostly right, sometimes not


class Workflow(RuleBasedStateMachine):
    """Any order of steps by anyone on any day: what gets issued was checked, reviewed by someone other than
    its recorder, on notice for a window that closed, with no objection open, and is issued once.

    Each step mostly picks a record in the stage it applies to (so that whole paths happen), and sometimes
    any record (so that steps out of order are tried and must be refused)."""

    def __init__(self) -> None:
        super().__init__()
        self.today = 0
        self.state: dict[str, wf.PointsRecord] = {}
        self.batch_state: dict[int, wf.Batch] = {}
        self.objection_state: dict[int, wf.Objection] = {}
        self.checked: set[str] = set()
        self.window_ends: dict[str, int] = {}  # record -> the last day of its latest window, by the model's count
        self.issued: list[str] = []

    def _try(self, call, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return call(*args, **kwargs)
        except LedgerError:
            return None

    def _pick(self, data: st.DataObject, *stages: Stage) -> wf.PointsRecord | None:
        fitting = [r for r in self.state.values() if r.stage in stages]
        anything = list(self.state.values())
        if not anything:
            return None
        if fitting and data.draw(st.integers(0, 9)) < 8:
            return data.draw(st.sampled_from(fitting))
        return data.draw(st.sampled_from(anything))

    @staticmethod
    def _someone_else(data: st.DataObject, record: wf.PointsRecord) -> int:
        """Mostly someone other than the recorder (whose review must be refused when it is tried)."""
        others = [p for p in EVERYONE if p != record.recorded_by]
        return data.draw(st.sampled_from(others if data.draw(st.integers(0, 9)) < 8 else EVERYONE))

    @staticmethod
    def _item(record: wf.PointsRecord) -> RuleItem:
        return DRUNK if record.zero_tolerance else YARD

    @rule(by=PEOPLE, points=POINTS, zero=st.integers(0, 9))
    def record(self, by: int, points: int, zero: int) -> None:
        record_id = f"R{len(self.state) + 1}"
        item = DRUNK if zero == 0 else YARD
        made = self._try(
            wf.record,
            record_id=record_id,
            village_id="XF",
            household_id="XF0001",
            household_frozen=False,
            item=item,
            points=1 if item is DRUNK else points,
            day=day(self.today),
            place="",
            reason="事由",
            source="declaration",
            by=by,
            at=day(self.today),
            today=day(self.today),
        )
        if made is not None:
            self.state[record_id] = made[0]

    @rule(
        data=st.data(),
        by=PEOPLE,
        points=POINTS,
        outcome=st.sampled_from([Outcome.CONFIRM, Outcome.CONFIRM, Outcome.CORRECT, Outcome.REJECT]),
    )
    def check(self, data: st.DataObject, by: int, outcome: Outcome, points: int) -> None:
        current = self._pick(data, Stage.RECORDED)
        if current is None:
            return
        done = self._try(
            wf.check, current, self._item(current), outcome, by=by, at=day(self.today), points=points, note="理由"
        )
        if done is not None:
            self.state[current.record_id] = done[0]
            self.checked.add(current.record_id)

    @rule(by=PEOPLE)
    def meet(self, by: int) -> None:
        number = len(self.batch_state) + 1
        self.batch_state[number] = wf.new_batch(
            batch_id=number,
            village_id="XF",
            number=number,
            meeting_day=day(self.today),
            attendees="评议小组",
            by=by,
            at=day(self.today),
            today=day(self.today),
        )

    @rule(
        data=st.data(),
        points=POINTS,
        outcome=st.sampled_from([Outcome.APPROVE, Outcome.APPROVE, Outcome.CORRECT, Outcome.REJECT]),
    )
    def review(self, data: st.DataObject, outcome: Outcome, points: int) -> None:
        current = self._pick(data, Stage.CHECKED)
        if current is None or not self.batch_state:
            return
        by = self._someone_else(data, current)
        meeting = self.batch_state[data.draw(st.sampled_from(sorted(self.batch_state)))]
        done = self._try(
            wf.review,
            current,
            meeting,
            self._item(current),
            outcome,
            by=by,
            at=day(self.today),
            points=points,
            note="理由",
        )
        if done is not None:
            assert by != current.recorded_by and not meeting.published
            self.state[current.record_id] = done[0]

    @rule(data=st.data())
    def township_approves(self, data: st.DataObject) -> None:
        current = self._pick(data, Stage.APPROVED)
        if current is not None:
            done = self._try(wf.approve_zero_tolerance, current, by=ADMIN, at=day(self.today))
            if done is not None:
                self.state[current.record_id] = done[0]

    @rule(data=st.data(), by=PEOPLE)
    def publish(self, data: st.DataObject, by: int) -> None:
        waiting = sorted({r.batch_id for r in self.state.values() if r.stage is Stage.APPROVED and r.batch_id})
        choices = waiting if waiting and data.draw(st.integers(0, 9)) < 8 else sorted(self.batch_state)
        if not choices:
            return
        meeting = self.batch_state[data.draw(st.sampled_from(choices))]
        done = self._try(
            wf.publish,
            meeting,
            list(self.state.values()),
            by=by,
            at=day(self.today),
            today=day(self.today),
            notice_days=NOTICE_DAYS,
        )
        if done is not None:
            self.batch_state[meeting.batch_id] = done[0]
            for r in done[1]:
                assert not r.zero_tolerance or r.approved_by_township is not None
                self.state[r.record_id] = r
                self.window_ends[r.record_id] = self.today + NOTICE_DAYS - 1

    @rule(data=st.data())
    def object(self, data: st.DataObject) -> None:
        current = self._pick(data, Stage.ON_NOTICE)
        if current is None:
            return
        number = len(self.objection_state) + 1
        made = self._try(
            wf.object_to,
            current,
            objection_id=number,
            raised_by="村民",
            says="不同意",
            by=CLERK,
            at=day(self.today),
            today=day(self.today),
        )
        if made is not None:
            assert self.today <= self.window_ends[current.record_id]
            self.objection_state[number] = made

    @rule(
        data=st.data(),
        points=POINTS,
        outcome=st.sampled_from([Outcome.DISMISS, Outcome.CORRECT, Outcome.WITHDRAW]),
    )
    def resolve(self, data: st.DataObject, outcome: Outcome, points: int) -> None:
        if not self.objection_state:
            return
        objection = self.objection_state[data.draw(st.sampled_from(sorted(self.objection_state)))]
        current = self.state[objection.record_id]
        by = self._someone_else(data, current)
        done = self._try(
            wf.resolve,
            objection,
            current,
            self._item(current),
            outcome,
            by=by,
            at=day(self.today),
            today=day(self.today),
            notice_days=NOTICE_DAYS,
            note="处理意见",
            points=points,
        )
        if done is not None:
            closed, after, _step = done
            assert by != current.recorded_by and objection.status is ObjectionStatus.OPEN
            self.objection_state[objection.objection_id] = closed
            self.state[after.record_id] = after
            if outcome is Outcome.CORRECT:
                assert after.stage is Stage.ON_NOTICE  # a change made by an upheld objection goes back to notice
                self.window_ends[after.record_id] = self.today + NOTICE_DAYS - 1

    @rule(days=st.integers(1, 4))
    def time_passes(self, days: int) -> None:
        self.today += days

    @rule(data=st.data())
    def issue(self, data: st.DataObject) -> None:
        current = self._pick(data, Stage.ON_NOTICE)
        if current is None:
            return
        record_id = current.record_id
        opened = [o for o in self.objection_state.values() if o.status is ObjectionStatus.OPEN]
        if wf.why_not_issuable(current, today=day(self.today), open_objections=opened, household_frozen=False):
            return
        assert record_id in self.checked and record_id not in self.issued
        assert current.reviewed_by is not None and current.reviewed_by != current.recorded_by
        assert self.today > self.window_ends[record_id]
        assert not any(o.record_id == record_id for o in opened)
        self.state[record_id], _ = wf.issued(current, f"T-{record_id}", by=ADMIN, at=day(self.today))
        self.issued.append(record_id)

    @invariant()
    def issued_once(self) -> None:
        assert len(self.issued) == len(set(self.issued))
        assert {r for r, v in self.state.items() if v.stage is Stage.ISSUED} == set(self.issued)


Workflow.TestCase.settings = settings(max_examples=150, stateful_step_count=80, deadline=None)
test_the_workflow_issues_only_what_went_through_every_step = Workflow.TestCase
