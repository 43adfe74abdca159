"""Imports that never destroy (issue 14, §1 and §2): what a file does not say is left as it is
stored, clearing takes an explicit choice, the change list (new / changed / unchanged / missing)
is shown before anything is written, and the stored features a file lacks are retired only
when asked, each retirement versioned."""

import json

import geopandas as gpd
import pyogrio
import pytest
import shapely

from fixtures import box, small_district
from gisgrid.cli import main
from gisgrid.gis import changes
from gisgrid.services import OPERATOR
from gisgrid.services import layers as layer_work
from gisgrid.storage import Store, boundaries


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def led(district):
    """The small district with a leader for G1 (its other attributes come from the import)."""
    row = boundaries.feature(district, "grid", "G1")
    boundaries.save_feature(district, "grid", "G1", {**row["properties"], "leader": "张三"},
                            shapely.geometry.shape(row["geometry"]), row["properties"]["version"], "setup")
    return district


def grids_now(store):
    return {f["properties"]["code"]: {k: f["properties"][k] for k in ("name", "town", "grid_class", "leader")}
            for f in boundaries.features(store, "grid")["features"]}


def versions(store, kind="grid"):
    return {f["properties"]["code"]: f["properties"]["version"] for f in boundaries.features(store, kind)["features"]}


def test_a_shapefile_with_only_codes_leaves_names_towns_classes_and_leaders_as_stored(led, db_url, tmp_path, capsys):
    """The README's own pattern `--field code=code` once set every name to its code and the town,
    class and leader to NULL, printing "0 added, 32 updated"."""
    before, seen = grids_now(led), versions(led)
    grids, _ = small_district()
    pyogrio.write_dataframe(grids[["code", "geometry"]], tmp_path / "grids.shp", encoding="UTF-8")
    code, _out, err = run(capsys, "--db", db_url, "import", "grids", tmp_path / "grids.shp", "--field", "code=code")
    assert code == 0
    assert "grids: 0 added, 0 updated, 4 unchanged" in err
    assert grids_now(led) == before and before["G1"]["leader"] == "张三" and before["G3"]["town"] == "城关镇"
    assert versions(led) == seen                        # nothing was written, so no version either


def test_a_blank_cell_keeps_the_stored_value_and_clear_empties_it_with_its_version(led, db_url, tmp_path, capsys):
    grids, _ = small_district()
    grids["town"] = [None, "沙北街道", None, "新城镇"]         # G4 moves; G1 and G3 say nothing
    path = tmp_path / "towns.geojson"
    grids.to_file(path, driver="GeoJSON")
    assert run(capsys, "--db", db_url, "import", "grids", path)[0] == 0
    towns = {c: v["town"] for c, v in grids_now(led).items()}
    assert towns == {"G1": "沙北街道", "G2": "沙北街道", "G3": "城关镇", "G4": "新城镇"}
    assert grids_now(led)["G1"]["leader"] == "张三"            # no leader column: kept

    code, _out, err = run(capsys, "--db", db_url, "import", "grids", path, "--clear", "town", "--clear", "leader")
    assert code == 0 and "0 added, 2 updated, 2 unchanged" in err, err
    now = grids_now(led)
    assert {c: v["town"] for c, v in now.items()} == {"G1": None, "G2": "沙北街道", "G3": None, "G4": "新城镇"}
    assert now["G1"]["leader"] is None and now["G1"]["name"] == "沙北街道第1网格"
    last = boundaries.history(led, "grid", "G1")[0]
    assert last["before"]["properties"]["town"] == "沙北街道" and last["after"]["properties"]["town"] is None
    assert last["changed_by"] == "cli"


def test_clear_names_a_column_of_the_layer(led, db_url, tmp_path, capsys):
    grids, _ = small_district()
    grids.to_file(tmp_path / "g.geojson", driver="GeoJSON")
    code, _out, err = run(capsys, "--db", db_url, "import", "grids", tmp_path / "g.geojson", "--clear", "grade")
    assert code == 2 and "grade" in err


def changed_file(tmp_path):
    """The district's grids with two names changed, one shape grown by 10 m on its east side,
    one grid new and one (G3) left out."""
    grids, _ = small_district()
    grids = grids[grids["code"] != "G3"].copy()
    grids.loc[grids["code"] == "G1", "name"] = "沙北一网格"
    grids.loc[grids["code"] == "G2", "name"] = "沙北二网格"
    east = 10 / (111_320 * 0.8329)                            # 10 m of longitude at 33.6°N (cos 33.6° = 0.8329)
    grids.loc[grids["code"] == "G4", "geometry"] = box(114.03, 33.58, 114.04 + east, 33.59)
    extra = gpd.GeoDataFrame({"code": ["G5"], "name": ["新网格"], "town": ["城关镇"], "class": ["B"]},
                             geometry=[box(114.06, 33.59, 114.07, 33.60)], crs=4326)
    grids = gpd.GeoDataFrame(gpd.pd.concat([grids, extra], ignore_index=True), crs=4326)
    path = tmp_path / "changed.geojson"
    grids.to_file(path, driver="GeoJSON")
    return path


def test_dry_run_json_lists_new_changed_unchanged_and_missing_and_writes_nothing(district, db_url, tmp_path, capsys):
    seen = versions(district)
    code, out, err = run(capsys, "--db", db_url, "import", "grids", changed_file(tmp_path), "--dry-run", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert set(found) == {"new", "changed", "unchanged", "missing"}
    assert found["new"] == ["G5"] and found["unchanged"] == 0 and found["missing"] == ["G3"]
    by_code = {c["code"]: c for c in found["changed"]}
    assert by_code["G1"] == {"code": "G1", "attributes": {"name": ["沙北街道第1网格", "沙北一网格"]},
                             "area_changed_m2": 0.0}
    assert by_code["G2"]["attributes"] == {"name": ["沙北街道第2网格", "沙北二网格"]}
    assert by_code["G4"]["attributes"] == {}
    # 10 m by the grid's height (0.01° of latitude, ~1109 m): ~11 090 m² moved
    assert by_code["G4"]["area_changed_m2"] == pytest.approx(11_090, rel=0.01)
    assert "nothing written" in err
    assert versions(district) == seen and "G5" not in versions(district)


def test_dry_run_as_text_names_each_change(district, db_url, tmp_path, capsys):
    code, out, _err = run(capsys, "--db", db_url, "import", "grids", changed_file(tmp_path), "--dry-run")
    assert code == 0
    assert "+ G5" in out and "~ G1  name: '沙北街道第1网格' → '沙北一网格'" in out and "? G3" in out
    assert "m² moved" in out.split("~ G4")[1].splitlines()[0]


def test_missing_features_are_left_alone_unless_retire_missing_which_versions_each(district, db_url, tmp_path,
                                                                                    capsys):
    path = changed_file(tmp_path)
    code, _out, err = run(capsys, "--db", db_url, "import", "grids", path)
    assert code == 0 and "1 added, 3 updated, 0 unchanged" in err and "not in the file" in err
    assert "G3" in versions(district)                     # the file lacks it: kept on the map
    code, _out, err = run(capsys, "--db", db_url, "import", "grids", path, "--retire-missing")
    assert code == 0 and "1 retired" in err, err
    assert "G3" not in versions(district)
    last = boundaries.history(district, "grid", "G3")[0]
    assert last["reason"] == "not in the imported file" and last["after"]["properties"]["retired_at"]


def test_retire_missing_refuses_a_grid_that_still_manages_roads_and_writes_nothing(district, db_url, tmp_path,
                                                                                   capsys):
    grids, _ = small_district()
    grids = grids[grids["code"] != "G1"].assign(name="改名")      # G1 manages three roads
    path = tmp_path / "no-g1.geojson"
    grids.to_file(path, driver="GeoJSON")
    seen = versions(district)
    code, _out, err = run(capsys, "--db", db_url, "import", "grids", path, "--retire-missing")
    assert code == 2 and "G1 still manages roads" in err
    assert versions(district) == seen                      # one transaction: the renames went too


def test_retiring_through_an_import_is_a_boundary_edit(district, tmp_path):
    from gisgrid.domain.errors import Forbidden
    from gisgrid.services.policy import Actor

    with pytest.raises(Forbidden):
        layer_work.import_layer(district, Actor(7, "li", "reviewer"), "grids", changed_file(tmp_path),
                                retire_missing=True)


def test_a_retired_code_in_the_file_comes_back_and_the_change_list_says_so(district, tmp_path):
    row = boundaries.feature(district, "grid", "G3")
    boundaries.retire(district, "grid", "G3", row["properties"]["version"], "setup")
    grids, _ = small_district()
    grids.to_file(tmp_path / "g.geojson", driver="GeoJSON")
    dry = layer_work.import_layer(district, OPERATOR, "grids", tmp_path / "g.geojson", dry_run=True)
    assert dry.changes.as_json()["changed"] == [{"code": "G3", "attributes": {"retired": [True, False]},
                                                "area_changed_m2": 0.0}]
    done = layer_work.import_layer(district, OPERATOR, "grids", tmp_path / "g.geojson")
    assert (done.created, done.updated, done.unchanged) == (0, 1, 3) and "G3" in versions(district)


def test_roads_into_a_district_without_grids_are_stored_without_a_grid(store, tmp_path, capsys):
    """It died with `TypeError: sequence item 0: expected str instance, float found`: a NaN where
    None was meant."""
    _, roads = small_district()
    roads.drop(columns="grid").to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    code, _out, err = run(capsys, "--db", store.url, "import", "roads", tmp_path / "roads.geojson")
    assert code == 0, err
    assert "6 roads have no grid (the district has no grids yet)" in err and "6 added" in err
    assert set(store.road_grids().values()) == {None}


def test_a_stored_road_keeps_its_grid_when_the_file_has_no_grid_column(district, tmp_path):
    _, roads = small_district()
    roads = roads.drop(columns="grid")
    roads.loc[roads["code"] == "R12", "geometry"] = box(114.041, 33.5960, 114.049, 33.5962)   # now inside G2
    roads.to_file(tmp_path / "r.geojson", driver="GeoJSON")
    done = layer_work.import_layer(district, OPERATOR, "roads", tmp_path / "r.geojson")
    assert (done.updated, done.unchanged) == (1, 5)
    assert district.road_grids()["R12"] == "G1"            # the file says nothing of grids: as stored
    done = layer_work.import_layer(district, OPERATOR, "roads", tmp_path / "r.geojson", clear=["grid"])
    assert district.road_grids()["R12"] == "G2"            # cleared: placed again by its shape


# the pure change list --------------------------------------------------------------------


def stored_row(**values):
    return {"name": "甲", "town": "沙北街道", "grid_class": "A", "leader": "张三", "geom": box(114.0, 33.0, 114.01, 33.01),
            "retired_at": None, **values}


def incoming(**columns):
    data = {"code": ["G1"], **{k: [v] for k, v in columns.items()}}
    return gpd.GeoDataFrame(data, geometry=[box(114.0, 33.0, 114.01, 33.01)], crs=4326)


def test_diff_keeps_what_the_file_does_not_give_and_names_a_new_feature_by_its_code():
    found = changes.diff("grids", incoming(name=None, town=None), {"G1": stored_row()})
    assert found.as_json() == {"new": [], "changed": [], "unchanged": 1, "missing": []} and found.rows == []
    found = changes.diff("grids", incoming(town="城关镇"), {"G1": stored_row()})
    assert found.changed == [{"code": "G1", "attributes": {"town": ["沙北街道", "城关镇"]}, "area_changed_m2": 0.0}]
    assert found.rows[0]["leader"] == "张三" and found.rows[0]["name"] == "甲"
    found = changes.diff("grids", incoming(), {})
    assert found.new == ["G1"] and found.rows[0]["name"] == "G1" and found.rows[0]["town"] is None


def test_diff_clears_only_the_columns_asked_and_lists_the_stored_codes_the_file_lacks():
    stored = {"G1": stored_row(), "G2": stored_row(), "G9": stored_row(retired_at="2026-01-01")}
    found = changes.diff("grids", incoming(), stored, clear={"leader"})
    assert found.changed[0]["attributes"] == {"leader": ["张三", None]}
    assert found.missing == ["G2"]                       # a retired code is no longer on the map


def test_diff_sees_a_shape_that_moved_a_little_and_measures_it():
    moved = incoming()
    moved.geometry = [box(114.0, 33.0, 114.01, 33.0101)]   # ~11 m further north on a ~930 m edge
    found = changes.diff("grids", moved, {"G1": stored_row()})
    assert found.changed[0]["area_changed_m2"] == pytest.approx(0.0001 * 110_900 * 0.01 * 111_320 * 0.8387,
                                                                rel=0.01)
