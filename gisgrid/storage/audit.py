"""The audit log: one row per change the office makes (accounts, draws, assignments, the
inspection window, rulebooks) beside publishing's rows, written inside the change's own
transaction, and read back filtered by who, what and month."""

from __future__ import annotations

import json

from sqlalchemy import insert, or_, select

from .schema import AuditLog, utcnow
from . import Store

audit_t = AuditLog.__table__


def _dump(value) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if value is not None else None


def _load(text: str | None):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:   # not ours to judge: shown as stored
        return text


def record(conn, action: str, actor: str, *, month: str | None = None, subject: str | None = None,
           reason: str | None = None, before=None, after=None) -> None:
    """One audit row, in the caller's transaction: the change and its record stand or fall together."""
    conn.execute(insert(audit_t).values(month=month, action=action, actor=actor, subject=subject, at=utcnow(),
                                        reason=reason, before=_dump(before), after=_dump(after)))


def entries(store: Store, who: str | None = None, what: str | None = None, month: str | None = None,
            limit: int = 500) -> list[dict]:
    """The newest entries first: of one actor, one action (or its kind: "account" takes every
    account_* action), one month."""
    query = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
    if who:
        query = query.where(audit_t.c.actor == who)
    if what:
        query = query.where(or_(audit_t.c.action == what, audit_t.c.action.like(f"{what}\\_%", escape="\\")))
    if month:
        query = query.where(audit_t.c.month == month)
    with store.engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(query)]
    for row in rows:
        row["before"], row["after"] = _load(row["before"]), _load(row["after"])
    return rows


def actions(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(audit_t.c.action).distinct().order_by(audit_t.c.action)).scalars())


def actors(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(audit_t.c.actor).distinct().order_by(audit_t.c.actor)).scalars())
