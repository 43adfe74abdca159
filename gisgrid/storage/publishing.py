"""Storage of publishing: each month's state (draft or published, with the scores frozen at
publication) and the audit log of who published or re-opened a month, when, why, and the scores."""

from __future__ import annotations

import json

from collections.abc import Callable

from sqlalchemy import insert, select, text, update

from ..domain.errors import Conflict, GisgridError
from .schema import AuditLog, MonthRevision, MonthState, utcnow
from . import Store

state_t, audit_t, revision_t = MonthState.__table__, AuditLog.__table__, MonthRevision.__table__

DRAFT, PUBLISHED = "draft", "published"


def _load(text: str | None):
    return json.loads(text) if text else None


def _dump(value) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value is not None else None


def month_state(store: Store, month: str) -> dict:
    """The month's state; a month nobody published is a draft."""
    with store.engine.connect() as conn:
        row = conn.execute(select(state_t).where(state_t.c.month == month)).first()
    if row is None:
        return {"month": month, "state": DRAFT, "draw_id": None, "published_at": None, "published_by": None,
                "scores": None}
    row = row._asdict()
    row["scores"] = _load(row["scores"])
    for key in ("updated_at", "closes_on", "closed_by"):      # the window is window()'s
        row.pop(key)
    return row


def findings_changes(store: Store, month: str) -> int:
    """How many times the month's findings were written, as the database counted them (0: never)."""
    with store.engine.connect() as conn:
        return conn.execute(select(revision_t.c.changes).where(revision_t.c.month == month)).scalar() or 0


def _hold_findings(conn, month: str) -> None:
    """Take the month's count row for the rest of the transaction: a write of its findings in
    flight has committed once this returns, and one that comes after waits, then is refused by
    the database when the month is published (migration 0016)."""
    conn.execute(text("INSERT INTO month_revision (month, changes) VALUES (:month, 0) "
                      "ON CONFLICT (month) DO UPDATE SET changes = month_revision.changes"), {"month": month})


class Moved(Conflict):
    """What the scores were made from changed before the publication could freeze them."""


def stamp(store: Store, month: str) -> tuple:
    """(state, when it last changed) of the month, without its frozen scores: what a kept
    report of the month is keyed by."""
    with store.engine.connect() as conn:
        row = conn.execute(select(state_t.c.state, state_t.c.updated_at).where(state_t.c.month == month)).first()
    return (row.state, row.updated_at) if row else (DRAFT, None)


def state_in(conn, month: str) -> str:
    """The month's state read inside the caller's transaction (locked against a concurrent
    publication on PostgreSQL until the transaction ends)."""
    state = conn.execute(select(state_t.c.state).where(state_t.c.month == month).with_for_update(read=True)).scalar()
    return state or DRAFT


def window_in(conn, month: str):
    """The date after which the month takes no new finding (its inspection window), or None."""
    return conn.execute(select(state_t.c.closes_on).where(state_t.c.month == month)).scalar()


def window(store: Store, month: str) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(select(state_t.c.closes_on, state_t.c.closed_by).where(state_t.c.month == month)).first()
    return {"closes_on": row.closes_on if row else None, "closed_by": row.closed_by if row else None}


def set_window_in(conn, month: str, closes_on, by: str):
    """Close the month's inspection window after `closes_on` (None: open it again), inside the
    caller's transaction; returns the date it had before."""
    row = conn.execute(select(state_t.c.closes_on).where(state_t.c.month == month).with_for_update()).first()
    now = utcnow()
    values = {"closes_on": closes_on, "closed_by": by if closes_on else None, "updated_at": now}
    if row is None:
        conn.execute(insert(state_t).values(month=month, state=DRAFT, **values))
        return None
    conn.execute(update(state_t).where(state_t.c.month == month).values(**values))
    return row.closes_on


def published_months(store: Store, year: int | None = None) -> list[str]:
    query = select(state_t.c.month).where(state_t.c.state == PUBLISHED).order_by(state_t.c.month)
    if year is not None:
        query = query.where(state_t.c.month.like(f"{int(year):04d}-%"))
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def is_published(store: Store, month: str) -> bool:
    return month_state(store, month)["state"] == PUBLISHED


def require_open(store: Store, *months: str) -> None:
    """Refuse a change to the sample or findings of a published month."""
    for month in sorted(set(months)):
        if is_published(store, month):
            raise Conflict("{month} is published: its scores and sample are frozen; "
                           "re-open the month with a reason to change them", month=month)


def publish(store: Store, month: str, by: str, scores: dict, draw_id: int | None,
            still_current: Callable[[], bool] = lambda: True) -> dict:
    """Freeze the month's scores and sample; logs the scores before (of an earlier publication)
    and after. `still_current` is asked once no finding of the month can be written any more
    (nor is one being written): False, and nothing is published (Moved)."""
    with store.begin() as conn:
        row = conn.execute(select(state_t).where(state_t.c.month == month).with_for_update()).first()
        if row is not None and row.state == PUBLISHED:
            raise Conflict("{month} is already published", month=month)
        _hold_findings(conn, month)
        if not still_current():
            raise Moved("{month} changed while it was being published", month=month)
        now = utcnow()
        values = {"state": PUBLISHED, "draw_id": draw_id, "published_at": now, "published_by": by,
                  "scores": _dump(scores), "updated_at": now}
        if row is None:
            conn.execute(insert(state_t).values(month=month, **values))
        else:
            conn.execute(update(state_t).where(state_t.c.month == month).values(**values))
        conn.execute(insert(audit_t).values(month=month, action="publish", actor=by, at=now, reason=None,
                                            before=row.scores if row is not None else None, after=_dump(scores)))
    return month_state(store, month)


def reopen(store: Store, month: str, by: str, reason: str | None) -> dict:
    """Back to draft so that the sample or findings can change; the reason and the frozen scores are logged."""
    reason = (reason or "").strip()
    if not reason:
        raise GisgridError("Give a reason for re-opening {month}", month=month)
    with store.begin() as conn:
        row = conn.execute(select(state_t).where(state_t.c.month == month).with_for_update()).first()
        if row is None or row.state != PUBLISHED:
            raise Conflict("{month} is not published", month=month)
        now = utcnow()
        # the last published scores stay in the row: the next publication logs them as "before"
        conn.execute(update(state_t).where(state_t.c.month == month).values(state=DRAFT, updated_at=now))
        conn.execute(insert(audit_t).values(month=month, action="reopen", actor=by, at=now, reason=reason,
                                            before=row.scores, after=None))
    return month_state(store, month)


def audit_log(store: Store, month: str | None = None) -> list[dict]:
    """Publications and re-openings (the office's other rows in the log are storage/audit.py's)."""
    query = select(audit_t).where(audit_t.c.action.in_(("publish", "reopen"))).order_by(audit_t.c.id)
    if month is not None:
        query = query.where(audit_t.c.month == month)
    with store.engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(query)]
    for row in rows:
        row["before"], row["after"] = _load(row["before"]), _load(row["after"])
    return rows
