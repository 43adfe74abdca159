"""Storage of the planners' boundary edits: compare-and-set saves of one grid or road, each
change versioned (who, when, why, the feature before and after), history and restore."""

from __future__ import annotations

import json
from datetime import datetime

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert, select, update

from ..errors import Conflict, LayerError, NotFound
from ..schema import utcnow
from . import Store, grid_t, road_t

version_t = Table(
    "boundary_version", MetaData(),
    Column("id", Integer, primary_key=True), Column("kind", String(4)), Column("code", String(32)),
    Column("version", Integer), Column("before", Text), Column("after", Text),
    Column("changed_by", String(100)), Column("changed_at", DateTime), Column("reason", Text))

ATTRIBUTES = {"grid": ("name", "town", "grid_class", "leader"), "road": ("name", "grade", "grid")}


def _multi(geometry):
    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


def _feature_row(conn, kind: str, code: str) -> dict | None:
    if kind == "grid":
        row = conn.execute(select(grid_t.c.id, grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class,
                                  grid_t.c.leader, grid_t.c.geom, grid_t.c.version, grid_t.c.updated_at)
                           .where(grid_t.c.code == code)).first()
    elif kind == "road":
        row = conn.execute(select(road_t.c.id, road_t.c.code, road_t.c.name, road_t.c.grade,
                                  grid_t.c.code.label("grid"), road_t.c.geom, road_t.c.version, road_t.c.updated_at)
                           .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id))
                           .where(road_t.c.code == code)).first()
    else:
        raise NotFound("Unknown feature kind {kind!r}", kind=kind)
    return None if row is None else row._asdict()


def as_feature(kind: str, row: dict) -> dict:
    """A stored grid or road as a GeoJSON Feature (WGS84) with its version."""
    props = {k: row.get(k) for k in ATTRIBUTES[kind]}
    props.update(code=row["code"], version=row["version"])
    if isinstance(row.get("updated_at"), datetime):
        props["updated_at"] = row["updated_at"].isoformat(timespec="seconds") + "Z"
    return {"type": "Feature", "properties": props, "geometry": mapping(row["geom"])}


def feature(store: Store, kind: str, code: str) -> dict:
    with store.engine.connect() as conn:
        row = _feature_row(conn, kind, code)
    if row is None:
        raise NotFound("No {kind} with code {code!r}", kind=kind, code=code)
    return as_feature(kind, row)


def save_feature(store: Store, kind: str, code: str, attributes: dict, geometry, base_version: int | None,
                 changed_by: str, reason: str | None = None) -> dict:
    """Create (base_version None) or update one grid or road. An update applies only if the
    stored version is still `base_version` (one UPDATE … WHERE version = :v); otherwise
    Conflict, carrying the stored feature as `theirs`. Invalid geometry is refused."""
    geometry = _multi(geometry)
    if not shapely.is_valid(geometry) or geometry.is_empty:
        raise LayerError("The geometry of {code} is invalid: {reason}", code=code,
                         reason=shapely.is_valid_reason(geometry))
    table = grid_t if kind == "grid" else road_t
    values = {k: attributes.get(k) for k in ATTRIBUTES[kind] if k != "grid"}
    now = utcnow()
    with store.begin() as conn:
        if kind == "road":
            grid = attributes.get("grid")
            grid_id = conn.execute(select(grid_t.c.id).where(grid_t.c.code == grid)).scalar() if grid else None
            if grid and grid_id is None:
                raise NotFound("No grid with code {code!r}", code=grid)
            values["grid_id"] = grid_id
        before = _feature_row(conn, kind, code)
        if base_version is None:
            if before is not None:
                raise Conflict("Code {code} is already used", code=code)
            conn.execute(insert(table).values(code=code, geom=geometry, version=1, updated_at=now, **values))
        else:
            if before is None:
                raise NotFound("No {kind} with code {code!r}", kind=kind, code=code)
            moved = conn.execute(update(table).where(table.c.code == code, table.c.version == base_version)
                                 .values(geom=geometry, version=table.c.version + 1, updated_at=now, **values))
            if moved.rowcount != 1:
                error = Conflict("{code} was changed by someone else (version {theirs}, you started from {yours})",
                                 code=code, theirs=before["version"], yours=base_version)
                error.theirs = as_feature(kind, before)
                raise error
        after = _feature_row(conn, kind, code)
        _record(conn, kind, before, after, changed_by, reason, now)
    return as_feature(kind, after)


def _record(conn, kind, before, after, changed_by, reason, now) -> None:
    conn.execute(insert(version_t).values(
        kind=kind, code=after["code"], version=after["version"],
        before=None if before is None else json.dumps(as_feature(kind, before), ensure_ascii=False),
        after=json.dumps(as_feature(kind, after), ensure_ascii=False),
        changed_by=changed_by, changed_at=now, reason=reason))


def history(store: Store, kind: str, code: str) -> list[dict]:
    """Every recorded change of one feature, newest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(version_t).where(version_t.c.kind == kind, version_t.c.code == code)
                            .order_by(version_t.c.version.desc())).all()
    return [{"version": r.version, "changed_by": r.changed_by,
             "changed_at": r.changed_at.isoformat(timespec="seconds") + "Z", "reason": r.reason,
             "before": None if r.before is None else json.loads(r.before), "after": json.loads(r.after)}
            for r in rows]


def as_of(store: Store, kind: str, code: str, when: datetime) -> dict | None:
    """The feature as it stood at `when` (naive UTC), from its recorded history; None if it
    did not exist then or its changes were never recorded."""
    with store.engine.connect() as conn:
        row = conn.execute(select(version_t.c.after).where(version_t.c.kind == kind, version_t.c.code == code,
                                                           version_t.c.changed_at <= when)
                           .order_by(version_t.c.version.desc()).limit(1)).first()
    return None if row is None else json.loads(row.after)


def restore(store: Store, kind: str, code: str, version: int, changed_by: str, reason: str | None = None) -> dict:
    """Make a past version current again, as a new version (history is never rewritten)."""
    past = [h for h in history(store, kind, code) if h["version"] == version]
    if not past:
        raise NotFound("{code} has no version {version}", code=code, version=version)
    props = past[0]["after"]["properties"]
    current = feature(store, kind, code)
    return save_feature(store, kind, code, props, shape(past[0]["after"]["geometry"]),
                        current["properties"]["version"], changed_by,
                        reason or f"restore version {version}")


def _all_rows(conn, kind: str, codes: set[str]) -> dict[str, dict]:
    """The stored features among `codes`, in one query (imports touch thousands)."""
    if not codes:
        return {}
    if kind == "grid":
        query = select(grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class, grid_t.c.leader,
                       grid_t.c.geom, grid_t.c.version, grid_t.c.updated_at)
    else:
        query = (select(road_t.c.code, road_t.c.name, road_t.c.grade, grid_t.c.code.label("grid"), road_t.c.geom,
                        road_t.c.version, road_t.c.updated_at)
                 .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id)))
    return {r.code: r._asdict() for r in conn.execute(query) if r.code in codes}


def snapshot(conn, table, codes: set[str]) -> dict[str, dict]:
    """Before a bulk save (Store.save_grids/save_roads): the features it is about to change."""
    return _all_rows(conn, "grid" if table is grid_t else "road", codes)


def record_bulk(conn, table, codes: set[str], before: dict[str, dict], changed_by: str,
                reason: str | None) -> None:
    """After a bulk save, in the same transaction: one history row per feature saved."""
    kind = "grid" if table is grid_t else "road"
    now = utcnow()
    rows = [{"kind": kind, "code": code, "version": after["version"],
             "before": None if code not in before else json.dumps(as_feature(kind, before[code]), ensure_ascii=False),
             "after": json.dumps(as_feature(kind, after), ensure_ascii=False),
             "changed_by": changed_by, "changed_at": now, "reason": reason}
            for code, after in _all_rows(conn, kind, codes).items()]
    if rows:
        conn.execute(insert(version_t), rows)
