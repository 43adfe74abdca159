"""Storage of logins: sessions kept in the database (a cookie carries a random id, the table its
SHA-256) and the audit of every login attempt, which the throttle reads back."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, select, update

from ..domain.errors import Conflict, NotFound
from .schema import AccountTown, LoginAttempt, UserSession
from ..domain.throttle import Failures, Limits
from . import Store, user_t

session_t, attempt_t, town_t = UserSession.__table__, LoginAttempt.__table__, AccountTown.__table__
FAILED = ("wrong", "inactive")  # what the throttle counts; a refused (throttled) attempt is not a guess
# last_seen_at is written at most this often: a page's dozen requests are not a dozen writes
SEEN_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


def failures(store: Store, name: str, address: str, limits: Limits, now: datetime) -> Failures:
    """The failures within the window that the throttle weighs for `name` tried from `address`."""
    since = now - limits.window
    a = attempt_t.c
    failed = and_(a.outcome.in_(FAILED), a.attempted_at > since)
    with store.engine.connect() as conn:
        last_ok_here = conn.execute(select(a.attempted_at).where(a.name == name, a.address == address,
                                                                 a.outcome == "ok")
                                    .order_by(a.attempted_at.desc()).limit(1)).scalar()
        # the rules need at most this many of the latest failures of each kind
        def latest(where, limit: int) -> list[datetime]:
            return list(conn.execute(select(a.attempted_at).where(failed, where)
                                     .order_by(a.attempted_at.desc()).limit(limit)).scalars())

        here = latest(and_(a.name == name, a.address == address,
                           a.attempted_at > (last_ok_here or since)), limits.per_account)
        account = latest(a.name == name, limits.unknown_addresses)
        address_ = latest(a.address == address, limits.per_address)
    known = last_ok_here is not None and last_ok_here > now - limits.known_for
    return Failures(account_here=here, account=account, address=address_, known_address=known)


def record_attempt(store: Store, name: str, account_id: int | None, address: str, outcome: str,
                   user_agent: str | None, now: datetime, conn=None) -> None:
    row = {"name": _clip(name, 64), "account_id": account_id, "address": _clip(address, 64),
           "attempted_at": now, "outcome": outcome, "user_agent": _clip(user_agent, 256)}
    if conn is not None:
        conn.execute(insert(attempt_t).values(**row))
        return
    with store.begin() as conn:
        conn.execute(insert(attempt_t).values(**row))


def attempts(store: Store, name: str | None = None) -> list[dict]:
    """The audit of login attempts, oldest first (of one name tried, or all)."""
    query = select(attempt_t).order_by(attempt_t.c.id)
    if name is not None:
        query = query.where(attempt_t.c.name == name)
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(query)]


def start_session(store: Store, account: dict, address: str, user_agent: str | None, now: datetime) -> str:
    """A new session of the account, recorded with its successful attempt in one transaction;
    returns the id for the cookie (shown only here, stored only hashed)."""
    token = secrets.token_urlsafe(32)  # 256 random bits
    with store.begin() as conn:
        conn.execute(insert(session_t).values(token_hash=_hash(token), account_id=account["id"], created_at=now,
                                              last_seen_at=now, address=_clip(address, 64),
                                              user_agent=_clip(user_agent, 256)))
        record_attempt(store, account["name"], account["id"], address, "ok", user_agent, now, conn=conn)
    return token


def session_account(store: Store, token: str, now: datetime, idle: timedelta, lifetime: timedelta) -> dict | None:
    """The account of a live session (its row, plus `session_id`), or None: unknown, ended,
    idle too long, too old, or the account disabled."""
    s = session_t.c
    with store.engine.connect() as conn:
        row = conn.execute(select(user_t, s.id.label("session_id"), s.created_at.label("session_created_at"),
                                  s.last_seen_at).join(session_t, s.account_id == user_t.c.id)
                           .where(s.token_hash == _hash(token), s.ended_at.is_(None))).first()
        if row is None:
            return None
        found = row._asdict()
        found["towns"] = towns_in(conn, found["id"])
    if not found["active"] or found["last_seen_at"] <= now - idle or found["session_created_at"] <= now - lifetime:
        with store.begin() as conn:
            conn.execute(update(session_t).where(s.id == found["session_id"], s.ended_at.is_(None))
                         .values(ended_at=now, end_reason="expired" if found["active"] else "disabled"))
        return None
    if found["last_seen_at"] <= now - SEEN_EVERY:
        with store.begin() as conn:
            conn.execute(update(session_t).where(s.id == found["session_id"]).values(last_seen_at=now))
    return found


def end_sessions(conn, account_id: int, reason: str, now: datetime, keep: int | None = None) -> int:
    """End every live session of the account (but `keep`), inside the caller's transaction."""
    s = session_t.c
    where = [s.account_id == account_id, s.ended_at.is_(None)]
    if keep is not None:
        where.append(s.id != keep)
    return conn.execute(update(session_t).where(*where).values(ended_at=now, end_reason=reason)).rowcount


def end_account_sessions(store: Store, account_id: int, reason: str, now: datetime, keep: int | None = None) -> int:
    with store.begin() as conn:
        return end_sessions(conn, account_id, reason, now, keep)


def live_sessions(store: Store, account_id: int) -> list[dict]:
    s = session_t.c
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(select(session_t).where(s.account_id == account_id,
                                                                          s.ended_at.is_(None))
                                                  .order_by(s.id))]


def _account_id(conn, name: str) -> int:
    account_id = conn.execute(select(user_t.c.id).where(user_t.c.name == name)).scalar()
    if account_id is None:
        raise NotFound("No account named {name!r}", name=name)
    return account_id


def towns_in(conn, account_id: int) -> list[str]:
    """The towns an account works for, in order."""
    return list(conn.execute(select(town_t.c.town).where(town_t.c.account_id == account_id)
                             .order_by(town_t.c.town)).scalars())


def account_in(conn, name: str) -> dict:
    """The account (without its password hash) with its towns, read inside the caller's
    transaction, or NotFound."""
    row = conn.execute(select(user_t).where(user_t.c.name == name)).first()
    if row is None:
        raise NotFound("No account named {name!r}", name=name)
    found = row._asdict()
    found.pop("password_hash")
    found["towns"] = towns_in(conn, found["id"])
    return found


def accounts(store: Store) -> list[dict]:
    """Every account with its towns, by name; no password hashes."""
    with store.engine.connect() as conn:
        towns: dict[int, list[str]] = {}
        for account_id, town in conn.execute(select(town_t.c.account_id, town_t.c.town).order_by(town_t.c.town)):
            towns.setdefault(account_id, []).append(town)
        rows = [r._asdict() for r in conn.execute(select(user_t).order_by(user_t.c.name))]
    for row in rows:
        row.pop("password_hash")
        row["towns"] = towns.get(row["id"], [])
    return rows


def insert_account(conn, name: str, password_hash: str, role: str, lang: str, now: datetime) -> int:
    if conn.execute(select(user_t.c.id).where(user_t.c.name == name)).first():
        raise Conflict("User {name!r} already exists", name=name)
    return conn.execute(insert(user_t).values(name=name, password_hash=password_hash, role=role, lang=lang,
                                              active=True, created_at=now)).inserted_primary_key[0]


def set_role_in(conn, account_id: int, role: str) -> None:
    conn.execute(update(user_t).where(user_t.c.id == account_id).values(role=role))


def active_admins_in(conn) -> int:
    return conn.execute(select(func.count()).select_from(user_t)
                        .where(user_t.c.role == "admin", user_t.c.active.is_(True))).scalar_one()


def set_password_in(conn, name: str, password_hash: str, reason: str, now: datetime, keep: int | None = None) -> int:
    """A new password for the account; every session but `keep` ends with the old one, in the
    caller's transaction (a session stolen with the old password must not outlive it)."""
    account_id = _account_id(conn, name)
    conn.execute(update(user_t).where(user_t.c.id == account_id).values(password_hash=password_hash))
    return end_sessions(conn, account_id, reason, now, keep)


def set_password(store: Store, name: str, password_hash: str, reason: str, now: datetime,
                 keep: int | None = None) -> int:
    with store.begin() as conn:
        return set_password_in(conn, name, password_hash, reason, now, keep)


def set_active_in(conn, name: str, active: bool, now: datetime) -> int:
    """Enable or disable the account; disabling ends every session of it at once."""
    account_id = _account_id(conn, name)
    conn.execute(update(user_t).where(user_t.c.id == account_id).values(active=active))
    return 0 if active else end_sessions(conn, account_id, "disabled", now)


def set_active(store: Store, name: str, active: bool, now: datetime) -> int:
    with store.begin() as conn:
        return set_active_in(conn, name, active, now)
