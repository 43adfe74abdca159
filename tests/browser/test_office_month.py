"""The whole month by clicks only, in Chromium: the first administrator sets their password on
the first-run page, adds an inspector and a reviewer, draws this month, has the roads proposed
and saves the assignment; the inspector logs in and sees exactly their roads; the reviewer
publishes."""

from __future__ import annotations

import pytest

from fixtures import small_district
from gisgrid import clock
from gisgrid.services import OPERATOR
from gisgrid.services import layers as layer_work
from gisgrid.storage import inspections


@pytest.fixture
def district(live_server, tmp_path):
    grids, roads = small_district()
    for kind, frame in (("grids", grids), ("roads", roads)):
        path = tmp_path / f"{kind}.geojson"
        frame.to_file(path, driver="GeoJSON")
        layer_work.import_layer(live_server.store, OPERATOR, kind, path, restricted=False)
    return live_server.store


def add_account(page, name: str, role: str) -> str:
    page.click("nav >> text=账户")
    page.fill("#add-account input[name=name]", name)
    page.select_option("#add-account select[name=role]", role)
    page.click("#add-account button[type=submit]")
    page.wait_for_selector("#shown-password")
    return page.inner_text("#shown-password").strip()


def test_the_office_runs_the_month_by_clicks(chromium, live_server, tablet, district):
    from conftest import Tablet

    server, page = live_server, tablet.page
    month = clock.month(district.timezone())        # the browser's and the app's real clock

    # first run: no administrator; the login page links to the page that makes one
    page.goto(server.url + "/login")
    page.click("#first-run a")
    page.fill("#setup-form input[name=name]", "chief")
    page.fill("#setup-form input[name=password]", "the-chiefs-password")
    page.fill("#setup-form input[name=again]", "the-chiefs-password")
    page.click("#setup-form button[type=submit]")
    page.wait_for_selector("input[name=password]")
    tablet.login("chief", "the-chiefs-password")
    assert page.url.endswith(f"/admin/month/{month}")

    inspector = add_account(page, "li", "inspector")
    reviewer = add_account(page, "zhao", "reviewer")

    page.click("nav >> text=月份")
    page.wait_for_selector("#draw-form")
    page.click("#draw-button")
    page.wait_for_selector("#draw-record")
    drawn = district.sample(month)
    assert drawn is not None and drawn.drawn_by == "chief" and str(drawn.seed) in page.inner_text("#draw-record")

    page.click("#propose-button")
    page.wait_for_selector("#proposal-note")
    page.click("#assign-button")
    page.wait_for_selector("#progress-inspector")
    given = {r["code"]: r["inspector"] for r in inspections.inspections(district, month)}
    sampled = sorted(road for roads in drawn.sample.values() for road in roads)
    assert sorted(given) == sampled and set(given.values()) == {"li"}

    # the inspector, on their own tablet, sees the roads at once
    street = Tablet(chromium, server, service_workers="block")
    try:
        street.login("li", inspector)
        street.page.wait_for_selector(".road-link")
        shown = street.page.locator(".road-name small").all_inner_texts()
        assert sorted(shown) == sampled
    finally:
        street.close()

    # the reviewer publishes
    desk = Tablet(chromium, server)
    try:
        desk.login("zhao", reviewer)
        desk.page.goto(f"{server.url}/review/{month}")
        desk.page.click("#publish-form button[type=submit]")
        desk.page.wait_for_selector("#reopen-form")
        assert desk.page.inner_text("#month-state") == "已发布"
    finally:
        desk.close()


def test_the_office_designates_roads_on_the_map(tablet, live_server, district):
    """Clicking roads on the month page's map ticks them in the designation list; the draw then
    holds exactly those roads for their grid (the other grids drawn from the seed)."""
    from gisgrid.services import accounts as account_work

    account_work.add_account(district, OPERATOR, "chief", "admin", "the-chiefs-password", "zh")
    page = tablet.page
    tablet.login("chief", "the-chiefs-password")
    page.goto(f"{live_server.url}/admin/month/2026-11")
    page.check("#draw-form input[name=how][value=designate]")
    page.click("#draw-form summary")
    tablet.until("document.getElementById('designate-map').dataset.ready === '1'")
    for road in ("R11", "R13"):
        page.click(f"#designate-map path.road-{road}")
        assert page.is_checked(f"#designation input[value={road}]")
    page.click("#designate-map path.road-R13")            # a second click unticks it
    assert not page.is_checked("#designation input[value=R13]")
    page.click("#designate-map path.road-R12")
    page.click("#draw-button")
    page.wait_for_selector("#draw-record")
    drawn = district.sample("2026-11")
    assert drawn.sample["G1"] == ["R11", "R12"] and drawn.method == "mixed"
