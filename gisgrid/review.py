"""The reviewer's reports, free of Flask: the month (ranking with change against the previous
month, deductions by section), a grid, the year, publishing, the light choropleth geometry,
the bulletin's SVG map and the XLSX/CSV exports."""

from __future__ import annotations

import csv
import io
import math
import threading
from collections import defaultdict
from fractions import Fraction

import numpy as np
import shapely

from . import office, scoring
from .errors import NotFound
from .months import parse_month, parse_year, previous_month
from .rulebook import Rulebook, rulebook_for
from .store import Store, publishing

# Colour classes of the choropleth, worst first: (lower bound, colour). Fixed bounds, so that
# two months side by side (and the printed bulletin) read the same; narrow at the top, where
# most grids of a district score.
CLASSES = [(0, "#b2182b"), (80, "#ef8a62"), (85, "#fddbc7"), (90, "#d1e5f0"), (95, "#67a9cf"), (98, "#2166ac")]
UNASSESSED = "#bdbdbd"


def colour(score: float | None) -> str:
    if score is None:
        return UNASSESSED
    chosen = CLASSES[0][1]
    for bound, fill in CLASSES:
        if score >= bound:
            chosen = fill
    return chosen


def legend() -> list[dict]:
    bounds = [b for b, _c in CLASSES] + [100]
    return [{"colour": c, "low": bounds[i], "high": bounds[i + 1]} for i, (_b, c) in enumerate(CLASSES)]


def _rulebook(store: Store, month: str) -> Rulebook:
    return rulebook_for(month, office.rulebooks(store))


def _sections(rulebook: Rulebook) -> dict[str, dict]:
    return {code: {"zh": zh, "en": en} for code, (zh, en) in rulebook.sections.items()}


def _by_section(by_rule: dict[str, float], rulebook: Rulebook) -> dict[str, float]:
    totals: dict[str, float] = {}
    for code, points in by_rule.items():
        section = rulebook.rules[code].section if code in rulebook.rules else code.split(".")[0]
        totals[section] = round(totals.get(section, 0) + points, 2)
    return dict(sorted(totals.items(), key=lambda kv: _section_key(kv[0])))


def _section_key(code: str):
    return [int(p) if p.isdigit() else p for p in code.split(".")]


# scores -------------------------------------------------------------------------------


def _draw_record(draw) -> dict | None:
    if draw is None:
        return None
    return {"id": draw.id, "seed": draw.seed, "method": draw.method, "drawn_by": draw.drawn_by,
            "drawn_at": draw.drawn_at.isoformat(timespec="seconds") if draw.drawn_at else None,
            "reason": draw.reason}


def live_scores(store: Store, month: str) -> dict:
    """office.month_json's document, plus exact scores (for year means) and the draw record."""
    month = parse_month(month)
    return {**office.month_json(store, month, exact=True), "draw": _draw_record(store.sample(month))}


def month_scores(store: Store, month: str) -> dict:
    """The month's scores: frozen at publication for a published month, computed now for a draft."""
    month = parse_month(month)
    state = publishing.month_state(store, month)
    if state["state"] == publishing.PUBLISHED and state["scores"]:
        return state["scores"]
    return live_scores(store, month)


def _scores_or_none(store: Store, month: str) -> dict | None:
    try:
        return month_scores(store, month)
    except NotFound:
        return None


def month_report(store: Store, month: str) -> dict:
    """The month page's data: state, ranking with change against the previous month, deductions by section."""
    month = parse_month(month)
    scores = month_scores(store, month)
    rulebook = _rulebook(store, month)
    before_month = previous_month(month)
    before = _scores_or_none(store, before_month)
    before_by_code = {g["code"]: g for g in before["grids"]} if before else {}
    grids = []
    for grid in scores["grids"]:
        prior = before_by_code.get(grid["code"], {})
        rank_change = (prior["rank"] - grid["rank"]) if prior.get("rank") and grid["rank"] else None
        score_change = (round(grid["score"] - prior["score"], 2)
                        if prior.get("score") is not None and grid["score"] is not None else None)
        by_rule: dict[str, float] = {}
        for road in grid["roads"]:
            for code, points in road["by_rule"].items():
                by_rule[code] = round(by_rule.get(code, 0) + points, 2)
        grids.append({**{k: v for k, v in grid.items() if k != "exact"},
                      "roads": [{**r, "by_section": _by_section(r["by_rule"], rulebook)} for r in grid["roads"]],
                      "by_section": _by_section(by_rule, rulebook),
                      "previous_score": prior.get("score"), "previous_rank": prior.get("rank"),
                      "rank_change": rank_change, "score_change": score_change})
    assessed = [g["score"] for g in grids if g["score"] is not None]
    state = publishing.month_state(store, month)
    return {
        "month": month, "rulebook": scores["rulebook"], "previous_month": before_month if before else None,
        "state": {"state": state["state"], "published_at": _iso(state["published_at"]),
                  "published_by": state["published_by"]},
        "draw": scores.get("draw"), "sections": _sections(rulebook),
        "summary": {"grids": len(grids), "assessed": len(assessed), "unassessed": len(grids) - len(assessed),
                    "mean": round(sum(assessed) / len(assessed), 2) if assessed else None},
        "grids": grids,
    }


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


# a grid -------------------------------------------------------------------------------


def _finding_points(rulebook: Rulebook, row: dict, tz) -> float | None:
    try:
        rule = rulebook.rule(row["rule"])
        finding = scoring.Finding(rule=row["rule"], count=row["count"], area_m2=row["area_m2"],
                                  observed_on=row["observed_at"].astimezone(tz).date(), deadline=row["deadline"])
        return scoring.as_points(scoring.deduction(rule, finding, rulebook))
    except Exception:  # a finding stored under an older rulebook: shown, not priced
        return None


def grid_findings(store: Store, month: str, road_codes: list[str], sampled: set[str]) -> list[dict]:
    from .store import inspections

    tz, rulebook = store.timezone(), _rulebook(store, month)
    rows = []
    for road in road_codes:
        for row in inspections.road_findings(store, month, road):
            rule = rulebook.rules.get(row["rule"])
            rows.append({
                "id": row["id"], "external_id": row["external_id"], "road": road, "sampled": road in sampled,
                "rule": row["rule"], "rule_zh": rule.zh if rule else None, "rule_en": rule.en if rule else None,
                "count": row["count"], "area_m2": row["area_m2"],
                "observed_at": row["observed_at"].astimezone(tz).isoformat(timespec="minutes"),
                "deadline": row["deadline"].isoformat() if row["deadline"] else None, "note": row["note"],
                "points": _finding_points(rulebook, row, tz),
                "lon": round(row["geom"].x, 6), "lat": round(row["geom"].y, 6), "created_by": row["created_by"],
                "photos": [{"id": p, "url": f"/api/photos/{p}", "thumb": f"/api/photos/{p}/thumb"}
                           for p in row["photos"]],
            })
    return rows


def grid_report(store: Store, month: str, code: str) -> dict:
    """A grid's month: its roads (sampled or not) with scores, every finding, deductions by rule, the draw."""
    month = parse_month(month)
    details = store.grid_details()
    if code not in details:
        raise NotFound("Unknown grid code {code!r}", code=code)
    scores = month_scores(store, month)
    grid = next((g for g in scores["grids"] if g["code"] == code), None) or {"score": None, "rank": None, "roads": []}
    rulebook = _rulebook(store, month)
    roads = store.roads_frame()
    roads = roads[roads["grid"] == code]
    sampled = {r["code"]: r for r in grid["roads"]}
    by_rule: dict[str, float] = {}
    for road in grid["roads"]:
        for rule, points in road["by_rule"].items():
            by_rule[rule] = round(by_rule.get(rule, 0) + points, 2)
    grids = store.grids_frame()
    shape = grids.loc[grids["code"] == code, "geometry"].iloc[0]
    return {
        "month": month, "code": code, "name": details[code]["name"], "town": details[code]["town"],
        "class": details[code]["grid_class"], "score": grid["score"], "rank": grid["rank"],
        "state": publishing.month_state(store, month)["state"], "draw": scores.get("draw"),
        "roads": [{"code": r.code, "name": r.name, "grade": r.grade, "sampled": r.code in sampled,
                   "score": sampled.get(r.code, {}).get("score"),
                   "deductions": sampled.get(r.code, {}).get("deductions"),
                   "geometry": shapely.geometry.mapping(r.geometry)} for r in roads.itertuples()],
        "by_rule": [{"rule": k, "zh": rulebook.rules[k].zh if k in rulebook.rules else k,
                     "en": rulebook.rules[k].en if k in rulebook.rules else k, "points": v}
                    for k, v in sorted(by_rule.items(), key=lambda kv: (-kv[1], _section_key(kv[0])))],
        "findings": grid_findings(store, month, list(roads["code"]), set(sampled)),
        "geometry": shapely.geometry.mapping(shape),
    }


# the year -----------------------------------------------------------------------------


def year_report(store: Store, year, published_only: bool = True) -> dict:
    """Year scores (mean of assessed months) and ranks, trends per grid and for the district,
    and the points lost by rule section. Published months only unless asked otherwise."""
    year = parse_year(year)
    months = (publishing.published_months(store, year) if published_only else store.months_drawn(year))
    documents = {m: month_scores(store, m) for m in months}
    exact = {m: {g["code"]: (Fraction(g["exact"]) if g.get("exact") else
                             (Fraction(str(g["score"])) if g["score"] is not None else None))
                 for g in doc["grids"]} for m, doc in documents.items()}
    details = store.grid_details()
    lost_total: dict[str, float] = defaultdict(float)
    lost_by_grid: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    district = {}
    sections: dict[str, dict] = {}
    for m, doc in documents.items():
        rulebook = _rulebook(store, m)
        sections.update(_sections(rulebook))
        assessed = [s for s in exact[m].values() if s is not None]
        district[m] = scoring.as_points(scoring.mean(assessed)) if assessed else None
        for grid in doc["grids"]:
            for road in grid["roads"]:
                for section, points in _by_section(road["by_rule"], rulebook).items():
                    lost_total[section] += points
                    lost_by_grid[grid["code"]][section] += points
    rows = []
    for g in scoring.score_year(exact):
        rows.append({"code": g.code, "name": details.get(g.code, {}).get("name"),
                     "town": details.get(g.code, {}).get("town"), "score": scoring.as_points(g.score),
                     "rank": g.rank, "months": {m: scoring.as_points(s) for m, s in g.months.items()},
                     "lost_by_section": {k: round(v, 2) for k, v in sorted(lost_by_grid[g.code].items(),
                                                                           key=lambda kv: _section_key(kv[0]))}})
    return {"year": year, "published_only": published_only, "months": months, "district": district,
            "sections": dict(sorted(sections.items(), key=lambda kv: _section_key(kv[0]))),
            "lost_by_section": {k: round(v, 2) for k, v in sorted(lost_total.items(),
                                                                  key=lambda kv: _section_key(kv[0]))},
            "grids": rows}


# publishing ---------------------------------------------------------------------------


def publish(store: Store, month: str, by: str) -> dict:
    """Freeze the month's scores and sample (a month without a sample cannot be published)."""
    month = parse_month(month)
    scores = live_scores(store, month)
    return publishing.publish(store, month, by, scores, scores["draw"]["id"] if scores["draw"] else None)


def reopen(store: Store, month: str, by: str, reason: str | None) -> dict:
    return publishing.reopen(store, parse_month(month), by, reason)


def audit_report(store: Store, month: str) -> list[dict]:
    """The month's audit log, with the scores before and after summarised per grid."""
    def summary(doc):
        return {g["code"]: {"score": g["score"], "rank": g["rank"]} for g in doc["grids"]} if doc else None
    return [{"action": e["action"], "actor": e["actor"], "at": _iso(e["at"]), "reason": e["reason"],
             "before": summary(e["before"]), "after": summary(e["after"])}
            for e in publishing.audit_log(store, parse_month(month))]


# choropleth geometry ------------------------------------------------------------------


def light_geometry(geoms, precision: int = 5, tolerance: float | None = None) -> list:
    """Simplified, coordinate-quantised copies of the polygons for the map: the tolerance
    defaults to about a screen pixel when the whole layer fills a 2000-pixel-wide map."""
    geoms = np.asarray(geoms, dtype=object)
    if tolerance is None:
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        tolerance = max(10 ** -precision, max(x1 - x0, y1 - y0) / 2000)
    simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
    return list(shapely.set_precision(simple, 10 ** -precision, mode="pointwise"))


def _rings(geom, precision: int):
    """GeoJSON coordinates of a (multi)polygon, rounded (floats keep their shortest repr)."""
    polygons = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    out = []
    for poly in polygons:
        if poly.is_empty:
            continue
        out.append([np.round(np.asarray(ring.coords)[:, :2], precision).tolist()
                    for ring in (poly.exterior, *poly.interiors)])
    return out


def choropleth(store: Store, report: dict, precision: int = 5) -> dict:
    """The month's grids as a light GeoJSON FeatureCollection: properties code, name, score, rank."""
    return choropleth_of(store.grids_frame(), report, precision)


def choropleth_of(frame, report: dict, precision: int = 5) -> dict:
    by_code = {g["code"]: g for g in report["grids"]}
    features = []
    for code, name, geom in zip(frame["code"], frame["name"], light_geometry(frame.geometry.values, precision)):
        if geom is None or geom.is_empty:
            continue
        grid = by_code.get(code, {})
        features.append({"type": "Feature", "properties": {"c": code, "n": name, "s": grid.get("score"),
                                                           "r": grid.get("rank")},
                         "geometry": {"type": "MultiPolygon", "coordinates": _rings(geom, precision)}})
    return {"type": "FeatureCollection", "features": features}


NAMES_UP_TO = 5000   # above this many grids (a city, not a district) names come with a click, not in the map


def encode_grids(frame, precision: int = 5) -> dict:
    """The grids' simplified rings as integer steps of 10^-precision degrees from the previous
    vertex (TopoJSON-style quantisation, rings left open), independent of any month's scores."""
    x0, y0 = (float(v) for v in frame.total_bounds[:2]) if len(frame) else (0.0, 0.0)
    scale = 10 ** precision
    ox, oy = round(x0 * scale), round(y0 * scale)
    codes, names, shapes = [], [], []
    for code, name, geom in zip(frame["code"], frame["name"], light_geometry(frame.geometry.values, precision)):
        if geom is None or geom.is_empty:
            continue
        polygons = []
        for polygon in (geom.geoms if geom.geom_type == "MultiPolygon" else [geom]):
            rings = []
            for ring in (polygon.exterior, *polygon.interiors):
                xy = np.rint(np.asarray(ring.coords)[:-1, :2] * scale).astype(np.int64) - (ox, oy)
                rings.append(np.diff(xy, axis=0, prepend=[[0, 0]]).ravel().tolist())
            polygons.append(rings)
        codes.append(code)
        names.append(name)
        shapes.append(polygons)
    return {"origin": [ox, oy], "scale": scale, "codes": codes, "names": names, "shapes": shapes}


_ENCODED: dict[tuple, dict] = {}
_ENCODED_LOCK = threading.Lock()


def store_grids_encoded(store: Store) -> dict:
    """encode_grids of the stored grids, kept until a grid is added or changed (20,000 grids
    take over a second to simplify; the month page asks for them on every view)."""
    from .store import grid_t

    key = (store.url, store.revision(grid_t))
    with _ENCODED_LOCK:
        if key not in _ENCODED:
            encoded = encode_grids(store.grids_frame())
            _ENCODED.clear()
            _ENCODED[key] = encoded
        return _ENCODED[key]


def light_layer(encoded: dict, report: dict) -> dict:
    """The month's map layer in a compact form: encoded grids plus columns of scores and ranks
    (names only for a district-sized layer). static/js/review_map.js turns it back into GeoJSON."""
    by_code = {g["code"]: g for g in report["grids"]}
    codes = encoded["codes"]
    return {"origin": encoded["origin"], "scale": encoded["scale"], "codes": codes,
            "names": encoded["names"] if len(codes) <= NAMES_UP_TO else None,
            "scores": [by_code.get(c, {}).get("score") for c in codes],
            "ranks": [by_code.get(c, {}).get("rank") for c in codes], "shapes": encoded["shapes"]}


def svg_map(store: Store, report: dict, width: int = 700, height: int = 520) -> dict:
    """The choropleth as SVG path data for print (no script): [{code, d, fill}], the view box."""
    frame = store.grids_frame()
    x0, y0, x1, y1 = frame.total_bounds
    squash = math.cos(math.radians((y0 + y1) / 2))   # degrees of longitude are shorter
    scale = min(width / max((x1 - x0) * squash, 1e-9), height / max(y1 - y0, 1e-9))
    scores = {g["code"]: g["score"] for g in report["grids"]}
    paths = []
    for code, geom in zip(frame["code"], light_geometry(frame.geometry.values, 5)):
        if geom is None or geom.is_empty:
            continue
        parts = []
        for polygon in _rings(geom, 5):
            for ring in polygon:
                points = " ".join(f"{(x - x0) * squash * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in ring)
                parts.append(f"M{points}Z")
        paths.append({"code": code, "d": "".join(parts), "fill": colour(scores.get(code))})
    return {"width": round((x1 - x0) * squash * scale), "height": round((y1 - y0) * scale), "paths": paths}


# the bulletin -------------------------------------------------------------------------


def worst_findings(store: Store, report: dict, grids: int = 5, limit: int = 8) -> list[dict]:
    """The heaviest deductions on the sampled roads of the lowest-ranked grids, with their photos."""
    ranked = [g for g in report["grids"] if g["score"] is not None]
    worst = sorted(ranked, key=lambda g: (g["score"], g["code"]))[:grids]
    rows = []
    for grid in worst:
        roads = [r["code"] for r in grid["roads"]]
        for row in grid_findings(store, report["month"], roads, set(roads)):
            rows.append({**row, "grid": grid["code"], "grid_name": grid["name"], "town": grid["town"]})
    rows.sort(key=lambda r: (-(r["points"] or 0), not r["photos"], r["id"]))
    return rows[:limit]


def bulletin(store: Store, month: str) -> dict:
    report = month_report(store, month)
    return {**report, "worst": worst_findings(store, report), "map": svg_map(store, report), "legend": legend()}


# exports ------------------------------------------------------------------------------

GRID_HEADERS = ["月份", "排名", "网格编码", "网格名称", "镇办", "网格等级", "得分", "上月排名", "排名变化", "上月得分",
                "得分变化", "抽查道路"]
ROAD_HEADERS = ["月份", "网格编码", "网格名称", "镇办", "道路编码", "道路名称", "道路得分", "扣分合计", "分项扣分"]
FINDING_HEADERS = ["月份", "问题编号", "网格编码", "道路编码", "是否抽查道路", "条款", "问题类型", "数量", "面积(平方米)",
                   "发现时间", "整改期限", "扣分", "备注", "经度", "纬度", "照片数"]
LEVELS = ("grids", "roads", "findings")


def export_rows(store: Store, month: str, level: str) -> tuple[list[str], list[list]]:
    """Rows of one level of the month's scores, with Chinese headers."""
    report = month_report(store, month)
    month = report["month"]
    if level == "grids":
        return GRID_HEADERS, [[month, g["rank"], g["code"], g["name"], g["town"], g["class"], g["score"],
                               g["previous_rank"], g["rank_change"], g["previous_score"], g["score_change"],
                               "、".join(r["code"] for r in g["roads"])] for g in report["grids"]]
    if level == "roads":
        names = dict(zip(*[store.roads_frame()[c] for c in ("code", "name")]))
        return ROAD_HEADERS, [[month, g["code"], g["name"], g["town"], r["code"], names.get(r["code"]), r["score"],
                               r["deductions"], "；".join(f"{k}: {v:g}" for k, v in r["by_rule"].items())]
                              for g in report["grids"] for r in g["roads"]]
    if level == "findings":
        sample = {r["code"] for g in report["grids"] for r in g["roads"]}
        rows = []
        for grid, roads in store.grid_roads().items():
            for row in grid_findings(store, month, roads, sample):
                rows.append([month, row["external_id"], grid, row["road"], "是" if row["sampled"] else "否",
                             row["rule"], row["rule_zh"], row["count"], row["area_m2"], row["observed_at"],
                             row["deadline"], row["points"] if row["sampled"] else None, row["note"], row["lon"],
                             row["lat"], len(row["photos"])])
        return FINDING_HEADERS, rows
    raise NotFound("Unknown export level {level!r}", level=level)


def csv_bytes(headers: list[str], rows: list[list]) -> bytes:
    """CSV that Excel opens as UTF-8 (byte order mark first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


SHEETS = {"grids": "网格得分", "roads": "道路得分", "findings": "问题明细"}


def xlsx_bytes(store: Store, month: str) -> bytes:
    """One workbook, a sheet per level, headers bold and frozen, columns sized for Chinese text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for level, title in SHEETS.items():
        headers, rows = export_rows(store, month, level)
        sheet = book.create_sheet(title)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "A2"
        for i, header in enumerate(headers, start=1):
            longest = max([len(str(header)) * 2] + [len(str(r[i - 1])) for r in rows[:500] if r[i - 1] is not None])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(40, longest + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# folium maps --------------------------------------------------------------------------
# folium draws the map; the layers are drawn by static/js/review_map.js from JSON embedded in
# the page (one style function instead of a style per feature; tooltips built with textContent).

def _safe_json(value) -> str:
    """JSON that can sit inside a <script> element whatever the grid names contain."""
    import json

    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _folium_map(static: str, extra_js: list[str] = (), extra_css: list[str] = ()):
    """A folium map on vendored assets only (per instance; folium's class-level lists stay as they are)."""
    import folium

    m = folium.Map(location=[33.59, 114.03], zoom_start=13, tiles=None, control_scale=True,
                   prefer_canvas=False, width="100%", height="100%")
    m.default_js = [("leaflet", f"{static}/vendor/leaflet-1.9.4/leaflet.js"),
                    *[(f"js{i}", url) for i, url in enumerate(extra_js)]]
    m.default_css = [("leaflet_css", f"{static}/vendor/leaflet-1.9.4/leaflet.css"),
                     *[(f"css{i}", url) for i, url in enumerate(extra_css)]]
    return m


def _layer(call: str, data: dict, options: dict):
    from branca.element import MacroElement
    from jinja2 import Template

    class Layer(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "var {{ this.get_name() }} = " + call + "({{ this._parent.get_name() }}, {{ this.data }}, {{ this.options }});"
            "{% endmacro %}")

        def __init__(self):
            super().__init__()
            self._name = "GisgridLayer"
            self.data, self.options = _safe_json(data), _safe_json(options)

    return Layer()


def month_map(layer: dict, static: str = "/static", tiles: dict | None = None, options: dict | None = None):
    """The month's choropleth (a light_layer) as a folium map; a city-sized layer is drawn on
    a canvas, which paints tens of thousands of polygons faster than SVG."""
    m = _folium_map(static, [f"{static}/js/review_map.js"])
    _layer("gisgridChoropleth", layer, {"classes": CLASSES, "unassessed": UNASSESSED, "tiles": tiles,
                                         "canvas": len(layer["codes"]) > NAMES_UP_TO, **(options or {})}).add_to(m)
    return m


def grid_map(report: dict, static: str = "/static", tiles: dict | None = None, labels: dict | None = None,
             shown_time=lambda iso: iso):
    """A grid's map: outline, roads (sampled ones bold), every finding pinned and clustered; its
    popups show each finding's time as `shown_time` writes it for the reader."""
    m = _folium_map(static, [f"{static}/vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
                             f"{static}/js/review_map.js"],
                    [f"{static}/vendor/leaflet.markercluster-1.5.3/MarkerCluster.css",
                     f"{static}/vendor/leaflet.markercluster-1.5.3/MarkerCluster.Default.css"])
    data = {"grid": report["geometry"], "roads": [{k: r[k] for k in ("code", "name", "sampled", "score", "geometry")}
                                                  for r in report["roads"]],
            "findings": [{**{k: f[k] for k in ("id", "road", "rule", "rule_zh", "rule_en", "count", "points", "lon",
                                               "lat", "note", "sampled", "photos")},
                          "observed_at": shown_time(f["observed_at"])} for f in report["findings"]]}
    _layer("gisgridGridMap", data, {"tiles": tiles, "labels": labels or {}}).add_to(m)
    return m


def map_parts(m) -> dict:
    """A folium map split for embedding in our own page: head (assets), body (the div), script."""
    root = m.get_root()
    root.render()
    return {"head": root.header.render(), "body": root.html.render(), "script": root.script.render(),
            "name": m.get_name()}


# year charts, drawn on the server as SVG -----------------------------------------------


def _polyline(values: list[float | None], width: int, height: int, low: float, high: float) -> str:
    """SVG polyline points of a series (gaps skipped) on a width × height box, low..high upwards."""
    step = width / max(len(values) - 1, 1)
    span = max(high - low, 1e-9)
    return " ".join(f"{i * step:.1f},{height - (v - low) / span * height:.1f}"
                    for i, v in enumerate(values) if v is not None)


def year_charts(report: dict) -> dict:
    """The year page's charts: the district trend, a sparkline per grid, points lost by section."""
    months = report["months"]
    district = [report["district"].get(m) for m in months]
    values = [v for v in district if v is not None] + [s for g in report["grids"] for s in g["months"].values()
                                                        if s is not None]
    low = math.floor(min(values + [100]) / 5) * 5 - 5 if values else 0
    total = sum(report["lost_by_section"].values()) or 1
    return {
        "low": low, "months": months,
        "district": {"points": _polyline(district, 600, 200, low, 100),
                     "dots": [{"x": round(i * 600 / max(len(months) - 1, 1), 1),
                               "y": round(200 - (v - low) / max(100 - low, 1e-9) * 200, 1), "month": m, "score": v}
                              for i, (m, v) in enumerate(zip(months, district)) if v is not None]},
        "grids": {g["code"]: _polyline([g["months"].get(m) for m in months], 160, 36, low, 100)
                  for g in report["grids"]},
        "sections": [{"code": code, "points": points, "share": round(100 * points / total, 1)}
                     for code, points in sorted(report["lost_by_section"].items(), key=lambda kv: -kv[1])],
    }


# PDF ----------------------------------------------------------------------------------

def html_to_pdf(html: str, path, browser=None, executable: str = "/usr/bin/chromium") -> int:
    """A4 PDF of a self-contained page, printed by headless Chromium (Playwright); a caller
    that already drives a browser passes it."""
    from pathlib import Path

    def render(chromium) -> bytes:
        page = chromium.new_page()
        try:
            # nothing may leave the machine: the page is self-contained
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("data:")
                       else route.abort())
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            page.close()

    if browser is not None:
        pdf = render(browser)
    else:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable,
                                                  args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            try:
                pdf = render(chromium)
            finally:
                chromium.close()
    Path(path).write_bytes(pdf)
    return len(pdf)
