"""The reviewer's reports, free of Flask: the month (ranking with change against the previous
month, deductions by section), a grid, the year, publishing, the light choropleth geometry,
the bulletin's SVG map and the XLSX/CSV exports."""

from __future__ import annotations

import math

import numpy as np
import shapely

from ..storage.cache import RevisionCache
from ..storage import Store

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


# scores -------------------------------------------------------------------------------


# a grid -------------------------------------------------------------------------------


# the year -----------------------------------------------------------------------------


# publishing ---------------------------------------------------------------------------


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


LABELS_UP_TO = 300   # grids named on the month map itself; beyond, names come with hover and click
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


_ENCODED = RevisionCache("encoded grids", maxsize=1)


def store_grids_encoded(store: Store) -> dict:
    """encode_grids of the stored grids, kept until a grid is added or changed (20,000 grids
    take over a second to simplify; the month page asks for them on every view)."""
    from ..storage import grid_t

    return _ENCODED.get(store, "grids", store.revision(grid_t), lambda: encode_grids(store.grids_frame()))


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


def notice_sketch(grid, roads: list, notice: dict, width: int = 600, height: int = 360) -> dict:
    """A notice's map for print: the grid's outline, its roads, and each item's place numbered
    (SVG path data and points, no script, no tiles)."""
    if grid is None:
        return {"width": width, "height": 0, "outline": "", "roads": [], "points": []}
    x0, y0, x1, y1 = grid.bounds
    squash = math.cos(math.radians((y0 + y1) / 2))
    scale = min(width / max((x1 - x0) * squash, 1e-9), height / max(y1 - y0, 1e-9))

    def at(x: float, y: float) -> tuple[float, float]:
        return round((x - x0) * squash * scale, 1), round((y1 - y) * scale, 1)

    def path(geom) -> str:
        return "".join("M" + " ".join("%.1f,%.1f" % at(x, y) for x, y in ring) + "Z"
                       for polygon in _rings(geom, 6) for ring in polygon)

    points = [{"item": i["item"], "x": at(i["lon"], i["lat"])[0], "y": at(i["lon"], i["lat"])[1]}
              for i in notice["items"] if i["lon"] is not None]
    return {"width": round((x1 - x0) * squash * scale), "height": round((y1 - y0) * scale),
            "outline": path(grid), "roads": [path(g) for g in roads], "points": points}


# the bulletin -------------------------------------------------------------------------


# exports ------------------------------------------------------------------------------
# Typed columns, so that the XLSX holds numbers, dates and text as they are and the CSV is
# written the way Excel reads it (render/sheets.py makes every text cell inert). The month is
# text, not a code: Excel may show "2026-11" of a CSV as a date, which is still that month.


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

    # the scale bar is added by review_map.js, metric only (folium's shows feet too)
    m = folium.Map(location=[33.59, 114.03], zoom_start=13, tiles=None, control_scale=False,
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
                                         "canvas": len(layer["codes"]) > NAMES_UP_TO, "label_up_to": LABELS_UP_TO,
                                         **(options or {})}).add_to(m)
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
        # each month's point of a sparkline, to show its value on hover (an SVG <title>)
        "grid_dots": {g["code"]: [{"x": round(i * 160 / max(len(months) - 1, 1), 1),
                                   "y": round(36 - (v - low) / max(100 - low, 1e-9) * 36, 1), "month": m, "score": v}
                                  for i, (m, v) in enumerate((m, g["months"].get(m)) for m in months) if v is not None]
                      for g in report["grids"]},
        "sections": [{"code": code, "points": points, "share": round(100 * points / total, 1)}
                     for code, points in sorted(report["lost_by_section"].items(), key=lambda kv: -kv[1])],
    }


# PDF ----------------------------------------------------------------------------------

PAGE_FOOTER = ('<div style="width:100%;text-align:center;font-size:9pt;font-family:serif">— '
               '<span class="pageNumber"></span> / <span class="totalPages"></span> —</div>')


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
            # page numbers in the footer, as a document an office issues carries them ("— 1 / 3 —")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                            display_header_footer=True, header_template="<span></span>",
                            footer_template=PAGE_FOOTER)
        finally:
            page.close()

    def launched() -> bytes:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable,
                                                  args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            try:
                return render(chromium)
            finally:
                chromium.close()

    pdf = render(browser) if browser is not None else _outside_any_event_loop(launched)
    Path(path).write_bytes(pdf)
    return len(pdf)


def _outside_any_event_loop(work):
    """`work()`, in a thread of its own when this one runs an asyncio loop (another Playwright
    session in the process, say): Playwright's sync API refuses to start inside one."""
    import asyncio
    import threading

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="pdf")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
