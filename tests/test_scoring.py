"""The scoring core: the rule table's edge cases, then its invariants as properties."""

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisgrid.domain.errors import FindingError
from gisgrid.domain.rulebook import load_rulebooks, rulebook_for
from gisgrid.domain.scoring import (Finding, as_points, rank, score_month, score_road, score_year)

BOOK = rulebook_for("2026-11", load_rulebooks())


def road(*findings, code="R1"):
    return score_road(code, findings, BOOK)


@pytest.mark.parametrize("area, points", [(0.5, 2), (3.99, 2), (4.0, 2), (4.01, 4), (12, 4)])
@pytest.mark.parametrize("code", ["1", "2", "4.1"])
def test_area_rules_four_square_metres_inclusive(code, area, points):
    assert road(Finding(code, area_m2=area)).deductions == points


def test_area_rule_count_multiplies_each_item():
    assert road(Finding("1", count=3, area_m2=4.0)).deductions == 6
    assert road(Finding("1", count=2, area_m2=5)).deductions == 8


@pytest.mark.parametrize("observed, points", [
    (date(2026, 10, 1), 5),    # a day late
    (date(2026, 10, 30), 5),   # exactly one month after 30 Sep: not yet "more than one month"
    (date(2026, 10, 31), 10),  # DOMAIN.md: deadline 30 Sep -> doubled from 31 Oct on
    (date(2026, 11, 20), 10),
])
def test_overdue_outdoor_ad_doubles_after_one_month(observed, points):
    assert road(Finding("5.4", observed_on=observed, deadline=date(2026, 9, 30))).deductions == points


def test_overdue_month_end_clamps():
    # 31 Jan + one month is 28 Feb (2027 is not a leap year): 1 Mar is more than a month late.
    assert road(Finding("5.4", observed_on=date(2027, 2, 28), deadline=date(2027, 1, 31))).deductions == 5
    assert road(Finding("5.4", observed_on=date(2027, 3, 1), deadline=date(2027, 1, 31))).deductions == 10


def test_overdue_needs_a_deadline_already_passed():
    with pytest.raises(FindingError, match="needs the notice's deadline"):
        road(Finding("5.4", observed_on=date(2026, 11, 1)))
    with pytest.raises(FindingError, match="not after the deadline"):
        road(Finding("5.4", observed_on=date(2026, 9, 30), deadline=date(2026, 9, 30)))


def test_area_rule_needs_an_area():
    with pytest.raises(FindingError, match="needs the area"):
        road(Finding("4.1"))


def test_half_points_and_counts():
    assert road(Finding("7", count=3)).score == Fraction(197, 2)
    assert road(Finding("6.1.2", count=4), Finding("5.2")).deductions == 5


def test_monthly_rectification_rate_deducts_ten_once():
    assert road(Finding("6.3.2"), Finding("6.3.2", count=2)).deductions == 10


def test_road_is_floored_at_zero():
    result = road(*[Finding("5.1")] * 25)
    assert result.deductions == 125
    assert result.score == 0


def test_grid_month_is_the_mean_of_its_roads_and_a_grid_with_one_road_is_scored_on_it():
    months = score_month(
        {"G1": ["R1", "R2"], "G2": ["R3"]},
        {"R1": [Finding("5.1")], "R2": [Finding("7")], "R3": [Finding("8.3.1")]},
        BOOK, grids=["G1", "G2", "G3"],
    )
    by_code = {m.code: m for m in months}
    assert by_code["G1"].score == Fraction(95 + Fraction(199, 2), 2)  # (95 + 99.5) / 2 = 97.25
    assert by_code["G2"].score == 97
    assert [r.code for r in by_code["G1"].roads] == ["R1", "R2"]
    assert (by_code["G3"].score, by_code["G3"].rank, by_code["G3"].roads) == (None, None, [])
    assert [m.code for m in months] == ["G1", "G2", "G3"]


def test_ties_share_a_rank():
    assert rank({"a": Fraction(90), "b": Fraction(95), "c": Fraction(95), "d": Fraction(80)}) == \
        {"b": 1, "c": 1, "a": 3, "d": 4}


def test_year_is_the_mean_of_assessed_months_only():
    years = score_year({"2026-01": {"G1": Fraction(90), "G2": None},
                        "2026-02": {"G1": Fraction(95), "G2": Fraction(80)}})
    assert {y.code: (y.score, y.rank, sorted(y.months)) for y in years} == {
        "G1": (Fraction(185, 2), 1, ["2026-01", "2026-02"]), "G2": (Fraction(80), 2, ["2026-02"])}


def test_deductions_by_section():
    result = road(Finding("5.3.1"), Finding("5.1"), Finding("8.3.1"))
    assert result.by_section() == {"5": 8, "8": 3}


@pytest.mark.parametrize("value, shown", [(Fraction(193, 2), 96.5), (Fraction(290, 3), 96.67),
                                          (Fraction(389, 4), 97.25), (Fraction(1, 200), 0.01), (None, None)])
def test_scores_are_shown_rounded_half_up(value, shown):
    assert as_points(value) == shown


# properties ---------------------------------------------------------------------------

CODES = sorted(BOOK.rules)


@st.composite
def findings(draw):
    code = draw(st.sampled_from(CODES))
    rule = BOOK.rules[code]
    area = draw(st.floats(0.1, 50, allow_nan=False)) if rule.needs_area else None
    deadline = observed = None
    if rule.needs_deadline:
        deadline = draw(st.dates(date(2020, 1, 1), date(2030, 1, 1)))
        observed = deadline + draw(st.timedeltas(min_value=timedelta(days=1),
                                                 max_value=timedelta(days=120)))
    return Finding(code, count=draw(st.integers(1, 6)), area_m2=area, observed_on=observed, deadline=deadline)


@given(st.lists(findings(), max_size=30))
def test_road_score_is_between_0_and_100_and_100_minus_deductions(fs):
    result = road(*fs)
    assert 0 <= result.score <= 100
    assert result.score == max(0, 100 - result.deductions)
    assert result.deductions == sum(result.by_rule.values())


@given(st.lists(findings(), max_size=15), findings())
def test_another_finding_never_raises_the_score(fs, extra):
    assert road(*fs, extra).score <= road(*fs).score


@given(st.lists(findings(), max_size=15))
def test_order_of_findings_does_not_matter(fs):
    assert road(*fs) == road(*reversed(fs))


@given(st.lists(findings(), max_size=10))
def test_scores_are_multiples_of_half_a_point(fs):
    assert (road(*fs).score * 2).denominator == 1


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.one_of(st.none(), st.fractions(0, 100)), max_size=20))
def test_ranking_properties(scores):
    ranks = rank(scores)
    ranked = {k: r for k, r in ranks.items() if r is not None}
    assert set(ranked) == {k for k, s in scores.items() if s is not None}
    for a in ranked:
        # rank = 1 + number of strictly better scores (competition ranking)
        assert ranked[a] == 1 + sum(scores[b] > scores[a] for b in ranked)


@settings(max_examples=50)
@given(st.dictionaries(st.sampled_from(["G1", "G2", "G3", "G4"]),
                       st.lists(st.lists(findings(), max_size=4), min_size=0, max_size=2), min_size=1))
def test_grid_month_is_mean_of_sampled_roads(grids):
    sample = {g: [f"{g}-R{i}" for i in range(len(roads))] for g, roads in grids.items()}
    by_road = {f"{g}-R{i}": fs for g, roads in grids.items() for i, fs in enumerate(roads)}
    for month in score_month(sample, by_road, BOOK):
        roads = [score_road(r, by_road[r], BOOK).score for r in sample[month.code]]
        assert month.score == (sum(roads) / len(roads) if roads else None)
