"""Point-to-road assignment: inside, on the boundary, overlaps, snapping in metres, rejection,
and a property test against a brute-force reference; plus the synthetic city it is measured on."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from gisgrid.gis.assign import RoadIndex
from gisgrid.gis.synthetic import bench_assign, synthetic_city, synthetic_points

GEOD = Geod(ellps="GRS80")
LON, LAT = 114.0, 33.6


def offset(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return x, y


def square(lon: float, lat: float, half_m: float) -> shapely.Polygon:
    """A square of about 2 × half_m metres centred on (lon, lat)."""
    dlat = half_m / 110_900.0
    dlon = half_m / (111_320.0 * math.cos(math.radians(lat)))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def metric(lon0: float, lat0: float) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"+proj=tmerc +lon_0={lon0} +lat_0={lat0} +k=1 +ellps=GRS80",
                                always_xy=True)


def assign_one(index: RoadIndex, lon: float, lat: float):
    result = index.assign(np.array([lon]), np.array([lat]))
    return int(result.road[0]), float(result.distance_m[0]), float(result.nearest_m[0])


def test_inside_a_road():
    index = RoadIndex([square(LON, LAT, 20), square(LON + 0.01, LAT, 20)])
    assert assign_one(index, LON + 0.01, LAT) == (1, 0.0, 0.0)


def test_on_the_boundary_belongs_to_the_road():
    road = shapely.box(LON, LAT, LON + 0.001, LAT + 0.001)
    index = RoadIndex([road])
    for lon, lat in [(LON, LAT + 0.0005), (LON + 0.001, LAT + 0.0005), (LON + 0.0005, LAT), (LON, LAT)]:
        got, distance, _ = assign_one(index, lon, lat)
        assert got == 0 and distance == 0.0


def test_overlapping_roads_lowest_index_wins():
    index = RoadIndex([square(LON + 0.01, LAT, 5), square(LON, LAT, 30), square(LON, LAT, 20)])
    assert assign_one(index, LON, LAT)[0] == 1


def test_snapped_at_5_m_with_the_true_metric_distance():
    road = square(LON, LAT, 20)
    edge_lon = road.bounds[2]
    lon, lat = offset(edge_lon, LAT, 90, 5.0)
    got, distance, nearest = assign_one(RoadIndex([road]), lon, lat)
    to_m = metric(lon, lat)
    expected = shapely.distance(shapely.transform(road, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1]))),
                                shapely.Point(to_m.transform(lon, lat)))
    assert got == 0
    assert distance == pytest.approx(expected, rel=0.01)
    assert distance == pytest.approx(5.0, rel=0.01)
    assert nearest == distance


def test_rejected_at_40_m_says_how_far_the_road_is():
    road = square(LON, LAT, 20)
    lon, lat = offset(LON, road.bounds[3], 0, 40.0)
    got, distance, nearest = assign_one(RoadIndex([road]), lon, lat)
    assert got == -1 and math.isnan(distance)
    assert nearest == pytest.approx(40.0, rel=0.01)


def test_far_from_every_road_nearest_is_unknown():
    got, distance, nearest = assign_one(RoadIndex([square(LON, LAT, 20)]), LON + 0.1, LAT)
    assert got == -1 and math.isnan(distance) and math.isnan(nearest)


def test_exactly_at_tolerance_snaps_and_just_beyond_does_not():
    road = square(LON, LAT, 20)
    index = RoadIndex([road], tolerance_m=10.0)
    # Measure in the index's own projection, so "exactly 10 m" is exact to a few micrometres.
    x, y = index.to_metric.transform(road.bounds[2], LAT)
    back = Transformer.from_crs(index.to_metric.target_crs, "EPSG:4326", always_xy=True)
    at = back.transform(x + 10.0 - 1e-6, y)
    beyond = back.transform(x + 10.0 + 1e-3, y)
    assert assign_one(index, *at)[0] == 0
    assert assign_one(index, *at)[1] == pytest.approx(10.0, abs=1e-4)
    assert assign_one(index, *beyond)[0] == -1


def test_tolerance_is_in_metres_in_every_direction():
    # At 45°N a degree of longitude is ~30 % shorter than one of latitude: metres must not care.
    lat = 45.0
    road = square(10.0, lat, 50)
    index = RoadIndex([road])
    x0, y0, x1, y1 = road.bounds
    for metres, expected in [(9.0, 0), (11.0, -1)]:
        east = offset(x1, lat, 90, metres)
        north = offset(10.0, y1, 0, metres)
        assert assign_one(index, *east)[0] == expected
        assert assign_one(index, *north)[0] == expected


def test_empty_input_and_no_roads():
    result = RoadIndex([square(LON, LAT, 20)]).assign(np.array([]), np.array([]))
    assert len(result.road) == len(result.distance_m) == len(result.nearest_m) == 0
    assert result.road.dtype == np.int64
    nothing = RoadIndex([]).assign(np.array([LON]), np.array([LAT]))
    assert nothing.road.tolist() == [-1] and math.isnan(nothing.nearest_m[0])


def brute_force(geoms, lon, lat, tolerance_m):
    """The rules written out the slow way: covering road with the lowest index, else the metrically
    nearest road within tolerance."""
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    to_m = metric((x0 + x1) / 2, (y0 + y1) / 2)
    in_metres = [shapely.transform(g, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1]))) for g in geoms]
    roads, distances, clear = [], [], []
    for x, y in zip(lon, lat):
        covering = [i for i, g in enumerate(geoms) if g.covers(shapely.Point(x, y))]
        point = shapely.Point(to_m.transform(x, y))
        d = np.array([point.distance(g) for g in in_metres])
        # Clear: no road within a micrometre without covering the point, none that close to the tolerance.
        near_not_covering = (d < 1e-6) & ~np.isin(np.arange(len(d)), covering)
        clear.append(not near_not_covering.any() and abs(d.min() - tolerance_m) > 1e-6)
        if covering:
            roads.append(covering[0])
            distances.append(0.0)
            continue
        best = int(np.argmin(d))
        roads.append(best if d[best] <= tolerance_m else -1)
        distances.append(d[best])
    return np.array(roads), np.array(distances), np.array(clear, dtype=bool)


coordinate = st.floats(-1.0, 1.0, allow_nan=False)
triangle = st.tuples(*[st.tuples(coordinate, coordinate)] * 3).filter(
    lambda t: abs(shapely.Polygon(t).area) > 0.05)


@settings(max_examples=60, deadline=None)
@given(triangles=st.lists(triangle, min_size=1, max_size=4),
       points=st.lists(st.tuples(st.floats(-1.3, 1.3), st.floats(-1.3, 1.3)), min_size=1, max_size=30),
       lat0=st.sampled_from([0.0, 33.6, 60.0]))
def test_matches_a_brute_force_reference(triangles, points, lat0):
    # Unit coordinates scaled to ~50 m shapes, so some points land within the 10 m tolerance.
    scale = 50 / 111_320.0
    geoms = [shapely.Polygon([(LON + x * scale, lat0 + y * scale) for x, y in t]) for t in triangles]
    lon = np.array([LON + x * scale for x, _ in points])
    lat = np.array([lat0 + y * scale for _, y in points])
    expected_road, expected_m, sure = brute_force(geoms, lon, lat, 10.0)
    result = RoadIndex(geoms, tolerance_m=10.0).assign(lon, lat)
    assert result.road[sure].tolist() == expected_road[sure].tolist()
    placed = result.road >= 0
    assert np.allclose(result.distance_m[placed], expected_m[placed], atol=1e-6)
    assert np.isnan(result.distance_m[~placed]).all()


def test_synthetic_city_is_valid():
    grids, roads = synthetic_city(12, 8, seed=3)
    assert len(grids) == 12 and len(roads) == 96
    assert list(grids.columns) == ["code", "name", "town", "grid_class", "leader", "geometry"]
    assert list(roads.columns) == ["code", "name", "grade", "grid", "geometry"]
    assert grids.crs.to_epsg() == roads.crs.to_epsg() == 4326
    assert shapely.is_valid(roads.geometry.values).all() and shapely.is_valid(grids.geometry.values).all()
    grid_of = grids.set_index("code").geometry
    assert all(grid_of[g].contains(r) for g, r in zip(roads["grid"], roads.geometry))
    vertices = shapely.get_num_coordinates(roads.geometry.values)
    assert vertices.min() >= 10 and vertices.max() <= 40
    left, right = roads.sindex.query(roads.geometry.values, predicate="intersects")
    assert (left == right).all(), "roads must not overlap"
    lon, lat = synthetic_points(roads, 500, seed=4)
    again = synthetic_points(roads, 500, seed=4)
    assert np.array_equal(lon, again[0]) and np.array_equal(lat, again[1])
    inside = RoadIndex(roads.geometry.values).assign(lon, lat).distance_m == 0
    assert 0.9 <= inside.mean() < 1.0


def test_bench_assign_on_a_small_city_agrees_with_sjoin():
    _, roads = synthetic_city(20, 8, seed=0)
    lon, lat = synthetic_points(roads, 5_000, seed=1)
    result = bench_assign(roads, lon, lat, runs=1)
    assert result["agree"] is True
    assert result["assign_per_s"] > 0 and result["sjoin_per_s"] > 0 and result["ratio"] > 0
    assert result["index_build_s"] >= 0
