"""An import compares the file with what is stored and plans its writes before it takes the
write lock (SQLite has one for the whole database: every tablet's write waits while it is held),
and under the lock only checks and writes. A change another planner makes in between is not
overwritten (the import is compared and planned again, holding the lock), and a month drawn in
between does not see the imported roads as there when it was drawn."""

from contextlib import contextmanager

import pytest
import shapely

from fixtures import box, finding, small_district
from gisgrid.domain.errors import LayerError
from gisgrid.services import office
from gisgrid.storage import Store, boundaries, bulk


def meanwhile(store, change):
    """`store`, whose import's write transaction (on the connection it planned and staged on)
    starts only after `change` was made through another app server on the same database."""
    real = store.begin_on

    @contextmanager
    def begin_on(conn):
        del store.begin_on                 # the method again, for anything after
        other = Store(store.url)
        try:
            change(other)
        finally:
            other.dispose()
        with real(conn) as conn:
            yield conn
    store.begin_on = begin_on


def test_a_grid_changed_while_the_import_was_being_planned_keeps_that_change(district, tmp_path):
    grids, _ = small_district()
    grids.loc[grids.code == "G1", "name"] = "沙北街道一号网格"
    grids[["code", "name", "geometry"]].to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    stored = boundaries.feature(district, "grid", "G1")["properties"]

    def lead(other):       # another planner gives G1 a leader while the import compares
        row = boundaries.feature(other, "grid", "G1")
        boundaries.save_feature(other, "grid", "G1", {**row["properties"], "leader": "李四"},
                                shapely.geometry.shape(row["geometry"]), row["properties"]["version"], "li")
    meanwhile(district, lead)
    result = office.import_layer(district, "grids", tmp_path / "grids.geojson", changed_by="zhang")

    now = boundaries.feature(district, "grid", "G1")["properties"]
    assert (now["name"], now["leader"], now["town"]) == ("沙北街道一号网格", "李四", stored["town"])
    assert [h["changed_by"] for h in boundaries.history(district, "grid", "G1")][:2] == ["zhang", "li"]
    assert now["version"] == stored["version"] + 2 and result.updated == 1


def test_a_month_drawn_while_the_import_was_being_planned_does_not_see_its_roads(district, tmp_path):
    _, roads = small_district()
    new = roads.iloc[[0]].assign(code="R14", name="新路", geometry=[box(114.031, 33.5990, 114.039, 33.5992)])
    new.to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    meanwhile(district, lambda other: office.sample_month(other, "2026-11", seed=1))
    office.import_layer(district, "roads", tmp_path / "roads.geojson")

    drawn_at = district.sample("2026-11").drawn_at
    assert "R14" in district.road_geometries()[1]
    assert "R14" not in boundaries.road_geometries_as_of(district, drawn_at)[1]
    assert boundaries.feature(district, "road", "R14")["properties"]["updated_at"] >= \
        drawn_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_new_roads_naming_a_grid_not_stored_are_refused_and_nothing_is_written(district, tmp_path):
    _, roads = small_district()
    new = roads.iloc[[0, 1]].assign(code=["R14", "R15"], grid=["G1", "G9"],
                                    geometry=[box(114.031, 33.5990, 114.039, 33.5992)] * 2)
    new.to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    before = district.road_geometries()[1]
    with pytest.raises(LayerError, match="Roads name grids that are not in the database: G9"):
        office.import_layer(district, "roads", tmp_path / "roads.geojson")
    assert district.road_geometries()[1] == before
    assert boundaries.history(district, "road", "R14") == []


def test_a_tablets_finding_is_written_while_an_import_copies_its_rows(district, tmp_path, monkeypatch):
    """The rows are staged off SQLite's one lock: a finding recorded through another app server
    meanwhile is stored at once, and the import then writes every road (PostgreSQL has no such
    lock and stages nothing)."""
    _, roads = small_district()
    new = roads.iloc[[0]].assign(code="R14", name="新路", geometry=[box(114.031, 33.5990, 114.039, 33.5992)])
    new.to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    staged, recorded = bulk._stage, []

    def stage_then_a_tablet_writes(conn, *args):
        staged(conn, *args)
        other = Store(district.url)
        try:
            recorded.append(office.record_findings(
                other, [finding(f"t{len(recorded)}", 114.035, 33.5951, "5.1")]).accepted)
        finally:
            other.dispose()
    monkeypatch.setattr(bulk, "_stage", stage_then_a_tablet_writes)
    result = office.import_layer(district, "roads", tmp_path / "roads.geojson")
    assert result.created == 1 and "R14" in district.road_geometries()[1]
    assert recorded == ([1, 1] if district.engine.dialect.name == "sqlite" else [])   # the roads, their history
    assert district.count("findings") == len(recorded)
