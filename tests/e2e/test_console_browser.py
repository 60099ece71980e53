"""The township console in a real browser against a real ``lovemart server``, on SQLite and PostgreSQL (issue 13).

Chromium is Debian's (``make install`` installs it; Playwright's own download is not reachable here).
Each backend gets one demo township (``lovemart central demo --console``) and one server process; the
tests walk what a township clerk does: sign in (after a lock-out), open every page, import a register
with a bad row, download a statement PDF, resolve an exception, revoke a device that then cannot sync.
Few and meaningful: browser tests are the slowest part of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.storage.central import scratch_schema
from lovemart_tools.serving import serving

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "lovemart-demo"
DATABASE_OF: dict[str, str] = {}  # a served base URL -> its database URL (a test sets up a shop PC with it)
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make install)")


def _lovemart(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lovemart.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo township served by ``lovemart server`` on a free loopback port: its base URL."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('console-e2e') / 'central.sqlite3'}"
        else:
            base = os.environ.get("LOVEMART_TEST_DATABASE_URL")
            if not base:
                pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
            url = stack.enter_context(scratch_schema(base))  # a schema of its own, dropped afterwards
        seeded = _lovemart("central", "demo", "--console", "--households", "15", "--database-url", url)
        assert seeded.returncode == 0, seeded.stderr
        base_url = stack.enter_context(serving(["lovemart.cli", "server", "--database-url", url]))
        DATABASE_OF[base_url] = url
        yield base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def sign_in(page: Any, base_url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_sign_in_locks_out_then_every_page_opens(server: str, browser: Any) -> None:
    page = browser.new_page()
    for _ in range(5):
        sign_in(page, server, "zhao", "not the password")
    assert "分钟" in page.locator(".error").inner_text()  # locked: the page says for how long
    sign_in(page, server, "wang")
    assert page.url == server + "/"
    assert page.locator("figure.chart svg rect").count() > 0  # the daily chart has bars
    assert "天未同步" in page.locator("table").last.inner_text()  # the silent shop is flagged
    for link in page.locator("nav.menu a").all():
        href = link.get_attribute("href")
        link.click()
        page.wait_for_load_state()
        assert page.url.split("?")[0] == server + href, href
        assert page.locator("h1").count() >= 1 and page.locator(".error").count() == 0, href
    page.click("text=English")
    assert page.locator("nav.menu a").first.inner_text() == "Overview"
    page.close()


def test_a_clerk_imports_a_register_and_prints_a_statement(server: str, browser: Any, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["户号", "户主", "村", "门牌号"])
    sheet.append(["XF0700", "冯春花", "XF", "幸福路 3 号"])
    sheet.append(["XF0701", "", "XF", "幸福路 4 号"])
    register = tmp_path / "register.xlsx"
    book.save(register)
    page = browser.new_page(accept_downloads=True)
    sign_in(page, server, "li")
    page.goto(server + "/households")
    page.set_input_files("input[type=file]", str(register))
    page.click("text=从 Excel 导入")
    assert "第 3 行" in page.locator("ul.problems").inner_text()
    page.goto(server + "/households?q=XF0700")
    assert "找到 0 户" in page.content()  # nothing was stored
    page.goto(server + "/households/XF0002/statement")
    with page.expect_download() as download:
        page.click("text=下载 PDF")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    page.close()


def test_the_township_resolves_an_exception_and_revokes_a_device(server: str, browser: Any) -> None:
    page = browser.new_page()
    sign_in(page, server, "wang")
    page.goto(server + "/exceptions")
    before = page.locator("form[action$='/resolve']").count()
    assert before >= 1, "the demo left an open exception"
    form = page.locator("form[action$='/resolve']").first
    form.locator("input[name=note]").fill("已核实：下次奖励时抵扣")
    form.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("form[action$='/resolve']").count() == before - 1
    page.goto(server + "/exceptions?status=resolved")
    assert "已核实：下次奖励时抵扣" in page.content() and "(wang)" in page.content()

    page.goto(server + "/shops")
    page.locator("form[action='/shops/S01/enrol'] button").click()
    code = page.locator("code.token").inner_text()
    enrolled = httpx.post(server + "/v1/enrol", json={"v": 1, "token": code}).json()
    device = {"Authorization": f"Bearer {enrolled['device_token']}"}
    assert httpx.get(server + "/v1/status", headers=device).status_code == 200
    page.goto(server + "/shops")
    page.locator(f"form[action='/devices/{enrolled['device_id']}/revoke'] button").click()
    page.wait_for_load_state()
    assert httpx.get(server + "/v1/status", headers=device).status_code == 401
    page.close()


def test_points_go_from_a_clerks_form_with_a_photo_to_a_public_notice_and_an_objection(
    server: str, browser: Any, tmp_path: Path
) -> None:
    """The award workflow by hand (issue 14): record with a photo, check, a review meeting, the notice (its
    PDF read back and the public page without signing in), an objection and its resolution. The demo's first
    batch was issued when the demo was made: its records say so."""
    from PIL import Image

    photo = tmp_path / "yard.png"
    Image.new("RGB", (64, 48), (40, 160, 60)).save(photo)
    li = browser.new_page()
    sign_in(li, server, "li")
    li.goto(server + "/points/new")
    li.fill("textarea[name=households]", "XF0003")
    li.select_option("select[name=item]", "A01")
    li.fill("input[name=points]", "7")
    li.fill("input[name=reason]", "房前屋后干净")
    li.click("form[method=post][action='/points/new'] button[type=submit]")
    li.wait_for_load_state()
    record_url = li.url
    assert "/points/XF-" in record_url and "待核查" in li.content()
    li.set_input_files("input[name=photo]", str(photo))
    li.click("form[action$='/photos'] button")
    li.wait_for_load_state()
    assert li.locator("p.photos img").count() == 1
    assert li.evaluate("document.querySelector('p.photos img').naturalWidth") == 64  # the photo itself
    li.click("button[value=confirm]")
    li.wait_for_load_state()
    assert "已核查，待评议" in li.content()

    chen = browser.new_page(accept_downloads=True)
    sign_in(chen, server, "chen")
    chen.goto(server + "/batches?village=XF")
    chen.fill("textarea[name=attendees]", "陈国强、张伟、刘玉兰")
    chen.click("form[method=post][action='/batches'] button")
    chen.wait_for_load_state()
    record_id = record_url.rsplit("/", 1)[1]
    chen.locator(f"form[action='/points/{record_id}/review'] button[value=approve]").click()
    chen.wait_for_load_state()
    chen.click("form[action$='/publish'] button")
    chen.wait_for_load_state()
    assert "公示中" in chen.content()
    with chen.expect_download() as download:
        chen.click("text=公示单 PDF")
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    document = pdfium.PdfDocument(Path(download.value.path()).read_bytes())
    said = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "积分公示" in said and "房前屋后干净" in said and "+7" in said

    public = browser.new_page()  # nobody signed in
    public.goto(server + "/public/XF")
    assert "房前屋后干净" in public.content() and "XF0003" not in public.content()
    assert public.locator("nav.menu").count() == 0

    li.goto(record_url)
    li.fill("input[name=raised_by]", "赵大爷")
    li.fill("input[name=says]", "那天院子里堆着柴火")
    li.click("form[action$='/object'] button")
    li.wait_for_load_state()
    assert "有异议待处理" in li.content() or "赵大爷" in li.content()
    chen.goto(record_url)
    chen.fill("form[action$='/resolve'] input[name=note]", "核实后柴火已清走")
    chen.click("form[action$='/resolve'] button[value=dismiss]")
    chen.wait_for_load_state()
    assert "异议不成立" in chen.content()

    wang = browser.new_page()
    sign_in(wang, server, "wang")
    wang.goto(server + "/batches/1")
    assert wang.locator("text=已核发").count() >= 1  # the demo's first batch, issued after its notice
    for page in (li, chen, public, wang):
        page.close()


def test_the_township_issues_a_batch_a_shop_syncs_and_its_kiosk_shows_the_item_and_the_notice(
    server: str, browser: Any, tmp_path: Path
) -> None:
    """The last leg of the workflow: the demo's second batch has passed its notice; the administrator issues
    it in the browser, a shop PC set up from the server syncs, and its kiosk (the presenter over the shop's
    ledger) says the item and "第 2 批公示", turns to the notice now on the board, and shows a household its
    own item on that notice."""
    from kiosk.presenter import KioskPresenter
    from kiosk.sources import LocalSource
    from ledger.history import recent_movements
    from ledger.passbook import make_code
    from ledger.storage import open_ledger
    from sync.server.record import CentralRecord

    wang = browser.new_page()
    sign_in(wang, server, "wang")
    wang.goto(server + "/batches/2")
    wang.click("form[action$='/issue'] button")
    wang.wait_for_load_state()
    assert "已核发" in wang.content()
    wang.close()

    record = CentralRecord.open(DATABASE_OF[server], migrate=False)
    try:
        token = record.new_enrol_token("S01")
    finally:
        record.close()
    home = tmp_path / "shop"
    made = _lovemart("provision", "--home", str(home), "--server", server, "--token", token, "--json")
    assert made.returncode == 0, made.stderr
    store = open_ledger(home / "ledger.sqlite3", durable=False)
    try:
        with store.read() as unit:
            key = unit.township().passbook_key
            cards = {r.household.household_id: r.card_no for r in unit.households()}
        issued = {
            hid: [m.words("zh") for m in recent_movements(store, hid) if "第 2 批公示" in m.words("zh")]
            for hid in cards
        }
        household, said = next((h, w) for h, w in issued.items() if w)
        assert said == ["孝老爱亲、邻里和睦（第 2 批公示）"] or said == ["参加志愿服务（每次）（第 2 批公示）"]
        kiosk = KioskPresenter(LocalSource(store))
        kiosk.refresh_ranking()
        kiosk.set_board(kiosk.fetch_board())
        kiosk.scan(make_code(key, household, cards[household] or 1))
        view = kiosk.household_view()
        assert view is not None and said[0] in [m.text for m in view.movements]
        kiosk.reset()
        panels = {}  # the panel turns through every notice on the board (an earlier test published one more)
        while kiosk.rotate() and kiosk.idle_view().panel == "notice":
            panels[kiosk.idle_view().notice_title] = [r.reason for r in kiosk.idle_view().notice]
        assert "院落干净，柴草堆放整齐" in panels["第3批积分公示"]
        on_notice = next(line.household_id for n in kiosk.fetch_board().notices for line in n.lines if line.points == 9)
        kiosk.scan(make_code(key, on_notice, cards[on_notice] or 1))
        mine = kiosk.household_view()
        assert mine is not None and [r.text for r in mine.notice_items] == ["第3批公示：庭院整洁、房前屋后干净"]
    finally:
        store.close()
