"""What the grid office does to its data: import layers and findings, place a point on the
roads of its month, draw the month's sample. Joins the pure core, GIS I/O and storage; knows
nothing of the web or the command line (reports/scores.py reads the scores back)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from ..gis import layers
from ..domain import scoring
from ..gis.assign import RoadIndex
from ..storage.cache import RevisionCache
from ..domain.errors import FindingError, GisgridError, NotFound, SampleError
from ..domain.months import month_of, parse_date, parse_month, parse_observed, utc
from ..render.times import shown_time
from ..domain.rulebook import Rule, Rulebook, rulebook_for
from ..domain.sampling import designate, draw_sample
from ..storage import Store, publishing
from .imports import LayerImport, import_layer  # noqa: F401  (the layer import; callers find it here)

Log = Callable[[str], None]


def quiet(_message: str) -> None:
    pass


# layers -------------------------------------------------------------------------------


def bootstrap_osm(store: Store, path, changed_by: str = "import", log: Log = quiet,
                  progress: Callable[[str, float], None] = layers.no_progress, restricted: bool = True) -> dict:
    """A first draft from an OpenStreetMap extract: road polygons named from OSM, cut at the
    grid borders, and a draft grid layout when the district has no grids yet; in one
    transaction, versioned like any import. A draft only fills in: grids that already have
    roads keep them, and no stored code (even a retired one) is overwritten, so running it
    again changes nothing a planner did, unless the planner removed every grid to start over."""
    from ..gis import osm

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
    from ..gis.validation import validate

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


MAX_COUNT = 10_000      # items of one finding: a street's worth of bicycles, not a number that overflows


def _count(value) -> int:
    text = _text(value)
    if text is None:
        return 1
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or not 1 <= number <= MAX_COUNT:
        raise FindingError("Count must be a whole number from 1 to {most} (got {value!r})", value=value,
                           most=MAX_COUNT)
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
    for key in ("note", "rule"):
        if props.get(key) is not None and not isinstance(props[key], (str, int, float)):
            raise FindingError("{key} must be text", key=key)
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
            "observed_at": utc(observed), "deadline": deadline, "note": _text(props.get("note"))}


def spot_rule(books: list[Rulebook], month: str, code: str) -> Rule:
    """The rule of a finding pinned on a road, from the tablet or a file: one that is a spot in the street."""
    rule = rulebook_for(month, books).rule(code)
    if not rule.pinned:
        raise FindingError("Rule {code} ({label}) describes the grid's work, not a spot in the street: it comes "
                           "from the rectification and patrol records and is not pinned on a road",
                           code=rule.code, label=rule.zh)
    return rule


def _content_id(row: dict, lon: float, lat: float) -> str:
    """An id for a finding that came without one: identical content is the same finding."""
    # the UTC time written without offset, as before times were stored aware: a file keeps its ids
    key = json.dumps([row["rule"], row["count"], row["area_m2"], row["observed_at"].replace(tzinfo=None).isoformat(),
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
    tz, tolerance, books = store.timezone(), store.snap_tolerance_m(), store.rulebooks()
    result = FindingImport()
    parsed: list[tuple[str, dict, float, float]] = []
    seen: dict[str, dict] = {}
    for n, (props, lon, lat) in enumerate(features, start=1):
        external = _text(props.get("id"))
        label = external or f"#{n}"
        try:
            row = _parse_finding(props, tz, books)
            spot_rule(books, row["month"], row["rule"])
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
    # a month's closed inspection window takes nothing observed after its date, from a file too
    closes = {m: publishing.window(store, m)["closes_on"] for m in {row["month"] for _i, row, _x, _y in parsed}}
    late = [p for p in parsed if closes[p[1]["month"]] and p[1]["observed_at"].astimezone(tz).date() > closes[p[1]["month"]]]
    for external, row, _lon, _lat in late:
        result.rejected.append({"id": external, "reason": f"observed after the inspection of {row['month']} closed "
                                                          f"on {closes[row['month']].isoformat()}"})
    if late:
        parsed = [p for p in parsed if p not in late]
        if not parsed:
            return result
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
                    created_by: str = "import", restricted: bool = True) -> FindingImport:
    store.migrate()
    frame = layers.read_points(path, crs=crs, restricted=restricted)
    log(f"read {len(frame)} findings from {path}")
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    return record_findings(store, zip(records, frame.geometry.x.tolist(), frame.geometry.y.tolist()),
                           created_by=created_by, log=log)


_MONTH_ROADS = RevisionCache("month road indexes", maxsize=2)   # the month being inspected and one more


def month_roads(store: Store, month: str | None, tolerance: float) -> tuple[list[int], list[str], RoadIndex]:
    """(road ids, codes, spatial index) that place a finding of `month`: the roads as they stood
    when the month's sample was drawn (a later boundary change does not move that month's
    findings), the current roads before a draw. Kept (the web app reuses it): a drawn month's
    roads are what history says they were at the draw, which no later change alters (an import
    of 120,000 roads made every tablet's write wait while each server rebuilt the same index);
    the current roads until one changes."""
    from ..storage import boundaries

    when = store.drawn_at(month) if month else None

    def build() -> tuple[list[int], list[str], RoadIndex]:
        ids, codes, geoms = boundaries.road_geometries_as_of(store, when) if when else store.road_geometries()
        if not ids:
            raise NotFound("There are no roads yet; import roads before findings")
        return ids, codes, RoadIndex(geoms, tolerance_m=tolerance)

    return _MONTH_ROADS.get(store, (tolerance, when), store.roads_revision() if when is None else when, build)


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
                 log: Log = quiet, replacing: Callable[[], None] | None = None,
                 audited: bool = False) -> SampleResult:
    """Draw the month's sample (two roads per grid) from a seed, with any designated roads.
    A sample that findings are scored against is changed only when forced; old draws are kept.
    `replacing()` is asked before a standing sample is replaced (the use case's policy check)."""
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
        if replacing is not None:
            replacing()
        scored = store.findings_on_sample(current.id, month)
        if scored and not force:
            raise SampleError("The sample of {month} already has {n} findings scored against it; drawing again "
                              "needs confirming (tick the box on the month's page, or --force on the command line); "
                              "the findings and the old draw are kept", month=month, n=scored)
        log(f"superseding the draw of {shown_time(current.drawn_at, store.timezone(), 'en')} by {current.drawn_by}")
    store.save_draw(month, seed, method, sample, designated, drawn_by, reason, audited=audited)
    log(f"{month}: {sum(len(r) for r in sample.values())} roads drawn in {len(sample)} grids "
        f"({method}, seed {seed})")
    return SampleResult(month, seed, method, sample, changed=True)
