"""A synthetic city for benchmarks: any number of ~300 m grids, each with road polygons of
realistic complexity, built vectorised so 20,000 grids take seconds; random findings on it;
and gisgrid's point-to-road assignment measured against geopandas.sjoin in the same run."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

CELL = 300.0                       # metres per grid side
METRIC = "EPSG:4547"               # CGCS2000 3° Gauss-Krüger, central meridian 114°E
ORIGIN = (114.0, 33.6)


def _to_wgs84(geoms: np.ndarray) -> np.ndarray:
    transformer = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
    return shapely.transform(geoms, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1])))


def synthetic_city(n_grids: int, roads_per_grid: int = 8, seed: int = 0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    x0, y0 = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True).transform(*ORIGIN)
    cols = int(np.ceil(np.sqrt(n_grids)))
    index = np.arange(n_grids)
    gx, gy = x0 + (index % cols) * CELL, y0 + (index // cols) * CELL
    grid_geoms = np.array([shapely.MultiPolygon([g]) for g in shapely.box(gx, gy, gx + CELL, gy + CELL)])
    codes = np.char.add("G", np.char.zfill(index.astype(str), 6))

    # Roads: bent street centre lines across each grid, one band each, buffered by a width.
    k = roads_per_grid
    band = CELL / k
    road_grid = np.repeat(index, k)
    slot = np.tile(np.arange(k), n_grids)
    vertices = 6
    xs = np.linspace(12.0, CELL - 12.0, vertices)
    width = rng.uniform(6.0, min(30.0, band - 6.0), len(road_grid))
    jitter = rng.uniform(-1.0, 1.0, (len(road_grid), vertices)) * np.minimum(4.0, (band - width)[:, None] / 2 - 1.0)
    cx = gx[road_grid][:, None] + xs[None, :]
    cy = gy[road_grid][:, None] + (slot[:, None] + 0.5) * band + jitter
    lines = shapely.linestrings(np.stack([cx, cy], axis=-1))
    polygons = shapely.buffer(lines, width / 2, cap_style="flat", join_style="round", quad_segs=2)
    road_geoms = np.array([shapely.MultiPolygon([p]) for p in polygons])

    towns = np.array(["沙北街道", "城关镇", "龙城镇", "孟庙镇"])
    grids = gpd.GeoDataFrame({
        "code": codes, "name": np.char.add(codes, "网格"), "town": towns[index % 4],
        "grid_class": np.array(["A", "B", "C"])[index % 3], "leader": None,
    }, geometry=_to_wgs84(grid_geoms), crs=4326)
    grades = np.array(["主干道", "次干道", "背街小巷"])
    roads = gpd.GeoDataFrame({
        "code": np.char.add(np.char.add("R", np.char.zfill(road_grid.astype(str), 6)), np.char.zfill(slot.astype(str), 2)),
        "name": np.char.add(np.char.add("路", road_grid.astype(str)), slot.astype(str)),
        "grade": grades[(width < 12).astype(int) + (width < 20).astype(int)],
        "grid": codes[road_grid],
    }, geometry=_to_wgs84(road_geoms), crs=4326)
    return grids, roads


def synthetic_points(roads: gpd.GeoDataFrame, n: int, seed: int = 0, outside_share: float = 0.05
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Points uniformly inside random roads, except `outside_share` scattered: half just off a
    road's edge (to be snapped or refused), half anywhere in the city."""
    rng = np.random.default_rng(seed)
    geoms = roads.geometry.values
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    n_out = int(round(n * outside_share))
    n_in = n - n_out
    lon, lat = np.empty(n_in), np.empty(n_in)
    todo = np.arange(n_in)
    which = rng.integers(0, len(geoms), n_in)
    while len(todo):
        b = bounds[which[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(geoms[which[todo]], x, y)
        lon[todo[ok]], lat[todo[ok]] = x[ok], y[ok]
        todo = todo[~ok]
    near = n_out // 2
    b = bounds[rng.integers(0, len(geoms), near)]
    near_lon = rng.uniform(b[:, 0], b[:, 2])
    near_lat = b[:, 3] + rng.uniform(1, 15, near) / 111_320.0     # 1–15 m north of a road's top edge
    x0, y0, x1, y1 = roads.total_bounds
    far_lon, far_lat = rng.uniform(x0, x1, n_out - near), rng.uniform(y0, y1, n_out - near)
    all_lon = np.concatenate([lon, near_lon, far_lon])
    all_lat = np.concatenate([lat, near_lat, far_lat])
    order = rng.permutation(n)
    return all_lon[order], all_lat[order]


def _best_of(runs: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_assign(roads: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, runs: int = 3) -> dict:
    """gisgrid's assignment (from coordinate arrays, snapping included) against
    geopandas.sjoin(predicate="within") on prebuilt GeoDataFrames, same points, same run.
    Also timed: the same with each refused point explained (its nearest road's distance),
    as an import does for its report."""
    from .assign import RoadIndex

    build_s, index = _best_of(1, lambda: RoadIndex(roads.geometry.values))
    ours_s, ours = _best_of(runs, lambda: index.assign(lon, lat, explain=False))
    explained_s, _ = _best_of(runs, lambda: index.assign(lon, lat))
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    plain_roads = roads[["geometry"]].reset_index(drop=True)
    sjoin_s, joined = _best_of(runs, lambda: gpd.sjoin(points, plain_roads, predicate="within"))
    first = joined.groupby(level=0)["index_right"].min()
    inside = np.flatnonzero(ours.distance_m == 0)
    agree = bool(np.array_equal(np.sort(first.index.to_numpy()), inside)
                 and np.array_equal(ours.road[first.index.to_numpy()], first.to_numpy()))
    return {"assign_per_s": len(lon) / ours_s, "sjoin_per_s": len(lon) / sjoin_s, "ratio": sjoin_s / ours_s,
            "assign_explained_per_s": len(lon) / explained_s, "agree": agree, "index_build_s": build_s}
