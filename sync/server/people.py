"""The console's people at the central record: users, passwords, sign-in with lock-out, sessions, personal API
tokens and the activity log (issue 13; the rules of who may do what are ``ledger.access``).

- Passwords are hashed with Argon2 (argon2-cffi's defaults, RFC 9106's second recommendation), never stored
  or logged in clear, and re-hashed when the parameters change.
- Wrong passwords lock the *name* for a time that doubles with each further failure (``access.lock_seconds``);
  a name that does not exist is counted the same way and answered in the same words, so nobody can probe
  which names are real. The counters are in the database: every server process agrees.
- A session is a random value in a secure, HttpOnly cookie; the database keeps its sha256 with the user,
  the CSRF token of its forms and its expiry (sliding: 8 hours from the last request, at most 7 days from
  sign-in). Several server processes can serve one township.
- An API token is a random value shown once, stored as sha256, revocable; it carries its user's roles.
- Every change goes into the append-only activity log with who, when, from where, what, before and after.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.access import Grant, Person, lock_seconds, password_problem
from ledger.storage.central import CentralUnit
from ledger.storage.people import SessionRecord, TokenRecord, UserRecord
from sync.errors import SyncError
from sync.server.record import CentralRecord
from sync.server.tokens import new_token, token_hash

SESSION_IDLE_S = 8 * 3600
SESSION_MAX_S = 7 * 24 * 3600
NAME_MAX = 64


def _hasher() -> Any:
    from argon2 import PasswordHasher  # imported when a password is checked, not when the server starts

    return PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


# A hash to check wrong names against, so a name that does not exist takes as long to refuse as a real one.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def clean_name(name: str) -> str:
    """A user name as stored: trimmed, lower case, letters, digits, '.', '_' or '-' (it is typed at sign-in)."""
    cleaned = name.strip().lower()
    if not cleaned or len(cleaned) > NAME_MAX or not all(ch.isalnum() or ch in "._-" for ch in cleaned):
        raise SyncError("invalid", detail=f"user name {name[:NAME_MAX]!r}: letters, digits, '.', '_' or '-'")
    return cleaned


@dataclass(frozen=True)
class Actor:
    """Who makes a change and from where, for the activity log."""

    person: Person
    address: str

    @classmethod
    def command_line(cls, person: Person) -> Actor:
        return cls(person, "command line")


SYSTEM = Person(0, "system", ())


@dataclass(frozen=True)
class SignedIn:
    """A session just made: the cookie's value (shown to the browser only) and the stored session."""

    cookie: str
    session: SessionRecord
    person: Person


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)[:20000]


def _check_grants(grants: list[Grant]) -> None:
    """Each grant has the scope its role needs (``Grant.problem``)."""
    for grant in grants:
        if (problem := grant.problem()) is not None:
            raise SyncError("invalid", detail=f"{grant.role.value}: {problem}")


class People:
    """Users, sessions, tokens and the activity log, over a ``CentralRecord`` (one per server process)."""

    def __init__(self, record: CentralRecord, now_s: Callable[[], float] = time.time) -> None:
        self.record = record
        self.now_s = now_s

    # ----- the activity log ------------------------------------------------------------------------------
    def log(
        self, unit: CentralUnit, actor: Actor, action: str, target: str, before: Any = None, after: Any = None
    ) -> None:
        """Write one activity row in ``unit`` (so the change and its record commit together)."""
        unit.people.log_activity(
            self.record.now(),
            actor.person.user_id or None,
            actor.person.name,
            actor.address,
            action,
            target,
            _json(before),
            _json(after),
        )

    def changed(self, actor: Actor, action: str, target: str, before: Any = None, after: Any = None) -> None:
        """Log a change made elsewhere (a service that committed its own unit)."""
        with self.record.store.write() as unit:
            self.log(unit, actor, action, target, before, after)

    # ----- users -------------------------------------------------------------------------------------
    def add_user(
        self, actor: Actor, name: str, full_name: str, password: str | None, grants: list[Grant]
    ) -> UserRecord:
        name = clean_name(name)
        _check_grants(grants)
        if password is not None and (problem := password_problem(password, name)) is not None:
            raise SyncError(problem)
        hashed = hash_password(password) if password is not None else None
        with self.record.store.write() as unit:
            people = unit.people
            if people.user_named(name) is not None:
                raise SyncError("user_exists", name=name)
            self._check_scopes(unit, grants)
            user_id = people.add_user(name, full_name.strip()[:100] or name, hashed, self.record.now())
            people.set_grants(user_id, grants)
            user = people.user(user_id)
            assert user is not None
            self.log(unit, actor, "user.add", name, None, self._public(user))
        return user

    def _check_scopes(self, unit: CentralUnit, grants: list[Grant]) -> None:
        villages = {v.village_id for v in unit.villages()}
        shops = {s.shop_id for s in unit.shops()}
        for grant in grants:
            if grant.village_id and grant.village_id not in villages:
                raise SyncError("not_found", what=f"village {grant.village_id}")
            if grant.shop_id and grant.shop_id not in shops:
                raise SyncError("not_found", what=f"shop {grant.shop_id}")

    @staticmethod
    def _public(user: UserRecord) -> dict[str, Any]:
        """What the activity log keeps of a user (never the password hash)."""
        return {
            "name": user.name,
            "full_name": user.full_name,
            "active": user.active,
            "roles": [f"{g.role.value}:{g.village_id or g.shop_id or '*'}" for g in user.grants],
        }

    def users(self) -> list[UserRecord]:
        with self.record.store.read() as unit:
            return unit.people.users()

    def user(self, user_id: int) -> UserRecord:
        with self.record.store.read() as unit:
            user = unit.people.user(user_id)
        if user is None:
            raise SyncError("not_found", what=f"user {user_id}")
        return user

    def user_named(self, name: str) -> UserRecord | None:
        with self.record.store.read() as unit:
            return unit.people.user_named(name.strip().lower())

    def has_users(self) -> bool:
        with self.record.store.read() as unit:
            return unit.people.user_count() > 0

    def change_user(self, actor: Actor, user_id: int, full_name: str, active: bool, grants: list[Grant]) -> UserRecord:
        for grant in grants:
            if (problem := grant.problem()) is not None:
                raise SyncError("invalid", detail=f"{grant.role.value}: {problem}")
        with self.record.store.write() as unit:
            people = unit.people
            before = people.user(user_id)
            if before is None:
                raise SyncError("not_found", what=f"user {user_id}")
            self._check_scopes(unit, grants)
            people.set_user(user_id, full_name.strip()[:100] or before.name, active, self.record.now())
            people.set_grants(user_id, grants)
            if people.admin_count() == 0:
                raise SyncError("last_admin")
            if not active:
                people.end_sessions_of(user_id)
            after = people.user(user_id)
            assert after is not None
            self.log(unit, actor, "user.change", before.name, self._public(before), self._public(after))
        return after

    def set_password(self, actor: Actor, user_id: int, password: str) -> None:
        """A new password; every session of the user ends (a password changed because it leaked must lock
        out whoever holds it)."""
        user = self.user(user_id)
        if (problem := password_problem(password, user.name)) is not None:
            raise SyncError(problem)
        hashed = hash_password(password)
        with self.record.store.write() as unit:
            unit.people.set_password_hash(user_id, hashed, self.record.now())
            unit.people.end_sessions_of(user_id)
            unit.people.clear_failures(user.name)
            self.log(unit, actor, "user.password", user.name)

    def change_own_password(self, actor: Actor, current: str, new: str) -> None:
        """A person's new password, given the current one (``sign_in_failed`` if it is wrong: the same words
        as at sign-in); every session ends, this one too."""
        user = self.user(actor.person.user_id)
        if not user.password_hash or not _verify(user.password_hash, current[:1000]):
            raise SyncError("sign_in_failed")
        self.set_password(actor, user.user_id, new)

    # ----- signing in ------------------------------------------------------------------------------------
    def sign_in(self, name: str, password: str, address: str, lang: str) -> SignedIn:
        """A new session for the right name and password; ``sign_in_locked`` while the name is locked,
        ``sign_in_failed`` otherwise (the same words for a wrong name and a wrong password)."""
        key = name.strip().lower()[:NAME_MAX]
        now = int(self.now_s())
        with self.record.store.read() as unit:
            failures, locked_until = unit.people.failures(key)
            user = unit.people.user_named(key)
        if locked_until > now:
            raise SyncError("sign_in_locked", minutes=max(1, (locked_until - now + 59) // 60))
        stored = user.password_hash if user and user.active and user.password_hash else None
        good = _verify(stored or _dummy_hash(), password) and stored is not None and len(password) <= 1000
        if not good or user is None:
            # Counted in its own committed unit: the refusal raised after it must not roll the count back.
            with self.record.store.write() as unit:
                failures, _ = unit.people.failures(key)
                failures += 1
                wait = lock_seconds(failures)
                unit.people.set_failures(key, failures, now + wait if wait else 0)
                self.log(unit, Actor(SYSTEM, address), "sign_in.failed", key, None, {"failures": failures})
            if wait:
                raise SyncError("sign_in_locked", minutes=max(1, (wait + 59) // 60))
            raise SyncError("sign_in_failed")
        with self.record.store.write() as unit:
            unit.people.clear_failures(key)
            unit.people.end_expired_sessions(now)
            cookie = secrets.token_urlsafe(32)
            session = SessionRecord(
                token_hash(cookie),
                user.user_id,
                secrets.token_urlsafe(24),
                lang,
                now,
                now,
                min(now + SESSION_IDLE_S, now + SESSION_MAX_S),
                address[:64],
            )
            unit.people.add_session(session)
            self.log(unit, Actor(user.person, address), "sign_in", user.name)
        if stored is not None and _hasher().check_needs_rehash(stored):
            with self.record.store.write() as unit:
                unit.people.set_password_hash(user.user_id, hash_password(password), self.record.now())
        return SignedIn(cookie, session, user.person)

    def session_person(self, cookie: str | None) -> tuple[Person, SessionRecord] | None:
        """The person of a live session cookie (its expiry moved on), or None."""
        if not cookie or len(cookie) > 200:
            return None
        digest = token_hash(cookie)
        now = int(self.now_s())
        with self.record.store.read() as unit:
            session = unit.people.session(digest)
            user = unit.people.user(session.user_id) if session else None
        if session is None or user is None or not user.active or session.expires_s <= now:
            return None
        if now - session.seen_s > 60:  # one write a minute at most per session, not one per request
            expires = min(now + SESSION_IDLE_S, session.created_s + SESSION_MAX_S)
            with self.record.store.write() as unit:
                unit.people.touch_session(digest, now, expires)
        return user.person, session

    def set_session_lang(self, session: SessionRecord, lang: str) -> None:
        with self.record.store.write() as unit:
            unit.people.set_session_lang(session.session_hash, lang)

    def sign_out(self, session: SessionRecord, actor: Actor) -> None:
        with self.record.store.write() as unit:
            unit.people.end_session(session.session_hash)
            self.log(unit, actor, "sign_out", actor.person.name)

    def sign_out_everywhere(self, actor: Actor, user_id: int) -> int:
        with self.record.store.write() as unit:
            user = unit.people.user(user_id)
            if user is None:
                raise SyncError("not_found", what=f"user {user_id}")
            ended = unit.people.end_sessions_of(user_id)
            self.log(unit, actor, "sign_out.everywhere", user.name, None, {"sessions": ended})
        return ended

    def sessions_of(self, user_id: int) -> list[SessionRecord]:
        with self.record.store.read() as unit:
            return unit.people.sessions_of(user_id)

    # ----- API tokens --------------------------------------------------------------------------------------
    def new_api_token(self, actor: Actor, user_id: int, label: str) -> tuple[str, str]:
        """A new token for ``user_id`` as (token, token_id): the token is shown once and never again."""
        token = new_token()
        token_id = secrets.token_hex(4)
        with self.record.store.write() as unit:
            user = unit.people.user(user_id)
            if user is None:
                raise SyncError("not_found", what=f"user {user_id}")
            unit.people.add_token(
                token_hash(token), token_id, user_id, label.strip()[:100] or "token", self.record.now()
            )
            self.log(unit, actor, "token.add", user.name, None, {"token_id": token_id, "label": label[:100]})
        return token, token_id

    def tokens(self, user_id: int | None = None) -> list[TokenRecord]:
        with self.record.store.read() as unit:
            return unit.people.tokens(user_id)

    def revoke_token(self, actor: Actor, token_id: str, owner: int | None = None) -> TokenRecord:
        """Revoke a token; ``owner`` limits it to that user's tokens (people revoking their own)."""
        with self.record.store.write() as unit:
            revoked = unit.people.revoke_token(token_id, self.record.now(), owner)
            if revoked is None:
                raise SyncError("not_found", what=f"token {token_id}")
            self.log(unit, actor, "token.revoke", revoked.user_name, None, {"token_id": token_id})
        return revoked

    def activity(self, **filters: Any) -> tuple[list[Any], int]:
        with self.record.store.read() as unit:
            return unit.people.activity(**filters)
