"""Users, sign-in with lock-out, sessions and API tokens at the central record (sync.server.people)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.access import FREE_TRIES, ConsoleRole, Grant
from sync.errors import SyncError
from sync.server import township
from sync.server.people import SESSION_IDLE_S, SYSTEM, Actor, People
from sync.server.record import CentralRecord

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def people(tmp_path: Any) -> Any:
    record = CentralRecord.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    record.initialise("T01", "红星镇")
    township.put_village(record, "V1", "幸福村")
    clock = Clock()
    found = People(record, now_s=clock)
    actor = Actor.command_line(SYSTEM)
    found.add_user(actor, "Wang", "王主任", PASSWORD, [Grant(ConsoleRole.ADMIN)])
    found.add_user(actor, "li", "李会计", PASSWORD, [Grant(ConsoleRole.CLERK, village_id="V1")])
    yield found, clock
    record.close()


def test_sign_in_makes_a_session_that_finds_its_person(people: Any) -> None:
    found, _clock = people
    signed = found.sign_in(" WANG ", PASSWORD, "10.0.0.2", "zh")
    person, session = found.session_person(signed.cookie)
    assert person.name == "wang" and session.address == "10.0.0.2"
    assert found.session_person("not-a-session") is None
    stored = found.user_named("wang").password_hash
    assert PASSWORD not in stored and stored.startswith("$argon2")


def test_wrong_passwords_lock_the_name_for_a_growing_time(people: Any) -> None:
    found, clock = people
    for _ in range(FREE_TRIES - 1):
        with pytest.raises(SyncError) as refused:
            found.sign_in("li", "wrong password!", "x", "zh")
        assert refused.value.code == "sign_in_failed"
    with pytest.raises(SyncError) as locked:
        found.sign_in("li", "wrong password!", "x", "zh")
    assert locked.value.code == "sign_in_locked"
    with pytest.raises(SyncError) as still:
        found.sign_in("li", PASSWORD, "x", "zh")  # even the right password waits
    assert still.value.code == "sign_in_locked"
    clock.now += 61
    with pytest.raises(SyncError) as again:
        found.sign_in("li", "wrong password!", "x", "zh")
    assert again.value.code == "sign_in_locked" and again.value.params["minutes"] == 2  # doubled
    clock.now += 121
    assert found.sign_in("li", PASSWORD, "x", "zh").person.name == "li"


def test_a_name_that_does_not_exist_is_refused_in_the_same_words(people: Any) -> None:
    found, _clock = people
    with pytest.raises(SyncError) as refused:
        found.sign_in("nobody", PASSWORD, "x", "zh")
    assert refused.value.code == "sign_in_failed"
    assert [e.action for e in found.activity(action="sign_in.failed")[0]] == ["sign_in.failed"]


def test_sessions_expire_when_idle_and_end_everywhere_at_once(people: Any) -> None:
    found, clock = people
    first = found.sign_in("wang", PASSWORD, "a", "zh")
    second = found.sign_in("wang", PASSWORD, "b", "en")
    clock.now += SESSION_IDLE_S - 10
    assert found.session_person(first.cookie) is not None  # used: its expiry moves on
    clock.now += SESSION_IDLE_S - 10
    assert found.session_person(first.cookie) is not None
    assert found.session_person(second.cookie) is None  # idle too long
    person = first.person
    assert found.sign_out_everywhere(Actor(person, "a"), person.user_id) == 2
    assert found.session_person(first.cookie) is None


def test_a_new_password_ends_every_session(people: Any) -> None:
    found, _clock = people
    signed = found.sign_in("li", PASSWORD, "a", "zh")
    user = found.user_named("li")
    found.set_password(Actor(user.person, "a"), user.user_id, "another long password")
    assert found.session_person(signed.cookie) is None
    with pytest.raises(SyncError):
        found.sign_in("li", PASSWORD, "a", "zh")


def test_api_tokens_carry_their_owners_roles_until_revoked(people: Any) -> None:
    found, _clock = people
    user = found.user_named("li")
    actor = Actor(user.person, "a")
    token, token_id = found.new_api_token(actor, user.user_id, "script")
    assert found.record.person_for_token(token).grants == (Grant(ConsoleRole.CLERK, village_id="V1"),)
    found.revoke_token(actor, token_id, owner=user.user_id)
    with pytest.raises(SyncError):
        found.record.person_for_token(token)
    assert all(token not in (e.after or "") for e in found.activity()[0])


def test_the_last_administrator_keeps_the_role(people: Any) -> None:
    found, _clock = people
    wang = found.user_named("wang")
    with pytest.raises(SyncError) as refused:
        found.change_user(Actor(wang.person, "a"), wang.user_id, "王主任", True, [Grant(ConsoleRole.AUDITOR)])
    assert refused.value.code == "last_admin"
    assert found.user_named("wang").grants == (Grant(ConsoleRole.ADMIN),)


def test_an_older_central_records_admin_tokens_become_the_admin_users(tmp_path: Any) -> None:
    """Migration 0007 ends the shared admin token without breaking the scripts that use one: each token
    becomes a personal API token of the user ``admin``, a township administrator."""
    import sqlite3
    from contextlib import closing

    from alembic import command
    from sqlalchemy import create_engine

    from ledger.storage.engine import _alembic_config
    from sync.server.tokens import new_token, token_hash

    path = tmp_path / "central.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0006")
    engine.dispose()
    token = new_token()
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        c.execute("INSERT INTO admin_token VALUES (?, '2026-01-01T00:00:00+08:00')", (token_hash(token),))
    record = CentralRecord.open(f"sqlite:///{path}")  # migrates to the newest revision
    try:
        person = record.person_for_token(token)
        assert person.name == "admin" and person.grants == (Grant(ConsoleRole.ADMIN),)
    finally:
        record.close()
