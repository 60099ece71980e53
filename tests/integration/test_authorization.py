"""Every route of the central record against every role and scope (issue 13 "An authorization matrix").

``EXPECTED`` is this test's own table of what each route does. A route of the app missing from it, or
an entry for a route that no longer exists, fails the test; so does a route whose declared action
differs. Then every route is called by each kind of person (and by nobody) with the route's path filled
for village V1, and the answer must be 403 exactly when ``ledger.access.may`` says no, 401 without a token.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console.site import create_site
from ledger.access import Action, ConsoleRole, Grant, Person, Scope, may
from ledger.rulebook import Direction, RuleItem
from sync.server import awards, township
from sync.server.people import SYSTEM, Actor, People
from sync.server.record import CentralRecord

A = Action
# (method, path) -> (action, what the request is about when called by this test)
V1 = Scope(village_id="V1")
V1_SHOP = Scope(village_id="V1", shop_id="S1")
T = Scope()
EXPECTED: dict[tuple[str, str], tuple[Action | None, Scope | None]] = {
    ("GET", "/v1/admin/township"): (A.READ_TOWNSHIP, T),
    ("PUT", "/v1/admin/township"): (A.MANAGE_POLICY, T),
    ("GET", "/v1/admin/policy"): (A.READ_TOWNSHIP, T),
    ("PUT", "/v1/admin/policy"): (A.MANAGE_POLICY, T),
    ("GET", "/v1/admin/villages"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/villages"): (A.MANAGE_POLICY, T),
    ("GET", "/v1/admin/shops"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/shops"): (A.MANAGE_SHOPS, T),
    ("POST", "/v1/admin/shops/{shop_id}/enrol-tokens"): (A.MANAGE_SHOPS, T),
    ("GET", "/v1/admin/devices"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/devices/{device_id}/revoke"): (A.MANAGE_SHOPS, T),
    ("GET", "/v1/admin/households"): (A.READ_VILLAGE, V1),  # called with ?village=V1
    ("POST", "/v1/admin/households"): (A.EDIT_HOUSEHOLDS, None),  # the body's village: checked below
    ("POST", "/v1/admin/households/import"): (A.EDIT_HOUSEHOLDS, T),
    ("GET", "/v1/admin/households/{household_id}"): (A.READ_VILLAGE, V1),
    ("POST", "/v1/admin/households/{household_id}/reissue"): (A.EDIT_HOUSEHOLDS, V1),
    ("POST", "/v1/admin/households/{household_id}/revoke-card"): (A.EDIT_HOUSEHOLDS, V1),
    ("POST", "/v1/admin/households/{household_id}/clear"): (A.POST_POINTS, T),
    ("POST", "/v1/admin/households/{household_id}/unfreeze"): (A.POST_POINTS, T),
    ("POST", "/v1/admin/points"): (A.POST_POINTS, T),
    ("POST", "/v1/admin/points/import"): (A.POST_POINTS, T),
    ("POST", "/v1/admin/points/base-grant"): (A.POST_POINTS, T),
    ("POST", "/v1/admin/points/close-cycle"): (A.POST_POINTS, T),
    ("GET", "/v1/admin/items"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/items"): (A.MANAGE_CATALOGUE, T),
    ("GET", "/v1/admin/exceptions"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/exceptions/{exception_id}/resolve"): (A.MANAGE_EXCEPTIONS, T),
    ("GET", "/v1/admin/held"): (A.READ_TOWNSHIP, T),
    ("POST", "/v1/admin/held/{txn_id}/keep"): (A.MANAGE_EXCEPTIONS, T),
    ("POST", "/v1/admin/held/{txn_id}/release"): (A.MANAGE_EXCEPTIONS, T),
    ("POST", "/v1/admin/kiosk-tokens"): (A.MANAGE_SHOPS, T),
    ("POST", "/v1/admin/bundles/apply"): (A.MANAGE_SHOPS, T),
    ("GET", "/v1/admin/reports/totals"): (A.READ_TOWNSHIP, T),
    ("GET", "/v1/admin/reports/ranking"): (A.READ_VILLAGE, V1),  # called with ?village=V1
    ("GET", "/v1/admin/reports/shops"): (A.READ_TOWNSHIP, T),
    ("GET", "/v1/admin/reports/liability"): (A.READ_TOWNSHIP, T),
    ("GET", "/v1/admin/reports/overdrafts"): (A.READ_TOWNSHIP, T),
    # Not people's routes: devices, kiosks and everyone (their own tests cover their tokens).
    ("GET", "/v1/health"): (None, None),
    ("POST", "/v1/enrol"): (None, None),
    ("POST", "/v1/push"): (None, None),
    ("GET", "/v1/pull"): (None, None),
    ("GET", "/v1/status"): (None, None),
    ("GET", "/v1/board"): (None, None),
    ("GET", "/v1/own"): (None, None),
    ("POST", "/v1/kiosk/balance"): (None, None),
    ("GET", "/v1/kiosk/board"): (None, None),
    # The console's pages (a session cookie instead of a token; ``None`` scope: "some grant allows it",
    # the page then shows only what the person may see).
    ("GET", "/login"): (None, None),
    ("POST", "/login"): (None, None),
    ("POST", "/logout"): (A.MANAGE_SELF, T),
    ("POST", "/logout-everywhere"): (A.MANAGE_SELF, T),
    ("POST", "/lang"): (A.MANAGE_SELF, T),
    ("GET", "/"): (A.READ_SHOP, None),
    ("GET", "/households"): (A.READ_VILLAGE, None),
    ("GET", "/households/{household_id}"): (A.READ_VILLAGE, V1),
    ("GET", "/households/{household_id}/statement"): (A.READ_VILLAGE, V1),
    ("POST", "/households/{household_id}/card"): (A.EDIT_HOUSEHOLDS, V1),
    ("GET", "/households/{household_id}/statement.pdf"): (A.READ_VILLAGE, V1),
    ("GET", "/villages/{village_id}/cards.pdf"): (A.EDIT_HOUSEHOLDS, V1),
    ("GET", "/households/new"): (A.EDIT_HOUSEHOLDS, None),
    ("POST", "/households/new"): (A.EDIT_HOUSEHOLDS, None),
    ("GET", "/households/{household_id}/edit"): (A.EDIT_HOUSEHOLDS, V1),
    ("POST", "/households/{household_id}/edit"): (A.EDIT_HOUSEHOLDS, V1),
    ("POST", "/households/import"): (A.EDIT_HOUSEHOLDS, None),
    ("GET", "/shops"): (A.READ_SHOP, None),
    ("POST", "/shops"): (A.MANAGE_SHOPS, T),
    ("POST", "/shops/{shop_id}/enrol"): (A.MANAGE_SHOPS, T),
    ("POST", "/devices/{device_id}/revoke"): (A.MANAGE_SHOPS, T),
    ("GET", "/goods"): (A.READ_SHOP, None),
    ("POST", "/goods"): (A.MANAGE_CATALOGUE, T),
    ("GET", "/exceptions"): (A.READ_TOWNSHIP, T),
    ("GET", "/transactions/{txn_id}"): (A.READ_TOWNSHIP, T),
    ("POST", "/exceptions/{exception_id}/resolve"): (A.MANAGE_EXCEPTIONS, T),
    ("POST", "/held/{txn_id}/decide"): (A.MANAGE_EXCEPTIONS, T),
    ("GET", "/policy"): (A.READ_TOWNSHIP, T),
    ("POST", "/policy"): (A.MANAGE_POLICY, T),
    ("POST", "/policy/workflow"): (A.MANAGE_POLICY, T),
    ("POST", "/policy/stars"): (A.MANAGE_POLICY, T),
    ("GET", "/users"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users/{user_id}/active"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users/{user_id}/password"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users/{user_id}/sign-out"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users/{user_id}/roles"): (A.MANAGE_PEOPLE, T),
    ("POST", "/users/{user_id}/tokens"): (A.MANAGE_PEOPLE, T),
    ("POST", "/tokens/{token_id}/revoke"): (A.MANAGE_PEOPLE, T),
    ("GET", "/activity"): (A.READ_ACTIVITY, T),
    ("GET", "/account"): (A.MANAGE_SELF, T),
    ("POST", "/account/password"): (A.MANAGE_SELF, T),
    ("POST", "/account/tokens"): (A.MANAGE_SELF, T),
    ("POST", "/account/tokens/{token_id}/revoke"): (A.MANAGE_SELF, T),
    ("GET", "/reports"): (A.READ_SHOP, None),
    ("GET", "/reports/ledgers.xlsx"): (A.READ_SHOP, None),
    ("GET", "/reports/ranking"): (A.READ_VILLAGE, V1),  # called with ?village=V1
    ("GET", "/reports/ranking.pdf"): (A.READ_VILLAGE, V1),
    ("GET", "/reports/helping"): (A.READ_VILLAGE, V1),
    ("GET", "/reports/honours"): (A.READ_VILLAGE, V1),
    ("GET", "/reports/honours.pdf"): (A.READ_VILLAGE, V1),
    ("GET", "/reports/certificates.pdf"): (A.READ_VILLAGE, V1),
    # The award workflow (issue 14): a record, batch, objection or photo is about its village (V1 here).
    ("GET", "/points"): (A.READ_VILLAGE, None),
    ("GET", "/points/new"): (A.RECORD_POINTS, None),
    ("POST", "/points/new"): (A.RECORD_POINTS, None),
    ("POST", "/points/import"): (A.RECORD_POINTS, None),
    ("GET", "/points/{record_id}"): (A.READ_VILLAGE, V1),
    ("POST", "/points/{record_id}/check"): (A.CHECK_POINTS, V1),
    ("POST", "/points/{record_id}/review"): (A.REVIEW_POINTS, V1),
    ("POST", "/points/{record_id}/approve"): (A.POST_POINTS, V1),
    ("POST", "/points/{record_id}/object"): (A.RECORD_POINTS, V1),
    ("POST", "/points/{record_id}/photos"): (A.RECORD_POINTS, V1),
    ("GET", "/photos/{photo_id}"): (A.READ_VILLAGE, V1),
    ("POST", "/objections/{objection_id}/resolve"): (A.REVIEW_POINTS, T),  # no such objection: the township's
    ("GET", "/batches"): (A.READ_VILLAGE, None),
    ("POST", "/batches"): (A.REVIEW_POINTS, None),
    ("GET", "/batches/{batch_id}"): (A.READ_VILLAGE, V1),
    ("POST", "/batches/{batch_id}/approve-all"): (A.REVIEW_POINTS, V1),
    ("POST", "/batches/{batch_id}/publish"): (A.REVIEW_POINTS, V1),
    ("POST", "/batches/{batch_id}/issue"): (A.REVIEW_POINTS, V1),  # the township lets reviewers issue here
    ("GET", "/batches/{batch_id}/notice.pdf"): (A.READ_VILLAGE, V1),
    ("GET", "/public/{village_id}"): (None, None),
    ("GET", "/rules"): (A.READ_VILLAGE, None),
    ("GET", "/rules.xlsx"): (A.READ_VILLAGE, None),
    ("GET", "/rules.pdf"): (A.READ_VILLAGE, None),
    ("POST", "/rules/import"): (A.RECORD_POINTS, None),
}
# Calls that would end the test's own session; their own tests sign out.
NOT_CALLED = {("POST", "/logout"), ("POST", "/logout-everywhere")}
FILLED = {
    "{shop_id}": "S1",
    "{device_id}": "D9",
    "{household_id}": "H1",
    "{exception_id}": "1",
    "{txn_id}": "x",
    "{user_id}": "999",
    "{token_id}": "x",
    "{village_id}": "V1",
    "{record_id}": "V1-000001",
    "{batch_id}": "1",
    "{objection_id}": "1",
    "{photo_id}": "1",
}
PASSWORD = "correct horse battery"
QUERY = {
    "/v1/admin/households": "?village=V1",
    "/v1/admin/reports/ranking": "?village=V1",
    "/reports/ranking": "?village=V1",
    "/reports/ranking.pdf": "?village=V1",
    "/reports/helping": "?village=V1",
    "/reports/honours": "?village=V1",
    "/reports/honours.pdf": "?village=V1",
    "/reports/certificates.pdf": "?village=V1",
}

PEOPLE = {
    "admin": [Grant(ConsoleRole.ADMIN)],
    "auditor": [Grant(ConsoleRole.AUDITOR)],
    "clerk_v1": [Grant(ConsoleRole.CLERK, village_id="V1")],
    "clerk_v2": [Grant(ConsoleRole.CLERK, village_id="V2")],
    "reviewer_v1": [Grant(ConsoleRole.REVIEWER, village_id="V1")],
    "manager_s1": [Grant(ConsoleRole.SHOP_MANAGER, shop_id="S1")],
    "manager_s2": [Grant(ConsoleRole.SHOP_MANAGER, shop_id="S2")],
}


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every API route, also inside included routers (this FastAPI keeps an included router whole)."""
    found: list[APIRoute] = []
    for entry in routes:
        if isinstance(entry, APIRoute):
            found.append(entry)
        elif (router := getattr(entry, "original_router", None)) is not None:
            found += _api_routes(list(router.routes))
    return found


def _routes(app: Any) -> set[tuple[str, str]]:
    return {(m, r.path) for r in _api_routes(app.routes) for m in r.methods if m != "HEAD"}


def _declared(app: Any) -> dict[tuple[str, str], Action | None]:
    declared: dict[tuple[str, str], Action | None] = {}
    for route in _api_routes(app.routes):
        actions = [getattr(d.call, "action", None) for d in route.dependant.dependencies]
        action = next((a for a in actions if a is not None), None)
        declared |= {(m, route.path): action for m in route.methods if m != "HEAD"}
    return declared


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = f"sqlite:///{tmp_path_factory.mktemp('authz') / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    record.initialise("T01", "红星镇")
    for village in ("V1", "V2"):
        township.put_village(record, village, f"{village}村")
        township.put_shop(record, "S" + village[1], f"{village}超市", village)
    township.put_household(record, township.HouseholdInput("H1", "V1", "张三", "S1"))
    app = create_site(url, record=record)
    people: People = app.state.people
    # One points record with a photo and a review batch in V1, made by the system (so nobody's own).
    system = Actor.command_line(Person(0, "system", (Grant(ConsoleRole.ADMIN),)))
    item = RuleItem("A01", "庭院整洁", "评议分", Direction.REWARD, 1, 10)
    awards.put_rules(record, people, system, village_id=None, effective_from="2020-01-01", items=[item])
    made = awards.record_points(
        record,
        people,
        system,
        household_ids=["H1"],
        item_code="A01",
        points=5,
        day="2026-01-01",
        place="",
        reason="庭院整洁",
        source="declaration",
    )[0]
    awards.add_photo(record, people, system, made.record_id, "image/png", b"\x89PNG\r\n\x1a\n")
    awards.new_batch(record, people, system, "V1", "2026-01-02", "评议小组")
    awards.set_workflow_settings(
        record, people, system, awards.WorkflowSettings(village_issues=True, direct_points=True)
    )
    tokens = {}
    for name, grants in PEOPLE.items():
        user = people.add_user(Actor.command_line(SYSTEM), name, name, PASSWORD, grants)
        token = people.new_api_token(Actor.command_line(SYSTEM), user.user_id, "test")[0]
        signed = people.sign_in(name, PASSWORD, "testclient", "zh")
        tokens[name] = (token, user.person, signed.cookie, signed.session.csrf)
    # Session cookies are Secure: the test client speaks "https" to the app (no TLS is involved).
    with TestClient(app, base_url="https://testserver") as client:
        yield app, client, tokens
    record.close()


def test_every_route_has_an_entry_and_states_its_action(town: Any) -> None:
    app, _client, _tokens = town
    routes = _routes(app)
    assert routes - set(EXPECTED) == set(), "a route without an entry in the authorization table"
    assert set(EXPECTED) - routes == set(), "an entry for a route that does not exist"
    declared = _declared(app)
    for key, (action, _scope) in EXPECTED.items():
        assert declared[key] == action, key


def _call(client: TestClient, method: str, path: str, who: tuple[Any, ...] | None) -> int:
    url = path
    for placeholder, value in FILLED.items():
        url = url.replace(placeholder, value)
    url += QUERY.get(path, "")
    if path.startswith("/v1/"):
        headers = {"Authorization": f"Bearer {who[0]}"} if who else {}
        return client.request(method, url, headers=headers, json={}).status_code
    # A console page: the person's session cookie, and on a form the session's own CSRF token, so
    # that a 403 can only come from the person's roles.
    headers = {"Cookie": f"lovemart_session={who[2]}"} if who else {}
    data = {"csrf": who[3]} if who and method == "POST" else None
    return client.request(method, url, headers=headers, data=data, follow_redirects=False).status_code


@pytest.mark.parametrize("who", [*PEOPLE, None])
def test_each_person_is_refused_exactly_what_their_roles_do_not_allow(town: Any, who: str | None) -> None:
    app, client, tokens = town
    for (method, path), (action, scope) in EXPECTED.items():
        if action is None or (method, path) in NOT_CALLED:
            continue
        status = _call(client, method, path, tokens[who] if who else None)
        if who is None:
            if path.startswith("/v1/"):
                assert status == 401, (method, path, status)
            else:  # a page without a session: to the sign-in page
                assert status == 303, (method, path, status)
            continue
        person: Person = tokens[who][1]
        if scope is None:  # allowed if some grant allows the action anywhere; the body decides the rest
            places = [Scope(village_id=v) for v in ("V1", "V2")] + [V1_SHOP, Scope(village_id="V2", shop_id="S2")]
            allowed = any(may(person, action, place) for place in places) or may(person, action)
        else:
            allowed = may(person, action, scope)
        assert (status == 403) == (not allowed), (who, method, path, status)
        assert status != 401, (who, method, path)


def test_a_clerk_adds_households_in_their_village_only(town: Any) -> None:
    _app, client, tokens = town
    body = {"household_id": "H7", "village_id": "V2", "head_name": "李四", "home_shop_id": "S2"}
    headers = {"Authorization": f"Bearer {tokens['clerk_v1'][0]}"}
    refused = client.post("/v1/admin/households", headers=headers, json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    moved = client.post(
        "/v1/admin/households", headers=headers, json={**body, "household_id": "H1", "village_id": "V1"}
    )
    assert moved.status_code == 200, moved.text  # their own household, in their own village
    taken = client.post(
        "/v1/admin/households", headers=headers, json={**body, "village_id": "V1", "home_shop_id": "S1"}
    )
    assert taken.status_code == 200, taken.text
    other = {"Authorization": f"Bearer {tokens['clerk_v2'][0]}"}
    away = client.post("/v1/admin/households", headers=other, json={**body, "household_id": "H7"})
    assert away.status_code == 403  # H7 is in V1 now: a clerk of V2 cannot pull it into V2


def test_an_api_change_is_in_the_activity_log_without_its_secrets(town: Any) -> None:
    app, client, tokens = town
    admin = {"Authorization": f"Bearer {tokens['admin'][0]}"}
    made = client.post("/v1/admin/kiosk-tokens", headers=admin, json={"label": "村口"})
    assert made.status_code == 200
    secret = made.json()["kiosk_token"]
    entries, _total = app.state.people.activity(action="api POST /v1/admin/kiosk-tokens")
    assert entries and entries[0].user_name == "admin" and "村口" in (entries[0].before or "")
    assert secret not in (entries[0].after or "") and "***" in (entries[0].after or "")
    refused = client.post(
        "/v1/admin/kiosk-tokens", headers={"Authorization": f"Bearer {tokens['auditor'][0]}"}, json={}
    )
    assert refused.status_code == 403
    logged = [e.action for e in app.state.people.activity(user="auditor")[0]]
    assert "api POST /v1/admin/kiosk-tokens" not in logged  # a refused call changed nothing and logs nothing
