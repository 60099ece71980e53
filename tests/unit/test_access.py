"""The console's roles as pure rules (ledger.access)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.access import (
    FREE_TRIES,
    LONGEST_LOCK_S,
    Action,
    ConsoleRole,
    Grant,
    Person,
    Scope,
    lock_seconds,
    may,
    password_problem,
)

V1, V2 = Scope(village_id="V1"), Scope(village_id="V2")
TOWNSHIP = Scope()


def person(*grants: Grant) -> Person:
    return Person(1, "p", grants)


def test_a_clerk_works_in_their_village_and_reads_nothing_else() -> None:
    clerk = person(Grant(ConsoleRole.CLERK, village_id="V1"))
    assert may(clerk, Action.EDIT_HOUSEHOLDS, V1) and may(clerk, Action.READ_VILLAGE, V1)
    assert not may(clerk, Action.EDIT_HOUSEHOLDS, V2) and not may(clerk, Action.READ_VILLAGE, V2)
    assert not may(clerk, Action.READ_TOWNSHIP, TOWNSHIP) and not may(clerk, Action.POST_POINTS, V1)
    assert not may(clerk, Action.REVIEW_POINTS, V1)


def test_an_auditor_reads_everything_and_changes_nothing() -> None:
    auditor = person(Grant(ConsoleRole.AUDITOR))
    reads = {Action.READ_TOWNSHIP, Action.READ_VILLAGE, Action.READ_SHOP, Action.READ_ACTIVITY, Action.MANAGE_SELF}
    for action in Action:
        assert may(auditor, action, V1) == (action in reads), action


def test_roles_in_several_villages_add_up() -> None:
    both = person(Grant(ConsoleRole.CLERK, village_id="V1"), Grant(ConsoleRole.REVIEWER, village_id="V2"))
    assert may(both, Action.RECORD_POINTS, V1) and not may(both, Action.RECORD_POINTS, V2)
    assert may(both, Action.REVIEW_POINTS, V2) and not may(both, Action.REVIEW_POINTS, V1)


def test_a_shop_manager_reads_their_shop_only() -> None:
    manager = person(Grant(ConsoleRole.SHOP_MANAGER, shop_id="S1"))
    assert may(manager, Action.READ_SHOP, Scope("V1", "S1"))
    assert not may(manager, Action.READ_SHOP, Scope("V1", "S2")) and not may(manager, Action.READ_VILLAGE, V1)


def test_nobody_and_a_disabled_person_may_do_nothing() -> None:
    for action in Action:
        assert not may(None, action, TOWNSHIP) and not may(person(), action, TOWNSHIP)


@given(st.sampled_from(list(Action)), st.sampled_from(["V1", "V2", None]))
def test_the_administrator_may_do_everything(action: Action, village: str | None) -> None:
    assert may(person(Grant(ConsoleRole.ADMIN)), action, Scope(village_id=village))


def test_a_grant_needs_the_scope_its_role_has() -> None:
    assert Grant(ConsoleRole.CLERK).problem() == "village_needed"
    assert Grant(ConsoleRole.SHOP_MANAGER, village_id="V1").problem() == "shop_needed"
    assert Grant(ConsoleRole.ADMIN, village_id="V1").problem() == "no_scope_for_role"
    assert Grant(ConsoleRole.REVIEWER, village_id="V1").problem() is None


@given(st.integers(min_value=0, max_value=200))
def test_the_lock_grows_with_each_failure_up_to_a_day(failures: int) -> None:
    wait = lock_seconds(failures)
    assert (wait == 0) == (failures < FREE_TRIES)
    assert 0 <= wait <= LONGEST_LOCK_S and lock_seconds(failures + 1) >= wait


def test_passwords_are_long_rather_than_clever() -> None:
    assert password_problem("short", "wang") == "password_short"
    assert password_problem("aaaaaaaaaaaa", "wang") == "password_weak"
    assert password_problem("wangwang12", "wangwang12") == "password_weak"
    assert password_problem("correct horse battery", "wang") is None


def test_somewhere_asks_only_whether_a_role_allows_the_action() -> None:
    from ledger.access import may_somewhere

    clerk = person(Grant(ConsoleRole.CLERK, village_id="V1"))
    assert may_somewhere(clerk, Action.EDIT_HOUSEHOLDS) and not may_somewhere(clerk, Action.POST_POINTS)
    assert not may_somewhere(None, Action.MANAGE_SELF) and not may_somewhere(person(), Action.MANAGE_SELF)
