"""Towns and classes (DOMAIN.md "Towns and classes"): town month = mean of its assessed grids,
town year = mean of its assessed months, grids ranked within their class, ties shared; exact
values in machine outputs, half-up hundredths for people; the year-end lists."""

import json
from fractions import Fraction as F

import pytest
from fixtures import finding

from gisgrid.cli import main
from gisgrid.domain import scoring
from gisgrid.services import office

OCT, NOV = "2026-10", "2026-11"
R11 = (114.035, 33.5951)
SAMPLE = ["R11", "R12", "R21", "R41", "R42"]     # G1: R11 R12, G2: R21, G4: R41 R42; G3 has no road


# the pure core ----------------------------------------------------------------------------


def test_classes_are_named_in_chinese_and_english_by_their_code():
    from gisgrid.domain.grid_classes import CODES, class_name
    from gisgrid.storage.boundaries import GRID_CLASSES

    assert CODES == GRID_CLASSES == ("A", "B", "C")
    assert class_name("A") == "A类（主干道严管）" and class_name("A", "en") == "Class A (main roads, strict)"
    assert class_name("C", "zh") == "C类（背街小巷规范管理）"
    assert class_name("D", "en") == "D" and class_name(None) == "" and class_name("", "en") == ""


def test_class_ranks_share_ties_within_each_class_only():
    scores = {"A1": F(90), "A2": F(95), "A3": F(90), "B1": F(80), "B2": None, "X": F(99)}
    classes = {"A1": "A", "A2": "A", "A3": "A", "B1": "B", "B2": "B", "X": None}
    assert scoring.class_ranks(scores, classes) == {"A2": 1, "A1": 2, "A3": 2, "B1": 1, "B2": None,
                                                      "X": None}


def test_town_month_is_the_mean_of_its_assessed_grids_ranks_shared():
    scores = {"g1": F(90), "g2": F(181, 2), "g3": None, "g4": F(181, 2), "g5": F(80), "g6": F(100), "g7": None}
    towns = {"g1": "甲", "g2": "甲", "g3": "甲", "g4": "乙", "g5": "丙", "g6": "丙", "g7": "丁"}
    result = {t.town: (t.score, t.rank, t.grids) for t in scoring.score_towns(scores, towns)}
    # 甲: (90 + 90.5) / 2 = 90.25 (g3 not assessed, not counted); 乙 90.5; 丙 (80 + 100) / 2 = 90
    assert result == {"乙": (F(181, 2), 1, 1), "甲": (F(361, 4), 2, 2), "丙": (F(90), 3, 2), "丁": (None, None, 0)}


def test_towns_tie_one_one_three():
    scores = {"a": F(90), "b": F(90), "c": F(80), "d": F(100)}
    towns = {"a": "甲", "b": "乙", "c": "丙", "d": "丙"}      # 丙 = (80 + 100) / 2 = 90 as well
    assert {t.town: t.rank for t in scoring.score_towns(scores, towns)} == {"甲": 1, "乙": 1, "丙": 1}
    towns["d"] = "丁"
    assert {t.town: t.rank for t in scoring.score_towns(scores, towns)} == {"丁": 1, "甲": 2, "乙": 2, "丙": 4}


def test_town_year_is_the_mean_of_its_assessed_months():
    years = scoring.score_towns_year({"2026-01": {"甲": F(90), "乙": None}, "2026-02": {"甲": F(181, 2), "乙": F(95)}})
    assert {y.code: (y.score, y.rank) for y in years} == {"乙": (F(95), 1), "甲": (F(361, 4), 2)}


def test_year_end_commends_the_top_ten_and_lists_the_lowest_ties_included():
    scores = {f"G{n:02d}": F(100 - n) for n in range(1, 15)}
    scores["G11"] = F(90)                       # ties G10 for tenth place: both commended
    scores["G14"] = scores["G13"]               # the lowest two share the last place
    ends = scoring.year_end(scoring.score_year({"2026-01": scores}))
    assert [y.code for y in ends.commended] == [f"G{n:02d}" for n in range(1, 12)]
    assert [y.code for y in ends.criticised] == ["G13", "G14"]
    assert scoring.year_end([]) == scoring.YearEnd([], [])


def test_machines_get_the_exact_value_people_the_half_up_hundredth():
    assert scoring.exact(F(725, 8)) == 90.625 and scoring.as_points(F(725, 8)) == 90.63
    assert f"{90.625:.2f}" == "90.62"           # why people's figures never come from '%.2f' of a float
    assert scoring.exact(None) is None


# the command line ------------------------------------------------------------------------


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_months(district):
    """G1 is 90.75 in October (R11 81.5, R12 100) and 90.5 in November (R11 81, R12 100): its year
    is exactly 90.625. Every other assessed grid is 100."""
    for month in (OCT, NOV):
        office.sample_month(district, month, roads=SAMPLE)
    result = office.record_findings(district, [
        finding("o1", *R11, "5.1", observed_at="2026-10-20T10:00:00+08:00", count=3),   # 15
        finding("o2", *R11, "7", observed_at="2026-10-20T10:00:00+08:00", count=7),     # 3.5
        finding("n1", *R11, "5.1", count=3),                                          # 15
        finding("n2", *R11, "5.2", count=4),                                          # 4
    ])
    assert result.accepted == 4, result.rejected
    return district


def test_score_json_has_towns_and_class_ranks_exact(two_months, capsys):
    code, out, _ = run(capsys, "--db", two_months.url, "score", OCT, "--json")
    month = json.loads(out)
    assert code == 0
    grids = {g["code"]: g for g in month["grids"]}
    assert {c: (g["score"], g["rank"], g["class_rank"]) for c, g in grids.items()} == {
        "G2": (100.0, 1, 1), "G4": (100.0, 1, 1), "G1": (90.75, 3, 2), "G3": (None, None, None)}
    # 沙北街道 = (90.75 + 100) / 2 = 95.375 exactly (not 95.38); 城关镇 = G4 alone (G3 not assessed)
    assert month["towns"] == [{"town": "城关镇", "score": 100.0, "rank": 1, "grids": 1},
                              {"town": "沙北街道", "score": 95.375, "rank": 2, "grids": 2}]
    assert "exact" not in out


def test_annual_json_is_exact_with_towns_and_class_ranks(two_months, capsys):
    code, out, _ = run(capsys, "--db", two_months.url, "annual", "2026", "--drafts", "--json")
    year = json.loads(out)
    assert code == 0
    g1 = next(g for g in year["grids"] if g["code"] == "G1")
    assert g1["score"] == 90.625 and g1["months"] == {OCT: 90.75, NOV: 90.5}
    assert (g1["rank"], g1["class_rank"], g1["class"], g1["town"]) == (3, 2, "A", "沙北街道")
    # 沙北街道: October 95.375, November (90.5 + 100) / 2 = 95.25 -> 95.3125
    assert year["towns"] == [
        {"town": "城关镇", "score": 100.0, "months": {OCT: 100.0, NOV: 100.0}, "rank": 1},
        {"town": "沙北街道", "score": 95.3125, "months": {OCT: 95.375, NOV: 95.25}, "rank": 2}]


def test_annual_counts_the_published_months_as_the_year_page_does(two_months, capsys):
    """The year people are judged by is made of published months, from the command line as on
    the year page and in the year bulletin; --drafts is the provisional year, said as such."""
    from gisgrid.reports import assessment
    from gisgrid.services import Actor
    from gisgrid.services import month as month_work

    code, out, err = run(capsys, "--db", two_months.url, "annual", "2026", "--json")
    assert code == 0 and json.loads(out)["months"] == [] and json.loads(out)["grids"] == []
    code, out, err = run(capsys, "--db", two_months.url, "annual", "2026")
    assert "none published yet; --drafts counts the drafts" in err
    month_work.publish(two_months, Actor(None, "office1", "reviewer"), OCT)
    code, out, _ = run(capsys, "--db", two_months.url, "annual", "2026", "--json")
    year, page = json.loads(out), assessment.year_report(two_months, 2026)
    assert year["published_only"] is True and year["months"] == page["months"] == [OCT]
    g1 = next(g for g in year["grids"] if g["code"] == "G1")
    assert g1["score"] == 90.75 and g1["months"] == {OCT: 90.75}
    assert {g["code"]: (g["score"], g["rank"]) for g in year["grids"]} == {
        g["code"]: (g["score"], g["rank"]) for g in page["grids"]}
    code, out, err = run(capsys, "--db", two_months.url, "annual", "2026", "--drafts", "--json")
    assert json.loads(out)["months"] == [OCT, NOV] and json.loads(out)["published_only"] is False
    code, out, err = run(capsys, "--db", two_months.url, "annual", "2026", "--drafts")
    assert "drafts included" in err and f"{OCT}、{NOV}" in err


def test_people_read_half_up_hundredths(two_months, capsys):
    code, out, _ = run(capsys, "--db", two_months.url, "annual", "2026", "--drafts")
    assert code == 0
    g1 = next(line for line in out.splitlines() if " G1 " in f" {line} ")
    assert "90.63" in g1 and "90.625" not in g1
    town = next(line for line in out.splitlines() if "沙北街道" in line and "G" not in line)
    assert "95.31" in town
    code, out, _ = run(capsys, "--db", two_months.url, "score", OCT)
    assert "镇办排名" in out and "95.38" in next(l for l in out.splitlines() if l.strip().startswith("2") and "沙北街道" in l)


def test_xlsx_towns_sheet_holds_exact_scores_shown_to_the_hundredth(two_months):
    import io

    from openpyxl import load_workbook

    from gisgrid.reports import assessment

    book = load_workbook(io.BytesIO(assessment.xlsx_bytes(two_months, NOV)))
    rows = {r[2].value: r for r in book["镇办排名"].iter_rows(min_row=2)}
    town = rows["沙北街道"]
    assert (town[1].value, town[3].value, town[4].value, town[5].value) == (2, 95.25, 2, 2)
    assert town[3].number_format == "0.00" and town[6].value == -0.125      # 95.25 − 95.375, exact
    grids = list(book["网格得分"].values)
    in_class = grids[0].index("等级内排名")
    assert {r[2]: r[in_class] for r in grids[1:]} == {"G2": 1, "G4": 1, "G1": 2, "G3": None}


def test_a_month_frozen_before_towns_were_kept_gets_its_rankings_from_its_rows():
    from gisgrid.reports import scores

    frozen = {"month": NOV, "rulebook": "x", "grids": [
        {"code": "G1", "town": "甲", "class": "A", "score": 90.63, "exact": "725/8", "rank": 2, "roads": []},
        {"code": "G2", "town": "甲", "class": "A", "score": 95.0, "exact": "95", "rank": 1, "roads": []},
        {"code": "G3", "town": "乙", "class": "B", "score": None, "exact": None, "rank": None, "roads": []}]}
    done = scores.with_rankings(frozen)
    assert [g["class_rank"] for g in done["grids"]] == [2, 1, None]
    assert [(t["town"], t["exact"], t["rank"], t["grids"]) for t in done["towns"]] == [
        ("甲", "1485/16", 1, 2), ("乙", None, None, 0)]
    assert "towns" not in frozen                     # the stored document is not changed
