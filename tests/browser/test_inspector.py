"""The inspector's tablet in Chromium: my roads, pinning findings by GPS and by tapping,
photos, a refused pin that keeps the form, offline pins that arrive once (even when the first
answer is lost), no request leaving the app's origin, and what an inspector may not open
(the reviewer's and the planner's pages, another inspector's roads and findings)."""

import json
from pathlib import Path

import pytest
from fixtures import small_district
from PIL import Image

from gisgrid.services import office
from gisgrid.reports import scores
from gisgrid.services import Actor, findings
from gisgrid.storage import inspections
from gisgrid.web.auth import add_account

ON_R11 = {"latitude": 33.5951, "longitude": 114.035, "accuracy": 5}
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def district_month(live_server, tmp_path):
    """The small district on the live server, this month drawn, R11/R12 given to 'wang'."""
    store = live_server.store
    grids, roads = small_district()
    for kind, frame in (("grids", grids), ("roads", roads)):
        path = tmp_path / f"{kind}.geojson"
        frame.to_file(path, driver="GeoJSON")
        office.import_layer(store, kind, path)
    month = scores.default_month(store)
    office.sample_month(store, month, roads=["R11", "R12", "R21", "R41", "R42"])
    password = add_account(store, "wang", "inspector")
    for road in ("R11", "R12"):
        inspections.assign(store, month, road, "wang", "test")
    return month, password


def photo_file(tmp_path, name="photo.jpg") -> Path:
    path = tmp_path / name
    Image.new("RGB", (640, 480), (30, 120, 200)).save(path, "JPEG")
    return path


def open_road(tablet, month, password):
    tablet.login("wang", password)
    assert "/inspect/" in tablet.page.url
    tablet.page.click("a.road-link[href$='/R11']")
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def map_point(tablet, dx=0, dy=0):
    box = tablet.page.locator("#map").bounding_box()
    return box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy


def sent(tablet, timeout=30_000):
    """Wait until the outbox has sent everything and the page shows nothing waiting."""
    tablet.until("Outbox.all().then(items => items.length === 0)", timeout=timeout, polling=200)
    tablet.until("document.querySelectorAll('#findings li.pending').length === 0", timeout=timeout)


def pin(tablet, rule, *, at=None, gps=False, note="", photo=None, area=None, count=None):
    if gps:
        tablet.page.click("#pin-here")
    else:
        tablet.page.touchscreen.tap(*(at or map_point(tablet)))
    tablet.page.wait_for_selector("#finding-form[open]")
    tablet.page.select_option("#rule", rule)
    if area:
        tablet.page.check(f"input[name=area_class][value={area}]")
    if count:
        tablet.page.fill("#count-input", str(count))
    if photo:
        tablet.page.set_input_files("#photos", str(photo))
    tablet.page.fill("#note", note)
    tablet.page.click("#save")


def test_pin_three_findings_and_the_score_is_the_cores(tablet, district_month, tmp_path):
    month, password = district_month
    tablet.context.set_geolocation(ON_R11)
    open_road(tablet, month, password)
    pin(tablet, "5.1", gps=True, note="店招破损")
    tablet.page.wait_for_selector("#findings li >> nth=0")
    pin(tablet, "4.1", at=map_point(tablet, dx=-100), area="small", note="纸箱堆放", photo=photo_file(tmp_path))
    tablet.until("document.querySelectorAll('#findings li').length === 2")
    pin(tablet, "6.1.2", at=map_point(tablet, dx=100), count=3, note="车辆方向不一致")
    tablet.until("document.querySelectorAll('#findings li').length === 3")
    sent(tablet)

    store = tablet.server.store
    core = scores.road_score(store, month, "R11")
    assert float(core.score) == 100 - 5 - 2 - 3
    tablet.until(f"document.getElementById('score').textContent === '{float(core.score):.1f}'")
    stored = inspections.road_findings(store, month, "R11")
    assert sorted(f["rule"] for f in stored) == ["4.1", "5.1", "6.1.2"]
    with_photo = next(f for f in stored if f["rule"] == "4.1")
    assert len(with_photo["photos"]) == 1 and with_photo["area_m2"] == 4.0
    gps_pin = next(f for f in stored if f["rule"] == "5.1")
    assert (round(gps_pin["geom"].x, 4), round(gps_pin["geom"].y, 4)) == (114.035, 33.5951)
    assert tablet.page.locator("#findings img.thumb").count() == 1

    # move the GPS pin: open it from the list, "Move", tap its new place on the road
    tablet.page.locator("#findings li", has_text="店招店牌破损").click()
    tablet.page.click("#move")
    assert tablet.page.locator("#message").inner_text() == "请在地图上点击问题的实际位置"
    tablet.page.touchscreen.tap(*map_point(tablet, dx=150))
    sent(tablet)
    moved = inspections.finding(store, id=gps_pin["id"])
    assert moved["road"] == "R11" and moved["geom"].x > gps_pin["geom"].x + 0.0005
    assert [c["action"] for c in inspections.changes(store, gps_pin["id"])] == ["create", "update"]
    assert tablet.offsite() == []

    weight = tablet.page.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "road-page-weight.txt").write_text(f"{weight}\n")
    print(f"road page: {weight} bytes transferred")
    assert weight > 0


def test_first_load_weight_and_screenshot_in_chinese(chromium, live_server, district_month):
    from conftest import Tablet

    month, password = district_month
    for orientation in ("landscape", "portrait"):
        # a first visit: no service worker has cached anything yet
        tablet = Tablet(chromium, live_server, orientation=orientation, geolocation=ON_R11, service_workers="block")
        cdp = tablet.context.new_cdp_session(tablet.page)
        cdp.send("Network.enable")
        sizes = {}
        cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        tablet.login("wang", password)
        sizes.clear()
        tablet.page.goto(f"{live_server.url}/inspect/{month}/R11")
        tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
        tablet.page.wait_for_load_state("networkidle")
        weight = sum(sizes.values())
        assert "店招店牌破损" in tablet.page.locator("#rule").inner_text()
        assert tablet.page.locator("#pin-here").bounding_box()["height"] >= 48
        tablet.screenshot(f"road-page-{orientation}.png")
        if orientation == "landscape":
            (ARTIFACTS / "road-page-first-load-bytes.txt").write_text(f"{weight}\n")
            print(f"road page first load: {weight} bytes")
            assert 50_000 < weight < 500_000
        assert tablet.offsite() == []
        tablet.close()


def test_a_pin_far_from_the_road_is_refused_and_the_form_stays(tablet, district_month, tmp_path):
    month, password = district_month
    open_road(tablet, month, password)
    far = map_point(tablet, dy=-tablet.page.locator("#map").bounding_box()["height"] * 0.45)
    pin(tablet, "5.3.1", at=far, note="电线杆小广告", photo=photo_file(tmp_path))
    error = tablet.page.locator("#form-error")
    error.wait_for(state="visible")
    # said at once by the tablet, from the road's shape and the tolerance the server gave
    assert "不在道路 R11 上：距该道路" in error.inner_text() and "允许 10 米" in error.inner_text()
    assert tablet.page.locator("#finding-form[open]").count() == 1
    assert tablet.page.input_value("#note") == "电线杆小广告"
    assert tablet.page.input_value("#rule") == "5.3.1"
    assert tablet.page.locator("#photo-previews img").count() == 1
    assert tablet.page.evaluate("Outbox.all().then(items => items.length)") == 0
    assert inspections.road_findings(tablet.server.store, month, "R11") == []


def test_offline_pins_arrive_once_even_when_the_first_answer_is_lost(tablet, district_month, tmp_path):
    month, password = district_month
    open_road(tablet, month, password)
    tablet.page.reload()
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.context.set_offline(True)
    tablet.page.reload()  # the page itself comes from the service worker's cache
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    pin(tablet, "8.3.1", at=map_point(tablet, dx=-100), note="离线一", photo=photo_file(tmp_path))
    tablet.page.wait_for_selector("#findings li.pending")
    pin(tablet, "5.3.2", at=map_point(tablet, dx=100), note="离线二")
    tablet.until("document.querySelectorAll('#findings li.pending').length === 2")
    assert tablet.page.locator("#outbox").is_visible()

    lost = []

    def lose_first_answer(route):
        if route.request.method == "POST" and not lost:
            route.fetch()  # the server receives and stores it ...
            lost.append(route.request.post_data)
            route.abort()  # ... but the tablet never hears back
        else:
            route.continue_()

    tablet.context.route("**/api/findings", lose_first_answer)
    tablet.context.set_offline(False)
    tablet.until("Outbox.all().then(items => items.length === 0)", timeout=30000, polling=500)
    tablet.until("document.querySelectorAll('#findings li.pending').length === 0")
    assert len(lost) == 1
    stored = inspections.road_findings(tablet.server.store, month, "R11")
    notes = sorted(f["note"] for f in stored)
    assert notes == ["离线一", "离线二"]
    assert [len(f["photos"]) for f in stored if f["note"] == "离线一"] == [1]
    assert json.loads(lost[0])["id"] in {f["external_id"] for f in stored}


def test_what_an_inspector_may_not_open(tablet, district_month):
    month, password = district_month
    store = tablet.server.store
    other = add_account(store, "li", "inspector")
    inspections.assign(store, month, "R21", "li", "test")
    findings.record(store, Actor.of(store.user(name="li")),
                    {"id": "li-finding-0001", "rule": "5.1", "observed_at": f"{month}-15T10:00:00+08:00"}, 114.045, 33.5951)
    theirs = inspections.finding(store, external_id="li-finding-0001")
    tablet.login("wang", password)
    for path in ("/review/", "/plan/", "/plan/import", f"/inspect/{month}/R21", f"/api/months/{month}/roads/R21",
                 "/api/plan/layers"):
        response = tablet.page.goto(tablet.server.url + path)
        assert response.status == 403, path
    tablet.page.goto(tablet.server.url + "/inspect/")
    status = tablet.page.evaluate(
        """async (id) => (await fetch('/api/findings/' + id, {method: 'PATCH',
             headers: {'Content-Type': 'application/json',
                       'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
             body: JSON.stringify({note: 'changed'})})).status""", theirs["id"])
    assert status == 403
    saved = tablet.page.evaluate(
        """async () => (await fetch('/api/plan/grid/G1', {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
             body: JSON.stringify({version: 1, properties: {name: 'x'},
                                   geometry: {type: 'Point', coordinates: [114, 33]}})})).status""")
    assert saved == 403 and store.grids_frame().set_index("code").at["G1", "name"] == "沙北街道第1网格"
    assert "不能打开" in tablet.page.goto(tablet.server.url + "/review/").text()
    assert inspections.finding(store, id=theirs["id"])["note"] is None
    assert other


def test_the_language_switch_stays_on_the_road(tablet, district_month):
    """Pages send no Referer: the switch goes back to the page it was on, in the other language."""
    month, password = district_month
    open_road(tablet, month, password)
    road = f"{tablet.server.url}/inspect/{month}/R11"
    assert tablet.page.inner_text("#pin-here") == "在我所在位置标注"
    with tablet.page.expect_navigation():
        tablet.page.click("header button:has-text('English')")
    assert tablet.page.url == road
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    assert tablet.page.get_attribute("html", "lang") == "en"
    assert tablet.page.inner_text("#pin-here") == "Pin where I stand"
    with tablet.page.expect_navigation():
        tablet.page.click("header button:has-text('中文')")
    assert tablet.page.url == road and tablet.page.get_attribute("html", "lang") == "zh-CN"


def test_with_no_network_the_header_forms_say_so_and_the_road_stays(tablet, district_month):
    """On a road page opened from the tablet's cache, the language switch and logging out need
    the server: each says so beside its button instead of the browser's error page, and works
    once the network is back."""
    month, password = district_month
    open_road(tablet, month, password)
    road = f"{tablet.server.url}/inspect/{month}/R11"
    tablet.page.reload()
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.context.set_offline(True)
    tablet.page.reload()          # from the service worker's cache
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.page.click("header button:has-text('English')")
    note = tablet.page.locator("header form[action*='lang'] .offline-note")
    note.wait_for(state="visible")
    assert note.inner_text() == "无网络：切换语言需要联网"
    tablet.page.click("header button:has-text('退出')")
    tablet.page.locator("header form[action*='logout'] .offline-note").wait_for(state="visible")
    assert tablet.page.url == road and tablet.page.inner_text("#pin-here") == "在我所在位置标注"
    tablet.context.set_offline(False)
    with tablet.page.expect_navigation():
        tablet.page.click("header button:has-text('English')")
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    assert tablet.page.url == road and tablet.page.inner_text("#pin-here") == "Pin where I stand"
