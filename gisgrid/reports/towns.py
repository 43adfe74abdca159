"""The towns on the planner's map: each town's outline, the union of its grids, kept until a
grid changes (on every app server: the key is the grid table's revision)."""

from __future__ import annotations

import shapely
from shapely.geometry import mapping

from ..storage import Store, boundaries
from ..storage.cache import RevisionCache

_TOWNS = RevisionCache("town outlines", maxsize=1)


def town_outlines(store: Store, index: boundaries.LayerIndex) -> dict:
    """A GeoJSON FeatureCollection of the towns of the grid `index`, by name."""

    def build() -> dict:
        by_town: dict[str, list] = {}
        for row in index.rows:
            if row.get("town"):
                by_town.setdefault(row["town"], []).append(row["geom"])
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"town": town},
             "geometry": mapping(shapely.simplify(shapely.union_all(shapes), 1e-6))}
            for town, shapes in sorted(by_town.items())]}

    return _TOWNS.get(store, "towns", index.key, build)
