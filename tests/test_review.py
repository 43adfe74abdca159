"""The reviewer's reports and pages on the small district built in code: ranking with change
against the previous month, deductions by section, a grid, the year, the light map geometry,
exports, and the pages with their JSON twins."""

import csv
import io
import re

import pytest
import shapely
from fixtures import finding, small_district

from gisgrid.services import Actor
from gisgrid.services import month as month_work
from gisgrid.services import office
from gisgrid.render import maps as review
from gisgrid.reports import scores
from gisgrid.reports import assessment

OCT, NOV = "2026-10", "2026-11"


@pytest.fixture
def months(district):
    """October and November drawn with seed 1 (G1: R11 R12, G2: R21, G4: R41 R42; G3 has no road)."""
    for month in (OCT, NOV):
        office.sample_month(district, month, seed=1)
    office.record_findings(district, [
        finding("o1", 114.045, 33.5951, "8.3.1", observed_at="2026-10-20T10:00:00+08:00", count=3),  # R21 -9
        finding("n1", 114.035, 33.5951, "5.1"),                                                     # R11 -5
        finding("n2", 114.035, 33.5951, "5.3.1", count=2, note="<script>alert(1)</script>"),          # R11 -6
        finding("n3", 114.035, 33.5851, "4.1", area_m2=6),                                           # R41 -4
        finding("n4", 114.035, 33.5971, "8.3.1"),                                                    # R13, not sampled
    ])
    return district


def by_code(report):
    return {g["code"]: g for g in report["grids"]}


def test_month_report_equals_the_core_and_compares_with_the_previous_month(months):
    core = by_code(scores.month_json(months, NOV))
    report = assessment.month_report(months, NOV)
    grids = by_code(report)
    assert {c: (g["score"], g["rank"]) for c, g in grids.items()} == {c: (g["score"], g["rank"]) for c, g in core.items()}
    assert grids["G1"]["score"] == 94.5 and grids["G4"]["score"] == 98.0
    assert report["previous_month"] == OCT
    # G2 was last in October (91) and first in November (100): up two places, +9 points
    assert (grids["G2"]["previous_rank"], grids["G2"]["rank"], grids["G2"]["rank_change"]) == (3, 1, 2)
    assert grids["G2"]["score_change"] == 9.0
    assert grids["G1"]["rank_change"] == -2 and grids["G1"]["score_change"] == -5.5
    assert grids["G3"]["score"] is None and grids["G3"]["rank_change"] is None
    assert report["summary"] == {"grids": 4, "assessed": 3, "unassessed": 1, "mean": 97.5}


def test_a_published_months_changes_stay_as_published_while_the_month_before_is_edited(months):
    """November published against October still a draft: a finding added to October afterwards
    changes October, not what November was published with (its page, its town changes, its
    export), until November is re-opened and published again."""
    reviewer = Actor(None, "office1", "reviewer")
    month_work.publish(months, reviewer, NOV)
    report = assessment.month_report(months, NOV)
    published = by_code(report)
    assert (published["G2"]["previous_score"], published["G2"]["score_change"]) == (91.0, 9.0)
    assert report["previous_as_published"] == {"state": "draft"}
    towns = {t["town"]: t["score_change"] for t in report["towns"]}
    town_rows = assessment.export_table(months, NOV, "towns").rows
    assert office.record_findings(months, [finding("o2", 114.045, 33.5951, "5.1",
                                                   observed_at="2026-10-21T10:00:00+08:00")]).accepted == 1
    assert by_code(assessment.month_report(months, OCT))["G2"]["score"] == 86.0          # R21 -9 -5
    after = assessment.month_report(months, NOV)
    assert {c: (g["previous_score"], g["previous_rank"], g["score_change"], g["rank_change"])
            for c, g in by_code(after).items()} == {
        c: (g["previous_score"], g["previous_rank"], g["score_change"], g["rank_change"]) for c, g in published.items()}
    assert {t["town"]: t["score_change"] for t in after["towns"]} == towns
    assert assessment.export_table(months, NOV, "towns").rows == town_rows
    from docx import Document

    from gisgrid.render.bulletin_docx import bulletin_docx
    from gisgrid.reports import bulletin

    issued = Document(io.BytesIO(bulletin_docx(bulletin.month_bulletin(months, NOV))))
    assert "名次升降、得分变化与本月发布时的2026年10月（当时尚为草稿）相比。" in [p.text for p in issued.paragraphs]
    exported = assessment.export_table(months, NOV, "grids")
    g2 = next(row for row in exported.rows if row[2] == "G2")
    assert g2[9] == 91 and g2[10] == 9
    month_work.reopen(months, reviewer, NOV, "compare with October as corrected")
    month_work.publish(months, reviewer, NOV)
    assert by_code(assessment.month_report(months, NOV))["G2"]["score_change"] == 14.0


def test_a_month_re_opened_compares_with_the_month_before_as_it_is_now(months):
    """Viewed published, the month before edited, viewed again, re-opened: the draft's changes
    are against the month before as it is now, not the comparison it was frozen with."""
    reviewer = Actor(None, "office1", "reviewer")
    month_work.publish(months, reviewer, OCT)
    month_work.publish(months, reviewer, NOV)
    assert assessment.month_report(months, NOV)["previous_as_published"] == {"state": "published"}
    month_work.reopen(months, reviewer, OCT, "R21 missed a finding")
    assert office.record_findings(months, [finding("o2", 114.045, 33.5951, "5.1",
                                                   observed_at="2026-10-21T10:00:00+08:00")]).accepted == 1
    published = assessment.month_report(months, NOV)
    # 沙北街道: November (94.5 + 100) / 2 = 97.25 against October (100 + 91) / 2 as published
    assert by_code(published)["G2"]["score_change"] == 9.0
    assert {t["town"]: t["score_change"] for t in published["towns"]}["沙北街道"] == 1.75
    month_work.reopen(months, reviewer, NOV, "compare with October as corrected")
    report = assessment.month_report(months, NOV)
    assert by_code(report)["G2"]["score_change"] == 14.0 and report["previous_as_published"] is None
    assert {t["town"]: t["score_change"] for t in report["towns"]}["沙北街道"] == 4.25      # (100 + 86) / 2


def test_a_deduction_by_a_rule_that_is_no_spot_is_shown_to_the_office(months, capsys):
    """A 6.3.2 finding stored on a road before files were refused them: still scored (nothing
    recorded changes silently), and named on the month's report and by `score`, for the office
    to delete before publishing."""
    from fixtures import stored_as_of_old
    from gisgrid.cli import main

    assert assessment.month_report(months, NOV)["not_spots"] == []
    stored_as_of_old(months, NOV, "R21", (114.045, 33.5951), "6.3.2", "old-rate")
    report = assessment.month_report(months, NOV)
    assert report["not_spots"] == [{"grid": "G2", "road": "R21", "rule": "6.3.2", "points": 10.0}]
    assert by_code(report)["G2"]["score"] == 90.0
    assert main(["--db", months.url, "score", NOV, "--json"]) == 0
    assert "warning: G2 R21: 6.3.2 deducts 10 from the road" in capsys.readouterr().err


def test_deductions_by_section(months):
    grids = by_code(assessment.month_report(months, NOV))
    r11 = next(r for r in grids["G1"]["roads"] if r["code"] == "R11")
    assert r11["by_rule"] == {"5.1": 5.0, "5.3.1": 6.0}
    assert r11["by_section"] == {"5": 11.0}
    assert grids["G4"]["by_section"] == {"4": 4.0}


def test_grid_report_lists_roads_findings_and_the_draw(months):
    report = assessment.grid_report(months, NOV, "G1")
    assert [(r["code"], r["sampled"], r["score"]) for r in report["roads"]] == [
        ("R11", True, 89.0), ("R12", True, 100.0), ("R13", False, None)]
    # a finding on a road not sampled is shown (what it would deduct) but not scored
    assert [(f["external_id"], f["road"], f["sampled"], f["points"]) for f in report["findings"]] == [
        ("n1", "R11", True, 5.0), ("n2", "R11", True, 6.0), ("n4", "R13", False, 3.0)]
    assert [(r["rule"], r["points"]) for r in report["by_rule"]] == [("5.3.1", 6.0), ("5.1", 5.0)]
    assert report["draw"]["seed"] == 1 and report["draw"]["method"] == "seed" and report["draw"]["drawn_by"] == "cli"
    with pytest.raises(Exception, match="Unknown grid"):
        assessment.grid_report(months, NOV, "G9")


def test_year_uses_published_months_only_unless_asked(months):
    assert assessment.year_report(months, 2026)["months"] == []
    month_work.publish(months, Actor(None, "office1", "reviewer"), OCT)
    year = assessment.year_report(months, 2026)
    assert year["months"] == [OCT] and year["published_only"]
    assert {g["code"]: g["score"] for g in year["grids"]} == {"G1": 100.0, "G2": 91.0, "G4": 100.0}
    everything = assessment.year_report(months, 2026, published_only=False)
    assert everything["months"] == [OCT, NOV]
    assert {g["code"]: (g["score"], g["rank"]) for g in everything["grids"]} == {
        "G1": (97.25, 2), "G2": (95.5, 3), "G4": (99.0, 1)}
    assert everything["lost_by_section"] == {"4": 4.0, "5": 11.0, "8": 9.0}
    assert everything["district"] == {OCT: 97.0, NOV: 97.5}
    charts = review.year_charts(everything)
    assert charts["sections"][0]["code"] == "5" and charts["grids"]["G1"].count(",") == 2


def test_light_geometry_is_simplified_and_quantised():
    ring = [(114.0 + i * 1e-6, 33.5 + (i % 2) * 1e-7) for i in range(1000)] + [(114.001, 33.6), (114.0, 33.6)]
    polygon = shapely.Polygon(ring)
    light, = review.light_geometry([polygon, shapely.box(114, 33.5, 114.01, 33.51)], precision=5)[:1]
    coords = shapely.get_coordinates(light)
    assert len(coords) < 10 < len(ring)
    assert all(abs(v * 1e5 - round(v * 1e5)) < 1e-6 for v in coords.ravel())
    assert light.is_valid and abs(light.area - polygon.area) / polygon.area < 0.01


def decode(light):
    """What static/js/review_map.js does: integer steps back to degrees."""
    shapes = []
    for polygons in light["shapes"]:
        rings = []
        for steps in (ring for polygon in polygons for ring in polygon):
            x, y, ring = *light["origin"], []
            for dx, dy in zip(steps[::2], steps[1::2]):
                x, y = x + dx, y + dy
                ring.append((x / light["scale"], y / light["scale"]))
            rings.append(shapely.Polygon(ring))
        shapes.append(shapely.union_all(rings))
    return shapes


def test_light_layer_round_trips_within_a_metre(months):
    report = assessment.month_report(months, NOV)
    frame = months.grids_frame()
    light = review.light_layer(review.store_grids_encoded(months), report)
    assert light["codes"] == ["G1", "G2", "G3", "G4"] and light["scores"] == [94.5, 100.0, None, 98.0]
    assert light["ranks"] == [3, 1, None, 2] and light["names"][0] == "沙北街道第1网格"
    for original, decoded in zip(frame.geometry, decode(light)):
        assert original.symmetric_difference(decoded).area < 1e-9
    assert all(isinstance(v, int) for steps in light["shapes"][0][0] for v in steps)


def test_encoded_grids_are_kept_until_a_grid_changes(months, tmp_path):
    first = review.store_grids_encoded(months)
    assert review.store_grids_encoded(months) is first
    grids, _roads = small_district()
    grids.loc[0, "name"] = "沙北街道第一网格"
    grids.to_file(tmp_path / "renamed.geojson", driver="GeoJSON")
    office.import_layer(months, "grids", tmp_path / "renamed.geojson")
    assert review.store_grids_encoded(months)["names"][0] == "沙北街道第一网格"


def test_choropleth_carries_code_score_rank_only(months):
    report = assessment.month_report(months, NOV)
    features = {f["properties"]["c"]: f["properties"] for f in review.choropleth(months, report)["features"]}
    assert features["G1"] == {"c": "G1", "n": "沙北街道第1网格", "s": 94.5, "r": 3}
    assert features["G3"]["s"] is None and features["G3"]["r"] is None


def test_csv_has_a_bom_and_chinese_headers(months):
    headers, rows = assessment.export_rows(months, NOV, "grids")
    data = assessment.csv_bytes(headers, rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:4] == ["月份", "排名", "网格编码", "网格名称"]
    assert table[1][:7] == [NOV, "1", "G2", "沙北街道第2网格", "沙北街道", "B", "100.0"]
    _, findings = assessment.export_rows(months, NOV, "findings")
    assert {(r[1], r[4], r[11]) for r in findings} == {("n1", "是", 5.0), ("n2", "是", 6.0), ("n3", "是", 4.0),
                                                       ("n4", "否", None)}


def test_xlsx_opens_with_three_sheets(months):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(assessment.xlsx_bytes(months, NOV)))
    assert book.sheetnames == ["网格得分", "道路得分", "问题明细", "镇办排名"]
    roads = list(book["道路得分"].values)
    assert roads[0][:5] == ("月份", "网格编码", "网格名称", "镇办", "道路编码")
    assert ("G1", "R11", "人民路", 89, 11) in {(r[1], r[4], r[5], r[6], r[7]) for r in roads[1:]}


# pages --------------------------------------------------------------------------------


@pytest.fixture
def reviewer(app, client, auth, district_files):
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    for month in (OCT, NOV):
        office.sample_month(store, month, seed=1)
    office.record_findings(store, [finding("n1", 114.035, 33.5951, "5.1", note="<img src=x onerror=alert(1)>")])
    auth.login("office1", "reviewer")
    return store


def test_pages_need_the_reviewer_role(client, auth):
    assert client.get(f"/review/{NOV}").status_code == 302   # to the login page
    auth.login("walker", "inspector")
    assert client.get(f"/review/{NOV}").status_code == 403
    assert client.get(f"/review/{NOV}/scores.xlsx").status_code == 403


def test_month_page_and_its_json_twin(reviewer, client):
    page = client.get(f"/review/{NOV}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "沙北街道第1网格" in html and "/static/vendor/leaflet-1.9.4/leaflet.js" in html
    # every asset from this server (a random nonce may spell "cdn": the addresses are what count)
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert assets and not [a for a in assets if a.startswith(("//", "http:", "https:"))]
    assert "https://" not in html
    twin = client.get(f"/review/{NOV}.json").get_json()
    assert twin == {**assessment.month_report(reviewer, NOV), "audit": []}
    assert client.get(f"/review/{NOV}", headers={"Accept": "application/json"}).get_json()["month"] == NOV
    one = client.get(f"/review/{NOV}.json?grid=G1").get_json()["grids"]
    assert one == [g for g in twin["grids"] if g["code"] == "G1"]
    assert client.get(f"/review/{NOV}?compare={OCT}").status_code == 200
    assert "升降与 2026-10 相比。" in html and 'id="not-spots"' not in html
    from fixtures import stored_as_of_old

    stored_as_of_old(reviewer, NOV, "R21", (114.045, 33.5951), "8.1", "old-patrol")
    warned = client.get(f"/review/{NOV}").get_data(as_text=True)
    assert "有 1 项道路扣分来自并非街面点位的规则（8.1）" in warned and "G2 R21 8.1 −1" in warned
    month_work.publish(reviewer, Actor(None, "office1", "reviewer"), NOV)
    frozen = client.get(f"/review/{NOV}").get_data(as_text=True)
    assert "升降与本月发布时的 2026-10 相比（当时尚为草稿）。" in frozen


def test_grid_page_escapes_what_came_from_files(reviewer, client):
    html = client.get(f"/review/{NOV}/grid/G1").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\\u003cimg src=x" in html   # inside the map's data, escaped for <script>
    assert client.get(f"/review/{NOV}/grid/G1.json").get_json()["findings"][0]["note"].startswith("<img")
    assert client.get(f"/review/{NOV}/grid/NOPE").status_code == 404


def test_publish_refused_edit_and_reopen_through_the_pages(reviewer, client, auth):
    token = auth.csrf(f"/review/{NOV}")
    assert client.post(f"/review/{NOV}/publish").status_code == 400          # no CSRF token
    assert client.post(f"/review/{NOV}/publish", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/review/{NOV}.json").get_json()["state"]["state"] == "published"
    again = client.post(f"/review/{NOV}/publish", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert again.status_code == 409
    refused = client.post(f"/review/{NOV}/reopen", data={"csrf_token": token, "reason": ""},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert client.post(f"/review/{NOV}/reopen", data={"csrf_token": token, "reason": "照片错位"}).status_code == 302
    audit = client.get(f"/review/{NOV}.json").get_json()["audit"]
    assert [(e["action"], e["actor"], e["reason"]) for e in audit] == [("publish", "office1", None),
                                                                       ("reopen", "office1", "照片错位")]


def test_year_page_says_published_only(reviewer, client, auth):
    token = auth.csrf(f"/review/{NOV}")
    client.post(f"/review/{OCT}/publish", data={"csrf_token": token})
    html = client.get("/review/year/2026").get_data(as_text=True)
    assert OCT in html and 'id="year-basis"' in html
    assert client.get("/review/year/2026.json").get_json()["months"] == [OCT]
    assert client.get("/review/year/2026.json?all=1").get_json()["months"] == [OCT, NOV]


def test_exports_through_the_pages(reviewer, client):
    response = client.get(f"/review/{NOV}/grids.csv")
    assert response.data.startswith(b"\xef\xbb\xbf") and "attachment" in response.headers["Content-Disposition"]
    assert client.get(f"/review/{NOV}/nothing.csv").status_code == 400
    assert client.get(f"/review/{NOV}/scores.xlsx").data[:2] == b"PK"
    bulletin = client.get(f"/review/{NOV}/bulletin").get_data(as_text=True)
    assert "@page" in bulletin and "<path d=" in bulletin and "沙北街道第1网格" in bulletin
