"""Data built in code for the tests, so a reader sees each case in the test."""

from datetime import datetime
from zoneinfo import ZoneInfo

# The instant every test but the browser's lives in (conftest's clock): late November 2026 in
# Beijing, the last third of the month (when the office draws), so tests pass whatever the
# machine's date is.
FROZEN_AT = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

# Four grids near Luohe (114.03–114.06°E, 33.58–33.60°N): G1 with three roads, G2 with one,
# G3 with none, G4 with two. Roads are thin boxes (~22 m wide) well inside their grid.

def box(x0, y0, x1, y1):
    import shapely

    return shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])


def small_district():
    import geopandas as gpd

    grids = gpd.GeoDataFrame({
        "code": ["G1", "G2", "G3", "G4"],
        "name": ["沙北街道第1网格", "沙北街道第2网格", "城关镇第1网格", "城关镇第2网格"],
        "town": ["沙北街道", "沙北街道", "城关镇", "城关镇"],
        "class": ["A", "B", "C", "A"],
    }, geometry=[box(114.03, 33.59, 114.04, 33.60), box(114.04, 33.59, 114.05, 33.60),
                 box(114.05, 33.59, 114.06, 33.60), box(114.03, 33.58, 114.04, 33.59)], crs=4326)
    roads = gpd.GeoDataFrame({
        "code": ["R11", "R12", "R13", "R21", "R41", "R42"],
        "name": ["人民路", "黄河路", "文化巷", "嵩山路", "淞江路", "交通路"],
        "grade": ["主干道", "次干道", "背街小巷", "主干道", "次干道", "背街小巷"],
        "grid": ["G1", "G1", "G1", "G2", "G4", "G4"],
    }, geometry=[box(114.031, 33.5950, 114.039, 33.5952), box(114.0350, 33.591, 114.0352, 33.5945),
                 box(114.031, 33.5970, 114.039, 33.5972), box(114.041, 33.5950, 114.049, 33.5952),
                 box(114.031, 33.5850, 114.039, 33.5852), box(114.031, 33.5870, 114.039, 33.5872)], crs=4326)
    return grids, roads


def finding(id, lon, lat, rule, observed_at="2026-11-25T10:00:00+08:00", **props):
    """(properties, lon, lat) as office.record_findings takes them."""
    return ({"id": id, "rule": rule, "observed_at": observed_at, **props}, lon, lat)


def stored_as_of_old(store, month, road, spot, rule, id, count=1, observed_at="2026-11-25T10:00:00+08:00"):
    """A finding written straight into the table, as a database from before the import refused
    rules that are not spots in the street (6.3.2, 8.1) may hold: scoring still counts it."""
    import shapely

    store.add_findings([{"external_id": id, "road_id": store.road_ids()[road], "month": month, "rule": rule,
                         "count": count, "area_m2": None, "observed_at": datetime.fromisoformat(observed_at),
                         "deadline": None, "note": None, "snapped_m": 0.0, "geom": shapely.Point(*spot),
                         "inspector_id": None}])
