"""Publishing a month: draft → published freezes its scores and sample; a change needs the
month re-opened with a reason; the audit log keeps who, when, why and the scores."""

import threading
import time
from datetime import datetime, timezone

import pytest
import shapely
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from fixtures import finding

from gisgrid.services import month as month_work
from gisgrid.services import office
from gisgrid.domain.errors import Conflict, GisgridError
from gisgrid.reports import scores
from gisgrid.services import Actor, findings
from gisgrid.storage import finding_t, inspections, publishing
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
    frozen = {g["code"]: g["score"] for g in publishing.month_state(drawn, MONTH)["scores"]["grids"]}
    assert frozen["G1"] == 97.5 and frozen["G4"] == 100.0          # R11 -5 of (95 + 100) / 2
    assert {g["code"]: g["score"] for g in assessment.month_report(drawn, MONTH)["grids"]} == frozen


RAW = {"external_id": "raw", "month": MONTH, "rule": "5.1", "count": 1, "area_m2": None,
       "observed_at": datetime(2026, 11, 25, 2, tzinfo=timezone.utc), "deadline": None, "note": None,
       "snapped_m": 0.0, "geom": shapely.Point(114.035, 33.5851), "created_by": "sql"}


def test_the_database_refuses_a_published_months_findings_written_around_the_app(drawn):
    """An import, a script or SQL by hand: whatever writes the finding table, the database
    itself refuses to add, change, move or delete a finding of a published month (and keeps
    what it had)."""
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    ids = drawn.road_ids()
    with pytest.raises(Conflict, match="published meanwhile: its scores and findings are frozen"):
        drawn.add_findings([{**RAW, "road_id": ids["R41"]}])
    for change in (update(finding_t).values(count=3), update(finding_t).values(month="2026-12"),
                   delete(finding_t)):
        with pytest.raises(IntegrityError, match="published month are frozen"):
            with drawn.engine.begin() as conn:          # SQL by hand, not through the app
                conn.execute(change)
    with drawn.engine.connect() as conn:
        assert conn.execute(select(finding_t.c.external_id, finding_t.c.count, finding_t.c.month)).all() == [
            ("f1", 1, MONTH)]
    # nor moved in from a draft month
    drawn.add_findings([{**RAW, "road_id": ids["R41"], "month": "2026-12",
                         "observed_at": datetime(2026, 12, 2, 2, tzinfo=timezone.utc)}])
    with pytest.raises(IntegrityError, match="published month are frozen"):
        with drawn.engine.begin() as conn:
            conn.execute(update(finding_t).where(finding_t.c.external_id == "raw").values(month=MONTH))
    month_work.reopen(drawn, Actor(None, "office2", "reviewer"), MONTH, "R41 finding from the paper sheet")
    assert drawn.add_findings([{**RAW, "external_id": "paper", "road_id": ids["R41"]}]) == 1


def test_a_finding_recorded_while_the_month_is_scored_for_publication_is_in_what_is_frozen(drawn, monkeypatch):
    """Scoring a city takes seconds, outside the publication's transaction: a finding that came
    in meanwhile is in the frozen scores (they are made again), not stored and left out."""
    scored = assessment.live_scores_at
    late = iter([finding("late", 114.035, 33.5851, "5.1")])                 # R41 -5: G4 97.5

    def scored_then_a_finding_comes(store, month):
        result = scored(store, month)
        for one in late:
            assert office.record_findings(store, [one]).accepted == 1
            break
        return result

    monkeypatch.setattr(assessment, "live_scores_at", scored_then_a_finding_comes)
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    frozen = publishing.month_state(drawn, MONTH)["scores"]
    assert {g["code"]: g["score"] for g in frozen["grids"]}["G4"] == 97.5
    assert frozen["grids"] == scores.live_document(drawn, MONTH)["grids"]


def test_a_month_whose_findings_keep_changing_is_not_published(drawn, monkeypatch):
    scored = assessment.live_scores_at
    numbers = iter(range(100))

    def scored_then_a_finding_comes(store, month):
        result = scored(store, month)
        office.record_findings(store, [finding(f"late{next(numbers)}", 114.035, 33.5851, "5.1")])
        return result

    monkeypatch.setattr(assessment, "live_scores_at", scored_then_a_finding_comes)
    with pytest.raises(Conflict, match="kept changing while it was being published .3 tries.; close its "
                                       "inspection window"):
        month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    assert publishing.month_state(drawn, MONTH)["state"] == "draft"
    assert drawn.count("findings") == 1 + month_work.PUBLISH_ATTEMPTS      # each stored, once
    assert assessment.audit_report(drawn, MONTH) == []


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


def _until_a_session_waits(store) -> None:
    """Until a session of the test's PostgreSQL database waits for a lock another one holds."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        for _ in range(600):
            if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND cardinality(pg_blocking_pids(pid)) > 0")).scalar():
                return
            conn.rollback()          # the activity view is read once per transaction: a new one each time
            time.sleep(0.05)
    raise AssertionError("no session waited for a lock within 30 s")


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_a_finding_whose_transaction_commits_after_the_publication_is_refused(drawn):
    """Its id was taken before publishing looked, its commit comes after: the database counts
    it at commit, finds the month published and refuses it; the month is as published."""
    ids = drawn.road_ids()
    writer = drawn.engine.connect()
    transaction = writer.begin()
    writer.execute(insert(finding_t).values({**RAW, "external_id": "slow", "road_id": ids["R41"],
                                             "created_at": RAW["observed_at"]}))
    month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)
    with pytest.raises(IntegrityError, match="published month are frozen"):
        transaction.commit()
    writer.close()
    assert drawn.count("findings") == 1
    frozen = {g["code"]: g["score"] for g in publishing.month_state(drawn, MONTH)["scores"]["grids"]}
    assert frozen == {g["code"]: g["score"] for g in scores.month_json(drawn, MONTH)["grids"]}


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_a_finding_counted_before_the_publication_looked_is_frozen_with_the_month(drawn):
    """A commit under way when publishing takes the month: publishing waits for it, sees the
    count move, and scores again."""
    from sqlalchemy import text

    ids = drawn.road_ids()
    writer = drawn.engine.connect()
    transaction = writer.begin()
    writer.execute(insert(finding_t).values({**RAW, "external_id": "slow", "road_id": ids["R41"],
                                             "created_at": RAW["observed_at"]}))
    writer.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))     # counted now, as at the start of its commit
    published = {}
    publisher = threading.Thread(target=lambda: published.update(
        month_work.publish(drawn, Actor(None, "office1", "reviewer"), MONTH)))
    publisher.start()
    _until_a_session_waits(drawn)        # publishing, for the writer
    transaction.commit()
    writer.close()
    publisher.join(60)
    assert published["state"] == "published"
    frozen = {g["code"]: g["score"] for g in publishing.month_state(drawn, MONTH)["scores"]["grids"]}
    assert frozen["G4"] == 97.5                     # R41's -5 is in the month as published


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_a_finding_written_while_the_month_is_being_published_waits_then_is_refused(drawn):
    revision, document = assessment.live_scores_at(drawn, MONTH)
    holding, outcome = threading.Event(), {}

    def held() -> bool:                       # publishing holds the month: a write comes now
        holding.set()
        _until_a_session_waits(drawn)         # the writer, for publishing
        return assessment.publication_revision(drawn, MONTH) == revision

    def write() -> None:            # checked while the month was a draft, inserted once it is not
        try:
            outcome["stored"] = office.record_findings(drawn, [finding("late", 114.035, 33.5851, "5.1")])
        except Conflict as error:
            outcome["refused"] = str(error)

    publisher = threading.Thread(target=lambda: publishing.publish(drawn, MONTH, "office1", document,
                                                                   document["draw"]["id"], still_current=held))
    publisher.start()
    assert holding.wait(30)
    writer = threading.Thread(target=write)
    writer.start()
    publisher.join(60)
    writer.join(60)
    assert "published meanwhile" in outcome["refused"] and "stored" not in outcome
    assert publishing.month_state(drawn, MONTH)["state"] == "published"
    assert drawn.count("findings") == 1
