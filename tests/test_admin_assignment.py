"""The assignment proposal and the draw's due date, pure: even shares, a grid's roads together,
cross-checking, determinism; 下旬 in the district's calendar."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from gisgrid.domain import assignment
from gisgrid.domain.calendar_rules import draw_due, draw_window
from gisgrid.domain.errors import GisgridError


def test_grids_stay_together_when_the_shares_allow():
    sample = {"G1": ["R11", "R12"], "G2": ["R21"], "G4": ["R41", "R42"], "G5": ["R51"]}
    given_ = assignment.propose(sample, ["li", "wang"])
    assert assignment.shares(given_) == {"li": 3, "wang": 3}
    for roads in sample.values():
        assert len({given_[r] for r in roads}) == 1


def test_a_grid_is_split_only_to_even_the_shares():
    # three grids of two roads and two inspectors: 3 and 3 needs one grid split
    sample = {"G1": ["a", "b"], "G2": ["c", "d"], "G3": ["e", "f"]}
    given_ = assignment.propose(sample, ["li", "wang"])
    assert sorted(assignment.shares(given_).values()) == [3, 3]
    split = [g for g, roads in sample.items() if len({given_[r] for r in roads}) > 1]
    assert len(split) == 1


def test_cross_town_keeps_inspectors_off_their_towns_and_names_a_grid_nobody_may_take():
    sample = {"G1": ["R11", "R12"], "G2": ["R21"], "G4": ["R41", "R42"]}
    towns = {"G1": "沙北", "G2": "沙北", "G4": "城关"}
    given_ = assignment.propose(sample, ["li", "wang"], towns, {"li": ["沙北"], "wang": ["城关"]}, cross_town=True)
    assert {r for r, n in given_.items() if n == "li"} == {"R41", "R42"}
    # without cross-checking the same people share differently
    assert assignment.propose(sample, ["li", "wang"], towns, {"li": ["沙北"]}) != given_
    with pytest.raises(GisgridError, match="No inspector may take grid G4"):
        assignment.propose(sample, ["wang"], towns, {"wang": ["城关"]}, cross_town=True)


def test_no_inspector_is_refused():
    with pytest.raises(GisgridError, match="Name at least one inspector"):
        assignment.propose({"G1": ["R11"]}, [" ", ""])


samples = st.dictionaries(st.from_regex(r"G[0-9]{1,3}", fullmatch=True), st.integers(0, 2), max_size=40).map(
    lambda counts: {g: [f"{g}-R{i}" for i in range(n)] for g, n in counts.items()})


@given(samples, st.integers(1, 7))
def test_every_road_once_and_shares_differ_by_at_most_one(sample, n):
    names = [f"i{k}" for k in range(n)]
    given_ = assignment.propose(sample, names)
    assert sorted(given_) == sorted(r for roads in sample.values() for r in roads)
    counts = [assignment.shares(given_).get(name, 0) for name in names]
    assert max(counts) - min(counts) <= 1
    assert assignment.propose(sample, names) == given_            # the same proposal again


@pytest.mark.parametrize("month, today, expected", [
    ("2026-11", date(2026, 11, 20), "early"),
    ("2026-11", date(2026, 11, 21), "due"),
    ("2026-11", date(2026, 11, 30), "due"),
    ("2026-11", date(2026, 12, 1), "late"),
    ("2027-02", date(2027, 2, 28), "due"),
])
def test_the_draw_is_due_in_the_last_third(month, today, expected):
    assert draw_due(month, today) == expected


def test_the_last_third_of_february_in_a_leap_year():
    assert draw_window("2028-02") == (date(2028, 2, 21), date(2028, 2, 29))
