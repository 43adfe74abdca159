"""Storage of an import's writes (issue 14): what a file is compared with (every stored feature,
retired ones included), the writing of what changed, each versioned, and the retiring of what
the file lacks, all inside the import's one transaction."""

from __future__ import annotations

from ..domain.errors import LayerError
from . import Store, bulk, grid_t, road_t
from .boundaries import ATTRIBUTES, _all_rows, _retire
from .schema import CODE, utcnow


def layers_revision(store: Store) -> tuple:
    """Changes whenever a grid or road is added or edited (see Store.revision)."""
    return store.revision(grid_t) + store.revision(road_t)


def import_baseline(conn, kind: str) -> dict[str, dict]:
    """Every stored grid or road (`kind`: grids / roads), retired ones included, by code: what an
    import's change list (gis.changes.diff) compares the file with, read in the import's own
    transaction so that what is written is merged with what is stored at that moment."""
    return _all_rows(conn, "grid" if kind == "grids" else "road", None)


def write_import(store: Store, conn, kind: str, rows: list[dict], changed_by: str, reason: str | None
                 ) -> tuple[int, int]:
    """Write an import's new and changed features (rows from gis.changes.diff: code, attributes,
    geom), each versioned, in the caller's transaction; (created, updated). A road's grid must be
    a current grid."""
    unusable = sorted({r["code"] for r in rows if not CODE.fullmatch(str(r["code"]))})
    if unusable:
        raise LayerError("Codes must be 1 to 32 characters without spaces or slashes; these are not: {codes}",
                         codes=", ".join(map(repr, unusable[:10])) + (" …" if len(unusable) > 10 else ""))
    if kind == "grids":
        return bulk.upsert(conn, grid_t, [{k: r[k] for k in ("code", *ATTRIBUTES["grid"], "geom")} for r in rows],
                           changed_by, reason)
    return bulk.upsert(conn, road_t, [{k: r[k] for k in ("code", "name", "grade", "grid", "geom")} for r in rows],
                       changed_by, reason)


def retire_missing(conn, kind: str, codes: list[str], stored: dict[str, dict], changed_by: str, reason: str
                   ) -> None:
    """Retire the stored features an import's file lacks, when the planner chose to: each one
    versioned with `reason`, in the caller's transaction. A grid that still manages roads is refused."""
    now = utcnow()
    feature_kind = "grid" if kind == "grids" else "road"
    for code in codes:
        _retire(conn, feature_kind, code, stored[code]["version"], changed_by, reason, now)
