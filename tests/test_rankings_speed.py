"""Scoring from the database's counts (the city-sized path) gives exactly the figures of
scoring finding by finding: as a property of the pure core, and on both databases with every
kind of rule (area on both sides of 4 m², 'once', 5.4 with its deadline and doubling); and a
draft month's scores are kept until something they come from changes."""

from collections import defaultdict
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fixtures import finding, stored_as_of_old

from gisgrid.domain import scoring
from gisgrid.domain.rulebook import load_rulebooks, rulebook_for
from gisgrid.reports import scores
from gisgrid.services import office

BOOK = rulebook_for("2026-11", load_rulebooks())
RULES = [c for c, r in BOOK.rules.items() if r.kind != "overdue"]


def _summed(findings):
    """What the database's SUM(count × CASE …) makes of a road's findings, per rule."""
    tariff, units = scoring.tariff(BOOK), defaultdict(int)
    for f in findings:
        low, high = tariff[f.rule]
        units[f.rule] += f.count * (high if f.area_m2 is not None and f.area_m2 > BOOK.area_threshold else low)
    return units


finding_st = st.builds(
    lambda rule, count, area: scoring.Finding(rule, count, area if BOOK.rules[rule].kind == "area" else None),
    st.sampled_from(RULES), st.integers(1, 5), st.sampled_from([0.5, 3.99, 4.0, 4.000001, 6.0, 12.0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(finding_st, max_size=40))
def test_summed_units_score_exactly_as_findings_do(findings):
    assert scoring.score_road_units("R", _summed(findings), BOOK) == scoring.score_road("R", findings, BOOK)


def test_the_tariff_leaves_out_what_needs_dates():
    assert "5.4" not in scoring.tariff(BOOK) and scoring.tariff(BOOK)["4.1"] == (4, 8)   # half points: unit 1/2
    assert scoring.mean([Fraction(163, 2), Fraction(100)]) == Fraction(363, 4)


score_st = st.one_of(st.none(), st.integers(0, 100),
                     st.builds(Fraction, st.integers(0, 400), st.sampled_from([1, 2, 3, 4, 8])))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text("GRID", min_size=1, max_size=4), score_st, max_size=30))
def test_ranks_and_means_are_those_of_their_definitions(scores_by_grid):
    """rank and mean take shortcuts for a city's 20,000 grids (no Fraction hashed, one Fraction
    made per mean): they still give competition ranks and exact means, ints and Fractions alike."""
    ranks = scoring.rank(scores_by_grid)
    assessed = [s for s in scores_by_grid.values() if s is not None]
    for grid, score in scores_by_grid.items():
        assert ranks[grid] == (None if score is None else 1 + sum(1 for s in assessed if s > score))
    if assessed:
        assert scoring.mean(assessed) == sum(map(Fraction, assessed)) / len(assessed)
        assert type(scoring.mean(assessed)) is Fraction


def test_scoring_a_month_leaves_the_collector_as_it_found_it(district):
    """The cyclic collector waits while a month is scored, and runs again after, also when the
    scoring fails (here: the month has no sample)."""
    import gc

    office.sample_month(district, "2026-11", roads=["R11"])
    assert scores.score_month(district, "2026-11") and gc.isenabled()
    with pytest.raises(scores.NotFound):
        scores.month_json(district, "2026-10")
    assert gc.isenabled()
    gc.disable()
    try:
        scores.score_month(district, "2026-11")
        assert not gc.isenabled()        # a caller's own pause is its own to end
    finally:
        gc.enable()


R11, R21, R41 = (114.035, 33.5951), (114.045, 33.5951), (114.035, 33.5851)


def test_the_database_counts_score_as_the_findings_do(district):
    office.sample_month(district, "2026-11", roads=["R11", "R12", "R21", "R41", "R42"])
    result = office.record_findings(district, [
        finding("a", *R11, "4.1", area_m2=4.0, count=3), finding("b", *R11, "4.1", area_m2=4.01),
        finding("c", *R11, "1", area_m2=0.5, count=2), finding("d", *R11, "7", count=3),
        finding("g", *R21, "5.3.2", count=4),
        finding("h", *R41, "5.4", deadline="2026-09-30", observed_at="2026-11-02T10:00:00+08:00"),
        finding("i", *R41, "5.4", deadline="2026-10-20", observed_at="2026-11-02T10:00:00+08:00"),
        finding("j", *R41, "4.1", area_m2=6, count=2),
    ])
    assert result.accepted == 8, result.rejected
    stored_as_of_old(district, "2026-11", "R21", R21, "6.3.2", "e")   # a once-rule, twice on one road
    stored_as_of_old(district, "2026-11", "R21", R21, "6.3.2", "f")
    counted = scores.score_month(district, "2026-11")
    one_by_one = scores.score_month(district, "2026-11", counted=False)
    assert counted == one_by_one
    roads = {r.code: r for g in counted for r in g.roads}
    # R11: 4.1 ≤ 4 m² ×3 = 6, > 4 m² = 4, rule 1 ≤ 4 m² ×2 = 4, rule 7 ×3 = 1.5 -> 84.5
    assert roads["R11"].score == scoring.Fraction(169, 2)
    assert roads["R21"].by_rule == {"5.3.2": 4, "6.3.2": 10}            # 6.3.2 once
    assert roads["R41"].by_rule == {"4.1": 8, "5.4": 15}                # 10 (doubled) + 5


def test_a_draft_months_scores_are_kept_until_what_they_come_from_changes(district):
    from gisgrid.services import Actor, findings
    from gisgrid.storage import boundaries

    office.sample_month(district, "2026-11", roads=["R11", "R12", "R21", "R41", "R42"])
    first = scores.live_document(district, "2026-11")
    again = scores.live_document(district, "2026-11")
    assert again["grids"] is first["grids"]          # kept, not rescored (the copy is the caller's)
    again["audit"] = []
    assert "audit" not in scores.live_document(district, "2026-11")
    g1 = lambda doc: next(g for g in doc["grids"] if g["code"] == "G1")  # noqa: E731
    # a new finding is seen at once
    office.record_findings(district, [finding("n1", *R11, "5.1")])
    assert g1(scores.live_document(district, "2026-11"))["score"] == 97.5
    # an edit, then a delete
    user = Actor(None, "wang", "admin")
    stored, _ = findings.record(district, user, {"id": "t1", "rule": "5.1", "observed_at": "2026-11-26T09:00"}, *R11)
    assert g1(scores.live_document(district, "2026-11"))["score"] == 95.0
    findings.delete(district, user, stored["id"], reason="pinned twice")
    assert g1(scores.live_document(district, "2026-11"))["score"] == 97.5
    # a grid renamed after the draw: the month keeps the drawn name (and is rebuilt, not stale)
    current = boundaries.feature(district, "grid", "G1")
    from shapely.geometry import shape

    boundaries.save_feature(district, "grid", "G1", {**current["properties"], "name": "新名"},
                            shape(current["geometry"]), current["properties"]["version"], "planner1", "rename")
    assert g1(scores.live_document(district, "2026-11"))["name"] == "沙北街道第1网格"
    # a redraw changes the draw
    office.sample_month(district, "2026-11", roads=["R13", "R21"], force=True, reason="redraw")
    assert [r["code"] for r in g1(scores.live_document(district, "2026-11"))["roads"]] == ["R13"]


def test_a_finding_the_sums_cannot_price_is_named_as_one_by_one_names_it(district):
    from sqlalchemy import text

    from gisgrid.domain.errors import FindingError

    office.sample_month(district, "2026-11", roads=["R11", "R12", "R21", "R41", "R42"])
    office.record_findings(district, [finding("a", *R11, "4.1", area_m2=3)])
    with district.begin() as conn:      # as a finding stored before area rules were checked would be
        conn.execute(text("UPDATE finding SET area_m2 = NULL"))
    with pytest.raises(FindingError, match="needs the area"):
        scores.score_month(district, "2026-11")


def test_a_finding_committed_after_a_later_one_still_moves_the_kept_scores(district):
    """On PostgreSQL a transaction takes its finding's id when it inserts, not when it commits:
    one that inserted first and committed last hides behind the largest id. The database's count
    of the month's writes moves all the same (here: a row with an id below every other, and no
    change row, as such a commit leaves the table)."""
    from shapely.geometry import Point
    from sqlalchemy import func, insert, select

    from gisgrid.storage import finding_t, publishing

    office.sample_month(district, "2026-11", roads=["R11", "R21"])
    office.record_findings(district, [finding("n1", *R11, "5.1")])          # G1 95
    g1 = lambda doc: next(g for g in doc["grids"] if g["code"] == "G1")  # noqa: E731
    assert g1(scores.live_document(district, "2026-11"))["score"] == 95.0
    counted = publishing.findings_changes(district, "2026-11")
    with district.begin() as conn:
        lowest = conn.execute(select(func.min(finding_t.c.id))).scalar()
        row = conn.execute(select(finding_t).where(finding_t.c.external_id == "n1")).one()._asdict()
        conn.execute(insert(finding_t).values({**row, "id": lowest - 1, "external_id": "late",
                                               "geom": Point(*R11)}))
    assert publishing.findings_changes(district, "2026-11") == counted + 1
    assert g1(scores.live_document(district, "2026-11"))["score"] == 90.0
