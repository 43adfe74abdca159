"""Sampling: two distinct roads of each grid's own, reproducible from the recorded seed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gisgrid.domain.errors import SampleError
from gisgrid.domain.sampling import designate, draw_grid, draw_sample

GRIDS = {"G1": ["R11", "R12", "R13", "R14"], "G2": ["R21"], "G3": [], "G4": ["R41", "R42"]}


def test_each_grid_gets_min_two_its_road_count_and_none_for_an_empty_grid():
    sample = draw_sample(GRIDS, seed=7)
    assert set(sample) == {"G1", "G2", "G4"}
    assert len(sample["G1"]) == 2 and set(sample["G1"]) <= set(GRIDS["G1"])
    assert sample["G2"] == ["R21"]
    assert sample["G4"] == ["R41", "R42"]


def test_the_draw_is_the_documented_formula():
    import random
    expected = sorted(random.Random("gisgrid-sample:7:G1").sample(sorted(GRIDS["G1"]), 2))
    assert draw_sample(GRIDS, seed=7)["G1"] == expected


def test_draw_of_one_grid_does_not_depend_on_other_grids():
    alone = draw_sample({"G1": GRIDS["G1"]}, seed=99)
    assert draw_sample(GRIDS, seed=99)["G1"] == alone["G1"]


def test_different_seeds_draw_differently_somewhere():
    roads = {f"G{i}": [f"R{i}{j}" for j in range(6)] for i in range(20)}
    assert draw_sample(roads, seed=1) != draw_sample(roads, seed=2)


def test_designation_overrides_the_draw_for_its_grids():
    designated = designate(["R13", "R11"], {r: g for g, rs in GRIDS.items() for r in rs})
    sample = draw_sample(GRIDS, seed=3, designated=designated)
    assert sample["G1"] == ["R11", "R13"]
    assert sample["G4"] == ["R41", "R42"]


@pytest.mark.parametrize("codes, message", [
    (["R11", "R12", "R13"], "Grid G1 is given 3 roads"),
    (["R99"], "Unknown road code 'R99'"),
    (["RX"], "belongs to no grid"),
])
def test_bad_designations_are_refused(codes, message):
    grid_of = {r: g for g, rs in GRIDS.items() for r in rs} | {"RX": None}
    with pytest.raises(SampleError, match=message):
        designate(codes, grid_of)


def test_designated_roads_must_belong_to_the_grid():
    with pytest.raises(SampleError, match="do not belong to grid G1"):
        draw_sample(GRIDS, seed=1, designated={"G1": ["R21"]})


@given(st.dictionaries(st.text("ABCDEFG0123456789", min_size=1, max_size=4),
                       st.lists(st.text("abcdefgh", min_size=1, max_size=3), max_size=8), max_size=12),
       st.integers(0, 2**31))
def test_sample_properties(grid_roads, seed):
    sample = draw_sample(grid_roads, seed)
    assert sample == draw_sample(grid_roads, seed)  # reproducible
    for grid, roads in grid_roads.items():
        picked = sample.get(grid, [])
        assert len(picked) == min(2, len(set(roads)))
        assert len(set(picked)) == len(picked) and set(picked) <= set(roads)
        assert picked == draw_grid(grid, roads, seed)
