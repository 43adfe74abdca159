"""Which road a finding's point belongs to: inside a road polygon, or snapped to the nearest
road within a tolerance in metres, or rejected with how far the nearest road is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer

SEARCH_M = 1000.0          # how far to look for "the nearest road is 42 m away"
CHUNK = 65_536
PART = 8192   # pairs tested at once: their edge rows stay in the CPU cache (measured best)


@dataclass(frozen=True)
class Assignment:
    road: np.ndarray        # index into the roads, -1 when rejected
    distance_m: np.ndarray  # 0 inside, > 0 snapped, nan rejected
    nearest_m: np.ndarray   # when rejected and explained: metres to the nearest road within SEARCH_M, else nan


class RoadIndex:
    def __init__(self, geoms, tolerance_m: float = 10.0):
        self.geoms = np.asarray(list(geoms), dtype=object)
        self.tolerance_m = float(tolerance_m)
        shapely.prepare(self.geoms)
        if len(self.geoms):
            x0, y0, x1, y1 = shapely.total_bounds(self.geoms)
            self.centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        else:
            self.centre = (0.0, 0.0)
        # A transverse Mercator centred on the data: metres accurate to well under 0.1 % across a city.
        self.to_metric = Transformer.from_crs(
            "EPSG:4326", f"+proj=tmerc +lon_0={self.centre[0]} +lat_0={self.centre[1]} +k=1 +ellps=GRS80 +units=m",
            always_xy=True)
        self.bounds = shapely.bounds(self.geoms) if len(self.geoms) else np.zeros((0, 4))
        self.cells = _Buckets(self.bounds)
        self.edges = _Edges(self.geoms)
        # Misses are searched in metres directly, so the candidate window is exact in every
        # direction and at every latitude (no degree window to get wrong).
        self.metric_geoms = self._metric(self.geoms)
        self.metric_tree = shapely.STRtree(self.metric_geoms)

    def _metric(self, geoms):
        return shapely.transform(geoms, lambda c: np.column_stack(self.to_metric.transform(c[:, 0], c[:, 1])))

    def _inside(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Lowest index of a road containing each point, -1 if none: bucket candidates, bbox
        filter, then an exact point-in-polygon test, all on arrays (no Point objects)."""
        p, r = self.cells.candidates(lon, lat)
        b = self.bounds[r]
        keep = (lon[p] >= b[:, 0]) & (lon[p] <= b[:, 2]) & (lat[p] >= b[:, 1]) & (lat[p] <= b[:, 3])
        p, r = p[keep], r[keep]
        inside = self.edges.contains(r, lon[p], lat[p], self.geoms)
        out = np.full(len(lon), -1, dtype=np.int64)
        # pairs come grouped by point with road indexes ascending: the first inside pair wins
        p_in, r_in = p[inside], r[inside]
        first = np.flatnonzero(np.r_[True, p_in[1:] != p_in[:-1]]) if len(p_in) else np.zeros(0, np.int64)
        out[p_in[first]] = r_in[first]
        # The even-odd test may miss a boundary point; that matters only where a lower-indexed
        # road touches it (points found nowhere are settled by _nearest, which sees boundaries).
        doubt = ~inside & (out[p] > r)
        touch = shapely.intersects_xy(self.geoms[r[doubt]], lon[p[doubt]], lat[p[doubt]])
        np.minimum.at(out, p[doubt][touch], r[doubt][touch])
        return out

    def _nearest(self, lon, lat, within_m: float) -> tuple[np.ndarray, np.ndarray]:
        """(road, metres) of the metrically nearest road within `within_m` (-1/nan if none);
        ties go to the lowest index."""
        n = len(lon)
        road, dist = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
        if n == 0:
            return road, dist
        points = shapely.points(np.column_stack(self.to_metric.transform(lon, lat)))
        p, r = self.metric_tree.query(points, predicate="dwithin", distance=within_m)
        if len(p) == 0:
            return road, dist
        d = shapely.distance(points[p], self.metric_geoms[r])
        # On the boundary the even-odd test may say "outside" and the projection leaves a
        # nanometre: a point the road covers is at 0 m.
        d[shapely.intersects_xy(self.geoms[r], lon[p], lat[p])] = 0.0
        order = np.lexsort((r, d, p))
        first = np.unique(p[order], return_index=True)[1]
        chosen = order[first]
        road[p[chosen]] = r[chosen]
        dist[p[chosen]] = d[chosen]
        return road, dist

    def assign(self, lon, lat, explain: bool = True) -> Assignment:
        """Place points on roads. With `explain`, each refused point also gets the distance
        to its nearest road (for the message a person reads); without, its nearest_m is nan."""
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        n = len(lon)
        if n == 0 or len(self.geoms) == 0:
            empty = np.full(n, np.nan)
            return Assignment(np.full(n, -1, dtype=np.int64), empty, empty.copy())
        # Points in bucket order: neighbouring points test the same roads while they are in cache.
        order = self.cells.order(lon, lat)
        s_lon, s_lat = lon[order], lat[order]
        size = max(CHUNK, -(-n // 2))  # two halves: one per core
        chunks = [(s_lon[i:i + size], s_lat[i:i + size]) for i in range(0, n, size)]
        road = np.empty(n, dtype=np.int64)
        if len(chunks) == 1:     # one tablet's pin: starting threads would cost more than the test
            road[order] = self._inside(*chunks[0])
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:  # numpy and GEOS work release the GIL
                road[order] = np.concatenate(list(pool.map(lambda c: self._inside(*c), chunks)))
        distance = np.where(road >= 0, 0.0, np.nan)
        nearest = distance.copy()
        miss = np.flatnonzero(road < 0)
        near_road, near_m = self._nearest(lon[miss], lat[miss], self.tolerance_m)
        snap = near_road >= 0
        road[miss[snap]] = near_road[snap]
        distance[miss[snap]] = near_m[snap]
        nearest[miss[snap]] = near_m[snap]
        # Refused pins: how far the nearest road is, searched close first (in a city almost
        # every pin has a road within 50 m), then out to SEARCH_M for the rest.
        far = miss[~snap] if explain else miss[:0]
        for radius in (50.0, SEARCH_M):
            found = self._nearest(lon[far], lat[far], radius)[1]
            nearest[far] = found
            far = far[np.isnan(found)]
        return Assignment(road, distance, nearest)


class _Buckets:
    """A uniform grid over the roads' extent, each cell listing the roads whose bounding box
    touches it (CSR layout), so a point's candidate roads are one array lookup away."""

    def __init__(self, bounds: np.ndarray):
        if len(bounds) == 0:
            self.n = 0
            return
        self.x0, self.y0 = bounds[:, 0].min(), bounds[:, 1].min()
        width, height = bounds[:, 2].max() - self.x0, bounds[:, 3].max() - self.y0
        typical = max(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])), 1e-9)
        self.size = max(typical / 8, np.sqrt(max(width * height, 1e-18) / 4_000_000), 1e-9)
        self.nx = int(width // self.size) + 1
        self.ny = int(height // self.size) + 1
        ix0, iy0 = self._cell(bounds[:, 0], bounds[:, 1])
        ix1, iy1 = self._cell(bounds[:, 2], bounds[:, 3])
        spans_x, spans_y = ix1 - ix0 + 1, iy1 - iy0 + 1
        per_road = spans_x * spans_y
        road = np.repeat(np.arange(len(bounds)), per_road)
        k = np.arange(per_road.sum()) - np.repeat(np.cumsum(per_road) - per_road, per_road)
        cx = ix0[road] + k % spans_x[road]
        cy = iy0[road] + k // spans_x[road]
        cell = cy.astype(np.int64) * self.nx + cx
        order = np.argsort(cell, kind="stable")
        self.roads = road[order]
        self.start = np.searchsorted(cell[order], np.arange(self.nx * self.ny + 1))
        self.n = len(bounds)

    def _cell(self, x, y):
        ix = np.clip(((x - self.x0) // self.size).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((y - self.y0) // self.size).astype(np.int64), 0, self.ny - 1)
        return ix, iy

    def order(self, lon, lat) -> np.ndarray:
        """A permutation putting nearby points together: tiles of cells numbered in 16 bits,
        so numpy sorts them by radix in a few milliseconds."""
        if self.n == 0:
            return np.arange(len(lon))
        ix, iy = self._cell(lon, lat)
        side = int(np.ceil(np.sqrt(self.nx * self.ny / 65536)))
        tiles_x = -(-self.nx // side)
        return np.argsort(((iy // side) * tiles_x + ix // side).astype(np.uint16), kind="stable")

    def candidates(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(point, road) pairs whose road's bounding box may hold the point."""
        if self.n == 0 or len(lon) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ix, iy = self._cell(lon, lat)
        cell = iy * self.nx + ix
        first, count = self.start[cell], self.start[cell + 1] - self.start[cell]
        point = np.repeat(np.arange(len(lon)), count)
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        return point, self.roads[np.repeat(first, count) + offset]


class _Edges:
    """Every road's ring edges padded into arrays, for an even-odd point-in-polygon test on
    many (point, road) pairs at once; roads with very many vertices use GEOS instead."""

    MAX_EDGES = 64

    def __init__(self, geoms: np.ndarray):
        n = len(geoms)
        parts, part_road = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        road_of_coord = part_road[ring_part][ring_of]
        # an edge joins consecutive coordinates of the same ring
        same = ring_of[1:] == ring_of[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        edge_road = road_of_coord[:-1][same]
        counts = np.bincount(edge_road, minlength=n)
        self.small = counts <= self.MAX_EDGES
        width = int(counts[self.small].max()) if self.small.any() else 1
        slot = np.arange(len(edge_road)) - np.repeat(np.cumsum(counts) - counts, counts)
        # One row per road: (ax, ay, by, dx/dy) per edge, interleaved so a pair costs one gather.
        # Padding edges are (0,0)-(0,0): horizontal, they never cross a ray.
        self.table = np.zeros((n, width, 4))
        fits = self.small[edge_road]
        rows, cols = edge_road[fits], slot[fits]
        a, b = a[fits], b[fits]
        with np.errstate(all="ignore"):
            slope = (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        # Horizontal edges never cross the ray; an edge of subnormal height would give an
        # infinite slope, and is as good as horizontal.
        slope[~np.isfinite(slope)] = 0.0
        self.table[rows, cols] = np.column_stack([a[:, 0], a[:, 1], b[:, 1], slope])

    def contains(self, road: np.ndarray, x: np.ndarray, y: np.ndarray, geoms: np.ndarray) -> np.ndarray:
        result = np.zeros(len(road), dtype=bool)
        small = self.small[road] if len(road) else np.zeros(0, bool)
        idx = np.flatnonzero(small)
        for start in range(0, len(idx), PART):
            part = idx[start:start + PART]
            edges, px, py = self.table[road[part]], x[part, None], y[part, None]
            ay = edges[:, :, 1]
            crosses = (ay > py) != (edges[:, :, 2] > py)
            at_x = edges[:, :, 0] + (py - ay) * edges[:, :, 3]
            result[part] = np.count_nonzero(crosses & (px < at_x), axis=1) % 2 == 1
        big = np.flatnonzero(~small)
        if len(big):
            result[big] = shapely.contains_xy(geoms[road[big]], x[big], y[big])
        return result
