"""The district office's read models, free of Flask: the accounts page, a month as the office
runs it (when the draw is due, every draw of it, the designation list, who walks which road,
progress) and the audit log. Who may read them is the policy's to say (view_office)."""

from __future__ import annotations

from .. import clock
from ..domain.calendar_rules import draw_due, draw_window
from ..domain.months import parse_month
from ..services.policy import Actor, decide
from ..storage import Store, audit, inspections, publishing
from ..storage import accounts as stored_accounts
from .scores import month_json


def district_towns(store: Store) -> list[str]:
    return sorted({g["town"] for g in store.grid_details().values() if g.get("town")})


def accounts_data(store: Store, actor: Actor) -> dict:
    decide("manage_users", actor)
    from ..services.accounts import ACCOUNT_ROLES, WITH_TOWNS

    return {"accounts": stored_accounts.accounts(store), "roles": list(ACCOUNT_ROLES),
            "with_towns": list(WITH_TOWNS), "towns": district_towns(store)}


def _draw(draw) -> dict:
    return {"id": draw.id, "seed": draw.seed, "method": draw.method, "drawn_by": draw.drawn_by,
            "drawn_at": draw.drawn_at, "superseded_at": draw.superseded_at, "reason": draw.reason,
            "grids": draw.sample, "roads": sum(len(r) for r in draw.sample.values())}


def progress_state(row: dict) -> str:
    """not_started (no finding, not submitted), in_progress, or submitted."""
    if row["submitted_at"] is not None:
        return "submitted"
    return "in_progress" if row["findings"] else "not_started"


def month_data(store: Store, actor: Actor, month: str) -> dict:
    """The month as the office runs it."""
    decide("view_office", actor)
    month = parse_month(month)
    tz = store.timezone()
    start, end = draw_window(month)
    draws = [_draw(d) for d in store.draws(month)]
    current = next((d for d in draws if d["superseded_at"] is None), None)
    grids = store.grid_details()
    road_names = {r.code: r.name for r in store.roads_frame().itertuples()}
    designation = [{"grid": code, "name": grids[code]["name"], "town": grids[code]["town"],
                    "roads": [{"code": r, "name": road_names.get(r)} for r in sorted(roads)]}
                   for code, roads in sorted(store.grid_roads().items()) if roads]
    roads = inspections.inspections(store, month) if current else []
    # provisional: the month as it stands, scored in one pass (not per road)
    scores = {r["code"]: r["score"] for g in month_json(store, month)["grids"] for r in g["roads"]} if roads else {}
    for row in roads:
        row["state"] = progress_state(row)
        row["town"] = grids.get(row["grid"], {}).get("town")
        row["score"] = scores.get(row["code"])
    inspectors = [a for a in stored_accounts.accounts(store) if a["role"] == "inspector" and a["active"]]
    state = publishing.month_state(store, month)
    return {"month": month, "window_closes": publishing.window(store, month), "today": clock.today(tz), "due": draw_due(month, clock.today(tz)),
            "window": {"from": start, "to": end}, "state": state["state"], "current": current,
            "draws": draws, "designation": designation, "roads": roads,
            "inspectors": [{"name": a["name"], "towns": a["towns"]} for a in inspectors],
            "unassigned": sum(1 for r in roads if r["inspector"] is None),
            "progress": {"inspectors": _progress(roads, "inspector"), "towns": _progress(roads, "town")}}


def _progress(roads: list[dict], key: str) -> list[dict]:
    """Per inspector (or town): roads not started, in progress, submitted; findings so far; the
    mean of the roads' provisional scores."""
    groups: dict = {}
    for row in roads:
        group = groups.setdefault(row[key], {key: row[key], "roads": 0, "not_started": 0, "in_progress": 0,
                                             "submitted": 0, "findings": 0, "scores": []})
        group["roads"] += 1
        group[row["state"]] += 1
        group["findings"] += row["findings"]
        if row["score"] is not None:
            group["scores"].append(row["score"])
    out = []
    for name in sorted(groups, key=lambda n: (n is None, n or "")):
        group = groups[name]
        scores = group.pop("scores")
        group["mean_score"] = round(sum(scores) / len(scores), 2) if scores else None
        out.append(group)
    return out


def audit_data(store: Store, actor: Actor, who: str | None = None, what: str | None = None,
               month: str | None = None) -> dict:
    decide("view_office", actor)
    month = parse_month(month) if month else None
    return {"entries": audit.entries(store, who=who or None, what=what or None, month=month),
            "actors": audit.actors(store), "actions": audit.actions(store),
            "filters": {"who": who or "", "what": what or "", "month": month or ""}}


def rulebooks_data(store: Store, actor: Actor, month: str | None = None) -> dict:
    """Every rulebook with the months it governs, and the one in force in `month` (default:
    this month) with its sections, rules, labels and figures."""
    from ..domain.rulebook import governs, rulebook_for

    decide("view_office", actor)
    month = parse_month(month) if month else clock.month(store.timezone())
    books = store.rulebooks()
    book = rulebook_for(month, books)

    def figure(value):
        return None if value is None else (int(value) if value.denominator == 1 else float(value))

    return {"month": month,
            "books": [{"id": b.id, "name_zh": b.name_zh, "name_en": b.name_en, "from": first, "to": last,
                       "in_force": b.id == book.id} for b, first, last in governs(books)],
            "book": {"id": book.id, "name_zh": book.name_zh, "name_en": book.name_en,
                     "effective_from": book.effective_from, "area_threshold_m2": figure(book.area_threshold_m2),
                     "sections": [{"code": code, "zh": book.sections[code][0], "en": book.sections[code][1],
                                   "rules": [{"code": r.code, "zh": r.zh, "en": r.en, "kind": r.kind,
                                              "points": figure(r.points), "points_high": figure(r.points_high),
                                              "gbt": r.gbt} for r in rules]}
                                  for code, rules in book.by_section().items()]}}
