"""The pages under their Content-Security-Policy in Chromium: the inspector's road map, the
planner's map and import page, and the reviewer's month map (folium), its grid map and the
bulletin draw and work with not one script, style or image refused."""

from shapely.geometry import box

from gisgrid.storage import boundaries
from test_inspector import district_month, open_road  # noqa: F401  (district_month is a fixture)
from test_planner import open_map, planner  # noqa: F401  (planner is a fixture)
from test_reviewer import demo  # noqa: F401  (a fixture)

# in the page before any of its scripts: every violation the browser reports, with what it blocked
WATCH = """document.addEventListener("securitypolicyviolation", function (e) {
  (window.__violations = window.__violations || []).push(e.violatedDirective + " " + e.blockedURI);
});"""


class Violations:
    """What the policy refused on a tablet's page: the page's own events and Chromium's console."""

    def __init__(self, tablet):
        self.page = tablet.page
        self.console: list[str] = []
        self.page.add_init_script(WATCH)
        self.page.on("console", lambda m: self.console.append(m.text)
                     if "Content Security Policy" in m.text or "Refused to" in m.text else None)

    def __call__(self) -> list[str]:
        return self.page.evaluate("window.__violations || []") + self.console


def refuses_unnonced_script(tablet, url: str) -> bool:
    """The policy is in force at `url`: a script without the nonce put into the page does not run
    (tried on a page of its own, so the refusal stays off the record of the page under test)."""
    probe = tablet.context.new_page()
    try:
        probe.goto(url)
        return probe.evaluate("() => { const s = document.createElement('script');"
                              " s.textContent = 'window.__ran = true;'; document.body.appendChild(s);"
                              " return window.__ran !== true; }")
    finally:
        probe.close()


def policy_of(page) -> str:
    return page.evaluate("fetch(location.href).then(r => r.headers.get('content-security-policy'))")


def test_the_inspectors_road_map_draws_with_nothing_refused(tablet, district_month):
    month, password = district_month
    refused = Violations(tablet)
    open_road(tablet, month, password)              # waits for the road drawn on the map
    assert tablet.page.locator("#map .leaflet-overlay-pane path").count() >= 1
    assert "'nonce-" in policy_of(tablet.page) and "'unsafe-inline'" not in policy_of(tablet.page).split("style-src")[0]
    tablet.page.touchscreen.tap(*(lambda b: (b["x"] + b["width"] / 2, b["y"] + b["height"] / 2))(
        tablet.page.locator("#map").bounding_box()))
    tablet.page.wait_for_selector("#finding-form[open]")   # the form's script ran
    assert refuses_unnonced_script(tablet, tablet.page.url)
    assert refused() == []


def test_the_planners_map_and_import_page_with_nothing_refused(tablet, planner):
    boundaries.save_feature(tablet.server.store, "grid", "G1", {"name": "第一网格", "grid_class": "A"},
                            box(114.036, 33.588, 114.044, 33.592), None, "setup")
    refused = Violations(tablet)
    open_map(tablet, planner)
    tablet.until("window.gisgridPlan.index.grid.G1 !== undefined")
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    assert refuses_unnonced_script(tablet, tablet.page.url)
    tablet.page.goto(tablet.server.url + "/plan/import")
    tablet.page.wait_for_selector("#upload-form")
    assert tablet.page.evaluate("window.gisgridPlanner !== undefined")
    assert refused() == []


def test_the_reviewers_folium_maps_and_bulletin_with_nothing_refused(tablet, demo):
    month, core = demo
    refused = Violations(tablet)
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    page.wait_for_selector(".folium-map[data-drawn]")
    assert page.locator(".leaflet-overlay-pane path[data-code]").count() == len(core["grids"])
    assert refuses_unnonced_script(tablet, page.url)
    # the month picker's handlers moved from inline attributes into review.js: they still work
    other = [o for o in page.locator("#month-picker select[name=compare] option").evaluate_all(
        "os => os.map(o => o.value)") if o]
    if other:
        with page.expect_navigation():
            page.select_option("#month-picker select[name=compare]", other[0])
        assert page.url.endswith(f"/review/{month}?compare={other[0]}")
        tablet.until("document.querySelectorAll('.folium-map[data-drawn]').length === 2")
    code = next(g["code"] for g in core["grids"] if g["score"] is not None)
    page.goto(f"{tablet.server.url}/review/{month}/grid/{code}")
    page.wait_for_selector(".leaflet-overlay-pane path")
    page.goto(f"{tablet.server.url}/review/{month}/bulletin")
    page.wait_for_selector("#ranking tbody tr")
    # the print button's handler is a nonced script now; printing is stubbed to see it called
    page.evaluate("window.print = function () { window.__printed = true; }")
    page.click("#print")
    assert page.evaluate("window.__printed === true")
    assert refuses_unnonced_script(tablet, page.url)
    assert refused() == []
