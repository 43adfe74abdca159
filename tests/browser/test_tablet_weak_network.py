"""The tablet on a weak network and under a finger (issue 13): with DevTools throttling at 1.5 s
round trip and 12 KB/s up, the form closes on Save, before the request completes (how soon is
the figure `python -m gisgrid.bench_tablet` prints), and a finding with a 12-megapixel photo
sends at most 600 KB; the map and form for a finger (44 px controls, the accuracy circle, a tap
near a pin asks, Save in view, what each rule needs, the month's state, status texts at 7:1);
screenshots in both orientations."""

from test_inspector import ON_R11, district_month, map_point, open_road, photo_file, pin, sent  # noqa: F401

from gisgrid.bench_tablet import camera_photo, count_writes, throttle
from gisgrid.storage import inspections


def test_save_never_waits_and_a_camera_photo_is_shrunk(tablet, district_month, tmp_path):
    month, password = district_month
    writes: list = []
    count_writes(tablet.server.app, writes)
    open_road(tablet, month, password)
    throttle(tablet.context, tablet.page)
    photo = camera_photo(tmp_path / "camera.jpg")
    assert photo.stat().st_size > 2_000_000
    del writes[:]
    tablet.page.evaluate("document.getElementById('save').addEventListener('click',"
                         " () => { window.clickedAt = performance.now(); }, {capture: true})")
    tablet.page.touchscreen.tap(*map_point(tablet))
    tablet.page.wait_for_selector("#finding-form[open]")
    tablet.page.select_option("#rule", "5.1")
    tablet.page.set_input_files("#photos", str(photo))
    tablet.page.click("#save")
    # the figure (Save -> form closed, aim < 200 ms) is python -m gisgrid.bench_tablet's: a test
    # holds the behaviour, which no busy machine changes — the form closed before the request
    # completed: the server has nothing yet, the tablet shows it waiting
    closed_ms = tablet.page.evaluate("window.gisgridLastSave.closed_at - window.clickedAt")
    assert tablet.page.locator("#finding-form[open]").count() == 0
    assert inspections.road_findings(tablet.server.store, month, "R11") == []
    # the list is drawn from the tablet's own store once the photo is shrunk, and shows it waiting
    tablet.until("document.querySelectorAll('#findings li.pending').length === 1")
    # progress is shown per finding while it goes
    tablet.until("/正在上传|等待上传/.test(document.querySelector('#findings li.pending .state').textContent)")
    sent(tablet, timeout=120_000)
    stored = inspections.road_findings(tablet.server.store, month, "R11")
    assert len(stored) == 1 and len(stored[0]["photos"]) == 1
    kept = inspections.photo(tablet.server.store, stored[0]["photos"][0])
    assert max(kept["width"], kept["height"]) == 1920
    total = sum(n for _, n in writes)
    assert total <= 600_000, writes
    print(f"Save -> form closed: {closed_ms:.1f} ms; a {photo.stat().st_size} B camera photo sent as {total} B")


def test_a_crosshair_places_a_finding_at_the_maps_centre_and_stays_chosen(tablet, district_month):
    """Where a fingertip would hide the spot, the inspector turns on the crosshair, moves the map
    under it and pins there; the choice is kept on the tablet across a reload."""
    month, password = district_month
    open_road(tablet, month, password)
    page = tablet.page
    assert page.locator("#pin-crosshair").is_hidden() and page.locator(".crosshair-mark").is_hidden()
    button = page.locator("#crosshair").bounding_box()
    assert button["width"] >= 44 and button["height"] >= 44
    page.tap("#crosshair")
    assert page.get_attribute("#crosshair", "aria-pressed") == "true"
    mark = page.locator(".crosshair-mark").bounding_box()
    centre = map_point(tablet)
    assert abs(mark["x"] + mark["width"] / 2 - centre[0]) <= 1 and abs(mark["y"] + mark["height"] / 2 - centre[1]) <= 1
    page.tap("#pin-crosshair")
    page.wait_for_selector("#finding-form[open]")
    page.select_option("#rule", "5.1")
    page.click("#save")
    sent(tablet)
    assert len(inspections.road_findings(tablet.server.store, month, "R11")) == 1
    # the pin is under the crosshair: a tap there asks whether to edit it
    page.touchscreen.tap(*centre)
    page.wait_for_selector("#chooser[open]")
    page.click("#choose-cancel")
    page.reload()
    page.wait_for_selector("#map .leaflet-overlay-pane path")
    assert page.get_attribute("#crosshair", "aria-pressed") == "true" and page.locator("#pin-crosshair").is_visible()
    page.tap("#crosshair")
    assert page.locator("#pin-crosshair").is_hidden() and page.locator(".crosshair-mark").is_hidden()


def contrast(tablet, selector):
    """The WCAG contrast ratio of an element's text against its background (or its ancestors')."""
    return tablet.page.evaluate("""(selector) => {
      const el = document.querySelector(selector);
      const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
      const lum = (c) => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
                           return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
      let node = el, bg = 'rgb(255, 255, 255)';
      while (node && node.nodeType === 1) {
        const c = getComputedStyle(node).backgroundColor;
        if (c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0)')) { bg = c; break; }
        node = node.parentElement;
      }
      const a = lum(getComputedStyle(el).color), b = lum(bg);
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""", selector)


def test_the_map_and_form_for_a_finger(chromium, live_server, district_month, tmp_path):
    from conftest import Tablet

    month, password = district_month
    for orientation in ("landscape", "portrait"):
        tablet = Tablet(chromium, live_server, orientation=orientation, geolocation=ON_R11)
        try:
            open_road(tablet, month, password)
            page = tablet.page
            # the month's state before work starts
            assert page.inner_text("#month-state") == "本月可以记录问题"
            for selector in (".leaflet-control-zoom-in", ".leaflet-control-zoom-out", "#centre-on-me"):
                box = page.locator(selector).bounding_box()
                assert box["width"] >= 44 and box["height"] >= 44, selector
            tablet.until("document.querySelector('#map path.accuracy') !== null")
            if orientation == "landscape":
                # rules that are no spot in the street are not offered; 5.4 asks for its deadline
                page.touchscreen.tap(*map_point(tablet, dx=-60))
                page.wait_for_selector("#finding-form[open]")
                offered = page.eval_on_selector_all("#rule option", "os => os.map(o => o.value)")
                assert "6.3.2" not in offered and "8.1" not in offered and "5.4" in offered
                page.select_option("#rule", "5.4")
                assert page.locator("#deadline-box").is_visible() and not page.locator("#area-box").is_visible()
                page.select_option("#rule", "4.1")
                page.check("input[name=area_class][value=small]")
                assert page.input_value("#area") == "4"
                page.select_option("#rule", "6.1.2")   # an area rule to a count rule: the area goes
                assert page.input_value("#area") == "" and not page.locator("#area-box").is_visible()
                for n in range(2):
                    page.set_input_files("#photos", str(photo_file(tmp_path, f"p{n}.jpg")))
                assert page.locator("#photo-previews img").count() == 2
                page.locator("#photo-previews .remove-photo").first.click()
                assert page.locator("#photo-previews img").count() == 1
                save = page.locator("#save").bounding_box()
                assert save["y"] + save["height"] <= 768 and save["y"] >= 0   # Save in view, photo and all
                page.fill("#note", "车辆方向")
                page.click("#save")
                sent(tablet)
                # a tap near that pin asks: a new finding here, or that one to edit
                page.touchscreen.tap(*map_point(tablet, dx=-55))
                page.wait_for_selector("#chooser[open]")
                page.click("#choose-edit")
                page.wait_for_selector("#finding-form[open]")
                assert page.input_value("#note") == "车辆方向" and page.locator("#photo-previews img").count() == 1
                page.click("#cancel")
                tablet.context.set_offline(True)
                pin(tablet, "5.3.2", at=map_point(tablet, dx=80), note="等待")
                tablet.until("document.querySelectorAll('#findings li.pending').length === 1")
                assert page.inner_text("#score-note") == "暂定 · 1 项等待上传"
                for selector in ("#month-state", "#outbox", "#message", "#findings li.pending .state", "#score-note"):
                    assert contrast(tablet, selector) >= 7, selector
            path = tablet.screenshot(f"tablet-road-{orientation}.png")
            assert path.stat().st_size > 10_000
            if orientation == "landscape":
                tablet.context.set_offline(False)
                sent(tablet)
        finally:
            tablet.close()
