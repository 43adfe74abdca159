"""The office's month: draw (or designate) the sample, assign the sampled roads, import
findings recorded elsewhere, publish and re-open. The month's state is read and the change
written by storage in one transaction each; the policy is asked first."""

from __future__ import annotations

from collections.abc import Iterable

from . import office
from ..domain.months import parse_month
from ..reports import assessment
from ..storage import Store, inspections, publishing
from .policy import Actor, Facts, decide


def _month_facts(store: Store, month: str, reason: str | None = None) -> Facts:
    return Facts(month=publishing.month_state(store, month)["state"], reason=bool((reason or "").strip()),
                 month_label=month)


def draw_sample(store: Store, actor: Actor, month: str, seed: int | None = None, roads: Iterable[str] = (),
                force: bool = False, reason: str | None = None, log=office.quiet) -> office.SampleResult:
    month = parse_month(month)
    decide("draw_sample", actor, _month_facts(store, month, reason))
    return office.sample_month(store, month, seed=seed, roads=roads, force=force, drawn_by=actor.name,
                               reason=reason, log=log)


def assign_roads(store: Store, actor: Actor, month: str, inspectors: list[str]) -> dict[str, str]:
    """Share the month's sampled roads among inspectors, a grid's roads to the same person."""
    month = parse_month(month)
    decide("assign_roads", actor, _month_facts(store, month))
    return inspections.assign_round_robin(store, month, inspectors, assigned_by=actor.name)


def assign_road(store: Store, actor: Actor, month: str, road: str, inspector: str) -> None:
    month = parse_month(month)
    decide("assign_roads", actor, _month_facts(store, month))
    inspections.assign(store, month, road, inspector, actor.name)


def import_findings(store: Store, actor: Actor, path, crs: str | None = None, log=office.quiet,
                    restricted: bool = True):
    """Findings recorded elsewhere (a file of points); each month they fall in must be open,
    which record_findings checks for every month the file touches."""
    decide("import_findings", actor)
    return office.import_findings(store, path, crs=crs, log=log, created_by=actor.name, restricted=restricted)


def publish(store: Store, actor: Actor, month: str) -> dict:
    month = parse_month(month)
    decide("publish_month", actor, _month_facts(store, month))
    scores = assessment.live_scores(store, month)     # frozen with the month (a month undrawn has none)
    return publishing.publish(store, month, actor.name, scores, scores["draw"]["id"] if scores["draw"] else None)


def reopen(store: Store, actor: Actor, month: str, reason: str | None) -> dict:
    month = parse_month(month)
    decide("reopen_month", actor, _month_facts(store, month, reason))
    return publishing.reopen(store, month, actor.name, reason)
