"""The planner's read models: the grids and roads in view (or too many to show), one feature and
its history, a layer now or as it stood at a time, and the defects of the layer set near a saved
feature. Plain data; the planner's pages and JSON render it."""

from __future__ import annotations

from datetime import datetime

import shapely

from ..gis.validation import validate
from ..storage import Store, boundaries
from .towns import town_outlines


def layers_in_view(store: Store, bbox: tuple[float, float, float, float] | None, limit: int) -> dict:
    """Grids, roads and town outlines: all of them for a district, those in `bbox` for a city;
    `too_many` (and no features) when more than `limit` would come: the map asks the planner
    to zoom in."""
    grids, roads = boundaries.layer_index(store, "grid"), boundaries.layer_index(store, "road")
    if bbox is None and len(grids) + len(roads) > limit:
        in_view, too_many = ([], []), True
    else:
        in_view = (grids.within(bbox), roads.within(bbox))
        too_many = len(in_view[0]) + len(in_view[1]) > limit
    if too_many:
        in_view = ([], [])
    extent = [b for b in (grids.bounds(), roads.bounds()) if b]
    return {"grids": grids.collection(in_view[0]), "roads": roads.collection(in_view[1]),
            "towns": town_outlines(store, grids) if bbox is None else None,   # the map keeps them from its first load
            "too_many": too_many, "limit": limit, "large": len(grids) + len(roads) > limit,
            "bounds": [min(b[0] for b in extent), min(b[1] for b in extent), max(b[2] for b in extent),
                       max(b[3] for b in extent)] if extent else None}


def defects_near(store: Store, codes: list[str], geometry) -> list:
    """The defects of the layer set around a saved feature that concern it (saving is allowed
    with warnings; the map shows them)."""
    x0, y0, x1, y1 = shapely.bounds(geometry)
    pad = max(x1 - x0, y1 - y0, 0.002)
    near = [index.frame(index.within((x0 - pad, y0 - pad, x1 + pad, y1 + pad)))
            for index in (boundaries.layer_index(store, "grid"), boundaries.layer_index(store, "road"))]
    return [d for d in validate(*near) if set(d.codes) & set(codes)]


def feature(store: Store, kind: str, code: str) -> dict:
    return boundaries.feature(store, kind, code)


def feature_history(store: Store, kind: str, code: str) -> dict:
    """A grid or road as it is now and every version it had, newest first."""
    return {"current": boundaries.feature(store, kind, code), "history": boundaries.history(store, kind, code)}


def history(store: Store, kind: str, code: str) -> list[dict]:
    return boundaries.history(store, kind, code)


def past_version(store: Store, kind: str, code: str, version: int) -> dict:
    return boundaries.past_version(store, kind, code, version)


def layer(store: Store, kind: str, when: datetime | None = None) -> dict:
    """Every grid or road now, or as they stood at `when` (past months keep their boundaries)."""
    return boundaries.features(store, kind) if when is None else boundaries.layer_as_of(store, kind, when)


def has_grids(store: Store) -> bool:
    return bool(store.grid_codes())
