"""SQL of the console's people (migration 0007): users and grants, sessions, API tokens, sign-in failures and
the activity log. It stores and finds; who may do what is ``ledger.access``, and signing in, hashing and
cookies are ``sync.server.people``.

Reached as ``CentralUnit.people``, on the same connection, so a change and its activity-log row are one
database transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from ledger.access import ConsoleRole, Grant, Person
from ledger.storage.store import _table
from ledger.storage.tables import (
    ActivityRow,
    ApiTokenRow,
    ConsoleGrantRow,
    ConsoleSessionRow,
    ConsoleUserRow,
    SignInFailureRow,
)

T_USER = _table(ConsoleUserRow)
T_GRANT = _table(ConsoleGrantRow)
T_SESSION = _table(ConsoleSessionRow)
T_API_TOKEN = _table(ApiTokenRow)
T_FAILURE = _table(SignInFailureRow)
T_ACTIVITY = _table(ActivityRow)


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    name: str
    full_name: str
    active: bool
    password_hash: str | None
    grants: tuple[Grant, ...]
    created_at: str

    @property
    def person(self) -> Person:
        return Person(self.user_id, self.name, self.grants if self.active else ())


@dataclass(frozen=True)
class SessionRecord:
    session_hash: str
    user_id: int
    csrf: str
    lang: str
    created_s: int
    seen_s: int
    expires_s: int
    address: str


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    user_id: int
    user_name: str
    label: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


@dataclass(frozen=True)
class Activity:
    activity_id: int
    at: str
    user_name: str
    address: str
    action: str
    target: str
    before: str | None
    after: str | None


def _grant(row: Any) -> Grant:
    return Grant(ConsoleRole(row.role), row.village_id or None, row.shop_id or None)


class PeopleTables:
    """The people tables on one open connection (one database transaction)."""

    def __init__(self, connection: Any) -> None:
        self.c = connection

    # ----- users -------------------------------------------------------------------------------------
    def add_user(self, name: str, full_name: str, password_hash: str | None, when: str) -> int:
        result = self.c.execute(
            insert(T_USER).values(
                name=name,
                full_name=full_name,
                password_hash=password_hash,
                active=True,
                created_at=when,
                changed_at=when,
            )
        )
        return int(result.inserted_primary_key[0])

    def user_count(self) -> int:
        return int(self.c.execute(select(func.count()).select_from(T_USER)).scalar_one())

    def _users(self, where: Any = None) -> list[UserRecord]:
        query = select(T_USER).order_by(T_USER.c.name)
        if where is not None:
            query = query.where(where)
        rows = self.c.execute(query).all()
        if not rows:
            return []
        grants: dict[int, list[Grant]] = {}
        ids = [r.user_id for r in rows]
        for g in self.c.execute(
            select(T_GRANT).where(T_GRANT.c.user_id.in_(ids)).order_by(T_GRANT.c.role, T_GRANT.c.village_id)
        ):
            grants.setdefault(g.user_id, []).append(_grant(g))
        return [
            UserRecord(
                r.user_id,
                r.name,
                r.full_name,
                bool(r.active),
                r.password_hash,
                tuple(grants.get(r.user_id, ())),
                r.created_at,
            )
            for r in rows
        ]

    def users(self) -> list[UserRecord]:
        return self._users()

    def user(self, user_id: int) -> UserRecord | None:
        found = self._users(T_USER.c.user_id == user_id)
        return found[0] if found else None

    def user_named(self, name: str) -> UserRecord | None:
        found = self._users(T_USER.c.name == name)
        return found[0] if found else None

    def set_password_hash(self, user_id: int, password_hash: str, when: str) -> None:
        self.c.execute(
            update(T_USER).where(T_USER.c.user_id == user_id).values(password_hash=password_hash, changed_at=when)
        )

    def set_user(self, user_id: int, full_name: str, active: bool, when: str) -> None:
        self.c.execute(
            update(T_USER)
            .where(T_USER.c.user_id == user_id)
            .values(full_name=full_name, active=active, changed_at=when)
        )

    def set_grants(self, user_id: int, grants: Sequence[Grant]) -> None:
        self.c.execute(delete(T_GRANT).where(T_GRANT.c.user_id == user_id))
        rows = [
            {"user_id": user_id, "role": g.role.value, "village_id": g.village_id or "", "shop_id": g.shop_id or ""}
            for g in sorted(set(grants))
        ]
        if rows:
            self.c.execute(insert(T_GRANT), rows)

    def admin_count(self) -> int:
        """Active users who hold the administrator's role (the last one may not lose it)."""
        query = (
            select(func.count(func.distinct(T_USER.c.user_id)))
            .select_from(T_USER.join(T_GRANT, T_GRANT.c.user_id == T_USER.c.user_id))
            .where(T_USER.c.active.is_(True), T_GRANT.c.role == ConsoleRole.ADMIN.value)
        )
        return int(self.c.execute(query).scalar_one())

    # ----- sessions ----------------------------------------------------------------------------------
    def add_session(self, session: SessionRecord) -> None:
        self.c.execute(insert(T_SESSION).values(**session.__dict__))

    def session(self, session_hash: str) -> SessionRecord | None:
        row = self.c.execute(select(T_SESSION).where(T_SESSION.c.session_hash == session_hash)).first()
        return SessionRecord(**row._mapping) if row else None

    def touch_session(self, session_hash: str, seen_s: int, expires_s: int) -> None:
        self.c.execute(
            update(T_SESSION).where(T_SESSION.c.session_hash == session_hash).values(seen_s=seen_s, expires_s=expires_s)
        )

    def set_session_lang(self, session_hash: str, lang: str) -> None:
        self.c.execute(update(T_SESSION).where(T_SESSION.c.session_hash == session_hash).values(lang=lang))

    def end_session(self, session_hash: str) -> None:
        self.c.execute(delete(T_SESSION).where(T_SESSION.c.session_hash == session_hash))

    def end_sessions_of(self, user_id: int) -> int:
        return int(self.c.execute(delete(T_SESSION).where(T_SESSION.c.user_id == user_id)).rowcount or 0)

    def end_expired_sessions(self, now_s: int) -> None:
        self.c.execute(delete(T_SESSION).where(T_SESSION.c.expires_s < now_s))

    def sessions_of(self, user_id: int) -> list[SessionRecord]:
        rows = self.c.execute(select(T_SESSION).where(T_SESSION.c.user_id == user_id).order_by(T_SESSION.c.seen_s))
        return [SessionRecord(**r._mapping) for r in rows]

    # ----- API tokens --------------------------------------------------------------------------------
    def add_token(self, token_hash: str, token_id: str, user_id: int, label: str, when: str) -> None:
        self.c.execute(
            insert(T_API_TOKEN).values(
                token_hash=token_hash, token_id=token_id, user_id=user_id, label=label, created_at=when
            )
        )

    def token_user(self, token_hash: str) -> UserRecord | None:
        """The active user whose unrevoked token this is."""
        row = self.c.execute(
            select(T_API_TOKEN.c.user_id).where(
                T_API_TOKEN.c.token_hash == token_hash, T_API_TOKEN.c.revoked_at.is_(None)
            )
        ).first()
        user = self.user(row.user_id) if row else None
        return user if user and user.active else None

    def token_used(self, token_hash: str, when: str) -> None:
        self.c.execute(update(T_API_TOKEN).where(T_API_TOKEN.c.token_hash == token_hash).values(last_used_at=when))

    def tokens(self, user_id: int | None = None) -> list[TokenRecord]:
        query = (
            select(T_API_TOKEN, T_USER.c.name.label("user_name"))
            .join(T_USER, T_USER.c.user_id == T_API_TOKEN.c.user_id)
            .order_by(T_API_TOKEN.c.created_at.desc(), T_API_TOKEN.c.token_id)
        )
        if user_id is not None:
            query = query.where(T_API_TOKEN.c.user_id == user_id)
        return [
            TokenRecord(r.token_id, r.user_id, r.user_name, r.label, r.created_at, r.last_used_at, r.revoked_at)
            for r in self.c.execute(query)
        ]

    def revoke_token(self, token_id: str, when: str, owner: int | None = None) -> TokenRecord | None:
        """Revoke a live token (of ``owner`` only, when given); None if there is no such live token."""
        found = [t for t in self.tokens(owner) if t.token_id == token_id]
        if not found or found[0].revoked_at:
            return None
        self.c.execute(update(T_API_TOKEN).where(T_API_TOKEN.c.token_id == token_id).values(revoked_at=when))
        return found[0]

    # ----- sign-in failures ----------------------------------------------------------------------------
    def failures(self, name: str) -> tuple[int, int]:
        """Wrong passwords in a row for ``name`` and until when it is locked (epoch seconds)."""
        row = self.c.execute(select(T_FAILURE).where(T_FAILURE.c.name == name)).first()
        return (int(row.failures), int(row.locked_until_s)) if row else (0, 0)

    def set_failures(self, name: str, failures: int, locked_until_s: int) -> None:
        if self.c.execute(select(T_FAILURE.c.name).where(T_FAILURE.c.name == name)).first():
            self.c.execute(
                update(T_FAILURE)
                .where(T_FAILURE.c.name == name)
                .values(failures=failures, locked_until_s=locked_until_s)
            )
        else:
            self.c.execute(insert(T_FAILURE).values(name=name, failures=failures, locked_until_s=locked_until_s))

    def clear_failures(self, name: str) -> None:
        self.c.execute(delete(T_FAILURE).where(T_FAILURE.c.name == name))

    # ----- activity log ------------------------------------------------------------------------------
    def log_activity(
        self,
        at: str,
        user_id: int | None,
        user_name: str,
        address: str,
        action: str,
        target: str,
        before: str | None,
        after: str | None,
    ) -> None:
        self.c.execute(
            insert(T_ACTIVITY).values(
                at=at,
                user_id=user_id,
                user_name=user_name[:64],
                address=address[:64],
                action=action[:64],
                target=target[:200],
                before=before,
                after=after,
            )
        )

    def activity(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        text: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Activity], int]:
        """A page of the activity log, newest first, and how many entries match in all."""
        conditions = []
        if user:
            conditions.append(T_ACTIVITY.c.user_name == user)
        if action:
            conditions.append(T_ACTIVITY.c.action == action)
        if text:
            like = f"%{text}%"
            conditions.append(or_(T_ACTIVITY.c.target.like(like), T_ACTIVITY.c.after.like(like)))
        total = self.c.execute(select(func.count()).select_from(T_ACTIVITY).where(*conditions)).scalar_one()
        rows = self.c.execute(
            select(T_ACTIVITY).where(*conditions).order_by(T_ACTIVITY.c.activity_id.desc()).offset(offset).limit(limit)
        )
        found = [
            Activity(r.activity_id, r.at, r.user_name, r.address, r.action, r.target, r.before, r.after) for r in rows
        ]
        return found, int(total)
