"""The JSON API the pages use, documented at /api/openapi.json. Same rules and errors as the
pages: user errors come back as {"error", "message"} with a 4xx status."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file, send_from_directory
from flask_login import current_user
from shapely.geometry import mapping

from ..domain import scoring
from ..domain.errors import FindingError, NotFound
from ..domain.months import parse_month
from ..reports import scores
from ..domain.rulebook import rulebook_for
from ..services import findings
from ..services.policy import Facts, decide
from ..storage import inspections
from . import get_settings, get_store
from .auth import actor, role_required
from .requests import coordinate, json_object, position, text

bp = Blueprint("api", __name__, url_prefix="/api")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
READERS = ("inspector", "planner", "reviewer")




def score_json(score: scoring.RoadScore) -> dict:
    return {"score": scoring.as_points(score.score), "deductions": scoring.as_points(score.deductions),
            "by_rule": {k: scoring.as_points(v) for k, v in score.by_rule.items()}}


def may_see_road(month: str, code: str) -> dict:
    """The road's inspection; an inspector sees only the roads assigned to them."""
    found = inspections.inspection(get_store(), month, code)
    if found is None:
        raise NotFound("Road {code} is not in the sample of {month}", code=code, month=month)
    decide("view_road", actor(), Facts(owner=found["inspector_id"] == current_user.id))
    return found


# data functions shared by the pages and the API ------------------------------------------

def roads_data(month: str) -> dict:
    store = get_store()
    mine = current_user.id if current_user.role == "inspector" else None
    roads = inspections.inspections(store, month, inspector_id=mine)
    for road in roads:
        road["score"] = score_json(scores.road_score(store, month, road["code"]))["score"]
        road["submitted_at"] = road["submitted_at"].isoformat() if road["submitted_at"] else None
    return {"month": month, "roads": roads}


def finding_feature(row: dict) -> dict:
    tz = get_store().timezone()
    return {"type": "Feature", "id": row["id"], "geometry": mapping(row["geom"]), "properties": {
        "id": row["id"], "client_id": row["external_id"], "road": row["road"], "rule": row["rule"],
        "count": row["count"], "area_m2": row["area_m2"],
        "observed_at": row["observed_at"].astimezone(tz).isoformat(),
        "deadline": row["deadline"].isoformat() if row["deadline"] else None, "note": row["note"],
        "snapped_m": round(row["snapped_m"], 1), "by": row["created_by"],
        "mine": row["inspector_id"] == current_user.id,
        "photos": [{"id": p, "url": f"/api/photos/{p}", "thumb": f"/api/photos/{p}/thumb"} for p in row["photos"]],
    }}


def road_data(month: str, code: str) -> dict:
    store = get_store()
    found = may_see_road(month, code)
    road = inspections.road(store, code)
    return {
        "month": month,
        "road": {"type": "Feature", "geometry": mapping(road["geom"]),
                 "properties": {"code": road["code"], "name": road["name"], "grade": road["grade"],
                                "grid": road["grid"], "grid_name": road["grid_name"]}},
        "grid": {"type": "Feature", "geometry": mapping(road["grid_geom"]) if road["grid_geom"] else None,
                 "properties": {"code": road["grid"], "name": road["grid_name"]}},
        "inspection": {"inspector": found["inspector"],
                       "submitted_at": found["submitted_at"].isoformat() if found["submitted_at"] else None},
        "score": score_json(scores.road_score(store, month, code)),
        "findings": {"type": "FeatureCollection",
                     "features": [finding_feature(f) for f in inspections.road_findings(store, month, code)]},
    }


def rulebook_data(month: str, lang: str) -> dict:
    book = rulebook_for(month, get_store().rulebooks())
    sections = []
    for section, rules in book.by_section().items():
        zh, en = book.sections[section]
        sections.append({"code": section, "label": en if lang == "en" else zh, "rules": [
            {"code": r.code, "label": r.label(lang), "kind": r.kind, "points": float(r.points),
             "points_high": float(r.points_high) if r.points_high is not None else None} for r in rules]})
    return {"id": book.id, "month": month, "area_threshold_m2": float(book.area_threshold_m2), "sections": sections}


# routes ---------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    return send_from_directory(Path(current_app.static_folder), "openapi.json", mimetype="application/json")


@bp.get("/months/<month>/roads")
@role_required(*READERS)
def month_roads(month: str):
    return jsonify(roads_data(parse_month(month)))


@bp.get("/months/<month>/roads/<code>")
@role_required(*READERS)
def road(month: str, code: str):
    return jsonify(road_data(parse_month(month), code))


@bp.get("/months/<month>/roads/<code>/findings")
@role_required(*READERS)
def road_findings(month: str, code: str):
    return jsonify(road_data(parse_month(month), code)["findings"])


@bp.get("/rulebook/<month>")
@role_required(*READERS)
def rulebook(month: str):
    return jsonify(rulebook_data(parse_month(month), current_user.lang))


@bp.post("/findings")
@role_required("inspector")
def create_finding():
    data = json_object()
    lon, lat = position(data)
    stored, created = findings.record(get_store(), actor(), data, lon, lat)
    score = scores.road_score(get_store(), stored["month"], stored["road"])
    return jsonify(finding=finding_feature(stored), road=stored["road"], created=created,
                   snapped_m=round(stored["snapped_m"], 1), score=score_json(score)), 201 if created else 200


@bp.patch("/findings/<id:finding_id>")
@role_required("inspector")
def edit_finding(finding_id: int):
    data = json_object()
    stored = findings.edit(get_store(), actor(), finding_id, data, reason=text(data, "reason"),
                           lon=coordinate(data, "lon"), lat=coordinate(data, "lat"))
    score = scores.road_score(get_store(), stored["month"], stored["road"])
    return jsonify(finding=finding_feature(stored), road=stored["road"], snapped_m=round(stored["snapped_m"], 1),
                   score=score_json(score))


@bp.delete("/findings/<id:finding_id>")
@role_required("inspector")
def delete_finding(finding_id: int):
    data = json_object(required=False)
    row = findings.delete(get_store(), actor(), finding_id, reason=text(data, "reason"))
    return jsonify(deleted=finding_id, score=score_json(scores.road_score(get_store(), row["month"], row["road"])))


@bp.post("/months/<month>/roads/<code>/submit")
@role_required("inspector")
def submit(month: str, code: str):
    month = parse_month(month)
    findings.submit(get_store(), actor(), month, code)
    return jsonify(road_data(month, code)["inspection"])


def photo_folder() -> Path:
    return get_settings().photo_dir


@bp.post("/findings/<id:finding_id>/photos")
@role_required("inspector")
def upload_photo(finding_id: int):
    client_id = request.form.get("client_id", "")
    if not CLIENT_ID.match(client_id):
        raise FindingError("A photo needs its client-made id")
    upload = request.files.get("photo")
    if upload is None:
        raise FindingError("No photo was sent")
    config = current_app.config
    photo, created = findings.add_photo(get_store(), actor(), photo_folder(), finding_id, client_id, upload.read(),
                                        config["PHOTO_MAX_BYTES"], config["PHOTOS_PER_FINDING"])
    photo_id = photo["id"]
    return jsonify(id=photo_id, url=f"/api/photos/{photo_id}", thumb=f"/api/photos/{photo_id}/thumb",
                   created=created), 201 if created else 200


@bp.get("/photos/<id:photo_id>")
@bp.get("/photos/<id:photo_id>/<any(thumb):size>")
@role_required(*READERS)
def photo(photo_id: int, size: str | None = None):
    store = get_store()
    record = inspections.photo(store, photo_id)
    row = inspections.finding(store, id=record["finding_id"])
    decide("view_photo", actor(), Facts(owner=row["inspector_id"] == current_user.id))
    path = photo_folder() / (record["thumb"] if size else record["file"])
    response = send_file(path, mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response

