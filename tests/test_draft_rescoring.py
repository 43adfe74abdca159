"""A draft month's kept scores rescore only the roads whose findings were written since
(migration 0017 notes them), and only the grid deductions when notices or the day move:
whatever is written, and however (added through the office, edited, moved to another road or
month, deleted by hand in SQL, notices issued and fixed from the command line, days passing),
the kept month and its report are what a server that never kept anything makes of the same
database."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from fixtures import FROZEN_AT, finding, stored_as_of_old
from gisgrid.cli import main
from gisgrid.domain import scoring
from gisgrid.reports import assessment, scores
from gisgrid.services import office
from gisgrid.storage import Store, finding_t

NOV, OCT = "2026-11", "2026-10"
# a spot on each road of the small district; R13 and R42 are drawn in neither month
SPOTS = {"R11": (114.035, 33.5951), "R12": (114.0351, 33.593), "R13": (114.035, 33.5971),
         "R21": (114.045, 33.5951), "R41": (114.035, 33.5851), "R42": (114.035, 33.5871)}
RULES = {"4.1": True, "1": True, "5.1": False, "5.3.2": False, "6.3.2": False, "7": False}   # rule: needs area
AREAS = [0.5, 4.0, 4.000001, 6.0]


@pytest.fixture
def drawn(district):
    office.sample_month(district, OCT, roads=["R11", "R21", "R41"])
    office.sample_month(district, NOV, roads=["R11", "R12", "R21", "R41"])
    return district


def _add(store, n, road, rule, count, area, month):
    observed = f"{month}-20T10:00:00+08:00"
    if rule == "6.3.2":     # not a spot finding: only a database from before that was refused holds one
        return stored_as_of_old(store, month, road, SPOTS[road], rule, f"p{n}", count, observed)
    props = {"count": count, **({"area_m2": area} if RULES[rule] else {})}
    result = office.record_findings(store, [finding(f"p{n}", *SPOTS[road], rule, observed_at=observed, **props)])
    assert result.accepted == 1, result.rejected


def _add_overdue(store, n, road, month):
    """A 5.4 finding (its deadline decides its points, scored one by one beside the sums)."""
    result = office.record_findings(store, [finding(f"p{n}", *SPOTS[road], "5.4", deadline=f"{OCT}-01",
                                                    observed_at=f"{month}-20T10:00:00+08:00")])
    assert result.accepted == 1, result.rejected


def _by_hand(store, pick, values=None):
    """An edit (or with no values, a delete) of one stored finding, in SQL as a script would."""
    with store.begin() as conn:
        ids = list(conn.execute(select(finding_t.c.id).order_by(finding_t.c.id)).scalars())
        if not ids:
            return
        target = finding_t.c.id == ids[pick % len(ids)]
        if values is None:
            conn.execute(delete(finding_t).where(target))
        else:
            conn.execute(update(finding_t).where(target).values(**values))


def _road_ids(store):
    return store.road_ids()


operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(sorted(SPOTS)), st.sampled_from(sorted(RULES)), st.integers(1, 3),
              st.sampled_from(AREAS), st.sampled_from([NOV, NOV, OCT])),
    st.tuples(st.just("overdue"), st.sampled_from(sorted(SPOTS)), st.sampled_from([NOV, OCT])),
    st.tuples(st.just("count"), st.integers(0, 50), st.integers(1, 4)),
    st.tuples(st.just("area"), st.integers(0, 50), st.sampled_from(AREAS)),
    st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from(sorted(SPOTS))),
    st.tuples(st.just("month"), st.integers(0, 50), st.sampled_from([NOV, OCT])),
    st.tuples(st.just("withdraw"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("notice"), st.sampled_from(["G1", "G2", "G4"]), st.sampled_from([OCT, NOV]), st.integers(2, 24)),
    st.tuples(st.just("fix"), st.integers(0, 20), st.integers(1, 2), st.integers(1, 25)),
    st.tuples(st.just("day"), st.integers(0, 5)),
)
# and writes that may leave a finding the month cannot be scored with (an area rule without an
# area, a count the scorer refuses), and several writes in one transaction
writes = st.one_of(operation, st.tuples(st.just("restore"), st.integers(0, 50)),
                   st.tuples(st.just("rule"), st.integers(0, 50), st.sampled_from(sorted(RULES))),
                   st.tuples(st.just("count"), st.integers(0, 50), st.sampled_from([0, -1])),
                   st.tuples(st.just("area"), st.integers(0, 50), st.sampled_from([None, 0.0, -2.0])),
                   st.tuples(st.just("together"), st.integers(0, 50), st.integers(0, 50), st.sampled_from(sorted(SPOTS)),
                             st.integers(1, 4)))


def _url(store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _command(store, *args):
    """The office's command line on the same database (a refusal, such as a second fix, is fine)."""
    return main(["--db", _url(store), *args])


def _apply(store, n, op, clock):
    kind = op[0]
    if kind == "notice":
        _, grid, month, day = op
        assert _command(store, "notice", "issue", grid, "--deadline", f"{month}-{day:02d}", "--issued",
                        f"{month}-01", "--item", "清理占道堆放", "--item", "清除小广告") == 0
    elif kind == "fix":
        with store.engine.connect() as conn:
            ids = [str(i) for (i,) in conn.exec_driver_sql("SELECT id FROM notice ORDER BY id")]
        if ids:
            _command(store, "notice", "fix", ids[op[1] % len(ids)], str(op[2]), "--on", f"{NOV}-{op[3]:02d}")
    elif kind == "day":
        clock.move_to(FROZEN_AT + timedelta(days=op[1]))
    elif kind == "add":
        _add(store, n, *op[1:])
    elif kind == "overdue":
        _add_overdue(store, n, *op[1:])
    elif kind == "count":
        _by_hand(store, op[1], {"count": op[2]})
    elif kind == "area":      # an area on a count rule is not read: the sums price it by rule
        _by_hand(store, op[1], {"area_m2": op[2]})
    elif kind == "move":
        _by_hand(store, op[1], {"road_id": _road_ids(store)[op[2]]})
    elif kind == "month":
        _by_hand(store, op[1], {"month": op[2]})
    elif kind == "withdraw":
        _by_hand(store, op[1], {"deleted_at": datetime(2026, 11, 26, tzinfo=timezone.utc)})
    elif kind == "together":         # one transaction: recounted, moved and back, another withdrawn
        _, pick, other, road, count = op
        with store.begin() as conn:
            ids = list(conn.execute(select(finding_t.c.id, finding_t.c.road_id).order_by(finding_t.c.id)))
            if ids:
                (target, home), (withdrawn, _) = ids[pick % len(ids)], ids[other % len(ids)]
                for values in ({"count": count}, {"road_id": _road_ids(store)[road]}, {"road_id": home},
                               {"road_id": _road_ids(store)[road], "area_m2": 6.0}):
                    conn.execute(update(finding_t).where(finding_t.c.id == target).values(**values))
                conn.execute(update(finding_t).where(finding_t.c.id == withdrawn)
                             .values(deleted_at=datetime(2026, 11, 27, tzinfo=timezone.utc)))
    elif kind == "restore":
        _by_hand(store, op[1], {"deleted_at": None})
    elif kind == "rule":
        _by_hand(store, op[1], {"rule": op[2]})
    else:
        _by_hand(store, op[1])


def _as_a_new_server_makes_them(store):
    fresh = Store(_url(store))
    try:
        return ({m: scores.live_document(fresh, m) for m in (OCT, NOV)},
                {m: assessment.month_report(fresh, m) for m in (OCT, NOV)})
    finally:
        fresh.dispose()


_WRITTEN = [0]      # findings' ids go on across the examples, which share the database


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=6))
def test_kept_scores_rescored_in_part_are_those_scored_whole(drawn, clock, operations):
    counter = _WRITTEN
    for m in (OCT, NOV):                        # kept before the writes
        assessment.month_report(drawn, m)
    for op in operations:
        counter[0] += 1
        _apply(drawn, counter[0], op, clock)
        documents, reports = _as_a_new_server_makes_them(drawn)
        for m in (OCT, NOV):
            assert scores.live_document(drawn, m) == documents[m]
            assert assessment.month_report(drawn, m) == reports[m]
            # the running score each tablet write answers with (alike findings grouped by the
            # database) is the month's score of that road
            month_roads = {r["code"]: r for g in documents[m]["grids"] for r in g["roads"]}
            for code, road in month_roads.items():
                running = scores.road_score(drawn, m, code)
                assert (scoring.exact(running.score), {k: scoring.exact(v) for k, v in running.by_rule.items()}) == \
                    (road["score"], road["by_rule"])


def _tallies(store, recounted: bool) -> set[tuple]:
    """The roads' tallies as the database keeps them, or as its findings make them now."""
    kept = "SELECT month, road_id, rule, area, findings, items, uncounted FROM road_tally"
    recount = ("SELECT month, road_id, rule, COALESCE(area_m2, 0), COUNT(*), SUM(count), "
               "SUM(CASE WHEN count >= 1 AND count = CAST(count AS INTEGER) THEN 0 ELSE 1 END) FROM finding "
               "WHERE deleted_at IS NULL AND deadline IS NULL GROUP BY month, road_id, rule, COALESCE(area_m2, 0)")
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.exec_driver_sql(recount if recounted else kept)}


def _scored_both_ways(store, month):
    """The month from the roads' tallies and finding by finding (or the error each gives)."""
    made = []
    for counted in (True, False):
        try:
            made.append(scores.score_month(store, month, counted=counted))
        except Exception as error:         # noqa: BLE001  (the same refusal, both ways)
            made.append((type(error), str(error)))
    return made


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(writes, min_size=1, max_size=8))
def test_the_roads_tallies_are_their_findings_counted_after_every_write(drawn, clock, operations):
    """However findings are written (through the office, or edited, moved, withdrawn, restored,
    re-ruled and deleted in SQL), the tallies the database keeps are what counting the findings
    gives, and the month priced from them is the month scored finding by finding."""
    counter = _WRITTEN
    for op in operations:
        counter[0] += 1
        _apply(drawn, counter[0], op, clock)
        assert _tallies(drawn, recounted=False) == _tallies(drawn, recounted=True)
        for m in (OCT, NOV):
            from_tallies, one_by_one = _scored_both_ways(drawn, m)
            assert from_tallies == one_by_one


def test_a_write_rescores_its_road_and_keeps_the_other_grids_rows(drawn):
    """Not a rescoring of the whole month: a finding on R21 makes G2's row again, gives G1 (same
    roads, a new rank) a copy of its row, and keeps G4's (rank unchanged) as the very row."""
    _add(drawn, "a", "R11", "5.1", 1, None, NOV)                # G1 (R11, R12) 97.5: 3rd behind G2, G4
    before = {g["code"]: g for g in scores.live_document(drawn, NOV)["grids"]}
    report_before = {g["code"]: g for g in assessment.month_report(drawn, NOV)["grids"]}
    _add(drawn, "b", "R21", "5.1", 1, None, NOV)                # G2 (R21) 95: G1 2nd, G2 3rd
    after = {g["code"]: g for g in scores.live_document(drawn, NOV)["grids"]}
    report_after = {g["code"]: g for g in assessment.month_report(drawn, NOV)["grids"]}
    assert [(before[g]["rank"], after[g]["rank"]) for g in ("G1", "G2", "G4")] == [(3, 2), (1, 3), (1, 1)]
    assert (before["G2"]["score"], after["G2"]["score"]) == (100.0, 95.0)
    assert after["G4"] is before["G4"] and report_after["G4"] is report_before["G4"]
    assert after["G1"] is not before["G1"] and after["G1"]["roads"] is before["G1"]["roads"]
    assert report_after["G1"]["roads"] is report_before["G1"]["roads"]
    assert after["G2"]["roads"] is not before["G2"]["roads"]


def test_the_database_notes_each_road_written_with_the_months_count(drawn):
    from gisgrid.storage import publishing

    ids = _road_ids(drawn)
    start = publishing.findings_changes(drawn, NOV)
    _add(drawn, "a", "R11", "5.1", 1, None, NOV)
    _add(drawn, "b", "R21", "5.1", 1, None, NOV)
    assert sorted(drawn.roads_written_since(NOV, start)) == sorted([ids["R11"], ids["R21"]])
    assert drawn.roads_written_since(NOV, start + 1) == [ids["R21"]]
    # a move notes the road it left and the road it went to; a month change both months
    _by_hand(drawn, 0, {"road_id": ids["R41"]})
    assert sorted(drawn.roads_written_since(NOV, start + 2)) == sorted([ids["R11"], ids["R41"]])
    october = publishing.findings_changes(drawn, OCT)
    _by_hand(drawn, 0, {"month": OCT})
    assert drawn.roads_written_since(OCT, october) == [ids["R41"]]
    assert drawn.roads_written_since(NOV, start + 3) == [ids["R41"]]
    _by_hand(drawn, 1)                             # deleted: its road is noted too
    assert drawn.roads_written_since(NOV, start + 4) == [ids["R21"]]


def test_publishing_freezes_the_month_scored_whole(drawn, monkeypatch):
    """What cadres are judged by is never the kept scores rescored in part."""
    from gisgrid.services import Actor
    from gisgrid.services import month as month_work

    assessment.month_report(drawn, NOV)
    _add(drawn, "a", "R11", "5.1", 1, None, NOV)
    rescored = []
    real = scores._rescored
    monkeypatch.setattr(scores, "_rescored", lambda *a: rescored.append(a) or real(*a))
    published = month_work.publish(drawn, Actor(None, "zhao", "reviewer"), NOV)
    assert rescored == [] and published["state"] == "published"
    assert {g["code"]: g["score"] for g in assessment.month_report(drawn, NOV)["grids"]}["G1"] == 97.5


def _as_fresh(store, month):
    documents, _ = _as_a_new_server_makes_them(store)
    return documents[month]


def test_a_sampled_road_renamed_then_written_is_scored_under_its_new_code(drawn):
    from shapely.geometry import shape

    from gisgrid.storage import boundaries

    _add(drawn, "a", "R11", "5.1", 1, None, NOV)
    scores.live_document(drawn, NOV)
    road = boundaries.feature(drawn, "road", "R11")
    boundaries.save_feature(drawn, "road", "R11", {**road["properties"], "code": "R11X"}, shape(road["geometry"]),
                            road["properties"]["version"], "planner1", "renamed")
    _add(drawn, "b", "R11", "5.1", 1, None, NOV)           # the same spot: the renamed road
    kept = scores.live_document(drawn, NOV)
    assert kept == _as_fresh(drawn, NOV)
    g1 = next(g for g in kept["grids"] if g["code"] == "G1")
    assert g1["score"] == 95.0 and [r["code"] for r in g1["roads"]] == ["R11X", "R12"]


def test_another_time_zone_dates_the_kept_overdue_findings_again(drawn):
    """5.4 doubles when observed after the same day a month past the deadline: 00:30 on the
    20th in Beijing is still the 19th in UTC, the day itself, so not doubled there."""
    result = office.record_findings(drawn, [finding("late", *SPOTS["R41"], "5.4", deadline="2026-10-19",
                                                    observed_at="2026-11-20T00:30:00+08:00")])
    assert result.accepted == 1, result.rejected
    r41 = lambda doc: next(r for g in doc["grids"] for r in g["roads"] if r["code"] == "R41")  # noqa: E731
    assert r41(scores.live_document(drawn, NOV))["deductions"] == 10.0
    drawn.set_setting("timezone", "UTC")
    _add(drawn, "b", "R11", "5.1", 1, None, NOV)           # a write elsewhere: R41 itself is not written
    kept = scores.live_document(drawn, NOV)
    assert r41(kept)["deductions"] == 5.0 and kept == _as_fresh(drawn, NOV)


def test_many_roads_written_or_a_finding_the_sums_cannot_price_score_the_month_whole(drawn, monkeypatch):
    from gisgrid.domain.errors import FindingError

    scores.live_document(drawn, NOV)
    monkeypatch.setattr(scores, "RESCORED_AT_MOST", 0)
    rescored_whole = []
    real = scores._scored
    monkeypatch.setattr(scores, "_scored", lambda *a, **k: rescored_whole.append(a) or real(*a, **k))
    _add(drawn, "a", "R11", "5.1", 1, None, NOV)
    kept = scores.live_document(drawn, NOV)
    assert rescored_whole == [(drawn, NOV)] and kept == _as_fresh(drawn, NOV)
    monkeypatch.setattr(scores, "RESCORED_AT_MOST", 5000)
    _add(drawn, "b", "R21", "4.1", 1, 3.0, NOV)
    _by_hand(drawn, -1, {"area_m2": None})            # as a finding stored before area rules were checked
    with pytest.raises(FindingError, match="needs the area"):
        scores.live_document(drawn, NOV)


def test_the_server_keeps_the_latest_draft_months_before_the_first_view(drawn, monkeypatch):
    """`gisgrid serve` reports the last two drawn months that are drafts before its workers
    fork: their first views build nothing. A published one is not scored for it, and one that
    cannot be scored is left to its first view, which says why."""
    from gisgrid.domain.errors import FindingError
    from gisgrid.services import Actor
    from gisgrid.services import month as month_work

    office.sample_month(drawn, "2026-09", roads=["R11"])
    month_work.publish(drawn, Actor(None, "zhao", "reviewer"), OCT)
    said = []
    assert assessment.keep_drafts(drawn, log=said.append) == [NOV]
    builds = []
    real = assessment._month_report
    monkeypatch.setattr(assessment, "_month_report", lambda *a, **k: builds.append(a) or real(*a, **k))
    assert assessment.month_report(drawn, NOV)["month"] == NOV and builds == []
    assert said == [f"scoring the draft month {NOV} for its first views"]
    _add(drawn, "a", "R21", "4.1", 1, 3.0, NOV)
    _by_hand(drawn, -1, {"area_m2": None})
    said.clear()
    another = Store(_url(drawn))           # a server started now
    try:
        assert assessment.keep_drafts(another, log=said.append) == []
    finally:
        another.dispose()
    assert "is left to its first view" in said[-1] and "needs the area" in said[-1]
    with pytest.raises(FindingError):
        assessment.month_report(drawn, NOV)


def test_a_finding_replaced_or_all_of_them_emptied_by_hand_leaves_no_tally_behind(drawn):
    """SQL by hand that replaces a finding (SQLite's REPLACE deletes the old row to make room;
    PostgreSQL's upsert updates it) or empties the table (TRUNCATE) is tallied too."""
    _add(drawn, "a", "R11", "5.1", 2, None, NOV)
    _add(drawn, "b", "R21", "4.1", 1, 6.0, NOV)
    columns = [c.name for c in finding_t.columns]
    again = ", ".join({"count": "3", "rule": "'5.3.2'"}.get(c, c) for c in columns)
    with drawn.engine.begin() as conn:
        first = conn.execute(select(finding_t.c.id).order_by(finding_t.c.id).limit(1)).scalar_one()
        the_same = f"({', '.join(columns)}) SELECT {again} FROM finding WHERE id = {int(first)}"
        conn.execute(text(f"INSERT INTO finding {the_same} ON CONFLICT (id) DO UPDATE SET count = excluded.count, "
                          "rule = excluded.rule" if drawn.postgis else f"REPLACE INTO finding {the_same}"))
    assert _tallies(drawn, recounted=False) == _tallies(drawn, recounted=True)
    assert {(t[2], t[5]) for t in _tallies(drawn, recounted=False)} == {("5.3.2", 3), ("4.1", 1)}
    with drawn.engine.begin() as conn:
        conn.execute(text("TRUNCATE finding CASCADE" if drawn.postgis else "DELETE FROM finding"))
    assert _tallies(drawn, recounted=False) == set()


def test_an_area_rule_of_one_figure_still_needs_the_area(drawn, tmp_path):
    """A district's rule priced alike on both sides of the threshold is still an area rule: a
    finding of it without an area is refused by the month, as finding by finding, not priced."""
    from gisgrid.domain.rulebook import SHIPPED_DIR

    folder = tmp_path / "rulebooks"
    folder.mkdir()
    text_of = (SHIPPED_DIR / "yancheng-2012.toml").read_text(encoding="utf-8")
    head, rule = text_of.split('[rules."4.1"]', 1)
    (folder / "district.toml").write_text(
        head.replace('id = "yancheng-2012"', 'id = "district-2026"')
            .replace('effective_from = "2012-01"', f'effective_from = "{NOV}"')
        + '[rules."4.1"]' + rule.replace("points_high = 4", "points_high = 2", 1), encoding="utf-8")
    district = Store(_url(drawn), drawn.config.replace(RULEBOOK_DIR=str(folder)))
    try:
        _add(district, "a", "R11", "4.1", 1, 6.0, NOV)
        assert scores.month_json(district, NOV)["rulebook"] == "district-2026"
        _by_hand(district, -1, {"area_m2": None})
        from_tallies, one_by_one = _scored_both_ways(district, NOV)
    finally:
        district.dispose()
    assert from_tallies == one_by_one and "needs the area" in from_tallies[1]


def test_a_database_of_before_the_tallies_is_tallied_when_it_is_upgraded(drawn):
    """Findings stored before migration 0018 (kept, withdrawn, with a deadline) are counted into
    the tallies the upgrade makes, and the month is scored from them as before."""
    from alembic import command

    from gisgrid.storage.db import _alembic_config

    _add(drawn, "a", "R11", "5.1", 2, None, NOV)
    _add(drawn, "b", "R11", "4.1", 1, 6.0, NOV)
    _add(drawn, "c", "R21", "4.1", 1, 6.0, NOV)
    _add_overdue(drawn, "d", "R41", NOV)
    before = scores.month_json(drawn, NOV)
    config = _alembic_config()
    with drawn.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0017")
        conn.execute(update(finding_t).where(finding_t.c.road_id == _road_ids(drawn)["R21"])
                     .values(deleted_at=datetime(2026, 11, 26, tzinfo=timezone.utc)))
        command.upgrade(config, "head")
    assert _tallies(drawn, recounted=False) == _tallies(drawn, recounted=True)
    assert len(_tallies(drawn, recounted=False)) == 2            # R11's two rules; R21's is withdrawn
    after = {g["code"]: g["score"] for g in scores.month_json(drawn, NOV)["grids"]}
    assert after == {**{g["code"]: g["score"] for g in before["grids"]}, "G2": 100.0}
