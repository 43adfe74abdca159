"""The planner's work: import grid and road layers, draft from OpenStreetMap, and save, split,
merge, retire and restore a boundary. Each change is versioned in the boundary history in the
same transaction (storage does that); here the policy is asked first."""

from __future__ import annotations

from . import office
from .imports import clearable  # noqa: F401  (the columns an import may clear, checked)
from ..storage import Store, boundaries, layer_imports
from .policy import Actor, decide


def import_layer(store: Store, actor: Actor, kind: str, path, **options) -> office.LayerImport:
    """Options as office.import_layer: `dry_run` (the change list, nothing written), `clear`
    (columns to empty where the file gives nothing), `retire_missing` (retire the stored features
    the file lacks: a boundary edit, so it is asked for as one)."""
    decide("import_layer", actor)
    if options.get("retire_missing"):
        decide("edit_boundary", actor)
    return office.import_layer(store, kind, path, changed_by=actor.name, **options)


def layers_state(store: Store) -> tuple:
    """Changes whenever a grid or road is written: a change list computed before is stale then."""
    return layer_imports.layers_revision(store)


def draft_from_osm(store: Store, actor: Actor, path, **options) -> dict:
    decide("import_layer", actor)
    return office.bootstrap_osm(store, path, changed_by=actor.name, **options)


def save(store: Store, actor: Actor, kind: str, code: str, attributes: dict, geometry, base_version: int | None,
         reason: str | None = None) -> dict:
    decide("edit_boundary", actor)
    return boundaries.save_feature(store, kind, code, attributes, geometry, base_version, actor.name, reason)


def split(store: Store, actor: Actor, kind: str, code: str, line, new_code: str, base_version: int,
          reason: str | None = None) -> list[dict]:
    decide("edit_boundary", actor)
    return boundaries.split(store, kind, code, line, new_code, base_version, actor.name, reason)


def merge(store: Store, actor: Actor, kind: str, code: str, other: str, base_version: int, other_version: int,
          reason: str | None = None) -> dict:
    decide("edit_boundary", actor)
    return boundaries.merge(store, kind, code, other, base_version, other_version, actor.name, reason)


def retire(store: Store, actor: Actor, kind: str, code: str, base_version: int, reason: str | None = None) -> dict:
    decide("edit_boundary", actor)
    return boundaries.retire(store, kind, code, base_version, actor.name, reason)


def restore(store: Store, actor: Actor, kind: str, code: str, version: int, base_version: int,
            reason: str | None = None) -> dict:
    decide("edit_boundary", actor)
    return boundaries.restore(store, kind, code, version, base_version, actor.name, reason)
