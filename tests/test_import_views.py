"""The views GIS users open in QGIS on PostgreSQL (issue 14 §5, migration 0012): current grids,
current roads with their grid's code and town, findings with road and grid codes and the local
time they were observed; retired and deleted rows hidden."""

import pytest
import shapely
from sqlalchemy import text

from fixtures import finding
from gisgrid.services import office
from gisgrid.storage import boundaries


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_the_gis_views_show_what_is_current_with_codes_towns_and_local_times(district):
    office.record_findings(district, [finding("f1", 114.035, 33.5951, "5.1", observed_at="2026-11-01T07:00:00+08:00")])
    road = boundaries.feature(district, "road", "R13")
    boundaries.retire(district, "road", "R13", road["properties"]["version"], "setup")
    grid = boundaries.feature(district, "grid", "G3")                   # G3 has no roads: it may go
    boundaries.retire(district, "grid", "G3", grid["properties"]["version"], "setup")
    with district.engine.connect() as conn:
        grids = conn.execute(text("SELECT code FROM gis_grids ORDER BY code")).scalars().all()
        roads = conn.execute(text("SELECT code, grid_code, town FROM gis_roads ORDER BY code")).all()
        found = conn.execute(text("SELECT external_id, road_code, grid_code, town, observed_local, "
                                  "GeometryType(geom) FROM gis_findings")).all()
        registered = conn.execute(text("SELECT f_table_name, type, srid FROM geometry_columns "
                                       "WHERE f_table_name LIKE 'gis_%' ORDER BY 1")).all()
    assert grids == ["G1", "G2", "G4"]
    assert [tuple(r) for r in roads] == [("R11", "G1", "沙北街道"), ("R12", "G1", "沙北街道"), ("R21", "G2", "沙北街道"),
                                         ("R41", "G4", "城关镇"), ("R42", "G4", "城关镇")]
    assert len(found) == 1 and tuple(found[0])[:4] == ("f1", "R11", "G1", "沙北街道")
    assert found[0][4].isoformat() == "2026-11-01T07:00:00" and found[0][5] == "POINT"   # Beijing time, not UTC
    # QGIS lists a view as a layer from geometry_columns: each has its type and SRID
    assert [tuple(r) for r in registered] == [("gis_findings", "POINT", 4326), ("gis_grids", "MULTIPOLYGON", 4326),
                                              ("gis_roads", "MULTIPOLYGON", 4326)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_has_no_gis_views(store):
    with store.engine.connect() as conn:
        views = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'view'")).scalars().all()
    assert views == []
