"""The planner's pages in Chromium: a grid drawn by clicking, a neighbour snapped to it, both
saved and still there after a reload; a conflicting save refused with both versions shown; a
zipped EPSG:4547 Shapefile with GBK attributes uploaded through preview and field mapping
into the database; the validation report on the map; nothing fetched from outside."""

import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import box, shape

from gisgrid.storage import boundaries
from gisgrid.web.auth import add_account

CENTRE = (33.59, 114.04)   # lat, lon


@pytest.fixture
def planner(live_server):
    return add_account(live_server.store, "zhang", "planner")


def open_map(tablet, password, name="zhang"):
    tablet.login(name, password)
    assert tablet.page.url.endswith("/plan/")
    tablet.until("window.gisgridPlan !== undefined")


def to_screen(tablet, lat, lon):
    """Where a place is on the screen, as a person would find it on the map."""
    x, y = tablet.page.evaluate("([lat, lon]) => { const p = window.gisgridPlan.map.latLngToContainerPoint([lat, lon]);"
                                " return [p.x, p.y]; }", [lat, lon])
    frame = tablet.page.locator("#map").bounding_box()
    return frame["x"] + x, frame["y"] + y


def draw_polygon(tablet, corners, button="#draw-grid"):
    tablet.page.click(button)
    for placed, (lat, lon) in enumerate(corners, start=1):
        tablet.page.mouse.click(*to_screen(tablet, lat, lon))
        # each corner is a vertex marker on the map before the next click (a busy machine is slow)
        tablet.until("n => document.querySelectorAll('#map .marker-icon:not(.cursor-marker)').length >= n",
                     arg=placed)
    tablet.page.mouse.click(*to_screen(tablet, *corners[0]))   # the first corner again closes the shape
    tablet.page.wait_for_selector("#feature-panel:not([hidden])")


def fill_and_save(tablet, code, name, grid_class="A"):
    tablet.page.fill("#f-code", code)
    tablet.page.fill("#f-name", name)
    tablet.page.select_option("#f-class", grid_class)
    tablet.page.click("#save")
    tablet.until("code => window.gisgridPlan.index.grid[code] !== undefined", arg=code)


G1_BOX = (114.036, 33.588, 114.044, 33.592)


def open_with_g1(tablet, planner, name):
    """The map with one stored grid, G1, selected."""
    boundaries.save_feature(tablet.server.store, "grid", "G1", {"name": name, "grid_class": "A"}, box(*G1_BOX),
                            None, "setup")
    open_map(tablet, planner)
    tablet.page.evaluate("window.gisgridPlan.index.grid.G1.fire('click')")
    tablet.page.wait_for_selector("#feature-panel:not([hidden])")


def drag_corner(tablet, corner, dx, dy):
    """Edit the selected feature's shape: drag the corner at (lat, lon) by (dx, dy) pixels."""
    tablet.page.click("#edit-shape")
    tablet.page.wait_for_selector("#map .marker-icon:not(.marker-icon-middle)")
    x, y = to_screen(tablet, *corner)
    shape_now = "window.gisgridPlan.selected().layer.getBounds().toBBoxString()"
    before = tablet.page.evaluate(shape_now)
    tablet.page.mouse.move(x, y)
    tablet.page.mouse.down()
    tablet.page.mouse.move(x + dx, y + dy, steps=6)
    # Leaflet moves a dragged marker on its next animation frame and drops a pending move on
    # release: on a busy machine the button must stay down until the shape has followed
    tablet.until(f"b => {shape_now} !== b", arg=before)
    tablet.page.mouse.up()


def stored(store, code):
    return shape(boundaries.feature(store, "grid", code)["geometry"])


def test_draw_a_grid_snap_a_neighbour_save_and_reload(tablet, planner):
    open_map(tablet, planner)
    tablet.page.evaluate("c => window.gisgridPlan.map.setView(c, 17)", list(CENTRE))
    d = 0.0015
    lat, lon = CENTRE
    west = [(lat - d, lon - 2 * d), (lat - d, lon), (lat + d, lon), (lat + d, lon - 2 * d)]
    draw_polygon(tablet, west)
    fill_and_save(tablet, "G1", "第一网格")
    assert "已保存" in tablet.page.inner_text("#message")

    # the neighbour's western corners are clicked a few pixels off G1's eastern ones: they snap
    px = 4 / 2 ** 17 * 360 / 256   # about four pixels, in degrees of longitude at zoom 17
    east = [(lat - d, lon + px), (lat - d, lon + 2 * d), (lat + d, lon + 2 * d), (lat + d, lon - px)]
    draw_polygon(tablet, east)
    fill_and_save(tablet, "G2", "第二网格", "B")

    tablet.page.reload()
    tablet.until("Object.keys(window.gisgridPlan.index.grid).length === 2")
    assert tablet.page.locator("#map .leaflet-overlay-pane path").count() >= 2
    g1, g2 = stored(tablet.server.store, "G1"), stored(tablet.server.store, "G2")
    shared = g1.boundary.intersection(g2.boundary)
    assert shared.length > 0.9 * 2 * d                     # they share their whole common border …
    assert g1.intersection(g2).area == 0                   # … without overlapping
    assert shapely.union(g1, g2).geom_type == "Polygon"    # … and without a gap
    names = boundaries.features(tablet.server.store, "grid")["features"]
    assert [(f["properties"]["code"], f["properties"]["name"], f["properties"]["grid_class"]) for f in names] == \
        [("G1", "第一网格", "A"), ("G2", "第二网格", "B")]
    assert tablet.offsite() == []


def test_a_conflicting_save_is_refused_and_both_versions_shown(chromium, live_server, planner):
    from conftest import Tablet

    store = live_server.store
    boundaries.save_feature(store, "grid", "G1", {"name": "原名", "grid_class": "A"},
                            box(114.039, 33.589, 114.041, 33.591), None, "setup")
    other = add_account(store, "li", "planner")
    first, second = Tablet(chromium, live_server), Tablet(chromium, live_server)
    try:
        for device, name, password in ((first, "zhang", planner), (second, "li", other)):
            open_map(device, password, name)
            device.until("window.gisgridPlan.index.grid.G1 !== undefined")
            device.page.evaluate("window.gisgridPlan.index.grid.G1.fire('click')")
            device.page.wait_for_selector("#feature-panel:not([hidden])")
        first.page.fill("#f-name", "张改的名")
        first.page.click("#save")
        first.page.wait_for_selector("#message.good")
        second.page.fill("#f-name", "李改的名")
        second.page.click("#save")
        second.page.wait_for_selector("#conflict[open]")
        table = second.page.inner_text("#conflict-table")
        assert "张改的名" in table and "李改的名" in table
        assert store.grids_frame().set_index("code").loc["G1", "name"] == "张改的名"   # nothing overwritten
        second.page.click("#take-theirs")
        assert second.page.input_value("#f-name") == "张改的名"
        assert [h["changed_by"] for h in boundaries.history(store, "grid", "G1")] == ["zhang", "setup"]
    finally:
        first.close()
        second.close()


def gbk_shapefile_zip(tmp_path):
    """Grids as the surveying office sends them: EPSG:4547 metres, GBK attributes, its own
    field names (网格编号 is no alias of ours: the planner maps it)."""
    x0, y0 = 503_700.0, 3_717_300.0
    frame = gpd.GeoDataFrame({"WGBH": ["411103001", "411103002"], "WGMC": ["沙北一网格", "沙北二网格"],
                              "SSJD": ["沙北街道", "沙北街道"], "LB": ["一类", "二类"]},
                             geometry=[box(x0, y0, x0 + 300, y0 + 300), box(x0 + 300, y0, x0 + 600, y0 + 300)],
                             crs="EPSG:4547")
    pyogrio.write_dataframe(frame, tmp_path / "网格.shp", encoding="GBK")
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in tmp_path.glob("网格.*"):
            archive.write(part, part.name)
    return path


def test_upload_a_zipped_gauss_kruger_gbk_shapefile_through_preview_and_mapping(tablet, planner, tmp_path):
    # the preview is read in the background and the page polls it, as for a large file
    tablet.server.app.config["PREVIEW_WAIT_S"] = 0
    open_map(tablet, planner)
    tablet.page.click("nav a[href$='/plan/import']")
    tablet.page.set_input_files("#file", str(gbk_shapefile_zip(tmp_path)))
    tablet.page.click("#upload")
    tablet.page.wait_for_selector("#step-preview:not([hidden])")
    assert "EPSG:4547" in tablet.page.inner_text("#preview-summary")
    rows = tablet.page.inner_text("#rows")
    assert "沙北一网格" in rows and "沙北街道" in rows          # GBK read as Chinese, before anything is written
    assert tablet.page.locator("#preview-map .leaflet-overlay-pane path").count() == 2
    assert tablet.server.store.grid_codes() == []
    tablet.page.select_option("#mapping select[name=code]", "WGBH")
    tablet.page.select_option("#mapping select[name=name]", "WGMC")
    tablet.page.select_option("#mapping select[name=town]", "SSJD")
    tablet.page.select_option("#mapping select[name=grid_class]", "LB")
    assert tablet.page.locator("#do-import").is_disabled()     # the changes are seen before anything is written
    tablet.page.click("#show-changes")
    tablet.page.wait_for_selector("#changes:not([hidden])")
    assert tablet.page.locator("#changes-table tbody tr").count() == 2
    tablet.page.dblclick("#do-import")                   # an impatient double tap imports once
    tablet.page.wait_for_selector("#import-result:not([hidden])")
    assert "2" in tablet.page.inner_text("#import-summary") and tablet.page.locator("#message").is_hidden()
    grids = tablet.server.store.grids_frame()
    assert grids[["code", "name", "town", "grid_class"]].values.tolist() == [
        ["411103001", "沙北一网格", "沙北街道", "A"], ["411103002", "沙北二网格", "沙北街道", "B"]]
    assert abs(grids.geometry.iloc[0].centroid.x - 114.04) < 0.01
    assert [h["changed_by"] for h in boundaries.history(tablet.server.store, "grid", "411103001")] == ["zhang"]
    assert tablet.offsite() == []


def test_validation_report_on_the_map_zooms_to_a_defect(tablet, planner):
    store = tablet.server.store
    for code, cell in (("G1", box(113.98, 33.59, 114.040, 33.60)), ("G2", box(114.0395, 33.59, 114.10, 33.60))):
        boundaries.save_feature(store, "grid", code, {"name": code}, cell, None, "setup")
    open_map(tablet, planner)
    tablet.page.click("#check")
    tablet.page.wait_for_selector("#defects li")
    kinds = tablet.page.eval_on_selector_all("#defects li", "items => items.map(i => i.dataset.kind)")
    assert "grid_overlap" in kinds and kinds.count("grid_few_roads") == 2
    overlap = tablet.page.locator("#defects li[data-kind=grid_overlap]")
    assert "G1, G2" in overlap.inner_text() and "平方米" in overlap.inner_text()
    before = tablet.page.evaluate("window.gisgridPlan.map.getZoom()")
    overlap.locator("button.zoom").click()
    tablet.until("z => window.gisgridPlan.map.getZoom() > z", arg=before)
    centre = tablet.page.evaluate("(() => { const c = window.gisgridPlan.map.getCenter(); return [c.lat, c.lng]; })()")
    assert 114.0395 <= centre[1] <= 114.040


def test_split_by_a_drawn_line_then_merge_back_and_reshape_with_the_mouse(tablet, planner):
    store, page = tablet.server.store, tablet.page
    open_with_g1(tablet, planner, "大网格")
    page.fill("#f-reason", "按道路拆分")                        # a reason is no unsaved edit
    page.once("dialog", lambda dialog: dialog.accept("G1-东"))
    page.click("#split")
    page.mouse.click(*to_screen(tablet, 33.5935, 114.041))
    tablet.until("document.querySelectorAll('#map .marker-icon:not(.cursor-marker)').length >= 1")
    page.mouse.dblclick(*to_screen(tablet, 33.5865, 114.041))   # a double click ends the line
    tablet.until("window.gisgridPlan.index.grid['G1-东'] !== undefined")
    parts = {f["properties"]["code"]: shape(f["geometry"]) for f in boundaries.features(store, "grid")["features"]}
    assert sorted(parts) == ["G1", "G1-东"]
    assert parts["G1"].union(parts["G1-东"]).equals(box(*G1_BOX))
    assert parts["G1"].area > parts["G1-东"].area          # the larger part keeps the code
    assert boundaries.history(store, "grid", "G1")[0]["reason"] == "按道路拆分"

    page.evaluate("window.gisgridPlan.index.grid.G1.fire('click')")
    page.once("dialog", lambda dialog: dialog.accept())          # "merge G1-东 into G1?"
    page.click("#merge")
    page.mouse.click(*to_screen(tablet, 33.590, 114.043))         # a click on the neighbour
    page.wait_for_selector("#message.good")
    assert page.evaluate("window.gisgridPlan.index.grid['G1-东'] === undefined")
    assert [f["properties"]["code"] for f in boundaries.features(store, "grid")["features"]] == ["G1"]
    assert stored(store, "G1").equals(box(*G1_BOX))

    page.evaluate("window.gisgridPlan.index.grid.G1.fire('click')")
    drag_corner(tablet, (33.592, 114.044), 60, 0)               # the north-east corner, east
    page.fill("#f-reason", "东边界外移")
    # while the save is on its way the merge's "saved" is gone: a busy server must not look done
    seen_while_sending = []

    def hold(route):
        seen_while_sending.append(page.evaluate("document.getElementById('message').hidden"))
        route.continue_()
    page.route("**/api/plan/grid/G1", hold)
    page.click("#save")
    page.wait_for_selector("#message.good")
    assert seen_while_sending == [True]
    moved = stored(store, "G1")
    assert moved.bounds[2] > 114.0445 and moved.area > box(*G1_BOX).area
    assert boundaries.history(store, "grid", "G1")[0]["reason"] == "东边界外移"


def test_a_city_too_large_to_show_whole_is_loaded_by_view(tablet, planner):
    from gisgrid.gis.synthetic import synthetic_city

    tablet.server.app.config["PLAN_VIEW_LIMIT"] = 40
    grids, roads = synthetic_city(36, roads_per_grid=2)     # 108 features: more than the limit
    store = tablet.server.store
    store.save_grids(grids.assign(town="城关镇"))
    store.save_roads(roads)
    open_map(tablet, planner)
    tablet.page.wait_for_selector("#zoom-in:not([hidden])")
    assert tablet.page.evaluate("Object.keys(window.gisgridPlan.index.grid).length") == 0
    corner = grids.geometry.iloc[0].centroid
    tablet.page.evaluate("c => window.gisgridPlan.map.setView(c, 17)", [corner.y, corner.x])
    tablet.page.wait_for_selector("#zoom-in", state="hidden")
    shown = tablet.page.evaluate("Object.keys(window.gisgridPlan.index.grid)")
    assert grids["code"].iloc[0] in shown and 0 < len(shown) < 36


def test_closing_the_form_undoes_unsaved_changes(tablet, planner):
    store, page = tablet.server.store, tablet.page
    open_with_g1(tablet, planner, "原名")
    page.fill("#f-name", "没保存的名")
    drag_corner(tablet, (33.592, 114.044), 80, -40)
    east = "window.gisgridPlan.index.grid.G1.getBounds().getEast()"
    assert page.evaluate(east) > 114.0445
    page.once("dialog", lambda dialog: dialog.accept())     # "discard the unsaved changes?"
    page.click("#close")
    assert page.evaluate(east) == pytest.approx(114.044, abs=1e-9)
    assert page.evaluate("window.gisgridPlan.index.grid.G1.feature.properties.name") == "原名"
    assert len(boundaries.history(store, "grid", "G1")) == 1            # nothing was saved


def test_a_merge_refused_for_a_changed_neighbour_keeps_the_selection(tablet, planner):
    store, page = tablet.server.store, tablet.page
    boundaries.save_feature(store, "grid", "G2", {"name": "邻格", "grid_class": "B"},
                            box(114.044, 33.588, 114.048, 33.592), None, "setup")
    open_with_g1(tablet, planner, "本格")
    page.fill("#f-name", "还没保存")
    page.click("#split")                                   # edits not saved: split and merge wait for them
    assert "保存" in page.inner_text("#message") and page.locator("#mode").is_hidden()
    page.once("dialog", lambda dialog: dialog.accept())     # "discard the unsaved changes?"
    page.click("#close")

    page.evaluate("window.gisgridPlan.index.grid.G1.fire('click')")
    boundaries.save_feature(store, "grid", "G2", {"name": "邻格改名", "grid_class": "B"},
                            box(114.044, 33.588, 114.048, 33.592), 1, "li")       # someone else, meanwhile
    page.once("dialog", lambda dialog: dialog.accept())     # "merge G2 into G1?"
    page.click("#merge")
    page.mouse.click(*to_screen(tablet, 33.590, 114.046))
    page.wait_for_selector("#conflict[open]")
    assert page.locator("#keep-mine").is_hidden()
    page.click("#take-theirs")
    assert page.evaluate("window.gisgridPlan.selected().code") == "G1"
    assert page.evaluate("window.gisgridPlan.index.grid.G1.feature.properties.name") == "本格"
    assert page.evaluate("window.gisgridPlan.index.grid.G2.feature.properties.name") == "邻格改名"
    assert sorted(f["properties"]["code"] for f in boundaries.features(store, "grid")["features"]) == ["G1", "G2"]


def test_a_new_drawing_stays_while_a_city_map_is_panned(tablet, planner):
    from gisgrid.gis.synthetic import synthetic_city

    tablet.server.app.config["PLAN_VIEW_LIMIT"] = 40
    grids, roads = synthetic_city(36, roads_per_grid=2)
    tablet.server.store.save_grids(grids)
    tablet.server.store.save_roads(roads)
    open_map(tablet, planner)
    corner = grids.geometry.iloc[0].centroid
    tablet.page.evaluate("c => window.gisgridPlan.map.setView(c, 18)", [corner.y, corner.x])
    tablet.page.wait_for_selector("#zoom-in", state="hidden")
    d = 0.0002
    draw_polygon(tablet, [(corner.y - d, corner.x - d), (corner.y - d, corner.x + d), (corner.y + d, corner.x + d),
                          (corner.y + d, corner.x - d)])
    drawn = "window.gisgridPlan.map.hasLayer(window.gisgridPlan.selected().layer)"
    assert tablet.page.evaluate(drawn)
    loads = tablet.page.evaluate("window.gisgridPlan.loads")
    tablet.page.evaluate("window.gisgridPlan.map.panBy([120, 80])")
    tablet.until("n => window.gisgridPlan.loads > n", arg=loads)    # the view was loaded anew
    assert tablet.page.evaluate(drawn) and tablet.page.evaluate("window.gisgridPlan.selected().code") is None
