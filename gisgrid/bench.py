"""`gisgrid bench`: the figures the core is held to, on a synthetic city, each printed with
the baseline it is compared against in the same run."""

from __future__ import annotations

import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import shapely

from .gis import write
from .services import office
from .gis.assign import RoadIndex
from .reports import scores
from .storage import Store
from .gis.synthetic import bench_assign, synthetic_city, synthetic_points
from .gis.validation import validate

MONTH = "2026-11"
# (rule, area) pairs the synthetic findings cycle through: area rules on both sides of 4 m².
RULES = [("8.3.1", None), ("5.3.1", None), ("4.1", 3.0), ("4.1", 6.0), ("6.1.2", None), ("1", 4.0), ("7", None)]


def _timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def _store_findings(store: Store, lon: np.ndarray, lat: np.ndarray, log) -> int:
    """Put the points in the month as findings (setup for scoring, not a measured figure)."""
    ids, _codes, geoms = store.road_geometries()
    placed = RoadIndex(geoms).assign(lon, lat)
    keep = np.flatnonzero(placed.road >= 0)
    observed = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    rows = []
    for n, i in enumerate(keep):
        rule, area = RULES[n % len(RULES)]
        rows.append({"external_id": None, "road_id": ids[placed.road[i]], "month": MONTH, "rule": rule,
                     "count": 1 + n % 3, "area_m2": area, "observed_at": observed, "deadline": None, "note": None,
                     "snapped_m": float(placed.distance_m[i]), "geom": shapely.Point(lon[i], lat[i])})
    log(f"storing {len(rows)} findings")
    return store.add_findings(rows)


def _sums_both_ways(store: Store) -> dict:
    """The sampled roads' deductions per rule as score_month reads them, from the roads' tallies
    the database keeps (migration 0018), beside the statement they were read with before: every
    sampled road's findings summed on every view (kept here, as the baseline only)."""
    from .domain import scoring
    from .domain.rulebook import rulebook_for

    draw, rulebook = store.sample(MONTH), rulebook_for(MONTH, store.rulebooks())
    tariff, threshold = scoring.tariff(rulebook), float(rulebook.area_threshold)
    (tallied, clean), tallies_s = _timed(lambda: store.deduction_units_for_scoring(
        draw.id, MONTH, tariff, threshold, scoring.area_rules(rulebook)))
    price = " ".join(f"WHEN '{code}' THEN " + (str(low) if low == high else
                                                f"CASE WHEN f.area_m2 > {threshold!r} THEN {high} ELSE {low} END")
                     for code, (low, high) in tariff.items())
    before = (f"SELECT s.road_id, f.rule, SUM(f.count * (CASE f.rule {price} END)) FROM sample_road s "
              "CROSS JOIN finding f WHERE s.draw_id = %(draw)s AND f.road_id = s.road_id AND f.month = %(month)s "
              "AND f.deleted_at IS NULL AND f.deadline IS NULL GROUP BY s.road_id, f.rule")

    def summed() -> dict:
        by_road: dict[int, dict[str, int]] = {}
        for road, rule, units in store._fetch(before, {"draw": draw.id, "month": MONTH}):
            by_road.setdefault(road, {})[rule] = units
        return by_road
    summed_now, summed_s = _timed(summed)
    return {"sums_from_tallies_s": round(tallies_s, 3), "sums_from_findings_s": round(summed_s, 3),
            "sums_agree": clean and tallied == summed_now}


def _draft_month_page(store: Store, log) -> dict:
    """The reviewer's draft month (its report: scores, the month before, the ranking) the first
    time, again with nothing changed (the scores kept by revision), and after one finding was
    written on a sampled road (the kept scores rescore the roads written since)."""
    from .reports import assessment

    log(f"the reviewer's draft month {MONTH}: first view, again, and after one finding")
    _, first_s = _timed(lambda: assessment.month_report(store, MONTH))
    _, again_s = _timed(lambda: assessment.month_report(store, MONTH))
    draw = store.sample(MONTH)
    road = store.road_ids()[next(iter(draw.sample.values()))[0]]
    store.add_findings([{"external_id": "bench-one-more", "road_id": road, "month": MONTH, "rule": "5.3.1",
                         "count": 1, "area_m2": None, "observed_at": datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc),
                         "deadline": None, "note": None, "snapped_m": 0.0, "geom": shapely.Point(0, 0)}])
    _, written_s = _timed(lambda: assessment.month_report(store, MONTH))
    return {"draft_month_report_first_s": round(first_s, 3), "draft_month_report_again_s": round(again_s, 3),
            "draft_month_report_after_a_write_s": round(written_s, 3)}


def run_bench(n_grids: int = 20000, n_findings: int = 1_000_000, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="gisgrid-bench-") as folder:
        folder = Path(folder)
        log(f"building a synthetic city of {n_grids} grids × 8 roads")
        grids, roads = synthetic_city(n_grids, 8, seed=0)
        write.write_layer(grids, folder / "grids.gpkg")
        write.write_layer(roads, folder / "roads.gpkg")
        store = Store(str(folder / "bench.sqlite"))
        store.migrate()
        office.import_layer(store, "grids", folder / "grids.gpkg")
        log(f"importing {len(roads)} road polygons from a GeoPackage")
        _, import_roads_s = _timed(lambda: office.import_layer(store, "roads", folder / "roads.gpkg"))

        log(f"{n_findings} findings: gisgrid's assignment against geopandas.sjoin(predicate='within')")
        lon, lat = synthetic_points(roads, n_findings, seed=1)
        assign = bench_assign(roads, lon, lat)

        log("validating the layer set (overlaps, gaps, roads outside their grid …)")
        defects, validate_s = _timed(lambda: validate(grids, roads))
        _store_findings(store, lon, lat, log)
        office.sample_month(store, MONTH, seed=1)
        # the database's counts first: the figure is taken in the state the earlier benchmark took it
        log(f"scoring {MONTH} from the database: from the database's counts, then finding by finding")
        counted, score_month_s = _timed(lambda: scores.score_month(store, MONTH))
        one_by_one, score_month_findings_s = _timed(lambda: scores.score_month(store, MONTH, counted=False))
        log("the sampled roads' sums: from their tallies, then summing their findings as before the tallies")
        sums = _sums_both_ways(store)
        draft = _draft_month_page(store, log)
        store.dispose()
    return {
        "grids": n_grids,
        "roads": int(len(roads)),
        "findings": n_findings,
        "assign_per_s": round(assign["assign_per_s"]),
        "sjoin_per_s": round(assign["sjoin_per_s"]),
        "ratio": round(assign["ratio"], 2),
        "assign_explained_per_s": round(assign["assign_explained_per_s"]),
        "index_build_s": round(assign["index_build_s"], 2),
        "assign_agrees_with_sjoin": assign["agree"],
        "score_month_s": round(score_month_s, 3),
        "score_month_findings_s": round(score_month_findings_s, 3),
        "score_month_agree": counted == one_by_one,
        **sums,
        **draft,
        "import_roads_s": round(import_roads_s, 2),
        "validate_s": round(validate_s, 2),
        "validate_defects": len(defects),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
