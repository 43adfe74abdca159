"""Storage of the inspectors' work: who walks which sampled road, submissions, finding edits
with their reasons, and photos."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import case, func, insert, select, update

from ..domain.errors import Conflict, NotFound
from .schema import ClientWrite, FindingChange, Inspection, Photo, utcnow
from . import Store, finding_t, grid_t, ignoring_duplicates, road_t, sample_t, user_t

inspection_t, change_t, photo_t = Inspection.__table__, FindingChange.__table__, Photo.__table__
client_write_t = ClientWrite.__table__


def _road_id(conn, code: str) -> int:
    road_id = conn.execute(select(road_t.c.id).where(road_t.c.code == code)).scalar()
    if road_id is None:
        raise NotFound("Unknown road code {code!r}", code=code)
    return road_id


def assign(store: Store, month: str, road_code: str, inspector: str, assigned_by: str) -> None:
    """Give a sampled road of the month to an inspector (replacing an earlier assignment)."""
    assign_many(store, month, {road_code: inspector}, assigned_by)


def assign_many(store: Store, month: str, given: dict[str, str], assigned_by: str, audited: bool = False,
                reason: str | None = None) -> None:
    """Give sampled roads of the month to inspectors ({road: inspector}), in one transaction:
    every road is checked before any is assigned; with `audited`, the audit row (the roads
    that changed hands, before and after) is written in that transaction."""
    from . import audit

    draw = store.sample(month)
    sampled = {road for roads in (draw.sample.values() if draw else ()) for road in roads}
    for road_code in given:
        if road_code not in sampled:
            raise NotFound("Road {code} is not in the sample of {month}", code=road_code, month=month)
    users = {}
    for name in set(given.values()):
        user = store.user(name=name)
        if user is None or user["role"] != "inspector":
            raise NotFound("No inspector named {name!r}", name=name)
        if not user["active"]:
            raise Conflict("The inspector {name} is disabled; enable the account first", name=name)
        users[name] = user["id"]
    now = utcnow()
    with store.begin() as conn:
        before = dict(conn.execute(select(road_t.c.code, user_t.c.name)
                                   .select_from(inspection_t.join(road_t, road_t.c.id == inspection_t.c.road_id)
                                                .join(user_t, user_t.c.id == inspection_t.c.inspector_id))
                                   .where(inspection_t.c.month == month, road_t.c.code.in_(list(given)))).all())
        for road_code, name in given.items():
            road_id = _road_id(conn, road_code)
            values = {"inspector_id": users[name], "assigned_at": now, "assigned_by": assigned_by}
            changed = conn.execute(update(inspection_t).where(inspection_t.c.month == month,
                                                              inspection_t.c.road_id == road_id).values(**values))
            if changed.rowcount == 0:
                conn.execute(insert(inspection_t).values(month=month, road_id=road_id, **values))
        moved = {road: name for road, name in sorted(given.items()) if before.get(road) != name}
        if audited and moved:
            audit.record(conn, "assign", assigned_by, month=month, reason=reason,
                         subject=next(iter(moved)) if len(moved) == 1 else f"{len(moved)} roads",
                         before={road: before.get(road) for road in moved}, after=moved)


def assign_round_robin(store: Store, month: str, inspectors: list[str], assigned_by: str = "system") -> dict[str, str]:
    """Share the month's sampled roads among inspectors, a grid's roads to the same person."""
    draw = store.sample(month)
    if draw is None or not inspectors:
        return {}
    given = {road: inspectors[n % len(inspectors)] for n, grid in enumerate(sorted(draw.sample))
             for road in draw.sample[grid]}
    assign_many(store, month, given, assigned_by)
    return given


def inspections(store: Store, month: str, inspector_id: int | None = None) -> list[dict]:
    """The month's sampled roads (an inspector's own when `inspector_id`), with their status."""
    draw = store.sample(month)
    if draw is None:
        return []
    live = finding_t.c.deleted_at.is_(None)
    counts = (select(finding_t.c.road_id, func.count().label("findings")).where(finding_t.c.month == month, live)
              .group_by(finding_t.c.road_id).subquery())
    query = (select(road_t.c.code, road_t.c.name, road_t.c.grade, grid_t.c.code.label("grid"),
                    grid_t.c.name.label("grid_name"), user_t.c.name.label("inspector"),
                    inspection_t.c.inspector_id, inspection_t.c.submitted_at, inspection_t.c.submitted_by,
                    func.coalesce(counts.c.findings, 0).label("findings"))
             .select_from(sample_t.join(road_t, road_t.c.id == sample_t.c.road_id)
                          .join(grid_t, grid_t.c.id == sample_t.c.grid_id)
                          .outerjoin(inspection_t, (inspection_t.c.road_id == road_t.c.id)
                                     & (inspection_t.c.month == month))
                          .outerjoin(user_t, user_t.c.id == inspection_t.c.inspector_id)
                          .outerjoin(counts, counts.c.road_id == road_t.c.id))
             .where(sample_t.c.draw_id == draw.id).order_by(grid_t.c.code, road_t.c.code))
    if inspector_id is not None:
        query = query.where(inspection_t.c.inspector_id == inspector_id)
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(query)]


def inspection(store: Store, month: str, road_code: str) -> dict | None:
    return next((i for i in inspections(store, month) if i["code"] == road_code), None)


def road(store: Store, code: str) -> dict:
    """A road with its grid: geometries (WGS84 shapely) and attributes."""
    with store.engine.connect() as conn:
        row = conn.execute(select(road_t.c.id, road_t.c.code, road_t.c.name, road_t.c.grade, road_t.c.geom,
                                  grid_t.c.code.label("grid"), grid_t.c.name.label("grid_name"),
                                  grid_t.c.geom.label("grid_geom"))
                           .select_from(road_t.outerjoin(grid_t, grid_t.c.id == road_t.c.grid_id))
                           .where(road_t.c.code == code)).first()
    if row is None:
        raise NotFound("Unknown road code {code!r}", code=code)
    return row._asdict()


FINDING_COLUMNS = (finding_t.c.id, finding_t.c.external_id, finding_t.c.month, finding_t.c.rule, finding_t.c.count,
                   finding_t.c.area_m2, finding_t.c.observed_at, finding_t.c.deadline, finding_t.c.note,
                   finding_t.c.snapped_m, finding_t.c.geom, finding_t.c.inspector_id, finding_t.c.created_by,
                   finding_t.c.deleted_at, road_t.c.code.label("road"))


def _with_photos(conn, rows: list[dict]) -> list[dict]:
    ids = [r["id"] for r in rows]
    photos: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for photo_id, finding_id in conn.execute(select(photo_t.c.id, photo_t.c.finding_id)
                                                 .where(photo_t.c.finding_id.in_(ids), photo_t.c.removed_at.is_(None))
                                                 .order_by(photo_t.c.id)):
            photos[finding_id].append(photo_id)
    return [{**r, "photos": photos[r["id"]]} for r in rows]


def road_findings(store: Store, month: str, road_code: str) -> list[dict]:
    with store.engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(
            select(*FINDING_COLUMNS).join(road_t, road_t.c.id == finding_t.c.road_id)
            .where(road_t.c.code == road_code, finding_t.c.month == month, finding_t.c.deleted_at.is_(None))
            .order_by(finding_t.c.id))]
        return _with_photos(conn, rows)


def road_scored_findings(store: Store, month: str, road_code: str) -> list[tuple[dict, int]]:
    """What the scorer needs of a road's findings in the month (no places, no photos), alike
    ones once with how many there are: the running score each tablet write answers with. The
    time observed only where a deadline makes it count (5.4): a busy road's findings of one rule
    are then one row, not hundreds."""
    observed = case((finding_t.c.deadline.is_not(None), finding_t.c.observed_at)).label("observed_at")
    alike = (finding_t.c.rule, finding_t.c.count, finding_t.c.area_m2, finding_t.c.deadline, observed)
    with store.engine.connect() as conn:
        return [(dict(zip(("rule", "count", "area_m2", "deadline", "observed_at"), row[:-1])), row[-1])
                for row in conn.execute(
                    select(*alike, func.count()).join(road_t, road_t.c.id == finding_t.c.road_id)
                    .where(road_t.c.code == road_code, finding_t.c.month == month, finding_t.c.deleted_at.is_(None))
                    .group_by(*alike))]


def finding(store: Store, *, id: int | None = None, external_id: str | None = None) -> dict:
    where = finding_t.c.id == id if id is not None else finding_t.c.external_id == external_id
    with store.engine.connect() as conn:
        row = conn.execute(select(*FINDING_COLUMNS).join(road_t, road_t.c.id == finding_t.c.road_id)
                           .where(where)).first()
        if row is None:
            raise NotFound("No such finding")
        return _with_photos(conn, [row._asdict()])[0]


def _plain(row: dict) -> dict:
    """A finding as JSON for the change log."""
    out = {}
    for key in ("rule", "count", "area_m2", "observed_at", "deadline", "note", "road", "snapped_m"):
        value = row.get(key)
        out[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    if row.get("geom") is not None:
        out["lon"], out["lat"] = row["geom"].x, row["geom"].y
    return out


def log_change(conn, finding_id: int, action: str, by: str, reason: str | None, before: dict | None,
               after: dict | None) -> None:
    conn.execute(insert(change_t).values(finding_id=finding_id, action=action, changed_by=by, changed_at=utcnow(),
                                         reason=reason, before=json.dumps(_plain(before), ensure_ascii=False)
                                         if before else None,
                                         after=json.dumps(_plain(after), ensure_ascii=False) if after else None))


# within a use case's transaction -----------------------------------------------------------

def finding_in(conn, *, id: int | None = None, external_id: str | None = None) -> dict | None:
    """A finding (deleted ones too) with its photos, read inside the caller's transaction."""
    where = finding_t.c.id == id if id is not None else finding_t.c.external_id == external_id
    row = conn.execute(select(*FINDING_COLUMNS).join(road_t, road_t.c.id == finding_t.c.road_id).where(where)).first()
    return _with_photos(conn, [row._asdict()])[0] if row else None


def assignment_in(conn, month: str, road_id: int) -> dict | None:
    """The road's inspection in the month (who walks it, whether it was submitted), or None."""
    row = conn.execute(select(inspection_t.c.inspector_id, inspection_t.c.submitted_at)
                       .where(inspection_t.c.month == month, inspection_t.c.road_id == road_id)).first()
    return row._asdict() if row else None


def insert_finding(conn, values: dict) -> int | None:
    """Insert a finding unless its external id is stored (a concurrent retry): its id, or None.
    On PostgreSQL a concurrent insert of the same id waits for the other transaction, then
    inserts nothing."""
    statement = ignoring_duplicates(conn.dialect.name, finding_t).values(created_at=utcnow(), **values)
    return conn.execute(statement.returning(finding_t.c.id)).scalar()


def write_finding(conn, finding_id: int, values: dict) -> None:
    conn.execute(update(finding_t).where(finding_t.c.id == finding_id).values(**values, updated_at=utcnow()))


def mark_deleted(conn, finding_id: int) -> None:
    """Soft delete: the finding is kept (with its photos) but no longer scored."""
    conn.execute(update(finding_t).where(finding_t.c.id == finding_id).values(deleted_at=utcnow()))


def submit_in(conn, month: str, road_id: int, by: str) -> None:
    conn.execute(update(inspection_t).where(inspection_t.c.month == month, inspection_t.c.road_id == road_id)
                 .values(submitted_at=utcnow(), submitted_by=by))


def photo_in(conn, client_id: str) -> dict | None:
    row = conn.execute(select(photo_t).where(photo_t.c.client_id == client_id)).first()
    return row._asdict() if row else None


def photo_count_in(conn, finding_id: int) -> int:
    """The finding's photos that are shown (removed ones are kept but do not count)."""
    return conn.execute(select(func.count()).select_from(photo_t).where(photo_t.c.finding_id == finding_id,
                                                                        photo_t.c.removed_at.is_(None))).scalar()


def photo_by_id_in(conn, photo_id: int) -> dict | None:
    row = conn.execute(select(photo_t).where(photo_t.c.id == photo_id)).first()
    return row._asdict() if row else None


def remove_photo_in(conn, photo_id: int, by: str) -> None:
    conn.execute(update(photo_t).where(photo_t.c.id == photo_id).values(removed_at=utcnow(), removed_by=by))


def claim_write(conn, values: dict) -> bool:
    """Record a client-made write id in the caller's transaction, before its change: False when
    the id is stored already (a replay, or a concurrent retry that committed first; on PostgreSQL
    a concurrent insert of the same id waits for the other transaction, then inserts nothing)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = (dialect_insert(client_write_t).values(created_at=utcnow(), **values)
                 .on_conflict_do_nothing(index_elements=["client_id"]).returning(client_write_t.c.client_id))
    return conn.execute(statement).scalar() is not None


def client_write(store: Store, client_id: str) -> dict | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(client_write_t).where(client_write_t.c.client_id == client_id)).first()
    return row._asdict() if row else None


def insert_photo(conn, values: dict) -> int:
    return conn.execute(insert(photo_t).values(created_at=utcnow(), **values)).inserted_primary_key[0]


def changes(store: Store, finding_id: int) -> list[dict]:
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(select(change_t).where(change_t.c.finding_id == finding_id)
                                                  .order_by(change_t.c.id))]


def photo(store: Store, photo_id: int) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(select(photo_t).where(photo_t.c.id == photo_id)).first()
    if row is None:
        raise NotFound("No such photo")
    return row._asdict()
