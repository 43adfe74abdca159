"""The reviewer's month as a dashboard, without a browser: the tiles' figures, the ranking
filtered by town and class and sorted (on the server, so a 20,000-grid city pages the same),
the town ranking, and the year's charts carrying their values for hover."""

import re

import pytest
from fixtures import finding

from gisgrid.reports import assessment
from gisgrid.services import Actor, office
from gisgrid.services import month as month_work

OCT, NOV = "2026-10", "2026-11"
SAMPLE = ["R11", "R12", "R21", "R41", "R42"]


@pytest.fixture
def reviewer(app, client, auth, district_files):
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    for month in (OCT, NOV):
        office.sample_month(store, month, roads=SAMPLE)
    office.record_findings(store, [
        finding("o1", 114.045, 33.5951, "8.3.1", observed_at="2026-10-20T10:00:00+08:00", count=3),   # G2 91 in Oct
        finding("n1", 114.035, 33.5951, "5.1", count=2),                                           # G1 95
        finding("n2", 114.035, 33.5851, "4.1", area_m2=6),                                         # G4 98
    ])
    auth.login("zhao", "reviewer")
    return store


def test_tiles_hold_the_months_figures(reviewer):
    tiles = assessment.month_report(reviewer, NOV)["tiles"]
    assert (tiles["assessed"], tiles["grids"], tiles["mean"]) == (3, 4, 97.67)      # (95 + 100 + 98) / 3
    assert tiles["lowest"] == {"code": "G1", "name": "沙北街道第1网格", "town": "沙北街道", "score": 95.0}
    assert tiles["lost_by_section"] == {"5": 10.0, "4": 4.0} and tiles["lost_total"] == 14.0
    assert tiles["rectification_rate"] is None


def _rows(page: str) -> list[str]:
    body = page.split('id="ranking"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-code="([^"]+)"', body)


def test_the_ranking_filters_by_town_and_class_and_sorts(reviewer, client):
    page = client.get(f"/review/{NOV}").get_data(as_text=True)
    assert _rows(page) == ["G2", "G4", "G1", "G3"]
    assert 'data-tile="rectification"' in page and "—" in page
    assert _rows(client.get(f"/review/{NOV}?town=沙北街道").get_data(as_text=True)) == ["G2", "G1"]
    assert _rows(client.get(f"/review/{NOV}?class=A").get_data(as_text=True)) == ["G4", "G1"]
    assert _rows(client.get(f"/review/{NOV}?town=城关镇&class=A").get_data(as_text=True)) == ["G4"]
    assert _rows(client.get(f"/review/{NOV}?sort=score").get_data(as_text=True)) == ["G1", "G4", "G2", "G3"]
    assert _rows(client.get(f"/review/{NOV}?sort=-score").get_data(as_text=True)) == ["G2", "G4", "G1", "G3"]
    assert _rows(client.get(f"/review/{NOV}?sort=class_rank").get_data(as_text=True)) == ["G4", "G1", "G2", "G3"]
    # G2 was third in October and is first now: the biggest climber first
    assert _rows(client.get(f"/review/{NOV}?sort=change").get_data(as_text=True))[0] == "G2"
    assert _rows(client.get(f"/review/{NOV}?sort=nonsense").get_data(as_text=True)) == ["G2", "G4", "G1", "G3"]
    town_table = page.split('id="town-ranking"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-town="([^"]+)"', town_table) == ["城关镇", "沙北街道"]


def test_the_map_asks_for_a_metric_scale_and_names(reviewer, client):
    page = client.get(f"/review/{NOV}").get_data(as_text=True)
    assert '"label_up_to":300' in page
    with client.get("/static/js/review_map.js") as response:      # closed: the file is streamed
        script = response.get_data(as_text=True)
    assert "L.control.scale({ metric: true, imperial: false })" in script
    assert "control.scale()" not in page       # folium's own bar, with feet, is gone


def test_year_charts_carry_their_values_for_hover(reviewer, client):
    for month in (OCT, NOV):
        month_work.publish(reviewer, Actor(None, "zhao", "reviewer"), month)
    page = client.get("/review/year/2026").get_data(as_text=True)
    assert '<circle class="spark-dot"' in page and "<title>2026-10: 91.00</title>" in page
    assert "<title>2026-11: 97.67</title>" in page          # the district mean's dot
    assert 'id="town-year-ranking"' in page and 'href="/review/year/2026/bulletin.docx"' in page


def test_the_year_page_shows_each_month_to_the_hundredth(app, reviewer, client):
    """A month score is read to 0.01 on the year page as everywhere (94.75, not 94.8), in the
    table and on the district chart."""
    office.record_findings(app.extensions["gisgrid.storage"], [finding("n3", 114.035, 33.5951, "7")])  # half a point
    for month in (OCT, NOV):
        month_work.publish(reviewer, Actor(None, "zhao", "reviewer"), month)
    page = client.get("/review/year/2026").get_data(as_text=True)
    row = page.split('<tr data-code="G1">', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">(\d+\.\d+)</td>', row)[1:] == ["100.00", "94.75"]   # Oct, Nov (G1 95 - 0.25)
    chart = page.split('id="year-ranking"', 1)[0]
    assert ">97.58</text>" in chart and ">97.6</text>" not in chart    # Nov's district mean (94.75 + 98 + 100) / 3


ZH_CLASSES = {"A": "A类（主干道严管）", "B": "B类（次干道严控）", "C": "C类（背街小巷规范管理）"}
EN_CLASSES = {"A": "Class A (main roads, strict)", "B": "Class B (secondary roads, controlled)",
              "C": "Class C (back streets and alleys, regulated)"}


def _class_options(page: str) -> dict[str, str]:
    select = page.split('<select name="class">', 1)[1].split("</select>", 1)[0]
    return dict(re.findall(r'<option value="([ABC])"[^>]*>([^<]+)</option>', select))


def _class_cell(page: str, table: str, code: str) -> str:
    row = page.split(f'id="{table}"', 1)[1].split(f'<tr data-code="{code}">', 1)[1].split("</tr>", 1)[0]
    return re.search(r'<td class="grid-class">(.*?)</td>', row).group(1)


def test_class_names_are_read_in_the_readers_language_codes_stay_in_json(reviewer, client, auth):
    for month in (OCT, NOV):
        month_work.publish(reviewer, Actor(None, "zhao", "reviewer"), month)
    month_page = client.get(f"/review/{NOV}").get_data(as_text=True)
    year_page = client.get("/review/year/2026").get_data(as_text=True)
    assert _class_options(month_page) == ZH_CLASSES
    assert _class_cell(month_page, "ranking", "G1") == f'<abbr title="{ZH_CLASSES["A"]}">A</abbr>'
    assert _class_cell(year_page, "year-ranking", "G2") == f'<abbr title="{ZH_CLASSES["B"]}">B</abbr>'

    client.post("/lang/en", data={"csrf_token": auth.csrf("/")})
    month_page = client.get(f"/review/{NOV}?class=A").get_data(as_text=True)
    year_page = client.get("/review/year/2026").get_data(as_text=True)
    assert _class_options(month_page) == EN_CLASSES
    assert '<option value="A" selected>Class A (main roads, strict)</option>' in month_page
    assert _class_cell(month_page, "ranking", "G1") == f'<abbr title="{EN_CLASSES["A"]}">A</abbr>'
    assert _class_cell(year_page, "year-ranking", "G2") == f'<abbr title="{EN_CLASSES["B"]}">B</abbr>'
    for page in (month_page, year_page):
        assert not [name for name in ZH_CLASSES.values() if name in page] and "类（" not in page
    # machines keep the stable code
    assert {g["code"]: g["class"] for g in client.get(f"/review/{NOV}.json").get_json()["grids"]}["G1"] == "A"
    assert {g["code"]: g["class"] for g in client.get("/review/year/2026.json").get_json()["grids"]}["G2"] == "B"
