"""What the grid office does, start to end: import layers and findings, draw the month's
sample, score months and years, export. Joins the pure core, GIS I/O and storage; knows
nothing of the web or the command line."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import layers, scoring
from .assign import RoadIndex
from .errors import FindingError, GisgridError, NotFound, SampleError
from .months import (current_month, from_utc_naive, month_of, months_of_year, parse_date, parse_month,
                     parse_observed, parse_year, utc_naive)
from .rulebook import Rulebook, load_rulebooks, rulebook_for
from .sampling import designate, draw_sample
from .store import Draw, Store, publishing

Log = Callable[[str], None]


def quiet(_message: str) -> None:
    pass


def rulebooks() -> list[Rulebook]:
    return load_rulebooks(os.environ.get("GISGRID_RULEBOOK_DIR"))


# layers -------------------------------------------------------------------------------


@dataclass
class LayerImport:
    kind: str
    created: int
    updated: int
    placed: int = 0
    unplaced: list[str] = field(default_factory=list)
    report: layers.LayerReport | None = None


def import_layer(store: Store, kind: str, path, crs: str | None = None, layer: str | None = None,
                 log: Log = quiet, fields: dict[str, str] | None = None,
                 progress: Callable[[str, float], None] = layers.no_progress,
                 changed_by: str = "import", restricted: bool = True) -> LayerImport:
    """Import grids or roads; existing codes are updated, new ones added, all in one transaction
    (versioned as changed by `changed_by`). A road without a `grid` attribute goes to the grid
    holding most of its area. `fields` maps our columns to the file's when its names are not
    the usual ones; `progress(stage, fraction)` hears how far it is; `restricted=False` (the
    command line, a local operator's files) lets GDAL open any format it knows."""
    frame, report = layers.read_layer(path, kind, crs=crs, layer=layer, fields=fields, progress=progress,
                                      restricted=restricted)
    log(f"{len(frame)} {kind} read from {path} ({report.source_crs}, attributes {report.encoding})")
    for code, what in report.repaired:
        log(f"repaired {code}: {what}")
    for warning in report.warnings:
        log(f"warning: {warning}")
    store.migrate()
    progress("save", 0.7)
    if kind == "grids":
        created, updated = store.save_grids(frame, changed_by=changed_by)
        return LayerImport(kind, created, updated, report=report)
    placed, unplaced = 0, []
    missing = frame["grid"].isna()
    if missing.any():
        grids = store.grids_frame()
        located = layers.place_in_grids(frame[missing], grids) if len(grids) else pd.Series(None, index=frame.index[missing])
        frame.loc[missing, "grid"] = located
        placed = int(located.notna().sum())
        unplaced = frame.loc[missing & frame["grid"].isna(), "code"].tolist()
        log(f"{placed} roads placed in the grid holding most of their area")
        if unplaced:
            log(f"warning: {len(unplaced)} roads lie in no grid: {', '.join(unplaced[:10])}")
    created, updated = store.save_roads(frame, changed_by=changed_by)
    return LayerImport(kind, created, updated, placed, unplaced, report)


def bootstrap_osm(store: Store, path, changed_by: str = "import", log: Log = quiet,
                  progress: Callable[[str, float], None] = layers.no_progress, restricted: bool = True) -> dict:
    """A first draft from an OpenStreetMap extract: road polygons named from OSM, cut at the
    grid borders, and a draft grid layout when the district has no grids yet; in one
    transaction, versioned like any import. A draft only fills in: grids that already have
    roads keep them, and no stored code (even a retired one) is overwritten, so running it
    again changes nothing a planner did, unless the planner removed every grid to start over."""
    from . import osm

    progress("read", 0.1)
    store.migrate()
    stored = store.grids_frame()
    roads, grids = osm.bootstrap_roads(path, stored, restricted=restricted)
    drafting = stored.empty
    served = set(store.road_grids().values())
    fresh = roads[~roads["grid"].isin(served)]
    log(f"{len(roads)} road polygons drafted from {path}; {len(roads) - len(fresh)} in grids that have roads")
    progress("save", 0.6)
    # a district with no grids left starts over: retired draft codes come back (as updates)
    saved_grids, saved_roads = store.save_layers(grids if drafting else None, fresh, changed_by=changed_by,
                                                 reason="OpenStreetMap draft", only_new=not drafting)
    drafted, created = sum(saved_grids), sum(saved_roads)      # on the map now, new or back
    if drafted:
        log(f"{drafted} draft grids added (no grids yet): reshape them on the planner's map")
    return {"kind": "osm", "created": created, "grids": drafted, "kept": len(roads) - created}


def validation_report(store: Store) -> list:
    """Every defect of the stored layer set (validation.validate), errors first."""
    from .validation import validate

    return sorted(validate(store.grids_frame(), store.roads_frame()), key=lambda d: not d.blocking)


# findings -----------------------------------------------------------------------------


@dataclass
class FindingImport:
    accepted: int = 0
    duplicates: int = 0
    snapped: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def _count(value) -> int:
    text = _text(value)
    if text is None:
        return 1
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 1:
        raise FindingError("Count must be a whole number of at least 1 (got {value!r})", value=value)
    return int(number)


def _area(value) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise FindingError("area_m2 must be a number of square metres (got {value!r})", value=value) from None


def _parse_finding(props: dict, tz, books: list[Rulebook]) -> dict:
    """Check one finding's properties against the rulebook in force in its month."""
    observed_text = _text(props.get("observed_at"))
    if observed_text is None:
        raise FindingError("observed_at is missing")
    try:
        observed = parse_observed(observed_text, tz)
        deadline_text = _text(props.get("deadline"))
        deadline = parse_date(deadline_text) if deadline_text else None
    except GisgridError as exc:
        raise FindingError(exc.template, **exc.params) from None
    month = month_of(observed, tz)
    rule = rulebook_for(month, books).rule(_text(props.get("rule")) or "")
    finding = scoring.Finding(rule=rule.code, count=_count(props.get("count")), area_m2=_area(props.get("area_m2")),
                              observed_on=observed.astimezone(tz).date(), deadline=deadline)
    scoring.check_finding(rule, finding)
    return {"month": month, "rule": rule.code, "count": finding.count, "area_m2": finding.area_m2,
            "observed_at": utc_naive(observed), "deadline": deadline, "note": _text(props.get("note"))}


def _content_id(row: dict, lon: float, lat: float) -> str:
    """An id for a finding that came without one: identical content is the same finding."""
    key = json.dumps([row["rule"], row["count"], row["area_m2"], row["observed_at"].isoformat(),
                      str(row["deadline"]), row["note"], round(lon, 7), round(lat, 7)], ensure_ascii=False)
    return "sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def _same(stored: dict, row: dict, road: str) -> bool:
    return (stored["rule"], stored["count"], stored["area_m2"], stored["observed_at"], stored["deadline"],
            stored["note"], stored["road"]) == (row["rule"], row["count"], row["area_m2"], row["observed_at"],
                                                 row["deadline"], row["note"], road)


def record_findings(store: Store, features: Iterable[tuple[dict, float, float]], created_by: str | None = None,
                    log: Log = quiet, inspector_id: int | None = None) -> FindingImport:
    """Validate, place on roads and store findings given as (properties, lon, lat).
    Every finding is accepted, counted as a duplicate of one already stored, or rejected with
    its reason; the accepted ones are written in one transaction."""
    tz, tolerance, books = store.timezone(), store.snap_tolerance_m(), rulebooks()
    result = FindingImport()
    parsed: list[tuple[str, dict, float, float]] = []
    seen: dict[str, dict] = {}
    for n, (props, lon, lat) in enumerate(features, start=1):
        external = _text(props.get("id"))
        label = external or f"#{n}"
        try:
            row = _parse_finding(props, tz, books)
        except GisgridError as exc:
            result.rejected.append({"id": label, "reason": exc.message})
            continue
        external = external or _content_id(row, lon, lat)
        if external in seen:
            if seen[external] == row:
                result.duplicates += 1
            else:
                result.rejected.append({"id": label, "reason": "the same id appears twice in this file with different content"})
            continue
        seen[external] = row
        parsed.append((external, row, lon, lat))
    if not parsed:
        return result
    publishing.require_open(store, *(row["month"] for _id, row, _lon, _lat in parsed))
    # each month's findings are placed on the roads as they stood when its sample was drawn
    road_of = np.full(len(parsed), -1, dtype=np.int64)
    snapped_m, nearest_m = np.zeros(len(parsed)), np.full(len(parsed), np.inf)
    ids_of: dict[str, tuple[list[int], list[str]]] = {}
    months = np.array([row["month"] for _id, row, _lon, _lat in parsed])
    for month in sorted(set(months)):
        ids, codes, index = month_roads(store, month, tolerance)
        ids_of[month] = (ids, codes)
        at = np.flatnonzero(months == month)
        placed = index.assign(np.array([parsed[i][2] for i in at], dtype=float),
                              np.array([parsed[i][3] for i in at], dtype=float))
        road_of[at], snapped_m[at], nearest_m[at] = placed.road, placed.distance_m, placed.nearest_m
    existing = store.existing_findings([p[0] for p in parsed])
    rows = []
    for i, (external, row, lon, lat) in enumerate(parsed):
        road = int(road_of[i])
        ids, codes = ids_of[row["month"]]
        if road < 0:
            nearest = nearest_m[i]
            where = f"{nearest:.0f} m from the nearest road" if np.isfinite(nearest) else "no road within 1 km"
            result.rejected.append({"id": external, "reason": f"outside every road: {where} (tolerance {tolerance:g} m)"})
            continue
        if external in existing:
            if _same(existing[external], row, codes[road]):
                result.duplicates += 1
            else:
                result.rejected.append({"id": external, "reason": "this id is already stored with different content"})
            continue
        snapped = float(snapped_m[i])
        result.snapped += snapped > 0
        rows.append({**row, "external_id": external, "road_id": ids[road], "snapped_m": snapped,
                     "geom": shapely.Point(lon, lat), "created_by": created_by, "inspector_id": inspector_id})
    inserted = store.add_findings(rows)
    result.accepted = inserted
    result.duplicates += len(rows) - inserted  # stored meanwhile by a concurrent writer
    log(f"{result.accepted} findings accepted ({result.snapped} snapped to a road), "
        f"{result.duplicates} duplicates, {len(result.rejected)} rejected")
    return result


def import_findings(store: Store, path, crs: str | None = None, log: Log = quiet,
                    restricted: bool = True) -> FindingImport:
    store.migrate()
    frame = layers.read_points(path, crs=crs, restricted=restricted)
    log(f"read {len(frame)} findings from {path}")
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    return record_findings(store, zip(records, frame.geometry.x.tolist(), frame.geometry.y.tolist()),
                           created_by="import", log=log)


_INDEX_CACHE: dict[tuple, tuple[list[int], list[str], RoadIndex]] = {}
_INDEX_LOCK = threading.Lock()


def month_roads(store: Store, month: str | None, tolerance: float) -> tuple[list[int], list[str], RoadIndex]:
    """(road ids, codes, spatial index) that place a finding of `month`: the roads as they stood
    when the month's sample was drawn (a later boundary change does not move that month's
    findings), the current roads before a draw. Kept until a road changes (the web app reuses it)."""
    from .store import boundaries

    when = store.drawn_at(month) if month else None
    key = (store.url, tolerance, store.roads_revision(), when)
    with _INDEX_LOCK:
        if key not in _INDEX_CACHE:
            ids, codes, geoms = boundaries.road_geometries_as_of(store, when) if when else store.road_geometries()
            if not ids:
                raise NotFound("There are no roads yet; import roads before findings")
            built = (ids, codes, RoadIndex(geoms, tolerance_m=tolerance))
            while len(_INDEX_CACHE) >= 2:   # the month being inspected and one more, at most
                _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
            _INDEX_CACHE[key] = built
        return _INDEX_CACHE[key]


def place(store: Store, lon: float, lat: float, month: str | None = None) -> tuple[int, str, float]:
    """(road id, road code, snapped metres) for one point of `month`, or a FindingError saying how far it is."""
    tolerance = store.snap_tolerance_m()
    ids, codes, index = month_roads(store, month, tolerance)
    placed = index.assign(np.array([lon]), np.array([lat]))
    road = int(placed.road[0])
    if road < 0:
        nearest = placed.nearest_m[0]
        if np.isfinite(nearest):
            raise FindingError("Outside every road: {distance} m from the nearest road (tolerance {tolerance} m)",
                               distance=round(float(nearest)), tolerance=f"{tolerance:g}")
        raise FindingError("Outside every road: no road within 1 km")
    return ids[road], codes[road], float(placed.distance_m[0])


# samples ------------------------------------------------------------------------------


@dataclass
class SampleResult:
    month: str
    seed: int | None
    method: str
    grids: dict[str, list[str]]
    changed: bool

    def as_json(self) -> dict:
        return {"month": self.month, "seed": self.seed, "method": self.method, "grids": self.grids}


def sample_month(store: Store, month: str, seed: int | None = None, roads: Iterable[str] = (),
                 force: bool = False, drawn_by: str = "cli", reason: str | None = None,
                 log: Log = quiet) -> SampleResult:
    """Draw the month's sample (two roads per grid) from a seed, with any designated roads.
    A sample that findings are scored against is changed only when forced; old draws are kept."""
    month = parse_month(month)
    store.require_schema()
    publishing.require_open(store, month)
    current = store.sample(month)
    grid_roads = store.grid_roads()
    designated = designate(roads, store.road_grids()) if roads else {}
    if seed is None and any(r for g, r in grid_roads.items() if g not in designated):
        seed = secrets.randbelow(2**31)
    sample = draw_sample(grid_roads, seed, designated)
    method = "seed" if not designated else ("manual" if set(designated) >= {g for g, r in grid_roads.items() if r}
                                             else "mixed")
    if current and current.sample == sample and current.seed == seed:
        return SampleResult(month, seed, current.method, sample, changed=False)
    if current:
        scored = store.findings_on_sample(current.id, month)
        if scored and not force:
            raise SampleError("The sample of {month} already has {n} findings scored against it; "
                              "redraw with --force (the old draw is kept)", month=month, n=scored)
        log(f"superseding the draw of {current.drawn_at:%Y-%m-%d %H:%M} UTC by {current.drawn_by}")
    store.save_draw(month, seed, method, sample, designated, drawn_by, reason)
    log(f"{month}: {sum(len(r) for r in sample.values())} roads drawn in {len(sample)} grids "
        f"({method}, seed {seed})")
    return SampleResult(month, seed, method, sample, changed=True)


# scores -------------------------------------------------------------------------------


def _require_sample(store: Store, month: str) -> Draw:
    draw = store.sample(month)
    if draw is None:
        raise NotFound("No sample has been drawn for {month}; run `gisgrid sample {month}` first", month=month)
    return draw


def score_month(store: Store, month: str) -> list[scoring.GridMonth]:
    month = parse_month(month)
    store.require_schema()
    draw = _require_sample(store, month)
    rulebook = rulebook_for(month, rulebooks())
    findings = store.findings_for_scoring(draw.id, month, store.timezone())
    return scoring.score_month(draw.sample, findings, rulebook, grids=store.grid_codes())


def month_json(store: Store, month: str, exact: bool = False) -> dict:
    """The month's scores as `gisgrid score --json` prints them; `exact` adds each grid's
    score as an exact fraction (for means over months)."""
    results = score_month(store, month)
    details = store.grid_details()
    grids = []
    for result in results:
        grid = details.get(result.code, {})
        row = {"code": result.code, "name": grid.get("name"), "town": grid.get("town"),
               "class": grid.get("grid_class"), "score": scoring.as_points(result.score), "rank": result.rank}
        if exact:
            row["exact"] = str(result.score) if result.score is not None else None
        row["roads"] = [{"code": r.code, "score": scoring.as_points(r.score),
                         "deductions": scoring.as_points(r.deductions),
                         "by_rule": {k: scoring.as_points(v) for k, v in r.by_rule.items()}} for r in result.roads]
        grids.append(row)
    return {"month": parse_month(month), "rulebook": rulebook_for(month, rulebooks()).id, "grids": grids}


def score_year(store: Store, year) -> list[scoring.GridYear]:
    year = parse_year(year)
    store.require_schema()
    drawn = set(store.months_drawn(year))
    months = {m: {g.code: g.score for g in score_month(store, m)} for m in months_of_year(year) if m in drawn}
    return scoring.score_year(months)


def year_json(store: Store, year) -> dict:
    return {"year": parse_year(year), "grids": [
        {"code": g.code, "score": scoring.as_points(g.score),
         "months": {m: scoring.as_points(s) for m, s in g.months.items()}, "rank": g.rank}
        for g in score_year(store, year)]}


# export -------------------------------------------------------------------------------

EXPORTS = ("grids", "roads", "findings", "scores")


def export(store: Store, what: str, path, log: Log = quiet) -> int:
    """Write grids, roads, findings or every drawn month's grid scores to a GIS file."""
    store.require_schema()
    if what == "grids":
        frame = store.grids_frame()
    elif what == "roads":
        frame = store.roads_frame()
    elif what == "findings":
        frame = store.findings_frame()
        tz = store.timezone()
        frame["observed_at"] = [from_utc_naive(t, tz).isoformat() for t in frame["observed_at"]]
        frame["deadline"] = [d.isoformat() if d is not None else None for d in frame["deadline"]]
    elif what == "scores":
        frame = scores_frame(store)
    else:
        raise GisgridError("Can export {choices}, not {what!r}", choices=", ".join(EXPORTS), what=what)
    layers.write_layer(frame, Path(path))
    log(f"{len(frame)} {what} written to {path}")
    return len(frame)


def scores_frame(store: Store):
    grids = store.grids_frame().set_index("code")
    rows = []
    for month in store.months_drawn():
        for result in score_month(store, month):
            rows.append({"grid": result.code, "name": grids.at[result.code, "name"],
                         "town": grids.at[result.code, "town"], "month": month,
                         "score": scoring.as_points(result.score), "rank": result.rank,
                         "roads": ",".join(r.code for r in result.roads),
                         "geometry": grids.at[result.code, "geometry"]})
    return gpd.GeoDataFrame(rows, columns=["grid", "name", "town", "month", "score", "rank", "roads", "geometry"],
                            geometry="geometry", crs=4326)


def default_month(store: Store) -> str:
    return current_month(store.timezone())


# inspections --------------------------------------------------------------------------


def road_score(store: Store, month: str, road_code: str) -> scoring.RoadScore:
    """The road's running score this month from its stored findings (sampled or not)."""
    from .store import inspections

    tz = store.timezone()
    findings = [scoring.Finding(rule=f["rule"], count=f["count"], area_m2=f["area_m2"],
                                observed_on=from_utc_naive(f["observed_at"], tz).date(), deadline=f["deadline"])
                for f in inspections.road_findings(store, month, road_code)]
    return scoring.score_road(road_code, findings, rulebook_for(month, rulebooks()))


def _require_changeable(store: Store, row: dict, user: dict, reason: str | None) -> None:
    """Only its inspector (or an admin) changes a finding; after the road's inspection is
    submitted, only with a reason, which is kept."""
    from .errors import Conflict, Forbidden
    from .store import inspections

    if user["role"] != "admin" and row["inspector_id"] != user["id"]:
        raise Forbidden("Only the inspector who recorded this finding may change it")
    publishing.require_open(store, row["month"])
    done = inspections.inspection(store, row["month"], row["road"])
    if done and done["submitted_at"] and not (reason or "").strip():
        raise Conflict("The inspection of road {code} was submitted; give a reason for this change", code=row["road"])


def create_finding(store: Store, props: dict, lon: float, lat: float, user: dict) -> tuple[dict, bool]:
    """One finding from the tablet: (stored finding, created?). The client-made id makes it
    idempotent: the same id and content again returns the stored finding."""
    from .errors import Conflict
    from .store import inspections

    external = _text(props.get("id"))
    if not external:
        raise FindingError("A finding needs its client-made id")
    row = _parse_finding(props, store.timezone(), rulebooks())
    publishing.require_open(store, row["month"])
    existing = store.existing_findings([external])
    if external in existing:
        stored = inspections.finding(store, external_id=external)
        if _same(existing[external], row, stored["road"]):
            return stored, False
        raise Conflict("This id is already stored with different content")
    road_id, road_code, snapped = place(store, lon, lat, row["month"])
    done = inspections.inspection(store, row["month"], road_code)
    if done and done["submitted_at"]:
        raise Conflict("The inspection of road {code} was submitted; no new findings can be added", code=road_code)
    store.add_findings([{**row, "external_id": external, "road_id": road_id, "snapped_m": snapped,
                         "geom": shapely.Point(lon, lat), "created_by": user["name"], "inspector_id": user["id"]}])
    stored = inspections.finding(store, external_id=external)
    with store.begin() as conn:
        inspections.log_change(conn, stored["id"], "create", user["name"], None, None, stored)
    return stored, True


def edit_finding(store: Store, finding_id: int, props: dict, user: dict, reason: str | None = None,
                 lon: float | None = None, lat: float | None = None) -> dict:
    """Change a finding's rule, count, area, time, note or place (moving it re-places it on a road)."""
    from .store import inspections

    row = inspections.finding(store, id=finding_id)
    _require_changeable(store, row, user, reason)
    merged = {"rule": row["rule"], "count": row["count"], "area_m2": row["area_m2"], "note": row["note"],
              "observed_at": from_utc_naive(row["observed_at"], store.timezone()).isoformat(),
              "deadline": row["deadline"].isoformat() if row["deadline"] else None}
    merged.update({k: v for k, v in props.items() if k in merged})
    values = _parse_finding(merged, store.timezone(), rulebooks())
    if lon is not None and lat is not None:
        road_id, _code, snapped = place(store, lon, lat, values["month"])
        values.update(road_id=road_id, snapped_m=snapped, geom=shapely.Point(lon, lat))
    inspections.update_finding(store, finding_id, values, user["name"], reason)
    return inspections.finding(store, id=finding_id)


def remove_finding(store: Store, finding_id: int, user: dict, reason: str | None = None) -> dict:
    from .store import inspections

    row = inspections.finding(store, id=finding_id)
    _require_changeable(store, row, user, reason)
    inspections.delete_finding(store, finding_id, user["name"], reason)
    return row
