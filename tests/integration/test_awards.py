"""The award workflow at a real central record (``sync.server.awards``), on SQLite and PostgreSQL: rules, record,
check, review, notice, objection, issue; then what a shop pulls and what its kiosk says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.access import ConsoleRole, Grant
from ledger.errors import LedgerError
from ledger.history import describe
from ledger.model import Member, Policy, TxnKind
from ledger.rulebook import Direction, RuleItem, VillageChange
from ledger.workflow import Stage
from lovemart_tools.demo import SimulatedClock
from sync.errors import SyncError
from sync.server import awards, township
from sync.server.people import SYSTEM, Actor, People
from sync.server.record import CentralRecord

YARD = RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10, village_low=1, village_high=20)
VOLUNTEER = RuleItem("B01", "参加志愿服务", "贡献分", Direction.REWARD, 5, 5)
LITTER = RuleItem("C01", "乱倒垃圾", "评议分", Direction.PENALTY, 2, 5)
DRUNK = RuleItem("Z01", "酒驾", "零容忍", Direction.PENALTY, 1, 1, zero_tolerance=True)


class Town:
    def __init__(self, url: str) -> None:
        self.clock = SimulatedClock(datetime(2026, 11, 2, 9, 0).astimezone())
        self.record = CentralRecord.open(url, clock=self.clock)
        self.record.initialise("T01", "红星镇", Policy(base_points=100, redeemable_floor=100))
        township.put_village(self.record, "XF", "幸福村")
        township.put_village(self.record, "HP", "和平村")
        township.put_shop(self.record, "S01", "幸福村爱心超市", "XF")
        for n, village in ((1, "XF"), (2, "XF"), (3, "XF"), (4, "HP")):
            township.put_household(
                self.record,
                township.HouseholdInput(f"{village}{n:04d}", village, f"户主{n}", "S01", (Member(f"户主{n}", "户主"),)),
            )
        self.people = People(self.record)
        system = Actor(SYSTEM, "test")
        self.actors = {}
        for name, grant in (
            ("wang", Grant(ConsoleRole.ADMIN)),
            ("li", Grant(ConsoleRole.CLERK, village_id="XF")),
            ("chen", Grant(ConsoleRole.REVIEWER, village_id="XF")),
            ("zhang", Grant(ConsoleRole.REVIEWER, village_id="XF")),
            ("zhao", Grant(ConsoleRole.AUDITOR)),
            ("hp", Grant(ConsoleRole.CLERK, village_id="HP")),
        ):
            user = self.people.add_user(system, name, name, None, [grant])
            self.actors[name] = Actor(user.person, "127.0.0.1")
        awards.put_rules(
            self.record,
            self.people,
            self.actors["wang"],
            village_id=None,
            effective_from="2026-01-01",
            items=[YARD, VOLUNTEER, LITTER, DRUNK],
        )

    def recorded(
        self,
        who: str,
        households: list[str],
        item: str,
        points: int,
        day: str,
        reason: str,
        source: str,
        place: str = "",
    ) -> list[Any]:
        """``who`` records one event for ``households`` (one record each)."""
        return awards.record_points(
            self.record,
            self.people,
            self.actors[who],
            household_ids=households,
            item_code=item,
            points=points,
            day=day,
            place=place,
            reason=reason,
            source=source,
        )

    def days_pass(self, days: int) -> None:
        self.clock.now = self.clock.now + timedelta(days=days)

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


@pytest.fixture(params=["sqlite", "postgresql"])
def town(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    url = (
        f"sqlite:///{tmp_path / 'central.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    made = Town(url)
    yield made
    made.record.close()


def test_a_batch_goes_from_record_to_the_shelf(town: Town) -> None:
    record, people = town.record, town.people
    yard = town.recorded("li", ["XF0001"], "A01", 8, "2026-11-01", "庭院干净整洁", "cadre_visit", place="村东")[0]
    # A whole group that swept the road: one record per household, numbered in the village.
    group = town.recorded("li", ["XF0002", "XF0003"], "B01", 5, "2026-11-01", "清扫村道", "declaration", place="村道")
    assert [r.record_id for r in [yard, *group]] == ["XF-000001", "XF-000002", "XF-000003"]
    for r in (yard, *group):
        awards.check_record(record, people, town["li"], r.record_id, "confirm")
    batch = awards.new_batch(record, people, town["chen"], "XF", "2026-11-02", "陈国强、张伟、村民代表三人")
    assert batch.number == 1
    awards.review_record(
        record, people, town["chen"], yard.record_id, batch.batch_id, "correct", points=6, note="东侧堆放杂物"
    )
    for r in group:
        awards.review_record(record, people, town["chen"], r.record_id, batch.batch_id, "approve")
    published = awards.publish_batch(record, people, town["chen"], batch.batch_id)
    assert (published.window_from, published.window_until) == ("2026-11-02", "2026-11-06")
    objection = awards.object_to(record, people, town["li"], group[1].record_id, "王大爷", "那天他家没人去扫")
    town.days_pass(5)  # the window has closed
    result = awards.issue_batch(record, people, town["wang"], batch.batch_id)
    assert [r["record_id"] for r in result["issued"]] == ["XF-000001", "XF-000002"]
    assert [(r["record_id"], r["why"].code) for r in result["waiting"]] == [("XF-000003", "workflow_objection_open")]
    # The objection is dismissed (with the reason): the record may then be issued.
    _closed, corrected = awards.resolve_objection(
        record, people, town["zhang"], objection.objection_id, "dismiss", note="核实确有参加"
    )
    assert corrected.stage is Stage.ON_NOTICE
    again = awards.issue_batch(record, people, town["wang"], batch.batch_id)
    assert [r["record_id"] for r in again["issued"]] == ["XF-000003"] and again["waiting"] == []
    assert awards.issue_batch(record, people, town["wang"], batch.batch_id)["issued"] == []  # twice is once
    with record.store.read() as unit:
        txns = [t for t in unit.ledger.transactions(household_id="XF0001") if t.kind == TxnKind.AWARD]
        assert [(t.points_of("household:XF0001"), t.memo, t.party) for t in txns] == [(6, "庭院整洁", "notice:XF:1")]
        said = describe(unit.ledger, txns[0], "XF0001").said
        assert said.message("zh") == "庭院整洁（第 1 批公示）"
        detail = awards.record_detail(record, town["zhao"].person, yard.record_id)
    assert [s.action for s in detail["steps"]] == ["record", "check.confirm", "review.correct", "notice", "issue"]
    assert [(s.points_before, s.points_after, s.note) for s in detail["steps"]][2] == (8, 6, "东侧堆放杂物")


def test_nobody_reviews_their_own_record_and_a_village_sees_only_its_own(town: Town) -> None:
    record, people = town.record, town.people
    own = town.recorded("li", ["XF0001"], "C01", 3, "2026-11-02", "乱倒垃圾", "neighbours")[0]
    awards.check_record(record, people, town["li"], own.record_id, "confirm")
    batch = awards.new_batch(record, people, town["chen"], "XF", "2026-11-02", "评议小组")
    with pytest.raises(SyncError):
        awards.review_record(record, people, town["li"], own.record_id, batch.batch_id, "approve")  # a clerk
    with pytest.raises(SyncError):
        town.recorded("hp", ["XF0002"], "A01", 3, "2026-11-02", "x", "declaration")
    assert awards.records_of(record, town["hp"].person, village_id=None) == []
    assert len(awards.records_of(record, town["zhao"].person, village_id=None)) == 1
    # A reviewer who recorded it themselves is refused by the core rule.
    mine = town.recorded("wang", ["XF0002"], "A01", 3, "2026-11-02", "x", "declaration")[0]
    awards.check_record(record, people, town["li"], mine.record_id, "confirm")
    with pytest.raises(LedgerError) as refused:
        awards.review_record(record, people, town["wang"], mine.record_id, batch.batch_id, "approve")
    assert refused.value.code == "review_own_record"


def test_a_village_moves_an_item_within_its_bounds_and_a_zero_tolerance_item_clears_and_freezes(town: Town) -> None:
    record, people = town.record, town.people
    awards.put_rules(
        record,
        people,
        town["li"],
        village_id="XF",
        effective_from="2026-11-01",
        changes=[VillageChange("A01", low=5, high=20)],
    )
    with pytest.raises(LedgerError) as refused:
        awards.put_rules(
            record,
            people,
            town["li"],
            village_id="XF",
            effective_from="2026-11-01",
            changes=[VillageChange("A01", low=5, high=30)],
        )
    assert refused.value.code == "rule_village_range"
    assert (
        awards.rules_in_force(record, "XF")["A01"].high == 20 and awards.rules_in_force(record, "HP")["A01"].high == 10
    )
    with pytest.raises(LedgerError) as refused:
        town.recorded("li", ["XF0001"], "A01", 3, "2026-11-02", "x", "declaration")
    assert refused.value.code == "rule_points_range"
    drunk = town.recorded("li", ["XF0001"], "Z01", 1, "2026-11-02", "酒后驾驶", "inspection", place="县道")[0]
    awards.check_record(record, people, town["li"], drunk.record_id, "confirm")
    batch = awards.new_batch(record, people, town["chen"], "XF", "2026-11-02", "评议小组")
    awards.review_record(record, people, town["chen"], drunk.record_id, batch.batch_id, "approve")
    with pytest.raises(LedgerError) as refused:
        awards.publish_batch(record, people, town["chen"], batch.batch_id)
    assert refused.value.code == "workflow_zero_tolerance_unapproved"
    with pytest.raises(SyncError):
        awards.approve_zero_tolerance(
            record, people, town["chen"], drunk.record_id
        )  # the township's, not the village's
    awards.approve_zero_tolerance(record, people, town["wang"], drunk.record_id)
    awards.publish_batch(record, people, town["chen"], batch.batch_id)
    town.days_pass(6)
    assert [r["record_id"] for r in awards.issue_batch(record, people, town["wang"], batch.batch_id)["issued"]] == [
        drunk.record_id
    ]
    with record.store.read() as unit:
        assert str(unit.ledger.household("XF0001").status) == "frozen"  # type: ignore[union-attr]
    # A frozen household receives no award while frozen.
    with pytest.raises(LedgerError) as refused:
        town.recorded("li", ["XF0001"], "B01", 5, "2026-11-08", "志愿服务", "declaration")
    assert refused.value.code == "household_frozen_no_award"


def test_photos_are_images_of_a_limited_size(town: Town) -> None:
    record, people = town.record, town.people
    made = town.recorded("li", ["XF0001"], "A01", 3, "2026-11-02", "x", "declaration")[0]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    photo_id = awards.add_photo(record, people, town["li"], made.record_id, "image/png", png)
    assert awards.photo(record, town["zhao"].person, photo_id) == ("image/png", png)
    for media_type, content, code in (
        ("image/png", b"<script>", "photo_not_image"),
        ("text/html", png, "photo_not_image"),
        ("image/png", png + b"\x00" * awards.MAX_PHOTO_BYTES, "photo_too_big"),
    ):
        with pytest.raises(LedgerError) as refused:
            awards.add_photo(record, people, town["li"], made.record_id, media_type, content)
        assert refused.value.code == code
    with pytest.raises(SyncError):
        awards.photo(record, town["hp"].person, photo_id)


def test_a_shop_pulls_the_issued_points_and_its_kiosk_says_the_item_and_the_notice(town: Town, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from ledger.history import recent_movements
    from ledger.storage import open_ledger
    from lovemart_tools.bench_sync import MiniClient
    from sync.server.app import create_app

    record, people = town.record, town.people
    made = town.recorded("li", ["XF0001"], "A01", 7, "2026-11-01", "院子干净", "cadre_visit")[0]
    awards.check_record(record, people, town["li"], made.record_id, "confirm")
    batch = awards.new_batch(record, people, town["chen"], "XF", "2026-11-02", "评议小组")
    awards.review_record(record, people, town["chen"], made.record_id, batch.batch_id, "approve")
    awards.publish_batch(record, people, town["chen"], batch.batch_id)
    town.days_pass(6)
    awards.issue_batch(record, people, town["wang"], batch.batch_id)
    store = open_ledger(tmp_path / "shop.sqlite3", durable=False)
    try:
        with TestClient(create_app("unused", record=record), base_url="http://127.0.0.1") as http:
            client = MiniClient("http://127.0.0.1", http=http)
            client.provision(store, record.new_enrol_token("S01"))
            client.pull(store)
        said = [m.said.message("zh") for m in recent_movements(store, "XF0001")]
        assert "庭院整洁（第 1 批公示）" in said
        english = [m.said.message("en") for m in recent_movements(store, "XF0001")]
        assert "庭院整洁 (notice no. 1)" in english
    finally:
        store.close()


def test_a_shop_gets_its_villages_rules_and_notices_at_each_sync_and_in_a_reply_bundle(
    town: Town, tmp_path: Any
) -> None:
    from fastapi.testclient import TestClient

    from ledger.board import stored_board
    from ledger.storage import open_ledger
    from lovemart_tools.bench_sync import MiniClient
    from sync.bundle import export_bundle, import_reply
    from sync.client import SyncClient
    from sync.server.app import create_app
    from sync.server.bundles import apply_and_reply

    record, people = town.record, town.people
    yard = town.recorded("li", ["XF0001"], "A01", 7, "2026-11-01", "院子干净", "cadre_visit")[0]
    litter = town.recorded("li", ["XF0002"], "C01", 3, "2026-11-01", "乱倒垃圾", "neighbours")[0]
    hp = town.recorded("hp", ["HP0004"], "A01", 4, "2026-11-01", "和平村的", "cadre_visit")[0]
    for made in (yard, litter):
        awards.check_record(record, people, town["li"], made.record_id, "confirm")
    awards.check_record(record, people, town["hp"], hp.record_id, "confirm")
    batch = awards.new_batch(record, people, town["chen"], "XF", "2026-11-02", "评议小组")
    for made in (yard, litter):
        awards.review_record(record, people, town["chen"], made.record_id, batch.batch_id, "approve")
    store = open_ledger(tmp_path / "shop.sqlite3", durable=False)
    try:
        with TestClient(create_app("unused", record=record), base_url="http://127.0.0.1") as http:
            mini = MiniClient("http://127.0.0.1", http=http)
            mini.provision(store, record.new_enrol_token("S01"))
            shop = SyncClient(store, "http://127.0.0.1", mini.token, http=http, sleep=lambda _s: None)
            shop.sync()
            with store.read() as unit:
                before = stored_board(unit)
            # The rules in force for the village, in the township's order; nothing on notice yet.
            assert [r.code for r in before.rules] == ["A01", "B01", "C01", "Z01"] and before.notices == ()
            awards.publish_batch(record, people, town["chen"], batch.batch_id)
            shop.sync()
            with store.read() as unit:
                board = stored_board(unit)
            assert board.village_id == "XF" and [n.number for n in board.notices] == [1]
            lines = board.notices[0].lines
            assert [(x.household_id, x.name, x.item, x.points, x.reason) for x in lines] == [
                ("XF0001", "户主1", "庭院整洁", 7, "院子干净"),
                ("XF0002", "户主2", "乱倒垃圾", -3, "乱倒垃圾"),
            ]  # 和平村's record is not on 幸福村's board
            today = town.clock().date()
            assert [line.item for _n, line in board.lines_of("XF0001", today)] == ["庭院整洁"]
            assert board.lines_of("XF0003", today) == ()
            # Only a device may ask for it: a person's token, a kiosk's or none is refused.
            assert http.get("/v1/board").status_code == 401
            assert http.get("/v1/board", headers={"Authorization": "Bearer nope"}).status_code == 401
            # An offline shop gets the same board in its reply bundle (with a later notice window here).
            town.days_pass(1)
            sealed = export_bundle(store, mini.token, key=mini.bundle_key)
            reply = apply_and_reply(record, sealed.body)
            with store.write() as unit:  # an older board already kept would not be replaced by it
                unit.set_meta("village_board", "")
            import_reply(store, mini.token, reply, key=mini.bundle_key)
            with store.read() as unit:
                carried = stored_board(unit)
            assert carried.notices == board.notices and carried.made_at > board.made_at
    finally:
        store.close()


def test_points_posted_without_the_workflow_are_refused_unless_the_township_allows_it_and_then_logged(
    town: Town,
) -> None:
    from fastapi.testclient import TestClient

    from sync.server.app import create_app

    record, people = town.record, town.people
    wang = people.user_named("wang")
    assert wang is not None
    token, _token_id = people.new_api_token(town["wang"], wang.user_id, "script")
    body = {"household_id": "XF0001", "points": 50, "reason": "纸质存折旧积分"}
    with TestClient(create_app("unused", record=record), base_url="http://127.0.0.1") as http:
        headers = {"Authorization": f"Bearer {token}"}
        refused = http.post("/v1/admin/points", json=body, headers=headers)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "points_direct_off"
        assert "评定流程" in refused.json()["error"]["message"]
        with record.store.read() as unit:
            assert [t for t in unit.ledger.transactions(household_id="XF0001") if t.kind == TxnKind.AWARD] == []
        awards.set_workflow_settings(record, people, town["wang"], awards.WorkflowSettings(direct_points=True))
        posted = http.post("/v1/admin/points", json=body, headers=headers)
        assert posted.status_code == 200, posted.text
    rows, _count = people.activity()
    direct = [r for r in rows if r.action == "points.direct"]
    assert len(direct) == 1 and direct[0].user_name == "wang" and direct[0].target == "XF0001"
    assert "纸质存折旧积分" in (direct[0].after or "")
