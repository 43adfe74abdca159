"""The JSON API the pages use, documented at /api/openapi.json. Same rules and errors as the
pages: user errors come back as {"error", "message"} with a 4xx status."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file, send_from_directory
from flask_login import current_user

from ..domain.errors import FindingError, NotFound
from ..domain.months import parse_month
from ..reports import scores
from ..services import findings
from ..reports import inspection
from . import get_settings, get_store
from .auth import actor, role_required
from .requests import coordinate, json_object, position, text

bp = Blueprint("api", __name__, url_prefix="/api")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
READERS = ("inspector", "planner", "reviewer")


def client_id_of(data: dict) -> str | None:
    """The client-made id of a change (the tablet's outbox sends one with every write), or None
    for a caller that sends none (each such call is a new change)."""
    value = data.get("client_id")
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise FindingError("A change's client-made id must be 8 to 128 letters, digits or . _ : -")
    return value


def client_ref(value: str) -> str:
    """A finding or photo named in the URL by the id the tablet made for it."""
    if not CLIENT_ID.match(value):
        raise NotFound("No such finding")
    return value




# routes ---------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    return send_from_directory(Path(current_app.static_folder), "openapi.json", mimetype="application/json")


@bp.get("/months/<month>/roads")
@role_required(*READERS)
def month_roads(month: str):
    return jsonify(inspection.roads_data(get_store(), actor(), parse_month(month)))


@bp.get("/months/<month>/roads/<code>")
@role_required(*READERS)
def road(month: str, code: str):
    return jsonify(inspection.road_data(get_store(), actor(), parse_month(month), code))


@bp.get("/months/<month>/roads/<code>/findings")
@role_required(*READERS)
def road_findings(month: str, code: str):
    return jsonify(inspection.road_data(get_store(), actor(), parse_month(month), code)["findings"])


@bp.get("/rulebook/<month>")
@role_required(*READERS)
def rulebook(month: str):
    return jsonify(inspection.rulebook_data(get_store(), parse_month(month), current_user.lang))


@bp.post("/findings")
@role_required("inspector")
def create_finding():
    data = json_object()
    lon, lat = position(data)
    stored, created = findings.record(get_store(), actor(), data, lon, lat)
    score = scores.road_score(get_store(), stored["month"], stored["road"])
    return jsonify(finding=inspection.finding_feature(stored, get_store().timezone(), actor()), road=stored["road"], created=created,
                   snapped_m=round(stored["snapped_m"], 1), score=inspection.score_json(score)), 201 if created else 200


@bp.patch("/findings/<id:finding_id>")
@bp.patch("/findings/client/<client>")
@role_required("inspector")
def edit_finding(finding_id: int | None = None, client: str | None = None):
    data = json_object()
    stored = findings.edit(get_store(), actor(), finding_id or client_ref(client), data, reason=text(data, "reason"),
                           lon=coordinate(data, "lon"), lat=coordinate(data, "lat"), client_id=client_id_of(data))
    score = scores.road_score(get_store(), stored["month"], stored["road"])
    return jsonify(finding=inspection.finding_feature(stored, get_store().timezone(), actor()), road=stored["road"], snapped_m=round(stored["snapped_m"], 1),
                   score=inspection.score_json(score))


@bp.delete("/findings/<id:finding_id>")
@bp.delete("/findings/client/<client>")
@role_required("inspector")
def delete_finding(finding_id: int | None = None, client: str | None = None):
    data = json_object(required=False)
    row = findings.delete(get_store(), actor(), finding_id or client_ref(client), reason=text(data, "reason"),
                          client_id=client_id_of(data))
    return jsonify(deleted=row["id"], score=inspection.score_json(scores.road_score(get_store(), row["month"], row["road"])))


@bp.post("/months/<month>/roads/<code>/submit")
@role_required("inspector")
def submit(month: str, code: str):
    month = parse_month(month)
    findings.submit(get_store(), actor(), month, code, client_id=client_id_of(json_object(required=False)))
    return jsonify(inspection.road_data(get_store(), actor(), month, code)["inspection"])


def sent_photo() -> tuple[str, bytes]:
    """The client-made id and the bytes of a photo the tablet uploads (a form with both)."""
    client_id = request.form.get("client_id", "")
    if not CLIENT_ID.match(client_id):
        raise FindingError("A photo needs its client-made id")
    upload = request.files.get("photo")
    if upload is None:
        raise FindingError("No photo was sent")
    return client_id, upload.read()


def photo_folder() -> Path:
    return get_settings().photo_dir


@bp.post("/findings/<id:finding_id>/photos")
@bp.post("/findings/client/<client>/photos")
@role_required("inspector")
def upload_photo(finding_id: int | None = None, client: str | None = None):
    client_id, data = sent_photo()
    config = current_app.config
    photo, created = findings.add_photo(get_store(), actor(), photo_folder(), finding_id or client_ref(client),
                                        client_id, data, config["PHOTO_MAX_BYTES"], config["PHOTOS_PER_FINDING"])
    photo_id = photo["id"]
    return jsonify(id=photo_id, url=f"/api/photos/{photo_id}", thumb=f"/api/photos/{photo_id}/thumb",
                   created=created), 201 if created else 200


@bp.delete("/photos/<id:photo_id>")
@bp.delete("/photos/client/<client>")
@role_required("inspector")
def remove_photo(photo_id: int | None = None, client: str | None = None):
    data = json_object(required=False)
    photo = findings.remove_photo(get_store(), actor(), photo_id or client_ref(client), client_id=client_id_of(data))
    return jsonify(removed=photo["id"], finding=photo["finding_id"])


@bp.get("/photos/<id:photo_id>")
@bp.get("/photos/<id:photo_id>/<any(thumb):size>")
@role_required(*READERS)
def photo(photo_id: int, size: str | None = None):
    path = photo_folder() / inspection.photo_file(get_store(), actor(), photo_id, thumb=bool(size))
    response = send_file(path, mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response

