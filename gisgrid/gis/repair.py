"""Geometry as planners' files bring it: polygons only, repaired where two standard repairs
agree, refused by name where they do not."""

from __future__ import annotations
import numpy as np
import shapely
from ..domain.errors import LayerError
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .layers import LayerReport


POLYGON, MULTIPOLYGON, COLLECTION, POINT = 3, 6, 7, 0  # shapely type ids


def _require_geometry(geoms: np.ndarray, labels: list[str], name: str) -> None:
    missing = [label for label, g in zip(labels, shapely.is_missing(geoms) | shapely.is_empty(geoms)) if g]
    if missing:
        raise LayerError("{path}: features without geometry: {codes}", path=name, codes=", ".join(missing[:20]))


def _polygons(geoms: np.ndarray, codes: list[str], name: str, report: LayerReport) -> np.ndarray:
    """2D polygons; collections keep their polygons when they have some (lines, points dropped)."""
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(types == COLLECTION):
        polygonal = _polygonal_part(geoms[i])
        if polygonal is not None:
            geoms[i] = polygonal
            types[i] = MULTIPOLYGON
            report.repaired.append((codes[i], "geometry collection reduced to its polygons"))
    if not np.isin(types, (POLYGON, MULTIPOLYGON)).all():
        kinds = sorted({g.geom_type for g, t in zip(geoms, types) if t not in (POLYGON, MULTIPOLYGON)})
        raise LayerError("{path}: grids and roads must be polygons (this layer has {types})", path=name,
                         types=", ".join(kinds))
    return shapely.force_2d(geoms)


def _repaired(geoms: np.ndarray, codes: list[str], name: str, report: LayerReport) -> np.ndarray:
    """Valid MultiPolygons: invalid ones repaired when that is safe, else the layer is refused."""
    geoms = geoms.copy()
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    broken = []
    for i, reason in zip(invalid, shapely.is_valid_reason(geoms[invalid])):
        fixed = _repair(geoms[i])
        if fixed is None:
            broken.append(f"{codes[i]} ({reason})")
        else:
            geoms[i] = fixed
            report.repaired.append((codes[i], reason))
    if broken:
        raise LayerError("{path}: invalid geometry that cannot be repaired safely: {features}", path=name,
                         features="; ".join(broken[:20]))
    single = np.flatnonzero(shapely.get_type_id(geoms) == POLYGON)
    geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return geoms


def _polygonal_part(geometry):
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(parts) if parts else None


def _repair(geometry):
    """The repair when two standard repairs agree (so no reading of the drawing is guessed), else None."""
    structure = _polygonal_part(shapely.make_valid(geometry, method="structure", keep_collapsed=False))
    linework = _polygonal_part(shapely.make_valid(geometry, method="linework"))
    if structure is None or linework is None:
        return None
    larger = max(structure.area, linework.area)
    if larger == 0 or structure.symmetric_difference(linework).area > 0.01 * larger:
        return None
    return structure
