"""Past months keep their names (issue 14, section 3): a month's ranking, bulletin and exports
name each grid, its town and class as they were when the month's sample was drawn; a planner's
edit afterwards never rewrites the month, nor moves its scores from one town to another."""

import io
import json

import pytest
from fixtures import finding

from gisgrid.cli import main
from gisgrid.reports import assessment, scores
from gisgrid.services import Actor, office
from gisgrid.services import month as month_work
from gisgrid.storage import boundaries

NOV, DEC = "2026-11", "2026-12"
REVIEWER = Actor(None, "zhao", "reviewer")


def _rename_and_move_g1(store):
    """The planner renames G1 and hands it to 城关镇, with class C (after November's draw)."""
    current = boundaries.feature(store, "grid", "G1")
    props = {**current["properties"], "name": "城关镇第9网格", "town": "城关镇", "grid_class": "C"}
    from shapely.geometry import shape

    boundaries.save_feature(store, "grid", "G1", props, shape(current["geometry"]), current["properties"]["version"],
                            "planner1", "boundary review")


@pytest.fixture
def drawn(district):
    office.sample_month(district, NOV, roads=["R11", "R12", "R21", "R41", "R42"])
    result = office.record_findings(district, [finding("n1", 114.035, 33.5951, "5.1", count=2)])   # G1: 95
    assert result.accepted == 1
    return district


def _g1(document):
    return next(g for g in document["grids"] if g["code"] == "G1")


def test_a_published_month_keeps_the_names_towns_and_classes_of_its_draw(drawn, capsys):
    month_work.publish(drawn, REVIEWER, NOV)
    _rename_and_move_g1(drawn)
    assert drawn.grid_details()["G1"]["town"] == "城关镇"           # the edit is stored ...

    report = assessment.month_report(drawn, NOV)                  # ... and November does not see it
    g1 = _g1(report)
    assert (g1["name"], g1["town"], g1["class"]) == ("沙北街道第1网格", "沙北街道", "A")
    # 沙北街道 = (G1 95 + G2 100) / 2 = 97.5; 城关镇 = G4 alone, 100: the old towns
    assert [(t["town"], t["score"], t["grids"]) for t in report["towns"]] == [("城关镇", 100.0, 1),
                                                                               ("沙北街道", 97.5, 2)]
    assert _g1(assessment.bulletin(drawn, NOV))["town"] == "沙北街道"
    grid_page = assessment.grid_report(drawn, NOV, "G1")
    assert (grid_page["name"], grid_page["town"]) == ("沙北街道第1网格", "沙北街道")

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(assessment.xlsx_bytes(drawn, NOV)))
    row = next(r for r in book["网格得分"].values if r[2] == "G1")
    assert (row[3], row[4], row[5]) == ("沙北街道第1网格", "沙北街道", "A")
    assert {r[2] for r in book["镇办排名"].values} >= {"沙北街道", "城关镇"}
    frame = scores.scores_frame(drawn)
    assert frame.loc[frame["grid"] == "G1", ["name", "town"]].values.tolist() == [["沙北街道第1网格", "沙北街道"]]

    assert main(["--db", drawn.url, "score", NOV, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # the command line scores the month now, and names it as drawn too
    assert (_g1(printed)["name"], _g1(printed)["town"], _g1(printed)["class"]) == ("沙北街道第1网格", "沙北街道", "A")


def test_a_draft_month_is_named_as_drawn_and_a_later_month_as_edited(drawn):
    _rename_and_move_g1(drawn)
    november = scores.month_json(drawn, NOV)
    assert (_g1(november)["name"], _g1(november)["town"], _g1(november)["class_rank"]) == ("沙北街道第1网格", "沙北街道", 2)
    assert [(t["town"], t["grids"]) for t in november["towns"]] == [("城关镇", 1), ("沙北街道", 2)]

    office.sample_month(drawn, DEC, roads=["R11", "R12", "R21", "R41", "R42"])   # drawn after the edit
    december = scores.month_json(drawn, DEC)
    assert (_g1(december)["name"], _g1(december)["town"], _g1(december)["class"]) == ("城关镇第9网格", "城关镇", "C")
    assert [(t["town"], t["grids"]) for t in december["towns"]] == [("城关镇", 2), ("沙北街道", 1)]
    # the year: each month's town took the grid as that month had it
    year = scores.year_json(drawn, 2026, published_only=False)
    assert {t["town"]: t["months"] for t in year["towns"]} == {
        "城关镇": {NOV: 100.0, DEC: 100.0}, "沙北街道": {NOV: 97.5, DEC: 100.0}}


def test_a_grid_retired_after_the_draw_stays_in_its_month_one_added_after_is_not_in_it(drawn):
    from fixtures import box
    import geopandas as gpd

    current = boundaries.feature(drawn, "grid", "G3")
    boundaries.retire(drawn, "grid", "G3", current["properties"]["version"], "planner1", "merged")
    new = gpd.GeoDataFrame({"code": ["G5"], "name": ["新网格"], "town": ["城关镇"], "grid_class": ["B"],
                            "leader": [None]}, geometry=[box(114.06, 33.59, 114.07, 33.60)], crs=4326)
    drawn.save_grids(new)
    codes = [g["code"] for g in scores.month_json(drawn, NOV)["grids"]]
    assert "G3" in codes and "G5" not in codes
