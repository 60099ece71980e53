"""Who may do what at the central record: the people of the township console and their roles, as pure rules.

The scheme is trusted because points are made only by the village committees and the township, and every
one of them can be checked by an auditor (DESIGN §11). So every page of the console and every call of the
API asks one question here, ``may(person, action, scope)``, and the answer depends only on the person's
grants: a role, and for the village roles the village (for a shop manager the shop) it applies to.

- **admin** (乡镇管理员): everything, in every village.
- **clerk** (积分员): households and points records of their own villages.
- **reviewer** (评议小组): reads their villages and reviews their records (never their own: that rule lives
  with the award workflow, which knows who recorded what).
- **auditor** (审计): reads everything, changes nothing.
- **shop_manager** (超市管理员): reads their shop (its stock, devices, 台账).

A person may hold several grants (a clerk in one village and a reviewer in another). Nothing here looks at
storage: the caller says which village or shop a request is about (``Scope``), after looking up, for
example, a household's village.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ConsoleRole(StrEnum):
    ADMIN = "admin"
    CLERK = "clerk"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    SHOP_MANAGER = "shop_manager"


# Roles that need a village (or, for a shop manager, a shop) to mean anything.
VILLAGE_ROLES = frozenset({ConsoleRole.CLERK, ConsoleRole.REVIEWER})
SHOP_ROLES = frozenset({ConsoleRole.SHOP_MANAGER})
TOWNSHIP_ROLES = frozenset({ConsoleRole.ADMIN, ConsoleRole.AUDITOR})


class Action(StrEnum):
    """What a request does. Reading is split by reach (the township, a village, a shop) because most
    people read only their own part; changes are split by what they change."""

    READ_TOWNSHIP = "read_township"  # totals, reports and lists across every village
    READ_VILLAGE = "read_village"  # a village's households, statements, ranking, 台账
    READ_SHOP = "read_shop"  # a shop's stock, devices and 台账
    READ_ACTIVITY = "read_activity"  # the activity log
    EDIT_HOUSEHOLDS = "edit_households"  # add, edit, move, import households; issue and revoke cards
    RECORD_POINTS = "record_points"  # record points events and objections; a village's own rules
    CHECK_POINTS = "check_points"  # check the facts of recorded points within the week
    REVIEW_POINTS = "review_points"  # rate checked points in a meeting batch, publish it, resolve objections
    POST_POINTS = "post_points"  # post awards, deductions, clearings and cycle moves at once
    MANAGE_SHOPS = "manage_shops"  # shops, enrolment codes, devices, kiosk tokens, bundles
    MANAGE_CATALOGUE = "manage_catalogue"  # the township's goods and points prices
    MANAGE_POLICY = "manage_policy"  # floor, base grant, cycle, visitor limit, the township's name
    MANAGE_EXCEPTIONS = "manage_exceptions"  # resolve exceptions, keep or release held transactions
    MANAGE_PEOPLE = "manage_people"  # users, their roles, everyone's API tokens
    MANAGE_SELF = "manage_self"  # one's own password, API tokens and sessions


@dataclass(frozen=True, order=True)
class Grant:
    """One role of a person, with the village or shop it is limited to (None for township roles)."""

    role: ConsoleRole
    village_id: str | None = None
    shop_id: str | None = None

    def problem(self) -> str | None:
        """Why this grant cannot be given, or None: village roles need a village, a shop manager a shop,
        township roles neither."""
        if self.role in VILLAGE_ROLES:
            return None if self.village_id and not self.shop_id else "village_needed"
        if self.role in SHOP_ROLES:
            return None if self.shop_id and not self.village_id else "shop_needed"
        return None if not self.village_id and not self.shop_id else "no_scope_for_role"


@dataclass(frozen=True)
class Scope:
    """What a request is about: a village, a shop (and the shop's village), or the township (both None)."""

    village_id: str | None = None
    shop_id: str | None = None


TOWNSHIP = Scope()


@dataclass(frozen=True)
class Person:
    """Someone signed in (or calling with their API token), with every grant they hold."""

    user_id: int
    name: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    def has(self, role: ConsoleRole) -> bool:
        return any(g.role == role for g in self.grants)

    @property
    def villages(self) -> frozenset[str]:
        """The villages this person works in through a village role."""
        return frozenset(g.village_id for g in self.grants if g.village_id)

    @property
    def shops(self) -> frozenset[str]:
        return frozenset(g.shop_id for g in self.grants if g.shop_id)

    @property
    def township_wide(self) -> bool:
        """Reads every village (an administrator or an auditor)."""
        return any(g.role in TOWNSHIP_ROLES for g in self.grants)


# Which roles may take each action, and whether a village or shop grant must match the request's scope.
_TOWNSHIP_ONLY = frozenset({ConsoleRole.ADMIN})
_READERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.AUDITOR})
RULES: dict[Action, frozenset[ConsoleRole]] = {
    Action.READ_TOWNSHIP: _READERS,
    Action.READ_VILLAGE: _READERS | VILLAGE_ROLES,
    Action.READ_SHOP: _READERS | VILLAGE_ROLES | SHOP_ROLES,
    Action.READ_ACTIVITY: _READERS,
    Action.EDIT_HOUSEHOLDS: _TOWNSHIP_ONLY | {ConsoleRole.CLERK},
    Action.RECORD_POINTS: _TOWNSHIP_ONLY | {ConsoleRole.CLERK},
    Action.CHECK_POINTS: _TOWNSHIP_ONLY | VILLAGE_ROLES,
    Action.REVIEW_POINTS: _TOWNSHIP_ONLY | {ConsoleRole.REVIEWER},
    Action.POST_POINTS: _TOWNSHIP_ONLY,
    Action.MANAGE_SHOPS: _TOWNSHIP_ONLY,
    Action.MANAGE_CATALOGUE: _TOWNSHIP_ONLY,
    Action.MANAGE_POLICY: _TOWNSHIP_ONLY,
    Action.MANAGE_EXCEPTIONS: _TOWNSHIP_ONLY,
    Action.MANAGE_PEOPLE: _TOWNSHIP_ONLY,
    Action.MANAGE_SELF: frozenset(ConsoleRole),
}


def grant_covers(grant: Grant, scope: Scope) -> bool:
    """Whether one grant reaches what a request is about.

    Township roles reach everything. A village role reaches its village and the shops in it (the request
    names the shop's village), never the township as a whole. A shop manager reaches their shop only.
    """
    if grant.role in TOWNSHIP_ROLES:
        return True
    if grant.role in VILLAGE_ROLES:
        return scope.village_id is not None and scope.village_id == grant.village_id
    return scope.shop_id is not None and scope.shop_id == grant.shop_id


def may(person: Person | None, action: Action, scope: Scope = TOWNSHIP) -> bool:
    """Whether ``person`` may take ``action`` on ``scope``: some grant has a role the action allows and
    covers the scope. Managing oneself needs only to be someone."""
    if person is None:
        return False
    if action == Action.MANAGE_SELF:
        return bool(person.grants)
    allowed = RULES[action]
    return any(g.role in allowed and grant_covers(g, scope) for g in person.grants)


def may_somewhere(person: Person | None, action: Action) -> bool:
    """Whether some grant of ``person`` allows ``action`` anywhere (a request whose village is in its body
    passes this first, then ``may`` once the village is read)."""
    if person is None:
        return False
    if action == Action.MANAGE_SELF:
        return bool(person.grants)
    return any(g.role in RULES[action] for g in person.grants)


def visible_villages(person: Person, action: Action, all_villages: list[str]) -> list[str]:
    """The villages of ``all_villages`` this person may take ``action`` in (for village pickers and lists)."""
    if may(person, action, TOWNSHIP):
        return list(all_villages)  # a township role: every village, without asking 2,000 times
    return [v for v in all_villages if may(person, action, Scope(village_id=v))]


# Wrong passwords: after FREE_TRIES in a row the name is locked, for a time that doubles with each further
# failure, up to a day. Counted per user name (also for names that do not exist, so the answer never tells
# whether a name is real), reset by a successful sign-in.
FREE_TRIES = 5
FIRST_LOCK_S = 60
LONGEST_LOCK_S = 24 * 3600


def lock_seconds(failures: int) -> int:
    """How long a name stays locked after ``failures`` wrong passwords in a row (0: not locked)."""
    if failures < FREE_TRIES:
        return 0
    return int(min(LONGEST_LOCK_S, FIRST_LOCK_S * 2 ** (failures - FREE_TRIES)))


MIN_PASSWORD = 10
MAX_PASSWORD = 200


def password_problem(password: str, name: str) -> str | None:
    """Why a new password is not good enough, or None. Long rather than clever (NIST SP 800-63B): at least
    ten characters, not the user name, not one character repeated."""
    if len(password) < MIN_PASSWORD:
        return "password_short"
    if len(password) > MAX_PASSWORD:
        return "password_long"
    if password.strip().lower() == name.strip().lower() or len(set(password)) < 3:
        return "password_weak"
    return None
