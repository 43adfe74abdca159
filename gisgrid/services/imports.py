"""Importing a grid or road layer: read the file, compare it with what is stored (the change
list a planner sees before anything is written), then write only what changed, all in one
transaction with each feature's version. What the file does not say is left alone; emptying a
value, and retiring the stored features the file lacks, are explicit choices (issue 14)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ..domain.errors import LayerError
from ..gis import changes as layer_changes
from ..gis import layers
from ..storage import Store
from ..storage import layer_imports

Log = Callable[[str], None]
RETIRED_BY_IMPORT = "not in the imported file"


def quiet(_message: str) -> None:
    pass


@dataclass
class LayerImport:
    kind: str
    created: int
    updated: int
    placed: int = 0
    unplaced: list[str] = field(default_factory=list)
    report: layers.LayerReport | None = None
    changes: layer_changes.Changes | None = None
    retired: list[str] = field(default_factory=list)
    written: bool = True

    @property
    def unchanged(self) -> int:
        return self.changes.unchanged if self.changes else 0


def clearable(kind: str, clear) -> frozenset[str]:
    """The columns a planner asked to empty where the file gives nothing, checked."""
    clear = frozenset(c for c in (clear or ()) if c)
    unknown = sorted(clear - set(layer_changes.ATTRIBUTES[kind]))
    if unknown:
        raise LayerError("{field} is not a column of {kind}", field=unknown[0], kind=kind)
    return clear


def _place(store: Store, frame, stored: dict[str, dict], clear: frozenset[str], log: Log) -> tuple[int, list[str]]:
    """Roads the file gives no grid for, that have none stored (new ones) or whose grid the planner
    asked to clear: each goes to the grid holding most of its area, or to none."""
    known = {code for code, row in stored.items() if row.get("grid") and "grid" not in clear}
    missing = frame["grid"].isna() & ~frame["code"].isin(known)
    if not missing.any():
        return 0, []
    grids = store.grids_frame()
    # None, never NaN, for a road in no grid: codes are joined into messages later (issue 14, §4)
    located = layers.place_in_grids(frame[missing], grids) if len(grids) else \
        pd.Series([None] * int(missing.sum()), index=frame.index[missing], dtype=object)
    frame["grid"] = frame["grid"].astype(object)
    frame.loc[missing, "grid"] = located.astype(object).where(located.notna(), None)
    placed = int(located.notna().sum())
    unplaced = frame.loc[missing & frame["grid"].isna(), "code"].tolist()
    log(f"{placed} roads placed in the grid holding most of their area")
    if unplaced:
        why = "the district has no grids yet" if not len(grids) else "they lie in no grid"
        log(f"warning: {len(unplaced)} roads have no grid ({why}): {', '.join(unplaced[:10])}")
    return placed, unplaced


def import_layer(store: Store, kind: str, path, crs: str | None = None, layer: str | None = None,
                 log: Log = quiet, fields: dict[str, str] | None = None,
                 progress: Callable[[str, float], None] = layers.no_progress,
                 changed_by: str = "import", restricted: bool = True, dry_run: bool = False,
                 clear=(), retire_missing: bool = False) -> LayerImport:
    """Import grids or roads: new codes are added, stored codes whose attributes or shape differ
    are updated (a value the file leaves blank or has no column for keeps the stored one, unless
    its column is in `clear`), unchanged ones are left as they are, and stored features the file
    lacks are left alone unless `retire_missing`. In one transaction, each change versioned as
    by `changed_by`. `dry_run`: the change list only, nothing written. A road without a grid in
    the file (and none stored) goes to the grid holding most of its area. `fields` maps our
    columns to the file's; `restricted=False` (the command line) lets GDAL open any format."""
    clear = clearable(kind, clear)
    frame, report = layers.read_layer(path, kind, crs=crs, layer=layer, fields=fields, progress=progress,
                                      restricted=restricted)
    log(f"{len(frame)} {kind} read from {path} ({report.source_crs}, attributes {report.encoding})")
    if report.unmapped:
        log(f"fields not read (map them with --field OURS=THEIRS): {', '.join(report.unmapped)}")
    for code, what in report.repaired:
        log(f"repaired {code}: {what}")
    for warning in report.warnings:
        log(f"warning: {warning}")
    if not dry_run:
        store.migrate()
    elif store.has_schema():
        store.require_schema()      # a dry run writes nothing, not even the schema
    progress("save", 0.7)
    stored = _baseline(store, kind) if dry_run else None
    placed, unplaced = 0, []
    if kind == "roads":
        placed, unplaced = _place(store, frame, stored if stored is not None else _baseline(store, kind), clear, log)
    if dry_run:
        found = layer_changes.diff(kind, frame, stored, clear)
        return LayerImport(kind, len(found.new), len(found.changed), placed, unplaced, report, found,
                           found.missing if retire_missing else [], written=False)

    def planned(conn):
        stored = layer_imports.import_baseline(conn, kind)
        found = layer_changes.diff(kind, frame, stored, clear)
        return stored, found, layer_imports.plan_import(conn, kind, found.rows, changed_by, None)

    # compared and planned before the lock (SQLite has one for the whole database: the tablets'
    # writes wait while it is held); under it only checked and written
    with store.engine.connect() as conn:
        stored, found, plan = planned(conn)
        with layer_imports.staged_import(conn, plan) as staged, store.begin_on(conn):
            if not layer_imports.still_current(conn, plan):     # a change came in between: again, locked
                stored, found, plan = planned(conn)
                staged = None
            created, updated = layer_imports.write_import(conn, plan, staged)
            if retire_missing and found.missing:
                layer_imports.retire_missing(conn, kind, found.missing, stored, changed_by, RETIRED_BY_IMPORT)
    if found.missing and not retire_missing:
        log(f"{len(found.missing)} stored {kind} are not in the file and were left as they are: "
            f"{', '.join(found.missing[:10])}")
    return LayerImport(kind, created, updated, placed, unplaced, report, found,
                       found.missing if retire_missing else [])


def _baseline(store: Store, kind: str) -> dict[str, dict]:
    if not store.has_schema():
        return {}
    with store.engine.connect() as conn:
        return layer_imports.import_baseline(conn, kind)
