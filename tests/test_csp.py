"""Every page of every role under a strict Content-Security-Policy: no 'unsafe-inline' or eval
for scripts, each inline <script> (folium's map code included) carrying this response's nonce,
a fresh nonce per response, no inline event handlers, no framing, no referrer; and the tile
host configured is the one other origin images may come from."""

import re
from html.parser import HTMLParser

import pytest
from fixtures import finding
from shapely.geometry import shape

from gisgrid.services import office
from gisgrid.storage import boundaries, inspections
from gisgrid.web import content_security_policy, tile_layer, tile_sources

OCT, NOV = "2026-10", "2026-11"


class Scripts(HTMLParser):
    """The page's <script>/<style> elements and every on* attribute, as a browser parses them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.styles, self.handlers = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        elif tag == "style":
            self.styles.append(attrs)
        self.handlers += [(tag, name) for name in attrs if name.startswith("on")]


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request.path}"
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


def check_page(client, path: str, scripted: bool = True) -> str:
    """Fetch a page, check its headers and its markup against its policy; return its nonce."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == "text/html"
    csp = policy(response)
    script_src = csp["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
    nonces = [s[len("'nonce-"):-1] for s in script_src if s.startswith("'nonce-")]
    assert len(nonces) == 1 and len(nonces[0]) >= 16, script_src
    nonce = nonces[0]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["default-src"] == ["'self'"]
    assert csp["form-action"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    page = Scripts()
    page.feed(response.get_data(as_text=True))
    inline = [s for s in page.scripts if "src" not in s]
    assert bool(inline) == scripted, f"{path}: expected the page's data or map script inline"
    assert [s.get("nonce") for s in inline] == [nonce] * len(inline), path
    assert all(s.get("nonce") == nonce for s in page.styles), path
    assert page.handlers == [], f"{path}: inline handlers {page.handlers}"
    return nonce


@pytest.fixture
def district_pages(app, auth, district_files):
    """The small district with two months drawn, findings, an inspector's roads and a grid's
    second version, so that every page renders all its parts (the month's folium maps too)."""
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    for month in (OCT, NOV):
        office.sample_month(store, month, seed=1)
    office.record_findings(store, [finding("n1", 114.035, 33.5951, "5.1"),
                                   finding("n3", 114.035, 33.5851, "4.1", area_m2=6)])
    auth.account("wang", "inspector")
    inspections.assign(store, NOV, "R11", "wang", "test")
    grid = boundaries.feature(store, "grid", "G1")
    boundaries.save_feature(store, "grid", "G1", {"name": "改名"}, shape(grid["geometry"]),
                            grid["properties"]["version"], "test")
    return store


NO_SCRIPT = {"/login", "/review/year/2026"}     # pages drawn on the server alone (the year's charts are SVG)
PAGES = {
    "inspector": ["/inspect/", f"/inspect/{NOV}/R11"],
    "planner": ["/plan/", "/plan/import", "/plan/grid/G1/history"],
    "reviewer": [f"/review/{NOV}", f"/review/{NOV}?compare={OCT}", f"/review/{NOV}/grid/G1", "/review/year/2026",
                 f"/review/{NOV}/bulletin"],
}


def test_every_page_of_every_role_runs_only_scripts_with_its_nonce(client, auth, district_pages):
    check_page(client, "/login", scripted=False)
    for role, paths in PAGES.items():
        auth.login(f"{role}-csp", role) if role != "inspector" else auth.login("wang", "inspector")
        for path in paths:
            check_page(client, path, scripted=path not in NO_SCRIPT)
        auth.logout()


def test_folium_maps_carry_the_nonce_and_each_response_a_new_one(client, auth, district_pages):
    auth.login("office1", "reviewer")
    first, second = check_page(client, f"/review/{NOV}"), check_page(client, f"/review/{NOV}")
    assert first != second
    html = client.get(f"/review/{NOV}/grid/G1").get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", client.get(f"/review/{NOV}/grid/G1").headers["Content-Security-Policy"])
    assert nonce and nonce.group(1) not in html        # the page fetched before has another nonce
    # folium's own head (its L_NO_TOUCH script and its <style>s) and map script are nonced
    assert "L_NO_TOUCH" in html and "gisgridGridMap(" in html
    assert not re.search(r"<script(?![^>]*\bnonce=)(?![^>]*\bsrc=)[^>]*>", html)


def test_the_error_page_and_json_answers_carry_the_policy(client, auth, district_pages):
    auth.login("wang", "inspector")
    refused = client.get(f"/review/{NOV}")
    assert refused.status_code == 403 and policy(refused)["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy(client.get(f"/api/rulebook/{NOV}"))["script-src"]


def test_the_configured_tile_host_is_the_one_other_image_origin():
    tianditu = tile_layer({"TILES": "tianditu", "TIANDITU_KEY": "k"})
    assert tile_sources(tianditu) == [f"https://t{i}.tianditu.gov.cn" for i in range(8)]
    assert tile_sources(tile_layer({"TILES": "osm"})) == ["https://tile.openstreetmap.org"]
    assert tile_sources(tile_layer({"TILE_URL": "https://{s}.tiles.example.cn:8443/{z}/{x}/{y}.png"})) == [
        "https://a.tiles.example.cn:8443", "https://b.tiles.example.cn:8443", "https://c.tiles.example.cn:8443"]
    assert tile_sources(tile_layer({"TILES": "none"})) == []
    img = next(d for d in content_security_policy("n", ["https://tile.openstreetmap.org"]).split("; ")
               if d.startswith("img-src"))
    assert img == "img-src 'self' data: blob: https://tile.openstreetmap.org"


def test_an_app_with_osm_tiles_allows_their_host_for_images(db_url, tmp_path, district_files):
    from gisgrid.web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "osm"),
                      "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False, "TILES": "osm"})
    try:
        assert policy(app.test_client().get("/login"))["img-src"] == [
            "'self'", "data:", "blob:", "https://tile.openstreetmap.org"]
    finally:
        app.extensions["gisgrid.storage"].dispose()
