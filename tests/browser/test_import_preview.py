"""The import wizard's change list in Chromium (issue 14): an import that renames two grids and
reshapes one shows exactly those three, with the old and new names and the area moved, and
nothing is written until the planner presses Import."""

import re

from fixtures import box, small_district
from gisgrid.services import office
from gisgrid.storage import boundaries
from gisgrid.web.auth import add_account


def versions(store):
    return {f["properties"]["code"]: f["properties"]["version"] for f in boundaries.features(store, "grid")["features"]}


def test_the_change_list_shows_two_renames_and_one_reshape_and_nothing_is_written_before_import(tablet, tmp_path):
    store = tablet.server.store
    password = add_account(store, "zhang", "planner")
    grids, _ = small_district()
    grids.to_file(tmp_path / "stored.geojson", driver="GeoJSON")
    office.import_layer(store, "grids", tmp_path / "stored.geojson")
    seen = versions(store)

    changed = grids.copy()
    changed.loc[changed["code"] == "G1", "name"] = "沙北一网格"
    changed.loc[changed["code"] == "G2", "name"] = "沙北二网格"
    changed.loc[changed["code"] == "G4", "geometry"] = box(114.03, 33.58, 114.0412, 33.59)
    path = tmp_path / "changed.geojson"
    path.write_text(changed.to_json(ensure_ascii=False), encoding="utf-8")

    tablet.login("zhang", password)
    tablet.page.goto(tablet.server.url + "/plan/import")
    tablet.page.set_input_files("#file", str(path))
    tablet.page.click("#upload")
    tablet.page.wait_for_selector("#step-preview:not([hidden])")
    assert tablet.page.locator("#do-import").is_disabled()
    tablet.page.click("#show-changes")
    tablet.page.wait_for_selector("#changes:not([hidden])")
    rows = tablet.page.locator("#changes-table tbody tr")
    shown = {rows.nth(i).get_attribute("data-code"): rows.nth(i).inner_text() for i in range(rows.count())}
    assert sorted(shown) == ["G1", "G2", "G4"]
    assert "沙北街道第1网格 → 沙北一网格" in shown["G1"] and "沙北街道第2网格 → 沙北二网格" in shown["G2"]
    # 0.0012° of longitude (~111 m at 33.6°N) by 0.01° of latitude (~1109 m): ~123 500 m² moved
    moved = float(re.search(r"([0-9.]+) 平方米", shown["G4"]).group(1))
    assert abs(moved - 123_500) < 1_500 and "→" not in shown["G4"]
    assert "1" in tablet.page.inner_text("#changes-summary")          # 1 unchanged (G3)
    assert versions(store) == seen                                   # shown, not written

    tablet.page.click("#do-import")
    tablet.page.wait_for_selector("#import-result:not([hidden])")
    assert tablet.page.locator("#message").is_hidden()
    now = versions(store)
    assert {c for c in now if now[c] != seen[c]} == {"G1", "G2", "G4"}
    assert boundaries.feature(store, "grid", "G1")["properties"]["name"] == "沙北一网格"
    assert boundaries.feature(store, "grid", "G3")["properties"]["town"] == "城关镇"   # untouched
    assert tablet.offsite() == []
