"""Bootstrap from OpenStreetMap: road polygons from an OSM extract (XML or PBF) — street
lines buffered by a width per highway class in a metric CRS, named from OSM — split at grid
borders; and, for a district without grids, a first regular grid layout to edit. No Flask."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from ..domain.errors import LayerError
from .crs import metric_crs
from .formats import gdal_error, restricted_source

# Street width (m) by OSM highway class; classes not listed (footways, paths …) are not roads
# an inspector assesses.
WIDTH_M = {"motorway": 30, "trunk": 30, "primary": 30, "secondary": 20, "tertiary": 16, "unclassified": 10,
           "residential": 10, "living_street": 8, "service": 6, "pedestrian": 8,
           "motorway_link": 10, "trunk_link": 10, "primary_link": 10, "secondary_link": 8, "tertiary_link": 8}
GRADE = {"motorway": "主干道", "trunk": "主干道", "primary": "主干道", "secondary": "次干道", "tertiary": "次干道"}
UNNAMED = "未命名道路"


def read_streets(path, restricted: bool = True) -> gpd.GeoDataFrame:
    """The extract's street lines (WGS84) with name and highway class; when `restricted` (a web
    upload), only from a file whose content is OSM XML or PBF."""
    source = restricted_source(path, ("OSM",)) if restricted else path
    try:
        try:
            lines = pyogrio.read_dataframe(source, layer="lines", columns=["osm_id", "name", "highway"])
        except Exception as exc:
            if "CUSTOM_INDEXING" not in str(exc):
                raise
            # GDAL's fast node index needs node ids in increasing order; extracts cut or merged by
            # some tools do not keep it. The slower index takes any order.
            lines = pyogrio.read_dataframe(source, layer="lines", columns=["osm_id", "name", "highway"],
                                           USE_CUSTOM_INDEXING="NO")
    except Exception as exc:
        raise LayerError("Cannot read the OSM extract {path}: {error}", path=Path(path).name,
                         error=gdal_error(exc, Path(path))) from None
    streets = lines[lines["highway"].isin(list(WIDTH_M))].copy()
    if streets.empty:
        raise LayerError("{path} holds no streets (OSM highway lines)", path=Path(path).name)
    streets["name"] = streets["name"].fillna(UNNAMED)
    return streets.set_crs(4326, allow_override=True)


def draft_grids(streets: gpd.GeoDataFrame, size_m: float = 500.0) -> gpd.GeoDataFrame:
    """A first layout for a district without grids: squares of `size_m` over the streets'
    extent, kept where streets run, for the planner to reshape."""
    x0, y0, x1, y1 = streets.total_bounds
    metric = metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    lines = streets.to_crs(metric)
    mx0, my0, mx1, my1 = lines.total_bounds
    xs = np.arange(mx0, mx1, size_m)
    ys = np.arange(my0, my1, size_m)
    cells = [shapely.box(x, y, x + size_m, y + size_m) for y in ys for x in xs]
    tree = shapely.STRtree(lines.geometry.values)
    used = [c for c in cells if len(tree.query(c, predicate="intersects"))]
    frame = gpd.GeoDataFrame({"code": [f"DRAFT{n + 1:04d}" for n in range(len(used))]},
                             geometry=[shapely.MultiPolygon([c]) for c in used], crs=metric).to_crs(4326)
    frame["name"] = [f"草稿网格{n + 1}" for n in range(len(used))]
    frame["town"], frame["grid_class"], frame["leader"] = None, None, None
    return frame[["code", "name", "town", "grid_class", "leader", "geometry"]]


def bootstrap_roads(path, grids: gpd.GeoDataFrame | None = None, grid_size_m: float = 500.0,
                    restricted: bool = True) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(road polygons, grids): each street buffered by its class width and dissolved by name
    and class, then cut at grid borders so every road lies in one grid."""
    streets = read_streets(path, restricted)
    drafting = grids is None or grids.empty
    if drafting:
        grids = draft_grids(streets, grid_size_m)
    x0, y0, x1, y1 = streets.total_bounds
    metric = metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    lines = streets.to_crs(metric)
    lines["area"] = shapely.buffer(lines.geometry.values, lines["highway"].map(WIDTH_M).to_numpy() / 2,
                                   cap_style="flat", join_style="round", quad_segs=4)
    lines["grade"] = lines["highway"].map(GRADE).fillna("背街小巷")
    streets_m = (gpd.GeoDataFrame(lines[["name", "grade"]], geometry=lines["area"], crs=metric)
                 .dissolve(by=["name", "grade"], as_index=False))
    grid_m = grids.to_crs(metric)
    s, g = shapely.STRtree(grid_m.geometry.values).query(streets_m.geometry.values, predicate="intersects")
    pieces = shapely.intersection(streets_m.geometry.values[s], grid_m.geometry.values[g])
    polygonal = [shapely.MultiPolygon([p for p in shapely.get_parts(x) if p.geom_type == "Polygon"])
                 for x in pieces]
    area = shapely.area(polygonal)
    keep = area > 20.0  # corners clipped to a few m² are not roads
    roads = gpd.GeoDataFrame({"name": streets_m["name"].to_numpy()[s][keep], "grade": streets_m["grade"].to_numpy()[s][keep],
                              "grid": grid_m["code"].to_numpy()[g][keep]},
                             geometry=np.array(polygonal, dtype=object)[keep], crs=metric).to_crs(4326)
    if roads.empty and not drafting:
        x0, y0, x1, y1 = streets.total_bounds
        g0, h0, g1, h1 = grids.to_crs(4326).total_bounds
        raise LayerError("{path}: its {n} streets lie outside every grid (streets {streets}; grids {grids}), so no "
                         "road can be drafted: use an extract of the district's own area", path=Path(path).name,
                         n=len(streets), streets=f"{x0:.3f}, {y0:.3f} – {x1:.3f}, {y1:.3f}",
                         grids=f"{g0:.3f}, {h0:.3f} – {g1:.3f}, {h1:.3f}")
    roads = roads.sort_values(["grid", "name"]).reset_index(drop=True)
    roads["code"] = [f"{grid}-{n + 1:02d}" for grid, n in zip(roads["grid"], roads.groupby("grid").cumcount())]
    return roads[["code", "name", "grade", "grid", "geometry"]], grids
