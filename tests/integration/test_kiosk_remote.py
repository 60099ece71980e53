"""A kiosk away from the shop: ``RemoteKioskSource`` against the real central record on loopback.

One server per backend for the module (SQLite always, PostgreSQL when LOVEMART_TEST_DATABASE_URL is set):
two villages, one shop each; shop S01 enrolled, stocked and one redemption pushed, so the central record
knows its shelf; households with a revoked card and a frozen household. The kiosk's presenter is driven
with the remote source, with no Kivy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.presenter import KioskPresenter
from kiosk.sources import Freshness, KioskSource
from ledger import services
from ledger.errors import LedgerError
from ledger.history import Movement, describe
from ledger.model import Item
from ledger.passbook import make_code
from ledger.storage import open_ledger
from lovemart import settings as settings_mod
from lovemart.bootstrap import shop_parts
from lovemart.kiosk_main import kiosk_token, remote_source
from lovemart.kiosk_remote import KioskServerFault, RemoteKioskSource
from lovemart_tools.bench_sync import MiniClient
from sync.server import township, views
from sync.server.record import CentralRecord
from tests.conftest import ADMIN_CTX
from tests.server_harness import HTTP, PG_URL, ServerProcess, free_port, pg_schema

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Hall:
    record: CentralRecord
    server: ServerProcess
    kiosk_token: str
    key: bytes

    def code(self, household_id: str, card_no: int = 1) -> str:
        return make_code(self.key, household_id, card_no)

    def source(self, village_id: str = "V01", token: str | None = None) -> RemoteKioskSource:
        return RemoteKioskSource(self.server.url, token or self.kiosk_token, village_id, http=HTTP)


@pytest.fixture(scope="module", params=BACKENDS)
def hall(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp("hall")
    context = None
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("LOVEMART_TEST_DATABASE_URL is not set")
        context = pg_schema()
        url = context.__enter__()
    else:
        url = f"sqlite:///{tmp / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    record.initialise("T01", "红星镇")
    for n, name in ((1, "幸福村"), (2, "光明村")):
        township.put_village(record, f"V0{n}", name)
        township.put_shop(record, f"S0{n}", f"{name}爱心超市", f"V0{n}")
    township.put_item(record, Item("SOAP", "肥皂", "块", 3))
    township.put_item(record, Item("OIL5", "食用油", "5L桶", 60))
    township.put_item(record, Item("RICE", "大米", "袋", 40))  # never stocked: not on offer
    for hid, village, shop, points in (
        ("H1", "V01", "S01", 300),
        ("H2", "V01", "S01", 150),
        ("H3", "V01", "S01", 150),
        ("H4", "V01", "S01", 80),
        ("H5", "V02", "S02", 500),
    ):
        township.put_household(record, township.HouseholdInput(hid, village, f"户主{hid}", shop))
        township.award(record, hid, points, "卫生评比")
    township.reissue_card(record, "H3")  # card 1 revoked, card 2 issued
    township.clear(record, "H4", "违反村规")
    with record.store.read() as unit:
        key = unit.ledger.township().passbook_key
    server = ServerProcess(url).start()
    # Shop S01 takes goods in and redeems once, and pushes: the central record now knows its shelf.
    client = MiniClient(server.url, http=HTTP)
    store = open_ledger(tmp / f"S01-{uuid.uuid4().hex[:6]}.sqlite3", durable=False)
    client.provision(store, record.new_enrol_token("S01"))
    services.stock_intake(store, [("SOAP", 10), ("OIL5", 4)], supplier="供销社", ctx=ADMIN_CTX)
    services.redeem(store, make_code(key, "H1", 1), [("OIL5", 1)], ctx=ADMIN_CTX)
    client.push(store)
    hall = Hall(record, server, record.new_kiosk_token("村委会大厅"), key)
    try:
        yield hall
    finally:
        client.close()
        store.close()
        server.stop()
        record.close()
        if context is not None:
            context.__exit__(None, None, None)


def central_movements(record: CentralRecord, household_id: str) -> tuple[Movement, ...]:
    with record.store.read() as unit:
        txns = unit.ledger.recent_transactions(household_id, views.HISTORY_LENGTH)
        return tuple(describe(unit.ledger, t, household_id) for t in txns)


# ----- the endpoints --------------------------------------------------------------------------------------


def test_board_shows_the_public_ranking_and_the_village_shelf_never_balances(hall: Hall) -> None:
    reply = HTTP.get(
        hall.server.url + "/v1/kiosk/board",
        params={"village": "V01", "size": 3},
        headers={"Authorization": f"Bearer {hall.kiosk_token}"},
    )
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["village"] == {"village_id": "V01", "name": "幸福村"}
    central = views.ranking(hall.record, "V01", 3)
    assert data["ranking"] == [{k: r[k] for k in ("rank", "household_id", "name", "earned_cycle")} for r in central]
    assert all("balance" not in r for r in data["ranking"])
    assert data["shop"] == {"shop_id": "S01", "name": "幸福村爱心超市"}
    assert {g["sku"]: g["on_hand"] for g in data["goods"]} == {"SOAP": 10, "OIL5": 3}  # RICE: none in stock
    assert data["server_time"] and data["stock_as_of"]
    unknown = HTTP.get(
        hall.server.url + "/v1/kiosk/board",
        params={"village": "V99"},
        headers={"Authorization": f"Bearer {hall.kiosk_token}"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "village_unknown"
    anonymous = HTTP.get(hall.server.url + "/v1/kiosk/board", params={"village": "V01"})
    assert anonymous.status_code == 401


# ----- RemoteKioskSource --------------------------------------------------------------------------------


def test_remote_ranking_equals_the_central_ranking(hall: Hall) -> None:
    ranking = hall.source().ranking(10)
    central = views.ranking(hall.record, "V01")
    assert [(e.rank, e.household_id, e.name, e.earned) for e in ranking.entries] == [
        (r["rank"], r["household_id"], r["name"], r["earned_cycle"]) for r in central
    ]
    assert ranking.village_name == "幸福村"
    assert ranking.entries[0].household_id == "H1" and ranking.entries[1].rank == ranking.entries[2].rank == 2
    assert ranking.freshness.origin == "remote" and ranking.freshness.as_of
    shelf = hall.source().shelf()
    assert shelf.shop_name == "幸福村爱心超市"
    assert {(g.sku, g.points, g.on_hand) for g in shelf.goods} == {("SOAP", 3, 10), ("OIL5", 60, 3)}


def test_remote_household_figures_equal_the_central_record(hall: Hall) -> None:
    facts = hall.source().household(hall.code("H1"))
    with hall.record.store.read() as unit:
        balance, earned = unit.ledger.balance("H1")
        floor = unit.ledger.policy().redeemable_floor
    assert (facts.household_id, facts.name, facts.frozen) == ("H1", "户主H1", False)
    assert (facts.balance, facts.earned_cycle, facts.redeemable) == (balance, earned, max(0, balance - floor))
    assert facts.balance == 240 and facts.earned_cycle == 300
    assert facts.movements == central_movements(hall.record, "H1")
    assert facts.movements[0].points == -60 and "食用油" in facts.movements[0].words("zh")
    assert facts.movements[0].words("en").startswith("Spent at")
    assert {g.sku for g in facts.goods} == {"SOAP", "OIL5"}
    # As fresh as the village shop's last push, which is what a villager's spending there depends on.
    with hall.record.store.read() as unit:
        pushed = max(d.last_push_at for d in unit.devices("S01") if d.last_push_at)
    assert facts.freshness == Freshness("remote", pushed)
    frozen = hall.source().household(hall.code("H4"))
    assert frozen.frozen and frozen.redeemable == 0


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda h: "hello", "passbook_malformed"),
        (lambda h: h.code("H1")[:-1] + ("Z" if h.code("H1")[-1] != "Z" else "Y"), None),
        (lambda h: h.code("NOBODY"), "passbook_unknown"),
        (lambda h: h.code("H3", 1), "passbook_revoked"),
    ],
)
def test_bad_codes_raise_the_ledger_errors_a_shop_ledger_would(hall: Hall, make: object, code: str | None) -> None:
    assert callable(make)
    with pytest.raises(LedgerError) as caught:
        hall.source().household(make(hall))
    if code is None:
        assert caught.value.code in ("passbook_forged", "passbook_malformed")
    else:
        assert caught.value.code == code
    if code == "passbook_revoked":
        assert caught.value.params.get("card_no") == 1  # the parameters travel, so the words are the same
    assert hall.source().household(hall.code("H3", 2)).household_id == "H3"  # the new card works


def test_the_passbook_code_never_travels_in_a_url(hall: Hall) -> None:
    """Access logs and proxies keep URLs: whoever reads them could look the household up (issue 11 §3)."""
    import httpx

    urls: list[str] = []
    code = hall.code("H1")
    with httpx.Client(event_hooks={"request": [lambda request: urls.append(str(request.url))]}) as http:
        source = RemoteKioskSource(hall.server.url, hall.kiosk_token, "V01", http=http)
        assert source.household(code).household_id == "H1"
        with pytest.raises(LedgerError):
            source.household(hall.code("NOBODY"))
    assert urls and not [url for url in urls if "LM1" in url or "code=" in url]
    # The old look-up with the code in the query string is gone.
    old = HTTP.get(
        hall.server.url + "/v1/kiosk/balance",
        params={"code": code},
        headers={"Authorization": f"Bearer {hall.kiosk_token}"},
    )
    assert old.status_code == 405
    nul = HTTP.post(
        hall.server.url + "/v1/kiosk/balance",
        json={"code": "LM1\u0000"},
        headers={"Authorization": f"Bearer {hall.kiosk_token}"},
    )
    assert 400 <= nul.status_code < 500


def test_a_wrong_kiosk_token_is_refused_with_a_clear_message(hall: Hall) -> None:
    source = hall.source(token="not-a-kiosk-token")
    for call in (lambda: source.household(hall.code("H1")), lambda: source.ranking(5), source.shelf):
        with pytest.raises(KioskServerFault) as caught:
            call()
        assert caught.value.code == "kiosk_token_invalid"
        assert "令牌" in caught.value.message("zh") and "kiosk token" in caught.value.message("en")


def test_an_unreachable_server_is_a_clear_fault_and_does_not_hold_the_idle_screen(hall: Hall) -> None:
    now = [100.0]
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    source = RemoteKioskSource(url, hall.kiosk_token, "V01", http=HTTP, clock=lambda: now[0], retry_after=30)
    with pytest.raises(KioskServerFault) as caught:
        source.household(hall.code("H1"))
    assert caught.value.code == "kiosk_unreachable"
    assert "连不上乡镇服务器" in caught.value.message("zh") and url in caught.value.message("en")
    source.server_url = hall.server.url  # the link is back, but the source does not know yet
    with pytest.raises(KioskServerFault):
        source.shelf()  # known down and no shelf yet: refused at once, no request (it would have succeeded)
    now[0] += 31
    assert source.shelf().shop_name == "幸福村爱心超市"  # tried again after retry_after
    source.server_url = url
    with pytest.raises(KioskServerFault):
        source.ranking(5)
    assert source.shelf().shop_name == "幸福村爱心超市"  # the last shelf while the server is down


# ----- the kiosk presenter on the remote source -----------------------------------------------------------


def test_the_kiosk_presenter_runs_on_the_remote_source(hall: Hall) -> None:
    source: KioskSource = hall.source()  # structurally a KioskSource (mypy checks this line)
    presenter = KioskPresenter(source, lang="zh")
    presenter.refresh_ranking()
    presenter.refresh_shelf()
    idle = presenter.idle_view()
    assert idle.ranking_title == "幸福村红榜" and [line.name for line in idle.ranking][0] == "户主H1"
    assert {g.name for g in idle.goods} == {"肥皂", "食用油"} and idle.shop == "幸福村爱心超市"
    assert idle.freshness.startswith("数据：乡镇积分中心")
    assert presenter.scan(hall.code("H1")) == "household"
    view = presenter.household_view()
    assert view is not None and view.redeemable == str(hall.source().household(hall.code("H1")).redeemable)
    assert view.movements[0].points == "-60" and "食用油" in view.movements[0].text
    assert {g.name for g in view.affordable} == {"肥皂", "食用油"}
    for code, kind in ((hall.code("H3", 1), "revoked"), (hall.code("H4"), "frozen"), (hall.code("NOBODY"), "unknown")):
        assert presenter.scan(code) == "error"
        error = presenter.error_view()
        assert error is not None and error.kind == kind
    down = KioskPresenter(RemoteKioskSource(f"http://127.0.0.1:{free_port()}", "t", "V01", http=HTTP))
    assert down.scan(hall.code("H1")) == "error"
    error = down.error_view()
    assert error is not None and error.kind == "unexpected"


# ----- settings ---------------------------------------------------------------------------------------------


def test_kiosk_settings_choose_the_remote_source(tmp_path: Path) -> None:
    hall = tmp_path / "hall"
    assert shop_parts(hall).settings.kiosk.server is None  # the default stays the shop ledger
    kiosk = {"server": "https://central.example", "kiosk_token": "k" * 40}
    settings = settings_mod.update(settings_mod.load(hall), {"kiosk": kiosk})
    assert settings.kiosk.server == "https://central.example"
    with pytest.raises(KioskServerFault) as caught:
        remote_source(shop_parts(hall))
    assert caught.value.code == "kiosk_settings" and "village" in caught.value.message("zh")
    settings_mod.update(settings, {"kiosk": {"server": "https://central.example/", "village": "v01"}})
    source = remote_source(shop_parts(hall))
    assert (source.server_url, source.village_id, source.timeout) == ("https://central.example", "V01", 3.0)
    source.close()


def test_the_kiosk_token_is_kept_in_a_file_only_its_user_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import stat

    from lovemart.cli import main

    hall = tmp_path / "hall"
    settings_mod.update(settings_mod.load(hall), {"kiosk": {"server": "https://central.example", "village": "V01"}})
    with pytest.raises(KioskServerFault) as caught:
        remote_source(shop_parts(hall))
    assert "--set-kiosk-token" in caught.value.message("zh")

    token = "Kx" * 20
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["--home", str(hall), "kiosk", "--set-kiosk-token"]) == 0
    path = hall / "kiosk-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in (hall / "lovemart.toml").read_text(encoding="utf-8")
    assert kiosk_token(shop_parts(hall)) == token
    source = remote_source(shop_parts(hall))
    assert source.kiosk_token == token
    source.close()

    monkeypatch.setattr("sys.stdin", io.StringIO("not a token\n"))  # refused, the saved one stays
    assert main(["--home", str(hall), "kiosk", "--set-kiosk-token"]) == 1
    assert "没有保存" in capsys.readouterr().err
    assert path.read_text(encoding="ascii").strip() == token


def test_a_kiosk_without_a_ledger_is_closed_with_the_pin_from_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from kiosk.access import PinAccess
    from lovemart.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert main(["--home", str(tmp_path), "kiosk", "--set-manager-pin"]) == 0
    written = (tmp_path / "lovemart.toml").read_text(encoding="utf-8")
    assert "manager_pin" in written and "2468" not in written  # only the salted hash is kept
    manager_pin = shop_parts(tmp_path).settings.kiosk.manager_pin
    assert manager_pin
    access = PinAccess(manager_pin)
    assert [m.operator_id for m in access.managers()] == ["kiosk"]
    assert access.check("kiosk", "2468") is None
    assert access.check("kiosk", "2469") == "kiosk.maint_wrong"
    assert PinAccess("damaged").check("kiosk", "2468") == "kiosk.maint_wrong"

    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))  # too short: refused, the old PIN stays
    assert main(["--home", str(tmp_path), "kiosk", "--set-manager-pin"]) == 1
    assert "4" in capsys.readouterr().err
    assert (tmp_path / "lovemart.toml").read_text(encoding="utf-8") == written


def test_a_remote_kiosk_refuses_plain_http_across_a_network_unless_its_settings_say_so(tmp_path: Path) -> None:
    """The kiosk token reads every household's points (issue 11): only the loopback may be plain HTTP."""
    kiosk = {"server": "http://10.20.30.40:8000", "kiosk_token": "k" * 40, "village": "V01"}
    settings = settings_mod.update(settings_mod.load(tmp_path / "hall"), {"kiosk": kiosk})
    with pytest.raises(KioskServerFault) as caught:
        remote_source(shop_parts(tmp_path / "hall"))
    assert caught.value.code == "kiosk_plain_http" and "https://" in caught.value.message("zh")
    for allowed in ({**kiosk, "allow_plain_http": True}, {**kiosk, "server": "http://127.0.0.1:8000"}):
        settings_mod.update(settings, {"kiosk": {"allow_plain_http": None, **allowed}})
        remote_source(shop_parts(tmp_path / "hall")).close()


def test_a_hall_kiosk_gets_the_villages_rules_with_the_ranking(hall: Hall) -> None:
    from ledger.access import ConsoleRole, Grant
    from ledger.rulebook import Direction, RuleItem
    from sync.server import awards
    from sync.server.people import SYSTEM, Actor, People

    people = People(hall.record)
    if people.user_named("rules-admin") is None:
        people.add_user(Actor(SYSTEM, "test"), "rules-admin", "乡镇管理员", None, [Grant(ConsoleRole.ADMIN)])
    admin = people.user_named("rules-admin")
    assert admin is not None
    awards.put_rules(
        hall.record,
        people,
        Actor(admin.person, "127.0.0.1"),
        village_id=None,
        effective_from="2026-01-01",
        items=[RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10)],
    )
    source = hall.source()
    try:
        assert source.board().rules == ()  # nothing asked yet
        source.shelf()  # the shelf alone does not bring the rules (they come with the ranking)
        assert source.board().rules == ()
        source.ranking(3)
        board = source.board()
        assert board.village_id == "V01" and [r.name for r in board.rules] == ["庭院整洁"]
        presenter = KioskPresenter(source)
        presenter.refresh_ranking()
        presenter.set_board(presenter.fetch_board())
        assert [line.value for line in presenter.rules_view().lines] == ["", "+1～+10"]
    finally:
        source.close()
