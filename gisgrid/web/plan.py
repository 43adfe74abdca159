"""The planner's JSON endpoints: the layer set, saving one grid or road with a version check
(409 with both versions on a conflict), a feature's history and restore, the validation report."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user
from shapely.geometry import shape

from ..errors import Conflict, LayerError, NotFound
from ..store import boundaries
from ..validation import validate
from . import get_store, translate
from .auth import role_required

bp = Blueprint("plan", __name__)
PLANNERS = ("planner",)
KINDS = ("grid", "road")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound("Unknown feature kind {kind!r}", kind=kind)
    return kind


def layers_data() -> dict:
    """Grids and roads as two GeoJSON FeatureCollections, each feature with its version."""
    store = get_store()
    out = {}
    for kind, frame in (("grid", store.grids_frame()), ("road", store.roads_frame())):
        out[kind + "s"] = {"type": "FeatureCollection",
                           "features": [boundaries.feature(store, kind, code) for code in frame["code"]]}
    return out


@bp.get("/api/plan/layers")
@role_required(*PLANNERS)
def layers():
    return jsonify(layers_data())


@bp.get("/api/plan/<kind>/<code>")
@role_required(*PLANNERS)
def feature(kind: str, code: str):
    return jsonify(boundaries.feature(get_store(), _kind(kind), code))


@bp.post("/api/plan/<kind>/<code>")
@role_required(*PLANNERS)
def save(kind: str, code: str):
    """Body: {properties, geometry (GeoJSON, WGS84), version (null to create), reason}."""
    body = request.get_json(silent=True) or {}
    try:
        geometry = shape(body["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise LayerError("The geometry of {code} is invalid: {reason}", code=code, reason="not GeoJSON") from None
    yours = {"type": "Feature", "properties": {**(body.get("properties") or {}), "code": code,
                                               "version": body.get("version")},
             "geometry": body["geometry"]}
    try:
        saved = boundaries.save_feature(get_store(), _kind(kind), code, body.get("properties") or {}, geometry,
                                        body.get("version"), current_user.name, body.get("reason"))
    except Conflict as error:
        # both versions go back, so that the page can show them side by side
        return jsonify({"error": "Conflict", "message": translate(error),
                        "theirs": getattr(error, "theirs", None), "yours": yours}), 409
    return jsonify(saved), 200 if body.get("version") is not None else 201


@bp.get("/api/plan/<kind>/<code>/history")
@role_required(*PLANNERS)
def history(kind: str, code: str):
    return jsonify({"kind": kind, "code": code, "history": boundaries.history(get_store(), _kind(kind), code)})


@bp.post("/api/plan/<kind>/<code>/restore")
@role_required(*PLANNERS)
def restore(kind: str, code: str):
    version = (request.get_json(silent=True) or {}).get("version")
    if not isinstance(version, int):
        raise NotFound("{code} has no version {version}", code=code, version=version)
    return jsonify(boundaries.restore(get_store(), _kind(kind), code, version, current_user.name,
                                      (request.get_json(silent=True) or {}).get("reason")))


@bp.get("/api/plan/validation")
@role_required(*PLANNERS)
def validation():
    store = get_store()
    defects = validate(store.grids_frame(), store.roads_frame())
    return jsonify({"blocking": sum(d.blocking for d in defects), "warnings": sum(not d.blocking for d in defects),
                    "defects": [d.as_json() for d in defects]})
