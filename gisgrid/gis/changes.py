"""What an import would change: the features a file brings compared with those stored, as
new / changed (attributes old → new, the shape's moved area in m²) / unchanged / missing, and
the rows to write. One pure function for the command line's --dry-run, the wizard's preview
and the import itself, so what the planner saw is what is written. No SQL, no Flask.

The rule (issue 14): a value the file does not give (a column not mapped, or a blank cell)
keeps the stored one; only a column named in `clear` is emptied where the file gives nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from .crs import metric_crs

# our attribute columns of each layer, as storage.boundaries.ATTRIBUTES has them per feature kind
ATTRIBUTES = {"grids": ("name", "town", "grid_class", "leader"), "roads": ("name", "grade", "grid")}
# two shapes closer than this (degrees, ~0.1 mm) are one: a file read again gives the same
# coordinates, but a database may hand back the last bit of a double differently
SAME_SHAPE_DEG = 1e-9


@dataclass
class Changes:
    kind: str
    new: list[str] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)       # what to write: every new and changed feature

    def as_json(self) -> dict:
        return {"new": self.new, "changed": self.changed, "unchanged": self.unchanged, "missing": self.missing}


def _value(attribute: str, theirs, stored: dict | None, clear: frozenset[str]):
    if theirs is not None:
        return theirs
    if attribute in clear or stored is None:
        return None
    return stored.get(attribute)


def diff(kind: str, incoming: gpd.GeoDataFrame, stored: dict[str, dict], clear=frozenset()) -> Changes:
    """`incoming`: the file's features (code, our attribute columns with None where the file says
    nothing, geometry in WGS84); `stored`: code -> the stored feature (its attributes, `geom`,
    `retired_at`), retired ones included (an import brings a retired code back). `clear`: the
    columns whose blanks empty the stored value. A new feature without a name is named by its code."""
    clear = frozenset(clear)
    out = Changes(kind)
    geometry = incoming.geometry.values.to_numpy()
    moved_pairs: list[tuple[int, object, object]] = []
    columns = {a: incoming[a].tolist() if a in incoming.columns else [None] * len(incoming) for a in ATTRIBUTES[kind]}
    for i, code in enumerate(incoming["code"].tolist()):
        before = stored.get(code)
        row = {"code": code, "geom": geometry[i]}
        for attribute in ATTRIBUTES[kind]:
            row[attribute] = _value(attribute, columns[attribute][i], before, clear)
        if not row["name"]:
            row["name"] = before["name"] if before is not None and "name" not in clear else code
        if before is None:
            out.new.append(code)
            out.rows.append(row)
            continue
        attributes = {a: [before.get(a), row[a]] for a in ATTRIBUTES[kind] if before.get(a) != row[a]}
        if before.get("retired_at") is not None:
            attributes["retired"] = [True, False]
        same_shape = shapely.equals_exact(shapely.normalize(before["geom"]), shapely.normalize(row["geom"]),
                                          SAME_SHAPE_DEG)
        if not attributes and same_shape:
            out.unchanged += 1
            continue
        entry = {"code": code, "attributes": attributes, "area_changed_m2": 0.0}
        if not same_shape:
            moved_pairs.append((len(out.changed), before["geom"], row["geom"]))
        out.changed.append(entry)
        out.rows.append(row)
    for at, area in zip((p[0] for p in moved_pairs), _moved_m2([p[1] for p in moved_pairs],
                                                             [p[2] for p in moved_pairs])):
        out.changed[at]["area_changed_m2"] = area
    listed = set(incoming["code"])
    out.missing = sorted(code for code, row in stored.items() if code not in listed and row.get("retired_at") is None)
    return out


def _moved_m2(old: list, new: list) -> list[float]:
    """The area (m², to the cm²) between each old and new shape: what the symmetric difference
    covers, measured in the metric zone of the place."""
    if not old:
        return []
    x0, y0, x1, y1 = shapely.total_bounds(np.array(old + new, dtype=object))
    metric = metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    a = gpd.GeoSeries(old, crs=4326).to_crs(metric).values.to_numpy()
    b = gpd.GeoSeries(new, crs=4326).to_crs(metric).values.to_numpy()
    return [round(float(v), 2) for v in shapely.area(shapely.symmetric_difference(a, b))]
