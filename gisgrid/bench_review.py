"""The reviewer's map at scale: bytes sent and time until the month's choropleth is drawn in
headless Chromium, for our light layer against folium's plain GeoJson of the raw grid layer,
on the synthetic city, measured in the same run."""

from __future__ import annotations

import functools
import gzip
import http.server
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .render import maps as review
from .settings import load as load_settings
from .gis.synthetic import synthetic_city

STATIC = Path(__file__).resolve().parent.parent / "static"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]


def _report(grids, seed: int) -> dict:
    """Month scores for the synthetic grids (scores do not change bytes or drawing much; one in
    fifty grids is left unassessed as in a real month)."""
    rng = random.Random(seed)
    rows = []
    for code in grids["code"]:
        score = None if rng.random() < 0.02 else round(rng.uniform(70, 100), 2)
        rows.append({"code": code, "score": score, "rank": None})
    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: -r["score"])
    for n, row in enumerate(ranked, start=1):
        row["rank"] = n
    return {"grids": rows}


def _pages(folder: Path, grids, report: dict) -> dict[str, float]:
    """Write our page and folium's plain GeoJson page; returns the seconds each took to build."""
    import folium

    start = time.perf_counter()
    ours = review.month_map(review.light_layer(review.encode_grids(grids), report), "/static")
    (folder / "ours.html").write_text(ours.get_root().render(), encoding="utf-8")
    built_ours = time.perf_counter() - start

    start = time.perf_counter()
    raw = grids.copy()
    raw["score"] = [g["score"] for g in report["grids"]]
    plain = folium.Map(location=[33.6, 114.0], zoom_start=12, tiles=None)
    plain.default_js = [("leaflet", "/static/vendor/leaflet-1.9.4/leaflet.js")]
    plain.default_css = [("leaflet_css", "/static/vendor/leaflet-1.9.4/leaflet.css")]
    folium.GeoJson(raw).add_to(plain)
    plain.fit_bounds([[raw.total_bounds[1], raw.total_bounds[0]], [raw.total_bounds[3], raw.total_bounds[2]]])
    (folder / "plain.html").write_text(plain.get_root().render(), encoding="utf-8")
    built_plain = time.perf_counter() - start
    # what a gzip-compressing proxy in front of the app would send for each page's HTML
    zipped = {name: len(gzip.compress((folder / f"{name}.html").read_bytes(), 6)) for name in ("ours", "plain")}
    return {"ours": built_ours, "plain": built_plain, "ours_gzip": zipped["ours"], "plain_gzip": zipped["plain"]}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _measure(browser, url: str) -> dict:
    """Bytes of every response and ms from navigation until the layer is painted (two frames after load)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sizes = []
    page.on("response", lambda response: sizes.append(len(response.body())))
    page.goto(url, wait_until="load", timeout=120_000)
    drawn = page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))")
    # SVG paths, or the canvas the polygons were painted on
    paths = page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length")
    canvas = page.evaluate("document.querySelectorAll('.leaflet-overlay-pane canvas').length")
    context.close()
    return {"bytes": sum(sizes), "ms_to_drawn": round(drawn), "svg_paths": paths, "canvases": canvas}


def run_review_bench(sizes=(2000, 20000), log=print, browser=None) -> dict:
    """Figures per size; launches Chromium unless a caller that already drives one passes it."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=load_settings()["CHROMIUM"], args=CHROMIUM_ARGS)
            try:
                return run_review_bench(sizes, log, chromium)
            finally:
                chromium.close()
    folder = Path(tempfile.mkdtemp(prefix="gisgrid-review-bench-"))
    shutil.copytree(STATIC, folder / "static")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    figures = {}
    try:
        for n in sizes:
            grids, _roads = synthetic_city(n, roads_per_grid=1, seed=1)
            built = _pages(folder, grids, _report(grids, seed=n))
            ours, plain = _measure(browser, f"{base}/ours.html"), _measure(browser, f"{base}/plain.html")
            figures[f"{n}_grids"] = {
                "ours": {**ours, "renderer": "canvas" if n > review.NAMES_UP_TO else "svg",
                         "build_s": round(built["ours"], 2), "html_gzip_bytes": built["ours_gzip"]},
                "folium_plain_geojson": {**plain, "renderer": "svg", "build_s": round(built["plain"], 2),
                                         "html_gzip_bytes": built["plain_gzip"]},
                "bytes_ratio": round(plain["bytes"] / ours["bytes"], 2),
            }
            log(f"{n} grids: ours {ours['bytes'] / 1e6:.2f} MB, {ours['ms_to_drawn']} ms; folium GeoJson "
                f"{plain['bytes'] / 1e6:.2f} MB, {plain['ms_to_drawn']} ms")
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    sizes = tuple(int(a) for a in sys.argv[1:]) or (2000, 20000)
    print(json.dumps(run_review_bench(sizes, log=lambda m: print(m, file=sys.stderr)), indent=2))
