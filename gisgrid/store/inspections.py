"""Storage of the inspectors' work: who walks which sampled road, submissions, finding edits
with their reasons, and photos."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import func, insert, select, update

from ..errors import Conflict, NotFound
from ..schema import FindingChange, Inspection, Photo, utcnow
from . import Store, finding_t, grid_t, road_t, sample_t, user_t

inspection_t, change_t, photo_t = Inspection.__table__, FindingChange.__table__, Photo.__table__


def _road_id(conn, code: str) -> int:
    road_id = conn.execute(select(road_t.c.id).where(road_t.c.code == code)).scalar()
    if road_id is None:
        raise NotFound("Unknown road code {code!r}", code=code)
    return road_id


def assign(store: Store, month: str, road_code: str, inspector: str, assigned_by: str) -> None:
    """Give a sampled road of the month to an inspector (replacing an earlier assignment)."""
    draw = store.sample(month)
    if draw is None or not any(road_code in roads for roads in draw.sample.values()):
        raise NotFound("Road {code} is not in the sample of {month}", code=road_code, month=month)
    user = store.user(name=inspector)
    if user is None or user["role"] != "inspector":
        raise NotFound("No inspector named {name!r}", name=inspector)
    with store.begin() as conn:
        road_id = _road_id(conn, road_code)
        changed = conn.execute(update(inspection_t).where(inspection_t.c.month == month,
                                                          inspection_t.c.road_id == road_id)
                               .values(inspector_id=user["id"], assigned_at=utcnow(), assigned_by=assigned_by))
        if changed.rowcount == 0:
            conn.execute(insert(inspection_t).values(month=month, road_id=road_id, inspector_id=user["id"],
                                                     assigned_at=utcnow(), assigned_by=assigned_by))


def assign_round_robin(store: Store, month: str, inspectors: list[str], assigned_by: str = "system") -> dict[str, str]:
    """Share the month's sampled roads among inspectors, a grid's roads to the same person."""
    draw = store.sample(month)
    if draw is None or not inspectors:
        return {}
    given = {}
    for n, grid in enumerate(sorted(draw.sample)):
        for road in draw.sample[grid]:
            given[road] = inspectors[n % len(inspectors)]
            assign(store, month, road, given[road], assigned_by)
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


def submit(store: Store, month: str, road_code: str, by: str) -> None:
    with store.begin() as conn:
        road_id = _road_id(conn, road_code)
        done = conn.execute(update(inspection_t).where(inspection_t.c.month == month, inspection_t.c.road_id == road_id,
                                                       inspection_t.c.submitted_at.is_(None))
                            .values(submitted_at=utcnow(), submitted_by=by))
        if done.rowcount == 0:
            raise Conflict("The inspection of {code} in {month} is not assigned or already submitted",
                           code=road_code, month=month)


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
                                                 .where(photo_t.c.finding_id.in_(ids)).order_by(photo_t.c.id)):
            photos[finding_id].append(photo_id)
    return [{**r, "photos": photos[r["id"]]} for r in rows]


def road_findings(store: Store, month: str, road_code: str) -> list[dict]:
    with store.engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(
            select(*FINDING_COLUMNS).join(road_t, road_t.c.id == finding_t.c.road_id)
            .where(road_t.c.code == road_code, finding_t.c.month == month, finding_t.c.deleted_at.is_(None))
            .order_by(finding_t.c.id))]
        return _with_photos(conn, rows)


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


def update_finding(store: Store, finding_id: int, values: dict, by: str, reason: str | None) -> None:
    """Write new values of a finding and log before and after, in one transaction."""
    before = finding(store, id=finding_id)
    with store.begin() as conn:
        conn.execute(update(finding_t).where(finding_t.c.id == finding_id).values(**values, updated_at=utcnow()))
    after = finding(store, id=finding_id)
    with store.begin() as conn:
        log_change(conn, finding_id, "update", by, reason, before, after)


def delete_finding(store: Store, finding_id: int, by: str, reason: str | None) -> None:
    """Soft delete: the finding is kept (with its photos) but no longer scored."""
    before = finding(store, id=finding_id)
    with store.begin() as conn:
        conn.execute(update(finding_t).where(finding_t.c.id == finding_id).values(deleted_at=utcnow()))
        log_change(conn, finding_id, "delete", by, reason, before, None)


def changes(store: Store, finding_id: int) -> list[dict]:
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(select(change_t).where(change_t.c.finding_id == finding_id)
                                                  .order_by(change_t.c.id))]


def add_photo(store: Store, finding_id: int, client_id: str, file: str, thumb: str, width: int, height: int,
              size: int, by: str) -> tuple[int, bool]:
    """Record a stored photo; the same client id twice is one photo. Returns (id, created)."""
    with store.begin() as conn:
        existing = conn.execute(select(photo_t.c.id).where(photo_t.c.client_id == client_id)).scalar()
        if existing is not None:
            return existing, False
        photo_id = conn.execute(insert(photo_t).values(finding_id=finding_id, client_id=client_id, file=file,
                                                       thumb=thumb, width=width, height=height, bytes=size,
                                                       created_at=utcnow(), created_by=by)).inserted_primary_key[0]
        return photo_id, True


def photo_count(store: Store, finding_id: int) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(photo_t).where(photo_t.c.finding_id == finding_id)).scalar()


def photo(store: Store, photo_id: int) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(select(photo_t).where(photo_t.c.id == photo_id)).first()
    if row is None:
        raise NotFound("No such photo")
    return row._asdict()
