"""The township console's pages over the real app and a demo township (issue 13).

The demo is made through the real paths (``lovemart_tools.console_demo``: shops that sold and synced over
the API); each person signs in through the sign-in form as a browser would. Browser tests with a real
server and Chromium are in ``tests/e2e/test_console_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.site import create_site
from ledger.messages import text
from lovemart.site import HardwarePaper
from lovemart_tools.console_demo import DEMO_PASSWORD, seed_console_demo
from sync.server import overview, township
from sync.server.record import CentralRecord

PAGES = ["/", "/households", "/households/XF0001", "/households/XF0001/statement", "/shops", "/goods"]
LONG_AGO = (date.today() - timedelta(days=365)).isoformat()
ADMIN_PAGES = PAGES + [
    "/exceptions",
    "/policy",
    "/users",
    "/activity",
    "/?village=HP",
    "/reports",
    "/reports?village=XF&ledger=points",
    "/reports?shop=S02&ledger=stock_in",
    "/reports/ranking?village=XF",
    "/reports/helping?village=HP",
    "/goods?shop=S03",
    "/points?village=XF",
    "/points/new?village=XF",
    "/points/XF-000005",
    "/batches?village=XF",
    "/batches/1",
    "/batches/2",
    "/batches/3",
    "/rules?village=XF",
    "/rules",
    "/reports/honours?village=XF",
    "/public/XF",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'central.sqlite3'}"
    seed_console_demo(url, households=15)
    record = CentralRecord.open(url)
    app = create_site(url, record=record, paper=HardwarePaper())
    yield app, record
    record.close()


def browser(app: Any) -> TestClient:
    """A client that keeps cookies like a browser; "https" because the session cookie is Secure."""
    return TestClient(app, base_url="https://testserver")


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has a form with its token"
    return found.group(1)


def signed_in(app: Any, name: str, lang: str = "zh") -> TestClient:
    client = browser(app)
    page = client.get("/login", params={"lang": lang})
    answer = client.post(
        "/login",
        data={"csrf": form_token(page.text), "name": name, "password": DEMO_PASSWORD, "next": "/", "lang": lang},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def test_a_page_asks_for_sign_in_and_comes_back_after_it(demo: Any) -> None:
    app, _record = demo
    client = browser(app)
    first = client.get("/households?q=XF", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Fhouseholds%3Fq%3DXF"
    page = client.get(first.headers["location"])
    assert 'name="next" value="/households?q=XF"' in page.text
    answer = client.post(
        "/login",
        data={"csrf": form_token(page.text), "name": "wang", "password": DEMO_PASSWORD, "next": "/households?q=XF"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/households?q=XF"
    cookie = answer.headers["set-cookie"].lower()
    assert "lovemart_session=" in cookie and "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert client.get("/households?q=XF").status_code == 200


def test_sign_in_never_sends_anyone_to_another_site(demo: Any) -> None:
    app, _record = demo
    client = browser(app)
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf": form_token(page.text), "name": "wang", "password": DEMO_PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_a_sign_in_form_without_its_token_is_refused(demo: Any) -> None:
    app, _record = demo
    client = browser(app)
    client.get("/login")
    answer = client.post("/login", data={"csrf": "forged", "name": "wang", "password": DEMO_PASSWORD})
    assert answer.status_code == 403 and "lovemart_session" not in answer.headers.get("set-cookie", "")
    assert text("csrf_failed", "zh") in answer.text


def test_wrong_passwords_lock_the_name_and_the_page_says_so(demo: Any) -> None:
    app, _record = demo
    client = browser(app)
    statuses = []
    for _ in range(6):
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": form_token(page.text), "name": "chen", "password": "wrong-one!!"})
        statuses.append(answer.status_code)
    assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429]
    assert "分钟" in answer.text  # the page says how long to wait
    page = client.get("/login")
    right = client.post("/login", data={"csrf": form_token(page.text), "name": "chen", "password": DEMO_PASSWORD})
    assert right.status_code == 429  # even the right password waits


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_renders_for_the_administrator_with_every_word_found(demo: Any, lang: str) -> None:
    app, _record = demo
    client = signed_in(app, "wang", lang)
    for path in ADMIN_PAGES:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        missing = re.findall(r"(?:console|workflow)\.(?!css)[a-z_]", page.text)
        assert not missing, (path, "a word missing from the catalogue")
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        title = re.search(r"<title>(.*?)</title>", page.text, re.S)
        assert title and "<" not in title.group(1), (path, "the title is text")
        assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert ("总览" if lang == "zh" else "Overview") in client.get("/").text


def test_the_overview_counts_what_the_shops_did_and_warns_of_a_silent_shop(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "zhao")
    page = client.get("/", params={"from": LONG_AGO}).text
    assert "光明村积分超市" in page and "天未同步" in page  # S03 stopped syncing 40 days ago
    with record.store.read() as unit:
        households = unit.household_count()
    assert f"<b>{households}</b>" in page


def test_a_form_without_the_session_token_changes_nothing(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "wang")
    before = township.policy_json(record)
    answer = client.post("/policy", data={"redeemable_floor": "5", "base_points": "1"})
    assert answer.status_code == 403
    assert township.policy_json(record) == before


def test_a_policy_change_is_logged_with_before_and_after(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "wang")
    page = client.get("/policy").text
    fields = dict(re.findall(r'name="([a-z_]+)" type="number" min="0" max="1000000000" value="(\d+)"', page))
    fields["visitor_limit"] = str(int(fields["visitor_limit"]) + 7)
    answer = client.post("/policy", data={**fields, "cycle": "annual", "csrf": form_token(page)})
    assert answer.status_code == 200
    assert township.policy_json(record)["visitor_limit"] == int(fields["visitor_limit"])
    entries, _total = app.state.people.activity(action="policy.change")
    assert entries[0].user_name == "wang" and '"visitor_limit"' in (entries[0].before or "")
    assert fields["visitor_limit"] in (entries[0].after or "")


def test_a_clerk_sees_their_village_only(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "li")
    landing = client.get("/", follow_redirects=False)
    assert landing.status_code == 303 and "village=XF" in landing.headers["location"]
    listing = client.get("/households").text
    assert "XF0001" in listing and "HP0001" not in listing and "GM0001" not in listing
    assert client.get("/households/HP0001").status_code == 403
    assert client.get("/", params={"village": "HP"}).status_code == 403
    assert client.get("/households", params={"village": "HP"}).status_code == 403
    assert client.get("/households/XF0001").status_code == 200
    assert client.get("/policy").status_code == 403
    menu = re.findall(r'<nav class="menu">(.*?)</nav>', client.get("/households").text, re.S)[0]
    assert "/users" not in menu and "/exceptions" not in menu


def test_a_shop_manager_reads_their_shop(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "liu")
    landing = client.get("/", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/shops"
    shops = client.get("/shops").text
    assert "S02" in shops and "S01" not in shops
    assert client.get("/households").status_code == 403


def test_the_auditor_reads_everything_and_changes_nothing(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "zhao")
    assert client.get("/activity").status_code == 200
    page = client.get("/exceptions").text
    assert "/resolve" not in page  # no form to change anything
    token = form_token(client.get("/households").text)
    assert client.post("/shops/S01/enrol", data={"csrf": token}).status_code == 403


def test_a_statement_adds_up_to_the_balance(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "li")
    page = client.get("/households/XF0002/statement", params={"from": LONG_AGO}).text
    rows = re.findall(r'<td class="num (?:plus|minus|)">([+-]?\d+)</td><td class="num">([\d,-]+)</td></tr>', page)
    assert rows, "the statement lists movements"
    running = 0
    for points, balance in rows:
        running += int(points)
        assert int(balance.replace(",", "")) == running
    assert township.household(record, "XF0002")["balance"] == running


def test_what_people_typed_is_shown_as_text_never_as_markup(demo: Any) -> None:
    app, record = demo
    township.put_household(record, township.HouseholdInput("XF0999", "XF", "<script>alert(1)</script>", "S01", ()))
    client = signed_in(app, "wang")
    page = client.get("/households/XF0999").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_enrolment_code_is_shown_once_and_a_revoked_device_cannot_sync(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "wang")
    token = form_token(client.get("/shops").text)
    shown = client.post("/shops/S01/enrol", data={"csrf": token})
    code = re.search(r'<code class="token">([^<]+)</code>', shown.text)
    assert code, "the code is on the page"
    assert code.group(1) not in client.get("/shops").text  # and only there
    api = TestClient(app)
    enrolled = api.post("/v1/enrol", json={"v": 1, "token": code.group(1)}).json()
    device = {"Authorization": f"Bearer {enrolled['device_token']}"}
    assert api.get("/v1/status", headers=device).status_code == 200
    answer = client.post(f"/devices/{enrolled['device_id']}/revoke", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert api.get("/v1/status", headers=device).status_code == 401


def test_resolving_an_exception_records_who_and_why(demo: Any) -> None:
    app, record = demo
    open_ones = township.exceptions(record, "open")
    assert open_ones, "the demo made an overdraft"
    client = signed_in(app, "wang")
    page = client.get("/exceptions").text
    assert f"/exceptions/{open_ones[0]['id']}/resolve" in page
    answer = client.post(
        f"/exceptions/{open_ones[0]['id']}/resolve", data={"csrf": form_token(page), "note": "已上门核实，下次奖励抵扣"}
    )
    assert answer.status_code == 200
    resolved = next(e for e in township.exceptions(record, None) if e["id"] == open_ones[0]["id"])
    assert resolved["status"] == "resolved"
    assert "已上门核实" in resolved["resolution"] and "wang" in resolved["resolution"]
    assert app.state.people.activity(action="exception.resolve")[0][0].target == str(open_ones[0]["id"])


def test_an_api_token_made_in_the_console_works_and_is_shown_once(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "wang")
    page = client.get("/users").text
    zhao = re.search(r'action="/users/(\d+)/tokens"', page.split("zhao", 1)[1])
    assert zhao
    shown = client.post(f"/users/{zhao.group(1)}/tokens", data={"csrf": form_token(page), "label": "脚本"})
    token = re.search(r'<code class="token">([^<]+)</code>', shown.text)
    assert token
    api = TestClient(app)
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert api.get("/v1/admin/reports/totals", headers=headers).status_code == 200
    assert api.get("/v1/admin/policy", headers=headers).status_code == 200
    assert api.put("/v1/admin/policy", headers=headers, json={"visitor_limit": 1}).status_code == 403  # an auditor's
    assert token.group(1) not in client.get("/users").text


def test_the_language_switch_and_signing_out_everywhere(demo: Any) -> None:
    app, _record = demo
    first, second = signed_in(app, "zhao"), signed_in(app, "zhao")
    page = first.get("/").text
    switched = first.post("/lang", data={"csrf": form_token(page), "lang": "en", "back": "/households"})
    assert switched.status_code == 200 and "Households" in switched.text
    assert "农户" in second.get("/households").text  # the other session keeps its language
    page = first.get("/").text
    first.post("/logout-everywhere", data={"csrf": form_token(page)})
    assert second.get("/", follow_redirects=False).status_code == 303  # signed out there too
    assert first.get("/", follow_redirects=False).status_code == 303


def test_a_page_that_does_not_exist_says_so_as_a_page(demo: Any) -> None:
    app, _record = demo
    answer = signed_in(app, "wang").get("/no-such-page")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "没有找到" in answer.text
    assert TestClient(app).get("/v1/no-such-route").headers["content-type"] == "application/json"


def test_console_static_files_are_shipped_in_the_package() -> None:
    css = Path(__file__).resolve().parents[2] / "console" / "static" / "console.css"
    assert css.is_file() and "@media print" in css.read_text(encoding="utf-8")


def pdf_text(content: bytes) -> str:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    document = pdfium.PdfDocument(content)
    return "".join(page.get_textpage().get_text_range() for page in document)


def test_a_statement_prints_as_a_pdf_with_the_same_lines(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "li")
    answer = client.get("/households/XF0002/statement.pdf", params={"from": LONG_AGO})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    words = pdf_text(answer.content)
    name = township.household(record, "XF0002")["name"]
    assert name in words and "XF0002" in words and "期初余额" in words
    assert f"{township.household(record, 'XF0002')['balance']:,}" in words
    assert client.get("/households/HP0001/statement.pdf").status_code == 403


def test_a_village_sheet_of_cards_prints_for_its_clerk_only(demo: Any) -> None:
    app, _record = demo
    clerk = signed_in(app, "li")
    sheet = clerk.get("/villages/XF/cards.pdf")
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    assert "XF0001" in pdf_text(sheet.content)
    assert clerk.get("/villages/HP/cards.pdf").status_code == 403
    assert signed_in(app, "zhao").get("/villages/XF/cards.pdf").status_code == 403  # an auditor issues nothing


def test_a_clerk_adds_edits_and_moves_households_within_their_villages(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "li")
    page = client.get("/households/new").text
    token = form_token(page)
    base = {"csrf": token, "head_name": "孙大伟", "home_shop_id": "S01", "members": "刘小梅(配偶)、孙乐(儿子)"}
    elsewhere = client.post("/households/new", data={**base, "household_id": "HP0900", "village_id": "HP"})
    assert elsewhere.status_code == 403 and authz_none(record, "HP0900")
    added = client.post(
        "/households/new",
        data={**base, "household_id": "xf0900", "village_id": "XF", "village_group": "3组", "house_no": "幸福路 12 号"},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/households/XF0900"
    h = township.household(record, "XF0900")
    assert (h["village_group"], h["house_no"]) == ("3组", "幸福路 12 号")
    assert [m["name"] for m in h["members"]] == ["孙大伟", "刘小梅", "孙乐"] and h["card_no"] == 1
    again = client.post("/households/new", data={**base, "household_id": "XF0900", "village_id": "XF"})
    assert again.status_code == 409 and "已经有了" in again.text  # never silently replaced
    found = client.get("/households", params={"q": "幸福路 12"}).text
    assert "XF0900" in found  # found by house number
    edit = client.post(
        "/households/XF0900/edit",
        data={**base, "village_id": "XF", "head_name": "孙大卫", "village_group": "4组"},
        follow_redirects=False,
    )
    assert edit.status_code == 303 and township.household(record, "XF0900")["name"] == "孙大卫"
    moved = client.post("/households/XF0900/edit", data={**base, "village_id": "HP"})
    assert moved.status_code == 403 and township.household(record, "XF0900")["village_id"] == "XF"
    entries, _total = app.state.people.activity(user="li", text="XF0900")
    assert {e.action for e in entries} == {"household.add", "household.edit"}
    edited = next(e for e in entries if e.action == "household.edit")
    assert "孙大伟" in (edited.before or "") and "孙大卫" in (edited.after or "")


def test_a_households_phone_is_kept_shown_and_edited_but_not_listed(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "li")
    token = form_token(client.get("/households/new").text)
    base = {"csrf": token, "head_name": "周小芳", "home_shop_id": "S01", "village_id": "XF"}
    bad = client.post("/households/new", data={**base, "household_id": "XF0910", "phone": "138abc"})
    assert bad.status_code == 422 and "电话号码不对：138abc" in bad.text and authz_none(record, "XF0910")
    assert 'value="138abc"' in bad.text  # the form comes back as typed
    added = client.post(
        "/households/new", data={**base, "household_id": "XF0910", "phone": " 138 1234 5678 "}, follow_redirects=False
    )
    assert added.status_code == 303
    assert township.household(record, "XF0910")["phone"] == "138 1234 5678"
    assert "138 1234 5678" in client.get("/households/XF0910").text
    form = client.get("/households/XF0910/edit").text
    assert 'name="phone" type="tel" value="138 1234 5678" maxlength="20"' in form
    assert "138 1234 5678" not in client.get("/households", params={"q": "XF0910"}).text  # the list stays narrow
    edit = client.post("/households/XF0910/edit", data={**base, "phone": "0571-8888888"}, follow_redirects=False)
    assert edit.status_code == 303 and township.household(record, "XF0910")["phone"] == "0571-8888888"
    entries, _total = app.state.people.activity(user="li", text="XF0910")
    edited = next(e for e in entries if e.action == "household.edit")
    assert "138 1234 5678" in (edited.before or "") and "0571-8888888" in (edited.after or "")
    english = signed_in(app, "li", lang="en").get("/households/XF0910").text
    assert "Phone" in english and "0571-8888888" in english


def authz_none(record: CentralRecord, household_id: str) -> bool:
    with record.store.read() as unit:
        return unit.ledger.household(household_id) is None


def register_file(tmp_path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["幸福村户籍台账"])
    sheet.append(["户号", "户主", "村", "村民小组", "门牌号", "家庭成员"])
    for row in rows:
        sheet.append(row)
    path = tmp_path / "户籍台账.xlsx"
    book.save(path)
    return path


def test_a_register_with_a_bad_row_imports_nothing_and_names_the_row(demo: Any, tmp_path: Path) -> None:
    app, record = demo
    client = signed_in(app, "li")
    token = form_token(client.get("/households").text)
    bad = register_file(
        tmp_path, [["XF0801", "钱多多", "XF", "1组", "1号", ""], ["XF0802", "", "XF", "1组", "2号", ""]]
    )
    with bad.open("rb") as fp:
        answer = client.post("/households/import", data={"csrf": token}, files={"file": (bad.name, fp)})
    assert answer.status_code == 422 and "第 4 行" in answer.text
    assert authz_none(record, "XF0801")  # nothing stored
    other = register_file(tmp_path, [["HP0801", "钱多多", "HP", "", "", ""]])
    with other.open("rb") as fp:
        refused = client.post("/households/import", data={"csrf": token}, files={"file": (other.name, fp)})
    assert refused.status_code == 422 and "不在你的管理范围内" in refused.text and authz_none(record, "HP0801")
    good = register_file(tmp_path, [["XF0801", "钱多多", "幸福村", "1组", "1号", "钱小宝(孙子)"]])
    with good.open("rb") as fp:
        done = client.post("/households/import", data={"csrf": token}, files={"file": (good.name, fp)})
    assert done.status_code == 200 and "新增 1 户" in done.text
    assert township.household(record, "XF0801")["house_no"] == "1号"
    without_token = client.post("/households/import", files={"file": (good.name, good.read_bytes())})
    assert without_token.status_code == 403


def test_the_ledgers_of_a_village_download_as_excel_and_add_up(demo: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    app, record = demo
    client = signed_in(app, "li")
    answer = client.get("/reports/ledgers.xlsx", params={"village": "XF", "from": LONG_AGO})
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    path = tmp_path / "ledgers.xlsx"
    path.write_bytes(answer.content)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["兑换台账", "入库台账", "捐赠台账", "积分台账"]
    points = list(book["积分台账"].iter_rows(min_row=2, values_only=True))
    last: dict[str, int] = {}
    for row in points:
        last[str(row[0])] = int(row[7])
        assert str(row[0]).startswith("XF")  # only this village's households
    for household_id, balance in last.items():
        assert township.household(record, household_id)["balance"] == balance
    redemptions = list(book["兑换台账"].iter_rows(min_row=2, values_only=True))
    assert redemptions and all(str(r[1]).startswith("S01-") for r in redemptions)  # the village's shop only
    assert client.get("/reports/ledgers.xlsx", params={"village": "HP"}).status_code == 403


def test_a_shop_manager_reads_their_shops_ledgers_only(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "liu")
    page = client.get("/reports", params={"ledger": "redemptions", "from": LONG_AGO})
    assert page.status_code == 200 and "<td>S02-" in page.text and "<td>S01-" not in page.text
    assert client.get("/reports", params={"shop": "S01"}).status_code == 403
    assert client.get("/reports", params={"village": "HP"}).status_code == 403


def test_the_red_list_poster_and_the_committee_list(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "li")  # chen, the reviewer, is locked out by the lock-out test
    poster = client.get("/reports/ranking", params={"village": "XF"}).text
    first = township_top(record, "XF")
    assert first in poster
    pdf = client.get("/reports/ranking.pdf", params={"village": "XF"})
    assert pdf.status_code == 200 and first in pdf_text(pdf.content) and "红榜" in pdf_text(pdf.content)
    helping = client.get("/reports/helping", params={"village": "XF"})
    assert helping.status_code == 200 and "排名靠后" in helping.text
    frozen = signed_in(app, "wang").get("/reports/helping", params={"village": "HP"}).text
    assert "已冻结" in frozen  # the demo cleared a household of HP
    assert client.get("/reports/ranking", params={"village": "HP"}).status_code == 403


def township_top(record: CentralRecord, village_id: str) -> str:
    from sync.server import views

    return str(views.ranking(record, village_id, 1)[0]["name"])


def test_goods_show_a_shops_stock_as_last_synced(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "liu")
    page = client.get("/goods").text
    with record.store.read() as unit:
        stock = unit.shop_stock("S02")
    sku, on_hand = max(stock.items(), key=lambda pair: pair[1])
    assert re.search(rf"<td>{sku}</td>.*?<td class=\"num\">{on_hand:,}</td>", page, re.S)
    assert client.get("/goods", params={"shop": "S01"}).status_code == 403


def test_an_exception_links_to_the_transactions_it_names(demo: Any) -> None:
    app, record = demo
    exception = township.exceptions(record, None)[0]
    client = signed_in(app, "zhao")
    page = client.get("/exceptions", params={"status": ""}).text
    txn_id = exception["txn_ids"][0]
    assert f'href="/transactions/{txn_id}"' in page
    detail = client.get(f"/transactions/{txn_id}")
    assert detail.status_code == 200 and "household:" in detail.text
    assert signed_in(app, "li").get(f"/transactions/{txn_id}").status_code == 403
    assert client.get("/transactions/nope").status_code == 404


def test_the_administrator_changes_a_persons_roles_and_scopes(demo: Any) -> None:
    app, _record = demo
    admin = signed_in(app, "wang")
    page = admin.get("/users").text
    chen = re.search(r'action="/users/(\d+)/roles"', page.split(">chen<", 1)[1])
    assert chen
    answer = admin.post(
        f"/users/{chen.group(1)}/roles",
        data={"csrf": form_token(page), "reviewer_villages": "XF, hp", "clerk_villages": "GM"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    grants = {(g.role.value, g.village_id) for g in app.state.people.user(int(chen.group(1))).grants}
    assert grants == {("reviewer", "XF"), ("reviewer", "HP"), ("clerk", "GM")}
    nobody = admin.post(f"/users/{chen.group(1)}/roles", data={"csrf": form_token(page)})
    assert nobody.status_code == 422  # a person keeps at least one role
    unknown = admin.post(f"/users/{chen.group(1)}/roles", data={"csrf": form_token(page), "clerk_villages": "ZZ"})
    assert unknown.status_code == 404
    entries, _total = app.state.people.activity(action="user.change")
    assert entries and entries[0].target == "chen"


def test_a_person_changes_their_own_password_and_makes_their_own_tokens(demo: Any) -> None:
    app, _record = demo
    client = signed_in(app, "liu")
    page = client.get("/account").text
    wrong = client.post(
        "/account/password",
        data={
            "csrf": form_token(page),
            "current": "not it at all",
            "password": "a new long password",
            "password_again": "a new long password",
        },
    )
    assert wrong.status_code == 422
    made = client.post("/account/tokens", data={"csrf": form_token(page), "label": "我的脚本"})
    token = re.search(r'<code class="token">([^<]+)</code>', made.text)
    assert (
        token
        and TestClient(app)
        .get("/v1/admin/reports/totals", headers={"Authorization": f"Bearer {token.group(1)}"})
        .status_code
        == 403
    )  # a shop manager's
    other = signed_in(app, "liu")
    changed = client.post(
        "/account/password",
        data={
            "csrf": form_token(page),
            "current": DEMO_PASSWORD,
            "password": "a new long password",
            "password_again": "a new long password",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/login"
    assert other.get("/", follow_redirects=False).headers["location"].startswith("/login")  # signed out everywhere
    fresh = browser(app)
    login = fresh.get("/login")
    back = fresh.post(
        "/login",
        data={"csrf": form_token(login.text), "name": "liu", "password": "a new long password"},
        follow_redirects=False,
    )
    assert back.status_code == 303


def test_the_township_changes_a_price_and_it_is_logged(demo: Any) -> None:
    app, record = demo
    client = signed_in(app, "wang")
    page = client.get("/goods").text
    item = township.items(record)[0]
    answer = client.post(
        "/goods",
        data={
            "csrf": form_token(page),
            "sku": item["sku"].lower(),
            "name": item["name"],
            "unit": item["unit"],
            "points": str(item["points"] + 3),
            "category": item["category"],
            "active": "1",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert next(i for i in township.items(record) if i["sku"] == item["sku"])["points"] == item["points"] + 3
    entry = app.state.people.activity(action="item.put")[0][0]
    assert entry.target == item["sku"] and f'"points": {item["points"]}' in (entry.before or "")
    refused = client.post(
        "/goods", data={"csrf": form_token(page), "sku": "X", "name": "x", "unit": "个", "points": "-1"}
    )
    assert refused.status_code == 422
    assert signed_in(app, "li").post("/goods", data={"csrf": form_token(page)}).status_code == 403


def test_a_township_of_many_villages_types_a_village_id_instead_of_picking_it(demo: Any) -> None:
    """Runs at the end: it adds 61 villages to the shared demo township."""
    app, record = demo
    client = signed_in(app, "wang")
    assert '<select name="village">' in client.get("/").text
    for n in range(61):
        township.put_village(record, f"ZZ{n:02d}", f"新村{n}")
    page = client.get("/", params={"village": "XF"}).text
    assert '<select name="village">' not in page and 'name="village" value="XF"' in page
    assert client.get("/", params={"village": "ZZ07"}).status_code == 200
    # The register offers one card sheet per village only once a village is picked.
    register = client.get("/households").text
    assert "cards.pdf" not in register and "选定一个村" in register
    picked = client.get("/households", params={"village": "XF"}).text
    assert picked.count("cards.pdf") == 1 and "/villages/XF/cards.pdf" in picked


def test_the_overview_lists_the_silent_shops_first_and_at_most_thirty(demo: Any) -> None:
    """Runs at the end: it adds 35 shops that never synced."""
    app, record = demo
    client = signed_in(app, "wang")
    for n in range(35):
        township.put_shop(record, f"ZS{n:02d}", f"新店{n}", "XF")
    page = client.get("/").text
    assert page.count('<tr class="late">') == overview.SHOPS_LISTED
    assert "ZS00" in page and "ZS34" not in page  # never synced: listed first, by id, up to the limit
