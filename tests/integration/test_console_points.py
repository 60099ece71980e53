"""The award workflow's console pages (issue 14) over the real app: each person signs in and uses the forms a
browser would, from recording an event to the public notice and the points a shop then pulls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.site import create_site
from ledger.access import ConsoleRole, Grant
from ledger.model import Member, Policy, TxnKind
from ledger.rulebook import Direction, RuleItem
from lovemart.site import HardwarePaper
from lovemart_tools.demo import SimulatedClock
from sync.server import awards, township
from sync.server.people import SYSTEM, Actor
from sync.server.record import CentralRecord

PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Any]:
    clock = SimulatedClock(datetime(2026, 11, 2, 9, 0).astimezone())
    record = CentralRecord.open(f"sqlite:///{tmp_path / 'central.sqlite3'}", clock=clock)
    record.initialise("T01", "红星镇", Policy(base_points=100, redeemable_floor=100))
    township.put_village(record, "XF", "幸福村")
    township.put_village(record, "HP", "和平村")
    township.put_shop(record, "S01", "幸福村爱心超市", "XF")
    for n in (1, 2):
        township.put_household(
            record, township.HouseholdInput(f"XF{n:04d}", "XF", f"王{n}", "S01", (Member(f"王{n}", "户主"),))
        )
    app = create_site(f"sqlite:///{tmp_path / 'central.sqlite3'}", record=record, paper=HardwarePaper())
    people = app.state.people
    system = Actor(SYSTEM, "test")
    for name, grant in (
        ("wang", Grant(ConsoleRole.ADMIN)),
        ("li", Grant(ConsoleRole.CLERK, village_id="XF")),
        ("chen", Grant(ConsoleRole.REVIEWER, village_id="XF")),
        ("hp", Grant(ConsoleRole.CLERK, village_id="HP")),
    ):
        people.add_user(system, name, name, PASSWORD, [grant])
    admin = Actor(people.user_named("wang").person, "test")
    awards.put_rules(
        record,
        people,
        admin,
        village_id=None,
        effective_from="2026-01-01",
        items=[RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10)],
    )
    yield app, record, clock
    record.close()


def pdf_text(content: bytes) -> str:
    from tests.integration.test_console import pdf_text as read

    return read(content)


def token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "a form with its token"
    return found.group(1)


def signed_in(app: Any, name: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": token(page.text), "name": name, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def post(client: TestClient, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    page = client.get("/account")
    return client.post(path, data={"csrf": token(page.text), **data}, follow_redirects=False, **kwargs)


def record_form(client: TestClient, households: str, points: int, reason: str) -> Any:
    """The clerk's form for one event of item A01 on 2026-11-01, as the household declared it."""
    form = {"village_id": "XF", "households": households, "item": "A01", "points": str(points), "day": "2026-11-01"}
    return post(client, "/points/new", {**form, "reason": reason, "source": "declaration"})


def test_a_record_walks_from_the_form_to_the_notice_board_and_the_shelf(site: Any) -> None:
    app, record, clock = site
    li, chen, wang = signed_in(app, "li"), signed_in(app, "chen"), signed_in(app, "wang")
    form = li.get("/points/new").text  # one village: its rules at once
    assert "庭院整洁" in form and 'name="households"' in form
    refused = post(
        li,
        "/points/new",
        {
            "village_id": "XF",
            "households": "XF0001",
            "item": "A01",
            "points": "11",
            "day": "2026-11-01",
            "reason": "院子干净",
            "source": "cadre_visit",
        },
    )
    assert refused.status_code == 422 and "1 到 10 分" in refused.text  # the form again, saying why
    made = post(
        li,
        "/points/new",
        {
            "village_id": "XF",
            "households": "XF0001",
            "item": "A01",
            "points": "8",
            "day": "2026-11-01",
            "place": "村东",
            "reason": "院子干净",
            "source": "cadre_visit",
        },
    )
    assert made.status_code == 303 and made.headers["location"] == "/points/XF-000001"
    assert post(li, "/points/XF-000001/photos", {}, files={"photo": ("yard.png", PNG, "image/png")}).status_code == 303
    page = li.get("/points/XF-000001").text
    assert "/photos/1" in page and "待核查" in page
    assert li.get("/photos/1").content == PNG and signed_in(app, "hp").get("/photos/1").status_code == 403
    assert post(li, "/points/XF-000001/check", {"outcome": "confirm"}).status_code == 303
    assert post(li, "/batches", {"village_id": "XF", "meeting_day": "2026-11-02", "attendees": "x"}).status_code == 403
    batch = post(chen, "/batches", {"village_id": "XF", "meeting_day": "2026-11-02", "attendees": "陈国强、张伟"})
    assert batch.status_code == 303 and batch.headers["location"] == "/batches/1"
    assert "XF-000001" in chen.get("/batches/1").text  # waiting for review
    reviewed = post(
        chen, "/points/XF-000001/review", {"batch_id": "1", "outcome": "correct", "points": "6", "note": "东侧有杂物"}
    )
    assert reviewed.status_code == 303
    assert post(chen, "/batches/1/publish", {}).status_code == 303
    public = TestClient(app, base_url="https://testserver").get("/public/XF")  # no sign-in
    assert public.status_code == 200 and "王1" in public.text and "庭院整洁" in public.text and "+6" in public.text
    assert "XF0001" not in public.text  # the notice only: no household numbers, balances or anything else
    pdf = chen.get("/batches/1/notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    said = pdf_text(pdf.content)
    for words in ("幸福村积分公示（第 1 批）", "王1", "庭院整洁", "+6", "2026-11-02 至 2026-11-06", "异议"):
        assert words in said, words
    assert post(li, "/points/XF-000001/object", {"raised_by": "赵大爷", "says": "杂物是邻居家的"}).status_code == 303
    assert "有异议待处理" in wang.get("/batches/1").text
    clock.now = clock.now + timedelta(days=7)
    assert post(wang, "/batches/1/issue", {}).status_code == 303
    assert "公示中" in wang.get("/points/XF-000001").text  # the open objection holds it
    assert post(chen, "/objections/1/resolve", {"outcome": "dismiss", "note": "核实属实"}).status_code == 303
    assert post(wang, "/batches/1/issue", {}).status_code == 303
    page = wang.get("/points/XF-000001").text
    assert "已核发" in page and "评议更正" in page and "异议不成立" in page
    with record.store.read() as unit:
        awarded = [t for t in unit.ledger.transactions(household_id="XF0001") if t.kind == TxnKind.AWARD]
    assert [(t.points_of("household:XF0001"), t.party) for t in awarded] == [(6, "notice:XF:1")]
    # The auditor's way from the shelf back to the event, and from the household to its records.
    assert "/points/XF-000001" in wang.get(f"/transactions/{awarded[0].txn_id}").text
    assert "/points/XF-000001" in li.get("/households/XF0001").text
    logged = [e.action for e in app.state.people.activity(user="chen")[0]]
    assert {"points.review.correct", "points.notice", "points.objection.dismiss"} <= set(logged)


def test_bad_input_on_the_workflow_forms_is_a_page_that_says_why(site: Any) -> None:
    app, _record, _clock = site
    li = signed_in(app, "li")
    answer = post(li, "/points/XF-000999/check", {"outcome": "confirm"})
    assert answer.status_code in (403, 404)
    record_form(li, "XF0001", 3, "x")
    odd = post(li, "/points/XF-000001/check", {"outcome": "maybe"})
    assert odd.status_code == 422 and "maybe" in odd.text
    wrong = post(li, "/points/XF-000001/photos", {}, files={"photo": ("x.png", b"<html>", "image/png")})
    assert wrong.status_code == 422 and "JPEG" in wrong.text
    assert record_form(li, "HP9999", 3, "x").status_code == 422


def _sheet(rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_rules_come_from_a_sheet_and_go_back_to_one_and_to_the_notice_board(site: Any) -> None:
    app, _record, _clock = site
    wang, li = signed_in(app, "wang"), signed_in(app, "li")
    township = _sheet(
        [
            ["编号", "项目", "类别", "加扣分", "最低分", "最高分", "村可调最低", "村可调最高", "零容忍", "停用"],
            ["A01", "庭院整洁", "评议分", "加分", 1, 10, 1, 20, "", ""],
            ["B01", "参加志愿服务", "贡献分", "加分", 5, 5, None, None, "", ""],
            ["Z01", "酒驾", "零容忍", "扣分", 1, 1, None, None, "是", ""],
        ]
    )
    answer = post(
        wang,
        "/rules/import",
        {"village_id": "", "effective_from": "2026-11-01"},
        files={"file": ("细则.xlsx", township, XLSX)},
    )
    assert answer.status_code == 303
    assert (
        post(
            li,
            "/rules/import",
            {"village_id": "", "effective_from": "2026-11-01"},
            files={"file": ("细则.xlsx", township, XLSX)},
        ).status_code
        == 403
    )  # the township's rules
    bad = _sheet(
        [
            ["编号", "项目", "类别", "加扣分", "最低分"],
            ["A01", "庭院整洁", "评议分", "加分", 1],
            ["", "x", "y", "加分", 1],
            ["C01", "乱倒垃圾", "评议分", "罚", 2],
        ]
    )
    refused = post(
        li,
        "/rules/import",
        {"village_id": "XF", "effective_from": "2026-11-02"},
        files={"file": ("村细则.xlsx", bad, XLSX)},
    )
    assert refused.status_code == 422 and "第 3 行" in refused.text and "第 4 行" in refused.text
    village = _sheet(
        [
            ["编号", "项目", "类别", "加扣分", "最低分", "最高分", "停用"],
            ["A01", "", "", "", 5, 20, ""],
            ["B01", "", "", "", None, None, "是"],
            ["XF-1", "护林巡山", "贡献分", "加分", 3, 8, ""],
        ]
    )
    assert (
        post(
            li,
            "/rules/import",
            {"village_id": "XF", "effective_from": "2026-11-02"},
            files={"file": ("村细则.xlsx", village, XLSX)},
        ).status_code
        == 303
    )
    page = li.get("/rules", params={"village": "XF"}).text
    assert "护林巡山" in page and "参加志愿服务" not in page and "+5～20" in page
    exported = li.get("/rules.xlsx", params={"village": "XF"})
    assert exported.status_code == 200 and exported.content.startswith(b"PK")
    again = post(
        wang,
        "/rules/import",
        {"village_id": "", "effective_from": "2026-12-01"},
        files={"file": ("回读.xlsx", wang.get("/rules.xlsx").content, XLSX)},
    )
    assert again.status_code == 303  # a township's export reads back as its next version
    printed = li.get("/rules.pdf", params={"village": "XF"})
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")


def test_the_township_sets_how_long_a_notice_stays_up_and_the_overview_flags_late_checks(site: Any) -> None:
    app, _record, clock = site
    wang, li, chen = signed_in(app, "wang"), signed_in(app, "li"), signed_in(app, "chen")
    assert post(li, "/policy/workflow", {"notice_days": "3", "check_days": "7"}).status_code == 403
    assert post(wang, "/policy/workflow", {"notice_days": "0", "check_days": "7"}).status_code == 422
    assert post(wang, "/policy/workflow", {"notice_days": "3", "check_days": "2"}).status_code == 303
    assert 'name="notice_days" type="number" min="1" max="60" value="3"' in wang.get("/policy").text
    for n in (1, 2):
        record_form(li, f"XF000{n}", 3, "院子干净")
    clock.now = clock.now + timedelta(days=3)
    overview = wang.get("/").text
    assert "超过 2 天未核查的积分记录" in overview and '<div class="tile warn"><b>2</b>' in overview
    post(li, "/points/XF-000001/check", {"outcome": "confirm"})
    post(chen, "/batches", {"village_id": "XF", "meeting_day": "2026-11-05", "attendees": "评议小组"})
    post(chen, "/points/XF-000001/review", {"batch_id": "1", "outcome": "approve"})
    post(chen, "/batches/1/publish", {})
    assert "2026-11-05 ～ 2026-11-07" in chen.get("/batches/1").text  # three days, from the day it went up


def test_a_score_sheet_of_500_rows_with_two_bad_rows_stores_nothing_and_names_both(site: Any) -> None:
    app, record, _clock = site
    li = signed_in(app, "li")
    header = ["户号", "项目编号", "分值", "日期", "事由", "来源"]
    rows = [[f"XF000{1 + n % 2}", "A01", 1 + n % 10, "2026-11-01", "清扫村道", "干部走访"] for n in range(500)]
    rows[5][0] = "XF9999"  # sheet row 7: no such household
    rows[298][2] = 11  # sheet row 300: over the item's 10 points
    answer = post(li, "/points/import", {}, files={"file": ("评分表.xlsx", _sheet([header, *rows]), XLSX)})
    assert answer.status_code == 422
    assert "第 7 行" in answer.text and "XF9999" in answer.text and "第 300 行" in answer.text
    with record.store.read() as unit:
        assert unit.awards.count_records() == 0
    rows[5][0], rows[298][2] = "XF0001", 10
    answer = post(li, "/points/import", {}, files={"file": ("评分表.xlsx", _sheet([header, *rows]), XLSX)})
    assert answer.status_code == 303
    with record.store.read() as unit:
        assert unit.awards.count_records("XF", "recorded") == 500


def test_the_meeting_approves_every_checked_record_but_the_reviewers_own_at_once(site: Any) -> None:
    app, record, _clock = site
    li, wang = signed_in(app, "li"), signed_in(app, "wang")
    for who, n in ((li, 1), (li, 2), (wang, 1)):
        record_form(who, f"XF000{n}", 3, "院子干净")
    for record_id in ("XF-000001", "XF-000002", "XF-000003"):
        post(li, f"/points/{record_id}/check", {"outcome": "confirm"})
    post(wang, "/batches", {"village_id": "XF", "meeting_day": "2026-11-02", "attendees": "评议小组"})
    assert "全部通过" in wang.get("/batches/1").text
    assert post(li, "/batches/1/approve-all", {}).status_code == 403  # a clerk does not review
    assert post(wang, "/batches/1/approve-all", {}).status_code == 303
    with record.store.read() as unit:
        stages = {r.record_id: str(r.stage) for r in unit.awards.records(village_id="XF")}
    assert stages == {"XF-000001": "approved", "XF-000002": "approved", "XF-000003": "checked"}  # wang's own waits


def test_star_households_their_poster_and_certificates(site: Any) -> None:
    app, record, clock = site
    wang = signed_in(app, "wang")
    assert post(wang, "/policy/stars", {"stars": "300, 200"}).status_code == 422  # not increasing
    assert post(wang, "/policy/stars", {"stars": "50，100、150"}).status_code == 303
    township.award(record, "XF0001", 120, "见义勇为")  # earned 120: two stars
    township.award(record, "XF0002", 60, "好人好事")  # earned 60: one star
    township.clear(record, "XF0002", "酒驾")  # then frozen: no honour while frozen
    page = wang.get("/reports/honours", params={"village": "XF"}).text
    assert "王1" in page and "★★<" in page and "王2" not in page
    poster = wang.get("/reports/honours.pdf", params={"village": "XF"})
    assert poster.status_code == 200 and "幸福村星级文明户" in pdf_text(poster.content)
    one = wang.get("/reports/certificates.pdf", params={"village": "XF", "household": "XF0001"})
    said = pdf_text(one.content)
    assert "荣誉证书" in said and "王1" in said and "2 星级文明户" in said and "幸福村村民委员会" in said
    assert wang.get("/reports/certificates.pdf", params={"village": "XF", "household": "XF0002"}).status_code == 409


def test_a_villages_reviewers_issue_their_batches_only_when_the_township_lets_them(site: Any) -> None:
    app, record, clock = site
    li, chen, wang = signed_in(app, "li"), signed_in(app, "chen"), signed_in(app, "wang")
    record_form(li, "XF0001", 3, "院子干净")
    post(li, "/points/XF-000001/check", {"outcome": "confirm"})
    post(chen, "/batches", {"village_id": "XF", "meeting_day": "2026-11-02", "attendees": "评议小组"})
    post(chen, "/points/XF-000001/review", {"batch_id": "1", "outcome": "approve"})
    post(chen, "/batches/1/publish", {})
    clock.now = clock.now + timedelta(days=6)
    assert "核发积分" not in chen.get("/batches/1").text
    assert post(chen, "/batches/1/issue", {}).status_code == 403
    ticked = {"notice_days": "5", "check_days": "7", "village_issues": "yes"}
    assert post(wang, "/policy/workflow", ticked).status_code == 303
    assert "核发积分" in chen.get("/batches/1").text
    assert post(chen, "/batches/1/issue", {}).status_code == 303
    with record.store.read() as unit:
        assert str(unit.awards.record("XF-000001").stage) == "issued"  # type: ignore[union-attr]
    assert post(li, "/batches/1/issue", {}).status_code == 403  # a clerk never issues
