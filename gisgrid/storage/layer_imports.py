"""Storage of an import's writes (issue 14): what a file is compared with (every stored feature,
retired ones included), the plan of what changed, each versioned, made before the import's one
transaction and written in it, and the retiring of what the file lacks."""

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


def plan_import(conn, kind: str, rows: list[dict], changed_by: str, reason: str | None) -> bulk.Planned:
    """Plan an import's new and changed features (rows from gis.changes.diff: code, attributes,
    geom), each versioned, on a read connection: the lock is held only to check and write it."""
    unusable = sorted({r["code"] for r in rows if not CODE.fullmatch(str(r["code"]))})
    if unusable:
        raise LayerError("Codes must be 1 to 32 characters without spaces or slashes; these are not: {codes}",
                         codes=", ".join(map(repr, unusable[:10])) + (" …" if len(unusable) > 10 else ""))
    if kind == "grids":
        return bulk.plan(conn, grid_t, [{k: r[k] for k in ("code", *ATTRIBUTES["grid"], "geom")} for r in rows],
                         changed_by, reason)
    return bulk.plan(conn, road_t, [{k: r[k] for k in ("code", "name", "grade", "grid", "geom")} for r in rows],
                     changed_by, reason)


def still_current(conn, planned: bulk.Planned) -> bool:
    """Under the import's lock: nothing of its kind was added or changed since it was planned."""
    return bulk.still_current(conn, planned)


def staged_import(conn, planned: bulk.Planned):
    """The plan's rows copied, off SQLite's lock, to the connection that will write them (a
    context: see bulk.staged)."""
    return bulk.staged(conn, planned)


def write_import(conn, planned: bulk.Planned, staged: bulk.Staged | None = None) -> tuple[int, int]:
    """Write a current plan in the caller's transaction: (created, updated). A road's grid must
    be a current grid."""
    return bulk.write(conn, planned, staged)


def retire_missing(conn, kind: str, codes: list[str], stored: dict[str, dict], changed_by: str, reason: str
                   ) -> None:
    """Retire the stored features an import's file lacks, when the planner chose to: each one
    versioned with `reason`, in the caller's transaction. A grid that still manages roads is refused."""
    now = utcnow()
    feature_kind = "grid" if kind == "grids" else "road"
    for code in codes:
        _retire(conn, feature_kind, code, stored[code]["version"], changed_by, reason, now)
