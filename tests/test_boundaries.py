"""Boundary edits: compare-and-set saves, a refused second save, history, as-of and restore."""

import json
from datetime import timedelta

import pytest
import shapely
from fixtures import small_district
from shapely.geometry import box, shape

from gisgrid.domain.errors import Conflict, LayerError, NotFound
from gisgrid.storage.schema import utcnow
from gisgrid.storage import boundaries


def _grid(store, code="G9", geometry=None):
    return boundaries.save_feature(store, "grid", code, {"name": "第9网格", "town": "沙北街道", "grid_class": "A"},
                                   geometry or box(114.0, 33.0, 114.01, 33.01), None, "planner1", "first draw")


def test_create_update_and_history(store):
    created = _grid(store)
    assert created["properties"]["version"] == 1
    updated = boundaries.save_feature(store, "grid", "G9", {"name": "第九网格", "town": "沙北街道", "grid_class": "B"},
                                      box(114.0, 33.0, 114.02, 33.01), 1, "planner2", "moved the east border")
    assert updated["properties"]["version"] == 2 and updated["properties"]["grid_class"] == "B"
    log = boundaries.history(store, "grid", "G9")
    assert [h["version"] for h in log] == [2, 1]
    assert log[0]["changed_by"] == "planner2" and log[0]["reason"] == "moved the east border"
    assert shape(log[0]["before"]["geometry"]).equals(box(114.0, 33.0, 114.01, 33.01))
    assert shape(log[0]["after"]["geometry"]).equals(box(114.0, 33.0, 114.02, 33.01))
    assert log[1]["before"] is None
    assert store.grids_frame().set_index("code").loc["G9", "name"] == "第九网格"


def test_second_save_from_the_same_version_is_refused(store):
    _grid(store)
    boundaries.save_feature(store, "grid", "G9", {"name": "A"}, box(114.0, 33.0, 114.02, 33.01), 1, "planner1")
    with pytest.raises(Conflict) as refused:
        boundaries.save_feature(store, "grid", "G9", {"name": "B"}, box(114.0, 33.0, 114.03, 33.01), 1, "planner2")
    assert refused.value.theirs["properties"]["name"] == "A"
    assert refused.value.theirs["properties"]["version"] == 2
    # nothing was overwritten, nothing recorded for the refused save
    assert store.grids_frame().set_index("code").loc["G9", "name"] == "A"
    assert len(boundaries.history(store, "grid", "G9")) == 2


def test_duplicate_code_invalid_geometry_and_unknown_grid_are_refused(store):
    _grid(store)
    with pytest.raises(Conflict):
        _grid(store)
    bowtie = shapely.Polygon([(114.0, 33.0), (114.01, 33.01), (114.01, 33.0), (114.0, 33.01)])
    with pytest.raises(LayerError):
        boundaries.save_feature(store, "grid", "G8", {"name": "x"}, bowtie, None, "planner1")
    with pytest.raises(NotFound):
        boundaries.save_feature(store, "road", "R1", {"name": "人民路", "grid": "NOPE"},
                                box(114.001, 33.001, 114.002, 33.009), None, "planner1")
    assert store.grids_frame()["code"].tolist() == ["G9"]


def test_road_in_grid_as_of_and_restore(store):
    _grid(store)
    road = boundaries.save_feature(store, "road", "R1", {"name": "人民路", "grade": "主干道", "grid": "G9"},
                                   box(114.001, 33.001, 114.002, 33.009), None, "planner1")
    assert road["properties"]["grid"] == "G9"
    drawn_at = utcnow() + timedelta(microseconds=1)
    boundaries.save_feature(store, "road", "R1", {"name": "人民路", "grade": "主干道", "grid": "G9"},
                            box(114.001, 33.001, 114.005, 33.009), 1, "planner1")
    then = boundaries.as_of(store, "road", "R1", drawn_at)
    assert shape(then["geometry"]).equals(box(114.001, 33.001, 114.002, 33.009))
    assert boundaries.as_of(store, "road", "R1", drawn_at - timedelta(days=1)) is None
    with pytest.raises(Conflict):       # restoring over a version the planner has not seen
        boundaries.restore(store, "road", "R1", 1, 1, "planner2")
    restored = boundaries.restore(store, "road", "R1", 1, 2, "planner2")
    assert restored["properties"]["version"] == 3
    assert shape(restored["geometry"]).equals(box(114.001, 33.001, 114.002, 33.009))
    assert boundaries.history(store, "road", "R1")[0]["reason"] == "restore version 1"
    with pytest.raises(NotFound):
        boundaries.restore(store, "road", "R1", 7, 3, "planner2")


def test_imports_are_versioned_in_the_same_transaction(store):
    grids, roads = small_district()
    grids = grids.rename(columns={"class": "grid_class"}).assign(leader=None)
    store.save_grids(grids)
    store.save_roads(roads)
    moved = grids.copy()
    moved.loc[0, "geometry"] = shapely.MultiPolygon([box(114.03, 33.59, 114.041, 33.60)])
    store.save_grids(moved)
    log = boundaries.history(store, "grid", "G1")
    assert [(h["version"], h["changed_by"]) for h in log] == [(2, "import"), (1, "import")]
    assert shape(log[0]["before"]["geometry"]).equals(box(114.03, 33.59, 114.04, 33.60))
    assert shape(log[0]["after"]["geometry"]).equals(box(114.03, 33.59, 114.041, 33.60))
    assert boundaries.history(store, "road", "R41")[0]["after"]["properties"]["grid"] == "G4"
    # a refused import (unknown grid) leaves no history behind
    with pytest.raises(LayerError):
        store.save_roads(roads.assign(grid="NOPE", code=roads["code"] + "x"))
    assert boundaries.history(store, "road", "R11x") == []


def test_an_import_records_each_feature_as_it_is_stored(district, district_files):
    from gisgrid.services import office

    again = json.loads(district_files[1].read_text(encoding="utf-8"))
    for f in again["features"]:
        f["properties"]["name"] += "（改）"
    renamed = district_files[1].with_name("renamed.geojson")
    renamed.write_text(json.dumps(again, ensure_ascii=False), encoding="utf-8")
    office.import_layer(district, "roads", renamed, changed_by="planner1")   # the same roads, renamed
    for code in ("R11", "R42"):
        log = boundaries.history(district, "road", code)
        assert [(h["version"], h["changed_by"]) for h in log] == [(2, "planner1"), (1, "import")]
        stored = json.loads(json.dumps(boundaries.feature(district, "road", code)))   # tuples become lists
        assert log[0]["after"] == stored                                              # exactly what is stored
        assert log[0]["before"]["properties"] == {**log[1]["after"]["properties"]}
        assert shape(log[0]["before"]["geometry"]).equals_exact(shape(log[0]["after"]["geometry"]), 0)


def test_a_save_between_an_imports_plan_and_its_write_is_kept_in_the_history(store):
    """A bulk save plans on a read connection, before the write lock: a planner's save that
    lands in between must not be overwritten by a stale plan — the import is planned again."""
    from gisgrid.storage import Store

    grids, roads = small_district()
    store.save_grids(grids.rename(columns={"class": "grid_class"}).assign(leader=None))
    store.save_roads(roads)
    other = Store(store.url)          # a second app server's planner
    cut_in = []

    def planner_saves_first():
        if not cut_in:
            cut_in.append(boundaries.save_feature(other, "road", "R11", {"name": "改名路"},
                                                  shape(boundaries.feature(other, "road", "R11")["geometry"]), 1,
                                                  "planner1"))
        return turn()

    # before the write lock is taken (on SQLite the writer's turn comes first: taken there)
    turn, store._turn = store._turn, planner_saves_first
    try:
        store.save_roads(roads, changed_by="import2")
    finally:
        del store._turn
        other.dispose()
    log = boundaries.history(store, "road", "R11")
    assert cut_in and [(h["version"], h["changed_by"]) for h in log] == [(3, "import2"), (2, "planner1"), (1, "import")]
    assert log[0]["before"] == log[1]["after"]          # the import's "before" is the planner's save
    assert boundaries.feature(store, "road", "R11")["properties"]["version"] == 3
