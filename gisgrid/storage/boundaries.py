"""Storage of the planners' boundary edits: compare-and-set saves of one grid or road, each
change versioned (who, when, why, the feature before and after), history and restore."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.ops import split as split_by_line
from sqlalchemy import func, insert, select, update

from .cache import RevisionCache
from ..domain.errors import Conflict, LayerError, NotFound
from ..domain.grid_classes import CODES as CLASS_CODES
from .schema import CODE, BoundaryVersion, utcnow
from . import Store, grid_t, road_t

version_t = BoundaryVersion.__table__

ATTRIBUTES = {"grid": ("name", "town", "grid_class", "leader"), "road": ("name", "grade", "grid")}
GRID_CLASSES = CLASS_CODES
# Codes go into URLs and file names: no spaces or slashes; the national 15-digit grid codes fit.


def _multi(geometry):
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise LayerError("A grid or road is a polygon, not a {kind}", kind=geometry.geom_type)
    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


def _feature_row(conn, kind: str, code: str) -> dict | None:
    if kind == "grid":
        row = conn.execute(select(grid_t.c.id, grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class,
                                  grid_t.c.leader, grid_t.c.geom, grid_t.c.version, grid_t.c.updated_at,
                                  grid_t.c.retired_at)
                           .where(grid_t.c.code == code)).first()
    elif kind == "road":
        row = conn.execute(select(road_t.c.id, road_t.c.code, road_t.c.name, road_t.c.grade,
                                  grid_t.c.code.label("grid"), road_t.c.geom, road_t.c.version, road_t.c.updated_at,
                                  road_t.c.retired_at)
                           .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id))
                           .where(road_t.c.code == code)).first()
    else:
        raise NotFound("Unknown feature kind {kind!r}", kind=kind)
    return None if row is None else row._asdict()


@lru_cache(maxsize=256)   # an import stamps every feature with one moment: format it once
def _utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, the form the recorded features have always carried."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _properties(kind: str, row: dict) -> dict:
    props = {k: row.get(k) for k in ATTRIBUTES[kind]}
    props.update(code=row["code"], version=row["version"])
    if isinstance(row.get("updated_at"), datetime):
        props["updated_at"] = _utc_text(row["updated_at"])
    if isinstance(row.get("retired_at"), datetime):
        props["retired_at"] = _utc_text(row["retired_at"])
    return props


def as_feature(kind: str, row: dict) -> dict:
    """A stored grid or road as a GeoJSON Feature (WGS84) with its version."""
    return {"type": "Feature", "properties": _properties(kind, row), "geometry": mapping(row["geom"])}


def _feature_texts(kind: str, rows: list[dict]) -> list[str]:
    """json.dumps(as_feature(kind, row)) of many rows at once: GEOS writes the geometries in
    one call (the same coordinates, digit for digit), which makes large imports' history cheap."""
    geometries = shapely.to_geojson(np.array([row["geom"] for row in rows], dtype=object))
    return ['{"type": "Feature", "properties": ' + json.dumps(_properties(kind, row), ensure_ascii=False)
            + ', "geometry": ' + geometry + "}" for row, geometry in zip(rows, geometries)]


def feature(store: Store, kind: str, code: str) -> dict:
    with store.engine.connect() as conn:
        row = _feature_row(conn, kind, code)
    if row is None:
        raise NotFound("No {kind} with code {code!r}", kind=kind, code=code)
    return as_feature(kind, row)


def _checked(kind: str, code: str, attributes: dict) -> dict:
    """The attribute columns to write, refusing what the form should not have let through."""
    if not CODE.fullmatch(code or ""):
        raise LayerError("Code {code!r} must be 1 to 32 characters without spaces or slashes", code=code)
    values = {k: (str(attributes[k]).strip() or None) if attributes.get(k) is not None else None
              for k in ATTRIBUTES[kind]}
    values["name"] = values["name"] or code
    if kind == "grid" and values["grid_class"] not in (None, *GRID_CLASSES):
        raise LayerError("Grid class must be A, B or C (found {classes})", classes=values["grid_class"])
    return values


def _changed_by_someone_else(kind: str, code: str, before: dict, base_version: int) -> Conflict:
    error = Conflict("{code} was changed by someone else (version {theirs}, you started from {yours})",
                     code=code, theirs=before["version"], yours=base_version)
    error.theirs = as_feature(kind, before)
    return error


def _write(conn, kind: str, code: str, values: dict, base_version: int | None, changed_by: str,
           reason: str | None, now: datetime, revive: bool = False) -> dict:
    """One compare-and-set write inside the caller's transaction; returns the row after it."""
    table = grid_t if kind == "grid" else road_t
    values = dict(values)
    new_code = values.pop("code", None) or code
    if kind == "road" and "grid" in values:
        grid = values.pop("grid")
        grid_id = conn.execute(select(grid_t.c.id).where(grid_t.c.code == grid, grid_t.c.retired_at.is_(None))
                               ).scalar() if grid else None
        if grid and grid_id is None:
            raise NotFound("No grid with code {code!r}", code=grid)
        values["grid_id"] = grid_id
    if "geom" in values:
        values["geom"] = _valid(values["geom"], new_code)
    before = _feature_row(conn, kind, code)
    if new_code != code and _feature_row(conn, kind, new_code) is not None:
        raise Conflict("Code {code} is already used", code=new_code)
    if base_version is None:
        if before is not None:
            raise Conflict("Code {code} is already used", code=code)
        conn.execute(insert(table).values(code=code, version=1, updated_at=now, **values))
    else:
        if before is None:
            raise NotFound("No {kind} with code {code!r}", kind=kind, code=code)
        if before["retired_at"] is not None and not revive and "retired_at" not in values:
            raise Conflict("{code} was retired; restore a version from its history to bring it back", code=code)
        if revive:
            values["retired_at"] = None
        moved = conn.execute(update(table).where(table.c.code == code, table.c.version == base_version)
                             .values(code=new_code, version=table.c.version + 1, updated_at=now, **values))
        if moved.rowcount != 1:
            raise _changed_by_someone_else(kind, code, before, base_version)
        if new_code != code:  # the history follows the feature to its new code
            conn.execute(update(version_t).where(version_t.c.kind == kind, version_t.c.code == code)
                         .values(code=new_code))
    after = _feature_row(conn, kind, new_code)
    _record(conn, kind, before, after, changed_by, reason, now)
    return after


def _valid(geometry, code: str):
    geometry = _multi(geometry)
    if geometry.is_empty or not shapely.is_valid(geometry):
        raise LayerError("The geometry of {code} is invalid: {reason}", code=code,
                         reason=shapely.is_valid_reason(geometry))
    return geometry


def save_feature(store: Store, kind: str, code: str, attributes: dict, geometry, base_version: int | None,
                 changed_by: str, reason: str | None = None, revive: bool = False) -> dict:
    """Create (base_version None) or update one grid or road. An update applies only if the
    stored version is still `base_version` (one UPDATE … WHERE version = :v); otherwise
    Conflict, carrying the stored feature as `theirs`. Invalid geometry is refused.
    `attributes["code"]`, when it differs from `code`, renames the feature."""
    if kind not in ATTRIBUTES:
        raise NotFound("Unknown feature kind {kind!r}", kind=kind)
    values = _checked(kind, code, attributes)
    if attributes.get("code") and attributes["code"] != code:
        _checked(kind, attributes["code"], attributes)
        values["code"] = attributes["code"]
    with store.begin() as conn:
        after = _write(conn, kind, code, {**values, "geom": geometry}, base_version, changed_by, reason, utcnow(),
                       revive)
    return as_feature(kind, after)


def retire(store: Store, kind: str, code: str, base_version: int, changed_by: str, reason: str | None = None) -> dict:
    """Take a grid or road off the map for the months to come; past months keep it."""
    with store.begin() as conn:
        after = _retire(conn, kind, code, base_version, changed_by, reason, utcnow())
    return as_feature(kind, after)


def _retire(conn, kind, code, base_version, changed_by, reason, now) -> dict:
    if kind == "grid":
        roads = conn.execute(select(road_t.c.code).join(grid_t, road_t.c.grid_id == grid_t.c.id)
                             .where(grid_t.c.code == code, road_t.c.retired_at.is_(None))
                             .order_by(road_t.c.code)).scalars().all()
        if roads:
            raise Conflict("Grid {code} still manages roads ({roads}); move them to another grid first",
                           code=code, roads=", ".join(roads[:10]))
    return _write(conn, kind, code, {"retired_at": now}, base_version, changed_by, reason, now)


def split(store: Store, kind: str, code: str, line, new_code: str, base_version: int, changed_by: str,
          reason: str | None = None) -> list[dict]:
    """Cut a feature in two along a line drawn across it: the larger part keeps the code, the
    other becomes `new_code` with the same attributes. One transaction, both versioned."""
    current = feature(store, kind, code)
    parts = sorted(shapely.get_parts(split_by_line(shape(current["geometry"]), line)),
                   key=lambda p: p.area, reverse=True)
    polygons = [p for p in parts if p.area > 0]
    if len(polygons) != 2:
        raise LayerError("The line must cross {code} from edge to edge once, making two parts (it made {n})",
                         code=code, n=len(polygons))
    attributes = {k: current["properties"].get(k) for k in ATTRIBUTES[kind]}
    now = utcnow()
    with store.begin() as conn:
        kept = _write(conn, kind, code, {**_checked(kind, code, attributes), "geom": polygons[0]}, base_version,
                      changed_by, reason, now)
        made = _write(conn, kind, new_code, {**_checked(kind, new_code, attributes), "geom": polygons[1]}, None,
                      changed_by, reason or f"split from {code}", now)
    return [as_feature(kind, kept), as_feature(kind, made)]


def merge(store: Store, kind: str, code: str, other: str, base_version: int, other_version: int,
          changed_by: str, reason: str | None = None) -> dict:
    """Join `other` into `code`: their union must be one polygon. `other` is retired, and a
    merged grid's roads move to `code`, each change versioned, in one transaction."""
    mine, theirs = feature(store, kind, code), feature(store, kind, other)
    union = shapely.union(shape(mine["geometry"]), shape(theirs["geometry"]))
    if code == other or union.geom_type != "Polygon":
        raise LayerError("{code} and {other} do not touch; only neighbours can be merged", code=code, other=other)
    attributes = {k: mine["properties"].get(k) for k in ATTRIBUTES[kind]}
    now = utcnow()
    why = reason or f"merged {other} into {code}"
    with store.begin() as conn:
        if kind == "grid":
            moving = conn.execute(select(road_t.c.code, road_t.c.version).join(grid_t, road_t.c.grid_id == grid_t.c.id)
                                  .where(grid_t.c.code == other, road_t.c.retired_at.is_(None))).all()
            for road in moving:
                _write(conn, "road", road.code, {"grid": code}, road.version, changed_by, why, now)
        kept = _write(conn, kind, code, {**_checked(kind, code, attributes), "geom": union}, base_version,
                      changed_by, why, now)
        _retire(conn, kind, other, other_version, changed_by, why, now)
    return as_feature(kind, kept)


class LayerIndex:
    """The current (not retired) grids or roads of a store, with a spatial index, so that the
    planner's map can ask for what is in view of a whole city's layers."""

    def __init__(self, kind: str, rows: dict[str, dict]):
        self.kind, self.key = kind, None
        self.rows = [row for _code, row in sorted(rows.items()) if row["retired_at"] is None]
        self.tree = shapely.STRtree([row["geom"] for row in self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    def bounds(self) -> list[float] | None:
        return list(shapely.total_bounds(self.tree.geometries)) if self.rows else None

    def within(self, bbox: tuple[float, float, float, float] | None = None) -> list[int]:
        """Positions of the features meeting `bbox` (lon/lat), in code order; all without one."""
        if bbox is None:
            return list(range(len(self.rows)))
        return sorted(self.tree.query(shapely.box(*bbox), predicate="intersects").tolist())

    def frame(self, positions: list[int]):
        """The features at `positions` as a GeoDataFrame (WGS84), as validation.validate takes them."""
        import geopandas as gpd

        columns = ["code", *(a for a in ATTRIBUTES[self.kind])]
        return gpd.GeoDataFrame({c: [self.rows[i][c] for i in positions] for c in columns},
                                geometry=[self.rows[i]["geom"] for i in positions], crs=4326)

    def collection(self, positions: list[int]) -> dict:
        return {"type": "FeatureCollection", "features": [as_feature(self.kind, self.rows[i]) for i in positions]}


_LAYER_INDEXES = RevisionCache("layer indexes", maxsize=2)   # grids and roads


def layer_index(store: Store, kind: str) -> LayerIndex:
    """The LayerIndex of `kind`, rebuilt only after a feature it shows changed: for roads that
    includes their grids, whose codes they carry. One build at a time; web threads share it."""
    revision = (store.revision(grid_t), *([store.revision(road_t)] if kind == "road" else []))

    def build() -> LayerIndex:
        with store.engine.connect() as conn:
            index = LayerIndex(kind, _all_rows(conn, kind, None))
        index.key = (kind, revision)
        return index

    return _LAYER_INDEXES.get(store, kind, revision, build)


def features(store: Store, kind: str) -> dict:
    """The current (not retired) grids or roads as one FeatureCollection, each with its version."""
    index = layer_index(store, kind)
    return index.collection(index.within())


def layer_as_of(store: Store, kind: str, when: datetime) -> dict:
    """The grids or roads as they stood at `when` (aware), as a FeatureCollection: each
    feature's last recorded version by then, unless it was retired by then."""
    with store.engine.connect() as conn:
        latest = (select(version_t.c.code, func.max(version_t.c.version).label("version"))
                  .where(version_t.c.kind == kind, version_t.c.changed_at <= when).group_by(version_t.c.code)
                  .subquery())
        rows = conn.execute(select(version_t.c.after)
                            .join(latest, (version_t.c.code == latest.c.code) & (version_t.c.version == latest.c.version))
                            .where(version_t.c.kind == kind)).scalars().all()
    found = [json.loads(after) for after in rows]
    return {"type": "FeatureCollection", "as_of": _utc_text(when),
            "features": sorted((f for f in found if not f["properties"].get("retired_at")),
                               key=lambda f: f["properties"]["code"])}


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
             "changed_at": _utc_text(r.changed_at), "reason": r.reason,
             "before": None if r.before is None else json.loads(r.before), "after": json.loads(r.after)}
            for r in rows]


def as_of(store: Store, kind: str, code: str, when: datetime) -> dict | None:
    """The feature as it stood at `when` (aware), from its recorded history; None if it
    did not exist then or its changes were never recorded."""
    with store.engine.connect() as conn:
        row = conn.execute(select(version_t.c.after).where(version_t.c.kind == kind, version_t.c.code == code,
                                                           version_t.c.changed_at <= when)
                           .order_by(version_t.c.version.desc()).limit(1)).first()
    return None if row is None else json.loads(row.after)


def past_version(store: Store, kind: str, code: str, version: int) -> dict:
    """The feature as one recorded version left it."""
    with store.engine.connect() as conn:
        after = conn.execute(select(version_t.c.after).where(version_t.c.kind == kind, version_t.c.code == code,
                                                             version_t.c.version == version)).scalar()
    if after is None:
        raise NotFound("{code} has no version {version}", code=code, version=version)
    return json.loads(after)


def restore(store: Store, kind: str, code: str, version: int, base_version: int, changed_by: str,
            reason: str | None = None) -> dict:
    """Make a past version current again, as a new version (history is never rewritten); refused
    as a conflict if the feature changed since the planner saw it at `base_version`."""
    past = past_version(store, kind, code, version)
    return save_feature(store, kind, code, {k: past["properties"].get(k) for k in ATTRIBUTES[kind]},
                        shape(past["geometry"]), base_version, changed_by, reason or f"restore version {version}",
                        revive=True)


def _all_rows(conn, kind: str, codes: set[str] | None) -> dict[str, dict]:
    """The stored features among `codes` (None: all), in one query (imports touch thousands)."""
    if codes is not None and not codes:
        return {}
    if kind == "grid":
        query = select(grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class, grid_t.c.leader,
                       grid_t.c.geom, grid_t.c.version, grid_t.c.updated_at, grid_t.c.retired_at)
    else:
        query = (select(road_t.c.code, road_t.c.name, road_t.c.grade, grid_t.c.code.label("grid"), road_t.c.geom,
                        road_t.c.version, road_t.c.updated_at, road_t.c.retired_at)
                 .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id)))
    return {r.code: r._asdict() for r in conn.execute(query) if codes is None or r.code in codes}


def snapshot(conn, table, codes: set[str]) -> dict[str, dict]:
    """Before a bulk save (Store.save_grids/save_roads): the features it is about to change."""
    return _all_rows(conn, "grid" if table is grid_t else "road", codes)


def history_rows(kind: str, rows: list[dict], before: dict[str, dict], changed_by: str, reason: str | None,
                 now: datetime) -> list[dict]:
    """For a bulk save of `rows` (a road naming its grid by code): one history row per feature,
    its state before (from snapshot) and after."""
    if not rows:
        return []
    after = [{**row, "version": before[row["code"]]["version"] + 1 if row["code"] in before else 1,
              "updated_at": now} for row in rows]
    changed = [row for row in rows if row["code"] in before]
    was = dict(zip((row["code"] for row in changed), _feature_texts(kind, [before[row["code"]] for row in changed])))
    return [{"kind": kind, "code": row["code"], "version": row["version"], "before": was.get(row["code"]),
             "after": text, "changed_by": changed_by, "changed_at": now, "reason": reason}
            for row, text in zip(after, _feature_texts(kind, after))]


def road_geometries_as_of(store: Store, when: datetime) -> tuple[list[int], list[str], list]:
    """(ids, codes, WGS84 geometries) of the roads as they stood at `when` (aware): a road
    unchanged since keeps its stored shape; one changed since takes the shape its first later
    change started from, and is left out if that change created it. One query when nothing changed."""
    ids, codes, geoms = store.road_geometries()
    with store.engine.connect() as conn:
        changed = dict(conn.execute(select(road_t.c.code, road_t.c.id).where(road_t.c.updated_at > when)).all())
        if not changed:
            return ids, codes, geoms
        first: dict[str, str | None] = {}
        for row in conn.execute(select(version_t.c.code, version_t.c.before)
                                .where(version_t.c.kind == "road", version_t.c.changed_at > when)
                                .order_by(version_t.c.code, version_t.c.version)):
            if row.code in changed:
                first.setdefault(row.code, row.before)
    kept = [(i, c, g) for i, c, g in zip(ids, codes, geoms) if c not in changed or c not in first]
    for code, before in first.items():
        then = None if before is None else json.loads(before)
        if then is not None and not then["properties"].get("retired_at"):
            kept.append((changed[code], code, _multi(shape(then["geometry"]))))
    kept.sort()
    return [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]


