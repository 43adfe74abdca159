"""The office's month: draw (or designate) the sample, assign the sampled roads, import
findings recorded elsewhere, publish and re-open. The month's state is read and the change
written by storage in one transaction each; the policy is asked first."""

from __future__ import annotations

from collections.abc import Iterable

from . import office
from ..domain import assignment
from ..domain.errors import Conflict, GisgridError, NotFound
from ..domain.months import parse_date, parse_month
from ..reports import assessment
from ..storage import Store, audit, inspections, publishing
from .policy import Actor, Facts, decide


def _month_facts(store: Store, month: str, reason: str | None = None) -> Facts:
    return Facts(month=publishing.month_state(store, month)["state"], reason=bool((reason or "").strip()),
                 month_label=month)


def draw_sample(store: Store, actor: Actor, month: str, seed: int | None = None, roads: Iterable[str] = (),
                force: bool = False, reason: str | None = None, log=office.quiet) -> office.SampleResult:
    """Draw (or designate) the month's sample, recorded with its audit row; a sample that
    stands is replaced only with a reason (redraw_sample), the old draw kept."""
    month = parse_month(month)
    facts = _month_facts(store, month, reason)
    decide("draw_sample", actor, facts)
    reason = (reason or "").strip() or None
    return office.sample_month(store, month, seed=seed, roads=roads, force=force, drawn_by=actor.name,
                               reason=reason, log=log, audited=True,
                               replacing=lambda: decide("redraw_sample", actor, facts))


def _sample_of(store: Store, month: str):
    draw = store.sample(month)
    if draw is None or not draw.sample:
        raise NotFound("No sample has been drawn for {month}; draw it first", month=month)
    return draw


def _inspectors(store: Store, names: Iterable[str]) -> dict[str, list[str]]:
    """Name -> towns of each named inspector, refusing an unknown, non-inspector or disabled one."""
    found: dict[str, list[str]] = {}
    for name in dict.fromkeys(n.strip() for n in names if n and n.strip()):
        account = store.user(name=name)
        if account is None or account["role"] != "inspector":
            raise NotFound("No inspector named {name!r}", name=name)
        if not account["active"]:
            raise Conflict("The inspector {name} is disabled; enable the account first", name=name)
        found[name] = store.towns_of(account["id"])
    if not found:
        raise GisgridError("Name at least one inspector")
    return found


def propose_assignment(store: Store, actor: Actor, month: str, inspectors: Iterable[str],
                       cross_town: bool = False) -> dict[str, str]:
    """The automatic proposal (domain/assignment.py), nothing written: road -> inspector."""
    month = parse_month(month)
    decide("assign_roads", actor, _month_facts(store, month))
    draw = _sample_of(store, month)
    towns = _inspectors(store, inspectors)
    town_of_grid = {code: grid.get("town") for code, grid in store.grid_details().items()}
    return assignment.propose(draw.sample, list(towns), town_of_grid, towns, cross_town=cross_town)


def assign_roads(store: Store, actor: Actor, month: str, inspectors: list[str],
                 cross_town: bool = False) -> dict[str, str]:
    """Share every sampled road of the month among the inspectors (even shares, a grid's roads
    together, optionally 交叉检查) and write it, audited; nothing is written when any name is
    refused. Returns road -> inspector."""
    given = propose_assignment(store, actor, month, inspectors, cross_town)
    inspections.assign_many(store, parse_month(month), given, actor.name, audited=True)
    return given


def assign_by_hand(store: Store, actor: Actor, month: str, given: dict[str, str]) -> None:
    """The office's adjustments: these roads to these inspectors, in one transaction, audited."""
    month = parse_month(month)
    decide("assign_roads", actor, _month_facts(store, month))
    _inspectors(store, given.values())
    inspections.assign_many(store, month, dict(given), actor.name, audited=True)


def assign_road(store: Store, actor: Actor, month: str, road: str, inspector: str) -> None:
    assign_by_hand(store, actor, month, {road: inspector})


def close_window(store: Store, actor: Actor, month: str, closes_on: str | None) -> dict:
    """Close the month's inspection window: no finding observed after `closes_on` is accepted
    (empty: open it again). Audited; before publication only."""
    month = parse_month(month)
    day = parse_date(closes_on) if (closes_on or "").strip() else None
    if day is not None and month_of_day(day) != month:
        raise GisgridError("The window of {month} closes on a day of {month} (got {day})", month=month,
                           day=day.isoformat())
    with store.begin() as conn:
        decide("close_window", actor, Facts(month=publishing.state_in(conn, month), month_label=month))
        before = publishing.set_window_in(conn, month, day, actor.name)
        audit.record(conn, "window", actor.name, month=month, subject=month,
                     before={"closes_on": before.isoformat() if before else None},
                     after={"closes_on": day.isoformat() if day else None})
    return publishing.window(store, month)


def month_of_day(day) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def import_findings(store: Store, actor: Actor, path, crs: str | None = None, log=office.quiet,
                    restricted: bool = True):
    """Findings recorded elsewhere (a file of points); each month they fall in must be open,
    which record_findings checks for every month the file touches."""
    decide("import_findings", actor)
    return office.import_findings(store, path, crs=crs, log=log, created_by=actor.name, restricted=restricted)


PUBLISH_ATTEMPTS = 3


def publish(store: Store, actor: Actor, month: str) -> dict:
    month = parse_month(month)
    decide("publish_month", actor, _month_facts(store, month))
    # scored outside the publication's transaction (a city takes seconds, the tablets' writes
    # would wait), then frozen only if what they came from still stands once the month is held
    for _attempt in range(PUBLISH_ATTEMPTS):
        revision, scores = assessment.live_scores_at(store, month)
        try:
            return publishing.publish(store, month, actor.name, scores,
                                      scores["draw"]["id"] if scores["draw"] else None,
                                      still_current=lambda: assessment.publication_revision(store, month) == revision)
        except publishing.Moved:
            continue
    raise Conflict("{month}'s findings kept changing while it was being published ({attempts} tries); "
                   "close its inspection window, then publish again", month=month, attempts=PUBLISH_ATTEMPTS)


def reopen(store: Store, actor: Actor, month: str, reason: str | None) -> dict:
    month = parse_month(month)
    decide("reopen_month", actor, _month_facts(store, month, reason))
    return publishing.reopen(store, month, actor.name, reason)
