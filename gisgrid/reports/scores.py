"""The month's and the year's scores as people and scripts read them: computed from the drawn
sample, the findings and the rulebook in force (the pure scorer does the arithmetic), and the
GIS exports of layers, findings and scores."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from .. import clock
from ..gis import write
from ..domain import scoring
from ..domain.errors import GisgridError, NotFound
from ..domain.months import months_of_year, parse_month, parse_year
from ..domain.rulebook import rulebook_for
from ..storage import Draw, Store


def _require_sample(store: Store, month: str) -> Draw:
    draw = store.sample(month)
    if draw is None:
        raise NotFound("No sample has been drawn for {month}; run `gisgrid sample {month}` first", month=month)
    return draw


def score_month(store: Store, month: str) -> list[scoring.GridMonth]:
    month = parse_month(month)
    store.require_schema()
    draw = _require_sample(store, month)
    rulebook = rulebook_for(month, store.rulebooks())
    findings = store.findings_for_scoring(draw.id, month, store.timezone())
    return scoring.score_month(draw.sample, findings, rulebook, grids=store.grid_codes())


def month_json(store: Store, month: str, exact: bool = False) -> dict:
    """The month's scores as `gisgrid score --json` prints them; `exact` adds each grid's and
    road's score as an exact fraction (for means over months, and for the XLSX export)."""
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
                         "by_rule": {k: scoring.as_points(v) for k, v in r.by_rule.items()},
                         **({"exact": str(r.score), "exact_deductions": str(r.deductions)} if exact else {})}
                        for r in result.roads]
        grids.append(row)
    return {"month": parse_month(month), "rulebook": rulebook_for(month, store.rulebooks()).id, "grids": grids}


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


EXPORTS = ("grids", "roads", "findings", "scores")


def export(store: Store, what: str, path, log=lambda _message: None) -> int:
    """Write grids, roads, findings or every drawn month's grid scores to a GIS file."""
    store.require_schema()
    if what == "grids":
        frame = store.grids_frame()
    elif what == "roads":
        frame = store.roads_frame()
    elif what == "findings":
        frame = store.findings_frame()
        tz = store.timezone()
        frame["observed_at"] = [t.astimezone(tz).isoformat() for t in frame["observed_at"]]
        frame["deadline"] = [d.isoformat() if d is not None else None for d in frame["deadline"]]
    elif what == "scores":
        frame = scores_frame(store)
    else:
        raise GisgridError("Can export {choices}, not {what!r}", choices=", ".join(EXPORTS), what=what)
    for note in write.write_layer(frame, Path(path)):
        log(f"note: {note}")
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
    frame = gpd.GeoDataFrame(rows, columns=["grid", "name", "town", "month", "score", "rank", "roads", "geometry"],
                             geometry="geometry", crs=4326)
    # an unranked grid's rank is None: without a nullable integer type pandas makes the column 1.0, 2.0 …
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def default_month(store: Store) -> str:
    return clock.month(store.timezone())


def road_score(store: Store, month: str, road_code: str) -> scoring.RoadScore:
    """The road's running score this month from its stored findings (sampled or not)."""
    from ..storage import inspections

    tz = store.timezone()
    findings = [scoring.Finding(rule=f["rule"], count=f["count"], area_m2=f["area_m2"],
                                observed_on=f["observed_at"].astimezone(tz).date(), deadline=f["deadline"])
                for f in inspections.road_findings(store, month, road_code)]
    return scoring.score_road(road_code, findings, rulebook_for(month, store.rulebooks()))
