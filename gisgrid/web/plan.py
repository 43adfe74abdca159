"""The planner's pages and their JSON: the map to draw and edit grids and roads (saves are
compare-and-set, 409 with both versions on a conflict), split, merge and retire, the import
wizard (upload → preview → field mapping and CRS → import with progress), the validation
report, each feature's history with restore, and the layers as they stood at any time."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import shapely
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from shapely.geometry import mapping, shape
from wtforms.validators import ValidationError

from ..gis import layers, osm
from ..gis import crs
from ..gis import formats
from ..gis import preview as layer_preview
from ..services import office
from ..domain.errors import Conflict, LayerError, NotFound
from ..domain.months import parse_observed
from ..services import layers as layer_work
from ..reports import boundaries as layer_views
from ..storage import boundaries
from ..storage.uploads import Uploads
from ..gis.validation import report_json
from . import csrf, get_settings, get_store, refusal, translate, translated, wants_json
from .auth import ROLE_HOME, actor, role_required
from .requests import json_object, members, stored_int, text
from .plan_changes import change_list, import_options

bp = Blueprint("plan", __name__)
ROLE_HOME["planner"] = "plan.index"
PLANNERS = ("planner",)
FEATURE_KINDS = ("grid", "road")
LAYER_OF_FEATURE = {"grid": "grids", "road": "roads"}
GRADES = ("主干道", "次干道", "支路", "背街小巷")   # the grades osm.bootstrap_roads gives; others are allowed


def _kind(kind: str) -> str:
    if kind not in FEATURE_KINDS:
        raise NotFound("Unknown feature kind {kind!r}", kind=kind)
    return kind


def _uploads() -> Uploads:
    return Uploads(get_settings().upload_dir, store=get_store())


def _geometry(body: dict, code: str, key: str = "geometry"):
    try:
        return shape(body[key])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise LayerError("The geometry of {code} is invalid: {reason}", code=code, reason="not GeoJSON") from None


def _version(body: dict, key: str = "version") -> int:
    value = body.get(key)
    if not stored_int(value):
        raise LayerError("The save must say which version it started from")
    return value


# pages --------------------------------------------------------------------------------


@bp.get("/plan/")
@role_required(*PLANNERS)
def index():
    # the map's styles and form follow the server's grades, grid classes and attribute lists
    return render_template("plan/map.html", grades=GRADES, grid_classes=boundaries.GRID_CLASSES,
                           attributes=boundaries.ATTRIBUTES)


@bp.get("/plan/import")
@role_required(*PLANNERS)
def import_page():
    return render_template("plan/import.html", zones=crs.gk_zones(), fields=layers.FIELDS,
                           has_grids=layer_views.has_grids(get_store()))


@bp.get("/plan/<kind>/<code>/history")
@role_required(*PLANNERS)
def history_page(kind: str, code: str):
    shown = layer_views.feature_history(get_store(), _kind(kind), code)
    return render_template("plan/history.html", kind=kind, code=code, current=shown["current"],
                           history=shown["history"], attributes=boundaries.ATTRIBUTES[kind])


@bp.post("/plan/<kind>/<code>/restore")
@role_required(*PLANNERS)
def restore_page(kind: str, code: str):
    version, seen = request.form.get("version", type=int), request.form.get("seen", type=int)
    if version is None or seen is None:
        raise NotFound("{code} has no version {version}", code=code, version=request.form.get("version"))
    layer_work.restore(get_store(), actor(), _kind(kind), code, version, seen, request.form.get("reason") or None)
    return redirect(url_for("plan.history_page", kind=kind, code=code, restored=version))


def _download(collection: dict, filename: str) -> Response:
    """A GeoJSON file to save; its name may be Chinese (a grid code): RFC 6266 gives it in UTF-8
    beside a plain fallback, as headers must be Latin-1."""
    plain = "".join(c if c.isascii() and c not in '"\\' else "_" for c in filename)
    return Response(json.dumps(collection, ensure_ascii=False), mimetype="application/geo+json", headers={
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"})


@bp.get("/plan/export")
@role_required(*PLANNERS)
def export():
    """The grids or roads now, or as they stood at `at` (a date or date and time, local)."""
    kind = _kind(request.args.get("kind", "grid"))
    at = (request.args.get("at") or "").strip()
    store = get_store()
    if not at:
        return _download(layer_views.layer(store, kind), f"{LAYER_OF_FEATURE[kind]}.geojson")
    when = parse_observed(at if "T" in at or " " in at else at + "T23:59:59", store.timezone())
    return _download(layer_views.layer(store, kind, when), f"{LAYER_OF_FEATURE[kind]}-{at[:10]}.geojson")


@bp.get("/api/plan/<kind>/<code>/history/<id:version>.geojson")
@role_required(*PLANNERS)
def version_file(kind: str, code: str, version: int):
    past = layer_views.past_version(get_store(), _kind(kind), code, version)
    return _download({"type": "FeatureCollection", "features": [past]}, f"{code}-v{version}.geojson")


# the layer set ------------------------------------------------------------------------


def _bbox() -> tuple[float, float, float, float] | None:
    text = request.args.get("bbox")
    if not text:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise LayerError("bbox must be west,south,east,north in degrees") from None
    return x0, y0, x1, y1


@bp.get("/api/plan/layers")
@role_required(*PLANNERS, "admin")     # the office designates roads on the same map
def layers_json():
    """Grids, roads and town outlines: all of them for a district, those in `bbox` for a city;
    `too_many` (and no features) when more than PLAN_VIEW_LIMIT would come: the map asks the
    planner to zoom in."""
    return jsonify(layer_views.layers_in_view(get_store(), _bbox(), current_app.config["PLAN_VIEW_LIMIT"]))


@bp.get("/api/plan/<kind>/<code>")
@role_required(*PLANNERS)
def feature(kind: str, code: str):
    return jsonify(layer_views.feature(get_store(), _kind(kind), code))


def _defects_near(codes: list[str], geometry) -> list[dict]:
    """The warnings the layer set has around a saved feature: saving is allowed with them."""
    return [_defect_json(d) for d in layer_views.defects_near(get_store(), codes, geometry)]


def _defect_json(defect) -> dict:
    out = defect.as_json()
    out["label"] = defect_label(defect.kind)
    if defect.kind == "grid_few_roads":
        out["message"] = gettext("%(n)s roads; two are sampled each month", n=defect.params["roads"])
    elif defect.kind == "road_outside_grid":
        out["message"] = gettext("outside its grid %(grid)s", grid=defect.codes[1])
    elif defect.kind == "invalid_geometry":
        out["message"] = defect.params["reason"]    # GEOS says what is wrong, in English
    else:
        out["message"] = ""
    out["geometry"] = None if defect.geometry is None else mapping(shapely.simplify(defect.geometry, 1e-6))
    return out


def _saved(features: list[dict], status: int = 200):
    codes = [f["properties"]["code"] for f in features]
    geometry = shapely.union_all([shape(f["geometry"]) for f in features])
    return jsonify({"features": features, "warnings": _defects_near(codes, geometry)}), status


@bp.errorhandler(Conflict)
def conflict(error: Conflict):
    """A save that someone else's came before: both versions go back (yours as the save sent
    it), so that the page can show them side by side."""
    if not hasattr(error, "theirs") or not wants_json():
        return refusal("Conflict", translate(error), error.http_status)
    return jsonify({"error": "Conflict", "message": translate(error), "theirs": error.theirs,
                    "yours": g.get("yours")}), 409


@bp.post("/api/plan/<kind>/<code>")
@role_required(*PLANNERS)
def save(kind: str, code: str):
    """Body: {properties, geometry (GeoJSON, WGS84), version (null to create), reason}."""
    body = json_object(required=False)
    geometry = _geometry(body, code)
    g.yours = {"type": "Feature", "properties": {**members(body, "properties"), "code": code,
                                                 "version": body.get("version")},
               "geometry": body["geometry"]}
    version = None if body.get("version") is None else _version(body)
    saved = layer_work.save(get_store(), actor(), _kind(kind), code, members(body, "properties"), geometry,
                            version, text(body, "reason"))
    return _saved([saved], 200 if version is not None else 201)


@bp.post("/api/plan/<kind>/<code>/split")
@role_required(*PLANNERS)
def split(kind: str, code: str):
    """Body: {line (GeoJSON LineString across the feature), new_code, version, reason}."""
    body = json_object(required=False)
    line = _geometry(body, code, "line")
    parts = layer_work.split(get_store(), actor(), _kind(kind), code, line, str(body.get("new_code") or "").strip(),
                             _version(body), text(body, "reason"))
    return _saved(parts, 201)


@bp.post("/api/plan/<kind>/<code>/merge")
@role_required(*PLANNERS)
def merge(kind: str, code: str):
    """Body: {other, version, other_version, reason}: `other` joins `code` and is retired."""
    body = json_object(required=False)
    merged = layer_work.merge(get_store(), actor(), _kind(kind), code, str(body.get("other") or ""), _version(body),
                              _version(body, "other_version"), text(body, "reason"))
    return _saved([merged])


@bp.post("/api/plan/<kind>/<code>/retire")
@role_required(*PLANNERS)
def retire(kind: str, code: str):
    body = json_object(required=False)
    return jsonify(layer_work.retire(get_store(), actor(), _kind(kind), code, _version(body), text(body, "reason")))


@bp.get("/api/plan/<kind>/<code>/history")
@role_required(*PLANNERS)
def history(kind: str, code: str):
    return jsonify({"kind": kind, "code": code, "history": layer_views.history(get_store(), _kind(kind), code)})


@bp.post("/api/plan/<kind>/<code>/restore")
@role_required(*PLANNERS)
def restore(kind: str, code: str):
    """Body: {version (the one to bring back), seen (the current version the planner saw), reason}."""
    body = json_object(required=False)
    if not stored_int(body.get("version")):
        raise NotFound("{code} has no version {version}", code=code, version=body.get("version"))
    return jsonify(layer_work.restore(get_store(), actor(), _kind(kind), code, body["version"], _version(body, "seen"),
                                      text(body, "reason")))


def defect_label(kind: str) -> str:
    return {"invalid_geometry": gettext("Invalid geometry"), "duplicate_code": gettext("Duplicate code"),
            "grid_overlap": gettext("Grids overlap"), "gap": gettext("Gap between grids"),
            "road_outside_grid": gettext("Road outside its grid"), "road_without_grid": gettext("Road without a grid"),
            "grid_few_roads": gettext("Grid with fewer than two roads"), "sliver": gettext("Sliver")}.get(kind, kind)


@bp.get("/api/plan/validation")
@role_required(*PLANNERS)
def validation():
    return jsonify(report_json(office.validation_report(get_store()), _defect_json))


# the import wizard --------------------------------------------------------------------


@bp.post("/api/plan/uploads")
@csrf.exempt          # checked below, once the larger limit for layer files is in place
@role_required(*PLANNERS)
def upload():
    """A layer file (multipart field `file`), kept until imported. Refused at once when its
    content is no accepted format; else answers with its preview (201) when that is ready
    within PREVIEW_WAIT_S, or 202 and the preview's URL to poll."""
    request.max_content_length = current_app.config["LAYER_MAX_BYTES"]
    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
    except ValidationError as error:
        raise CSRFError(str(error)) from None
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise LayerError("Choose a file to upload")
    uploads = _uploads()
    token = uploads.save(sent.stream, sent.filename, current_user.name, current_app.config["LAYER_MAX_BYTES"])
    try:
        path = uploads.path(token, current_user.name)
        formats.check_upload(path, osm=_is_osm(path))
        state = _preview(token)
    except Exception:
        uploads.discard(token)   # a file that cannot be read is not kept
        raise
    if state["state"] == "failed":
        uploads.discard(token)
    return _preview_answer(token, state, {"filename": sent.filename}, 201)


def _is_osm(path) -> bool:
    return str(path).lower().endswith((".osm", ".pbf"))


def _preview(token: str) -> dict:
    """The state of the preview the request asks for (kind, layer, crs), started in the
    background if it is not kept yet, waited for up to PREVIEW_WAIT_S."""
    path = _uploads().path(token, current_user.name)
    kind = request.values.get("kind", "grids")
    layer, crs = request.values.get("layer") or None, request.values.get("crs") or None
    if _is_osm(path):
        store = get_store()
        key = "osm"

        def job() -> dict:
            stored = store.grids_frame()
            roads, grids = osm.bootstrap_roads(path, stored, restricted=True)
            drafted = stored.empty
            return {"osm": True, "count": len(roads), "drafted_grids": len(grids) if drafted else 0,
                    "features": json.loads(roads.to_json(drop_id=True)),
                    "grids": json.loads(grids.to_json(drop_id=True)) if drafted else None}
    else:
        if kind not in layers.LAYERS:
            raise LayerError("Layers are grids or roads, not {kind!r}", kind=kind)
        key = json.dumps([kind, layer, crs])

        def job() -> dict:
            # restricted: a planner's upload is opened only as a format gisgrid accepts, told by content
            return {"osm": False, **layer_preview.preview_layer(path, kind, layer=layer, crs=crs, restricted=True)}
    uploads = _uploads()
    waited = 0.0
    while True:
        state = uploads.preview(token, key, job)
        if state["state"] != "running" or waited >= current_app.config["PREVIEW_WAIT_S"]:
            return state
        time.sleep(0.05)
        waited += 0.05


def _preview_answer(token: str, state: dict, extra: dict | None = None, status: int = 200):
    if state["state"] == "done":
        return jsonify({"token": token, **(extra or {}), **state["result"]}), status
    if state["state"] == "failed":          # the error's message id, translated here
        error = state["error"]
        return refusal(error["kind"], translated(error["template"], error["params"]), 400)
    return jsonify({"token": token, **(extra or {}), "state": "running",
                    "preview": url_for("plan.preview", token=token, **{k: request.values[k] for k in ("kind", "layer", "crs")
                                                                          if request.values.get(k)})}), 202


@bp.get("/api/plan/uploads/<token>/preview")
@role_required(*PLANNERS)
def preview(token: str):
    """The preview for kind, layer and crs: 202 while it is read in the background, poll again."""
    return _preview_answer(token, _preview(token))


@bp.post("/api/plan/uploads/<token>/changes")
@role_required(*PLANNERS)
def changes(token: str):
    """What importing the upload with these choices (the import's body) would change, nothing
    written: {new, changed: [{code, attributes: {name: [old, new]}, area_changed_m2}], unchanged,
    missing, unmapped}. Read in the background: 202 {state: running} until ready, ask again."""
    options = import_options(json_object(required=False))
    uploads, who = _uploads(), actor()
    path = uploads.path(token, who.name)
    if _is_osm(path):
        raise LayerError("An OpenStreetMap draft only adds what is not there yet; it has no change list")
    state = change_list(uploads, get_store(), who, token, path, options, current_app.config["PREVIEW_WAIT_S"])
    if state["state"] == "done":
        return jsonify({"token": token, **state["result"]})
    if state["state"] == "failed":
        error = state["error"]
        return refusal(error["kind"], translated(error["template"], error["params"]), 400)
    return jsonify({"token": token, "state": "running"}), 202


@bp.post("/api/plan/uploads/<token>/import")
@role_required(*PLANNERS)
def start_import(token: str):
    """Body: {kind: grids|roads, layer, crs, fields: {ours: theirs}, clear: [ours], retire_missing};
    runs in the background, one transaction; GET …/progress follows it."""
    body = json_object(required=False)
    uploads, store, who = _uploads(), get_store(), actor()
    path = uploads.path(token, who.name)
    if _is_osm(path):
        job = lambda progress: layer_work.draft_from_osm(store, who, path, progress=progress,  # noqa: E731
                                                         restricted=True)
    else:
        options = import_options(body)

        def job(progress):
            done = layer_work.import_layer(store, who, path=path, progress=progress, restricted=True, **options)
            return {"kind": options["kind"], "created": done.created, "updated": done.updated,
                    "unchanged": done.unchanged, "retired": done.retired, "placed": done.placed,
                    "unplaced": done.unplaced, "repaired": [list(r) for r in done.report.repaired],
                    "warnings": done.report.warnings, "crs": done.report.source_crs}
    uploads.run(token, job)
    return jsonify({"progress": url_for("plan.progress", token=token)}), 202


@bp.get("/api/plan/uploads/<token>/progress")
@role_required(*PLANNERS)
def progress(token: str):
    uploads = _uploads()
    uploads.path(token, current_user.name)
    state = uploads.progress(token)
    if state.get("state") == "failed":      # the error's message id, translated here
        state["message"] = translated(state["error"]["template"], state["error"]["params"])
    return jsonify(state)
