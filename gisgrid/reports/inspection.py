"""The inspector's read models, shared by the tablet's pages and the JSON API: the month's roads,
one road with its findings and running score, the rulebook in force. Who may see a road is the
policy's to say."""

from __future__ import annotations

from shapely.geometry import mapping

from .. import clock
from ..domain import scoring
from ..domain.errors import NotFound
from ..domain.rulebook import rulebook_for
from ..services.policy import Actor, Facts, decide
from ..storage import Store, inspections, publishing
from .scores import road_score


def score_json(score: scoring.RoadScore) -> dict:
    return {"score": scoring.as_points(score.score), "deductions": scoring.as_points(score.deductions),
            "by_rule": {k: scoring.as_points(v) for k, v in score.by_rule.items()}}


def may_see_road(store: Store, actor: Actor, month: str, code: str) -> dict:
    """The road's inspection; an inspector sees only the roads assigned to them."""
    found = inspections.inspection(store, month, code)
    if found is None:
        raise NotFound("Road {code} is not in the sample of {month}", code=code, month=month)
    decide("view_road", actor, Facts(owner=found["inspector_id"] == actor.id))
    return found


def roads_data(store: Store, actor: Actor, month: str) -> dict:
    """The month's sampled roads with their status and running score (an inspector's own)."""
    mine = actor.id if actor.role == "inspector" else None
    roads = inspections.inspections(store, month, inspector_id=mine)
    for road in roads:
        road["score"] = score_json(road_score(store, month, road["code"]))["score"]
        road["submitted_at"] = road["submitted_at"].isoformat() if road["submitted_at"] else None
    return {"month": month, "as_of": clock.now().isoformat(), "roads": roads}


def finding_feature(row: dict, tz, actor: Actor) -> dict:
    return {"type": "Feature", "id": row["id"], "geometry": mapping(row["geom"]), "properties": {
        "id": row["id"], "client_id": row["external_id"], "road": row["road"], "rule": row["rule"],
        "count": row["count"], "area_m2": row["area_m2"],
        "observed_at": row["observed_at"].astimezone(tz).isoformat(),
        "deadline": row["deadline"].isoformat() if row["deadline"] else None, "note": row["note"],
        "snapped_m": round(row["snapped_m"], 1), "by": row["created_by"],
        "mine": row["inspector_id"] == actor.id,
        "photos": [{"id": p, "url": f"/api/photos/{p}", "thumb": f"/api/photos/{p}/thumb"} for p in row["photos"]],
    }}


def road_data(store: Store, actor: Actor, month: str, code: str) -> dict:
    """A sampled road of the month as the tablet draws it: shape, grid, score, findings."""
    found = may_see_road(store, actor, month, code)
    tz = store.timezone()
    road = inspections.road(store, code)
    state = publishing.month_state(store, month)
    return {
        "month": month,
        # when the server said this: the tablet keeps the newest state it saw, page or API
        "as_of": clock.now().isoformat(),
        # the month's state before any work starts: a published month takes no findings
        "month_state": {"state": state["state"], "published_at": state["published_at"].isoformat()
                        if state["published_at"] else None},
        # how far outside the road a pin may be and still count (the tablet checks before queueing)
        "snap_tolerance_m": store.snap_tolerance_m(),
        "road": {"type": "Feature", "geometry": mapping(road["geom"]),
                 "properties": {"code": road["code"], "name": road["name"], "grade": road["grade"],
                                "grid": road["grid"], "grid_name": road["grid_name"]}},
        "grid": {"type": "Feature", "geometry": mapping(road["grid_geom"]) if road["grid_geom"] else None,
                 "properties": {"code": road["grid"], "name": road["grid_name"]}},
        "inspection": {"inspector": found["inspector"],
                       "submitted_at": found["submitted_at"].isoformat() if found["submitted_at"] else None},
        "score": score_json(road_score(store, month, code)),
        "findings": {"type": "FeatureCollection",
                     "features": [finding_feature(f, tz, actor) for f in inspections.road_findings(store, month, code)]},
    }


def rulebook_data(store: Store, month: str, lang: str) -> dict:
    """The rulebook in force in the month, as the tablet's form offers it."""
    book = rulebook_for(month, store.rulebooks())
    sections = []
    for section, rules in book.by_section().items():
        zh, en = book.sections[section]
        sections.append({"code": section, "label": en if lang == "en" else zh, "rules": [
            {"code": r.code, "label": r.label(lang), "kind": r.kind, "points": float(r.points),
             "points_high": float(r.points_high) if r.points_high is not None else None,
             # what the tablet's form asks for this rule, and whether it is offered as a pin at all
             "pinned": r.pinned, "needs_area": r.needs_area, "needs_deadline": r.needs_deadline,
             "needs_count": r.kind != "once"} for r in rules]})
    return {"id": book.id, "month": month, "area_threshold_m2": float(book.area_threshold_m2), "sections": sections}


def photo_file(store: Store, actor: Actor, photo_id: int, thumb: bool = False) -> str:
    """Where a photo (or its thumbnail) lies in the photo folder, for who may see it."""
    record = inspections.photo(store, photo_id)
    finding = inspections.finding(store, id=record["finding_id"])
    decide("view_photo", actor, Facts(owner=finding["inspector_id"] == actor.id))
    return record["thumb"] if thumb else record["file"]
