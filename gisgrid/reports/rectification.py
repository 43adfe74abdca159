"""Rectification as people read it: a notice's page, the town office's open notices, the
office's notices of a month with the case loop (seed 003) per town and the overdue list."""

from __future__ import annotations

from fractions import Fraction

from .. import clock
from ..domain import rectification as rules
from ..domain.scoring import as_points, exact
from ..services import rectification as work
from ..services.policy import Actor, Facts, allowed, decide
from ..storage import Store, notices


def _month(day) -> str:
    return f"{day:%Y-%m}"


def notice_page(store: Store, actor: Actor, ref) -> dict:
    """A notice with what the actor may do to it (receive, report, re-inspect)."""
    found = notices.notice(store, work._notice_ref(ref))
    own = Facts(owner=found["town"] in actor.towns)
    decide("view_notices", actor, own)
    document = work.as_json(found)
    document["grid_name"] = found["grid_name"]
    document["may"] = {"receive": actor.role == "town" and allowed("receive_notice", actor, own),
                       "report": actor.role in ("town", "admin") and allowed("report_fix", actor, own),
                       "check": allowed("check_fix", actor, Facts())}
    today = clock.today(store.timezone())
    for item, stored in zip(document["items"], found["items"]):
        as_rule = rules.Item(document["notice"], item["item"], document["rule"], found["deadline"], stored["fixed_on"])
        item["state"] = ("fixed" if as_rule.fixed_on is not None else
                         "overdue" if rules.late(as_rule, today) else "reported" if item["reported_on"] else "open")
        item["on_time"] = rules.fixed_on_time(as_rule)
    return document


def town_page(store: Store, actor: Actor, month: str) -> dict:
    """The town office's notices not yet confirmed fixed, and those closed, of its towns; and
    the month's scores of its towns and their grids (published, or the draft as it stands)."""
    from ..storage import publishing
    from . import scores

    listed = work.listing(store, actor)
    scored = None
    if store.draw_id(month) is not None:
        document = scores.month_document(store, month)

        def for_people(row: dict) -> dict:        # rounded half up to 0.01, from the exact score
            return {**{k: v for k, v in row.items() if not k.startswith("exact") and k != "roads"},
                    "score": as_points(scores.exact_score(row))}
        scored = {"month": month, "state": publishing.month_state(store, month)["state"],
                  "towns": [for_people(t) for t in document["towns"] if t["town"] in actor.towns],
                  "grids": [for_people(g) for g in document["grids"] if g.get("town") in actor.towns]}
    return {"towns": sorted(actor.towns), "open": [n for n in listed if any(i["fixed_on"] is None for i in n["items"])],
            "closed": [n for n in listed if all(i["fixed_on"] is not None for i in n["items"])][:50],
            "scores": scored}


def month_page(store: Store, actor: Actor, month: str) -> dict:
    """The office's month of rectification: notices due in it, the case loop of the notices
    issued in it per town, and every item past its deadline not fixed."""
    decide("view_notices", actor, Facts(owner=True))
    first, last = notices.month_days(month)
    every = notices.notices(store)                  # one read of the notices and their items
    issued = [n for n in every if first <= n["issued_on"] <= last]
    today = clock.today(store.timezone())
    overdue = [{"notice": str(n["id"]), "number": n["number"], "grid": n["grid"], "town": n["town"], "rule": n["rule"],
                "deadline": n["deadline"].isoformat(), "item": i["item"], "text": i["text"],
                "reported_on": i["reported_on"].isoformat() if i["reported_on"] else None,
                "days": (today - n["deadline"]).days}
               for n in every if n["deadline"] < today for i in n["items"] if i["fixed_on"] is None]
    return {"month": month, "due": [work.as_json(n) for n in every if first <= n["deadline"] <= last],
            "case_loop": [loop_row(c) for c in rules.case_loop(issued)],
            "overdue": sorted(overdue, key=lambda o: (-o["days"], o["number"], o["item"]))}


def loop_row(loop: rules.CaseLoop) -> dict:
    def share(part: int, whole: int):
        return exact(Fraction(part, whole)) if whole else None
    return {"town": loop.town, "notices": loop.notices, "dispatched": loop.dispatched,
            "dispatched_rate": share(loop.dispatched, loop.notices), "items": loop.items, "handled": loop.handled,
            "handled_rate": share(loop.handled, loop.items), "rated": loop.rated,
            "satisfaction": exact(loop.satisfaction)}
