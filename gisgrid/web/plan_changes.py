"""The import wizard's change list (issue 14): the choices an import body carries, checked, and
the list of what the import would change, computed in the background like a preview (one job per
choice of fields and per state of the stored layers). No routes here: plan.py has them."""

from __future__ import annotations

import json
import time

from ..domain.errors import LayerError, RequestError
from ..gis import layers
from ..services import layers as layer_work
from .requests import members, text


def import_options(body: dict) -> dict:
    """The import's choices from a body: {kind, layer, crs, fields: {ours: theirs}, clear: [ours],
    retire_missing}; refused here, not in the background job."""
    kind = body.get("kind")
    if kind not in layers.LAYERS:
        raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
    clear = body.get("clear") or []
    if not isinstance(clear, list) or not all(isinstance(c, str) for c in clear):
        raise RequestError("{key} must be a list of column names", key="clear")
    if not isinstance(body.get("retire_missing", False), bool):
        raise RequestError("{key} must be true or false", key="retire_missing")
    fields = {k: v for k, v in members(body, "fields").items() if v}
    if not all(isinstance(v, str) for v in fields.values()):
        raise RequestError("{key} must be text", key="fields")
    return {"kind": kind, "crs": text(body, "crs") or None, "layer": text(body, "layer") or None,
            "fields": fields or None, "clear": sorted(layer_work.clearable(kind, clear)),
            "retire_missing": bool(body.get("retire_missing"))}


def change_list(uploads, store, who, token: str, path, options: dict, wait_s: float) -> dict:
    """The state of the change list for `options`: started in the background if it is not kept
    yet, waited for up to `wait_s`."""
    # the same choices against the same stored layers give the same answer; any write makes a new one
    key = json.dumps(["changes", options, layer_work.layers_state(store)], default=str)

    def job() -> dict:
        done = layer_work.import_layer(store, who, path=path, restricted=True, dry_run=True, **options)
        return {**done.changes.as_json(), "unmapped": done.report.unmapped, "mapping": done.report.mapping,
                "unplaced": done.unplaced, "warnings": done.report.warnings,
                "retire_missing": options["retire_missing"]}
    waited = 0.0
    while True:
        state = uploads.preview(token, key, job)
        if state["state"] != "running" or waited >= wait_s:
            return state
        time.sleep(0.05)
        waited += 0.05
