"""The tablet scores and limits with the server's rules, not its own: under a district
rulebook whose area threshold is 2 m², a 3 m² area finding shows and scores the high figure;
with PHOTOS_PER_FINDING = 2 a third photo is refused when it is picked, before anything is sent."""

import pytest

from gisgrid.reports import scores
from gisgrid.storage import inspections
from test_inspector import district_month, map_point, open_road, photo_file, sent  # noqa: F401  (a fixture)
from test_page_rules import district_rulebook


@pytest.fixture
def live_app(tmp_path):
    """The browser suite's app with a district rulebook (2 m², in force since 2026-01, so for
    whatever month the real clock gives) and two photos per finding."""
    from gisgrid.web import create_app

    return create_app({"DATABASE_URL": str(tmp_path / "gisgrid.sqlite"), "INSTANCE_PATH": str(tmp_path / "instance"),
                       "SECRET_KEY": "browser-test", "TILES": "none", "PHOTOS_PER_FINDING": 2,
                       "RULEBOOK_DIR": str(district_rulebook(tmp_path / "rulebooks", "2026-01", 2))})


def open_form(tablet, rule, dx=0):
    tablet.page.touchscreen.tap(*map_point(tablet, dx=dx))
    tablet.page.wait_for_selector("#finding-form[open]")
    tablet.page.select_option("#rule", rule)


def test_a_3_m2_finding_takes_the_high_figure_of_a_2_m2_rulebook(tablet, district_month):
    month, password = district_month
    store = tablet.server.store
    rule = next(r for r in store.rulebooks() if r.id == "district-2026").rules["4.1"]
    assert (float(rule.points), float(rule.points_high)) == (2, 4)
    open_road(tablet, month, password)
    open_form(tablet, "4.1")
    page = tablet.page
    assert page.locator("#area-box label.choice").all_inner_texts() == ["≤ 2 m²", "> 2 m²"]
    page.fill("#area", "3")
    assert page.locator("#area-points").inner_text() == "扣分 −4"
    assert page.is_checked("input[name=area_class][value=large]")
    page.check("input[name=area_class][value=small]")          # "up to 2 m²" counts as 2: the low figure
    assert page.input_value("#area") == "2" and page.locator("#area-points").inner_text() == "扣分 −2"
    page.check("input[name=area_class][value=large]")          # "above" starts one m² over: 3
    assert page.input_value("#area") == "3"
    page.click("#save")
    tablet.until("document.querySelectorAll('#findings li').length === 1")
    sent(tablet)
    stored = inspections.road_findings(store, month, "R11")
    assert [(f["rule"], f["area_m2"]) for f in stored] == [("4.1", 3.0)]
    core = scores.road_score(store, month, "R11")
    assert float(core.score) == 100 - 4
    tablet.until(f"document.getElementById('score').textContent === '{float(core.score):.1f}'")


def test_a_third_photo_is_refused_when_the_limit_is_two(tablet, district_month, tmp_path):
    month, password = district_month
    photos = [str(photo_file(tmp_path, f"p{i}.jpg")) for i in range(3)]
    open_road(tablet, month, password)
    page = tablet.page
    assert "最多 2 张" in page.locator("label:has(#photos)").inner_text()
    open_form(tablet, "5.1")
    page.set_input_files("#photos", photos)
    assert page.locator("#form-error").inner_text() == "最多 2 张照片"
    # the third is not taken: two previews, and no room left to pick another
    assert page.locator("#photo-previews img").count() == 2 and page.is_disabled("#photos")
    assert inspections.road_findings(tablet.server.store, month, "R11") == []  # nothing was sent
    page.click("#save")
    tablet.until("document.querySelectorAll('#findings li img.thumb').length === 2")
    sent(tablet)
    stored = inspections.road_findings(tablet.server.store, month, "R11")
    assert len(stored) == 1 and len(stored[0]["photos"]) == 2
