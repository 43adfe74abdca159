"""Publishing a month: draft → published freezes its scores and sample; a change needs the
month re-opened with a reason; the audit log keeps who, when, why and the scores."""

from datetime import datetime, timezone

import pytest
import shapely
from fixtures import finding

from gisgrid.services import month as month_work
from gisgrid.services import office
from gisgrid.domain.errors import Conflict, GisgridError
from gisgrid.reports import scores
from gisgrid.services import Actor, findings
from gisgrid.storage import inspections, publishing
from gisgrid.reports import assessment

MONTH = "2026-11"


@pytest.fixture
def drawn(district):
    office.sample_month(district, MONTH, seed=1)   # G1: R11 R12, G2: R21, G4: R41 R42
    office.record_findings(district, [finding("f1", 114.035, 33.5951, "5.1")])   # R11: -5
    return district


def test_a_month_is_a_draft_until_published(drawn):
    assert publishing.month_state(drawn, MONTH)["state"] == "draft"
    assert publishing.published_months(drawn) == []
    state = month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    assert state["state"] == "published" and state["published_by"] == "office1"
    assert publishing.published_months(drawn, 2026) == [MONTH]
    frozen = {g["code"]: g["score"] for g in state["scores"]["grids"]}
    assert frozen == {"G1": 97.5, "G2": 100.0, "G3": None, "G4": 100.0}
    assert state["draw_id"] == drawn.sample(MONTH).id
    with pytest.raises(Conflict, match="already published"):
        month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)


def test_published_month_refuses_findings_and_redraws(drawn):
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    with pytest.raises(Conflict, match="2026-11 is published"):
        office.record_findings(drawn, [finding("f2", 114.045, 33.5951, "8.3.1")])
    with pytest.raises(Conflict, match="2026-11 is published"):
        office.sample_month(drawn, MONTH, seed=2, force=True)
    # another month stays open
    october = office.record_findings(drawn, [finding("f3", 114.045, 33.5951, "8.3.1",
                                                     observed_at="2026-10-20T10:00:00+08:00")])
    assert october.accepted == 1
    assert {g["code"]: g["score"] for g in scores.month_json(drawn, MONTH)["grids"]}["G1"] == 97.5


def test_reopen_needs_a_reason_and_the_audit_keeps_scores_before_and_after(drawn):
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    with pytest.raises(GisgridError, match="reason"):
        month_work.reopen(drawn, Actor(None, "office2", "reviewer"), MONTH, "  ")
    state = month_work.reopen(drawn, Actor(None, "office2", "reviewer"), MONTH, "R21 finding missed")
    assert state["state"] == "draft"
    assert office.record_findings(drawn, [finding("f2", 114.045, 33.5951, "8.3.1")]).accepted == 1   # R21: -3
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    log = assessment.audit_report(drawn, MONTH)
    assert [(e["action"], e["actor"], e["reason"]) for e in log] == [
        ("publish", "office1", None), ("reopen", "office2", "R21 finding missed"), ("publish", "office1", None)]
    assert log[0]["before"] is None and log[0]["after"]["G2"] == {"score": 100.0, "rank": 1}
    assert log[1]["before"]["G2"] == {"score": 100.0, "rank": 1}
    assert log[2]["before"]["G2"]["score"] == 100.0 and log[2]["after"]["G2"] == {"score": 97.0, "rank": 3}
    assert all(e["at"] for e in log)


def test_reopen_of_a_draft_is_refused(drawn):
    with pytest.raises(Conflict, match="not published"):
        month_work.reopen(drawn, Actor(None, "office2", "reviewer"), MONTH, "why not")


def test_frozen_scores_are_what_the_review_shows(drawn):
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    # a finding slipped in behind the guard (e.g. written straight into the database) does not move them
    ids = drawn.road_ids()
    drawn.add_findings([{"external_id": "raw", "road_id": ids["R41"], "month": MONTH, "rule": "5.1", "count": 1,
                         "area_m2": None, "observed_at": datetime(2026, 11, 25, 2, tzinfo=timezone.utc),
                         "deadline": None, "note": None,
                         "snapped_m": 0.0, "geom": shapely.Point(114.035, 33.5851), "created_by": "sql"}])
    shown = {g["code"]: g["score"] for g in assessment.month_report(drawn, MONTH)["grids"]}
    assert shown["G4"] == 100.0
    assert {g["code"]: g["score"] for g in scores.month_json(drawn, MONTH)["grids"]}["G4"] == 97.5   # (95 + 100) / 2


def test_the_tablet_cannot_add_or_change_findings_of_a_published_month(drawn):
    drawn.add_user("walker", "x", "inspector")
    walker = Actor.of(drawn.user(name="walker"))
    inspections.assign(drawn, MONTH, "R11", "walker", "office1")
    stored, created = findings.record(drawn, walker, {"id": "t1", "rule": "5.2", "observed_at": "2026-11-26T09:00"},
                                      114.035, 33.5951)
    assert created
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    with pytest.raises(Conflict, match="2026-11 is published"):
        findings.record(drawn, walker, {"id": "t2", "rule": "5.2", "observed_at": "2026-11-26T09:05"},
                        114.035, 33.5951)
    with pytest.raises(Conflict, match="2026-11 is published"):
        findings.edit(drawn, walker, stored["id"], {"count": 3})
    with pytest.raises(Conflict, match="2026-11 is published"):
        findings.delete(drawn, walker, stored["id"])
    month_work.reopen(drawn, Actor(None, "office1", "reviewer"), MONTH, "count was wrong")
    assert findings.edit(drawn, walker, stored["id"], {"count": 3})["count"] == 3
