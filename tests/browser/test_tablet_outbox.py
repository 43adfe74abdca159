"""The tablet never loses a finding (issue 13): every write made offline — a new finding, an edit,
a move, a delete, a photo added and one removed — waits in the outbox, survives a reload with
no network, and reaches the server exactly once and in order when the network returns, even
when an answer is lost on the way or the server is stopped and started again mid-send."""

import json

from test_inspector import ON_R11, district_month, map_point, open_road, photo_file, pin, sent  # noqa: F401

from gisgrid.storage import inspections


def actions(store, finding_id):
    return [c["action"] for c in inspections.changes(store, finding_id)]


def by_note(store, month):
    return {f["note"]: f for f in inspections.road_findings(store, month, "R11")}


def waiting(tablet) -> int:
    return tablet.page.evaluate("Outbox.all().then(items => items.length)")


def open_finding(tablet, note):
    tablet.page.locator("#findings li", has_text=note).click()
    tablet.page.wait_for_selector("#finding-form[open]")


def test_offline_writes_arrive_once_after_a_reload_and_a_lost_answer(tablet, district_month, tmp_path):
    month, password = district_month
    store = tablet.server.store
    tablet.context.set_geolocation(ON_R11)
    open_road(tablet, month, password)
    tablet.page.reload()   # now under the service worker, which keeps the page for offline use
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    pin(tablet, "5.1", at=map_point(tablet, dx=-120), note="甲", photo=photo_file(tmp_path, "a.jpg"))
    pin(tablet, "6.1.2", at=map_point(tablet, dx=-40), note="乙", count=2)
    pin(tablet, "5.3.2", at=map_point(tablet, dx=40), note="丁")
    sent(tablet)
    before = by_note(store, month)
    assert sorted(before) == ["丁", "乙", "甲"] and len(before["甲"]["photos"]) == 1

    tablet.context.set_offline(True)
    # a new finding with a photo
    pin(tablet, "8.3.1", at=map_point(tablet, dx=120), note="丙", photo=photo_file(tmp_path, "c.jpg"))
    # an edit that also removes the finding's photo and adds another
    open_finding(tablet, "甲")
    tablet.page.fill("#note", "甲改")
    tablet.page.click("#photo-previews .remove-photo")
    tablet.page.set_input_files("#photos", str(photo_file(tmp_path, "a2.jpg")))
    tablet.page.click("#save")
    # a move
    open_finding(tablet, "乙")
    tablet.page.click("#move")
    tablet.page.touchscreen.tap(*map_point(tablet, dx=-160))
    # a delete
    open_finding(tablet, "丁")
    tablet.page.once("dialog", lambda d: d.accept())
    tablet.page.click("#delete")
    tablet.until("Outbox.all().then(items => items.length === 7)", polling=200)

    # closed and opened again with no network: everything is still shown, as waiting
    tablet.page.reload()
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.until("document.querySelectorAll('#findings li.pending').length === 4")
    assert tablet.page.locator("#findings li.deleting", has_text="丁").count() == 1
    assert tablet.page.locator("#findings li", has_text="甲改").count() == 1
    assert tablet.page.locator("#findings li", has_text="丙").locator("img.thumb").count() == 1
    assert "7" in tablet.page.inner_text("#score-note")
    assert by_note(store, month).keys() == before.keys()   # nothing has left the tablet

    lost = []

    def lose_first_edit_answer(route):
        if route.request.method == "PATCH" and not lost:
            route.fetch()           # the server receives and applies it ...
            lost.append(json.loads(route.request.post_data))
            route.abort()           # ... but the tablet never hears back, and sends it again
        else:
            route.continue_()

    tablet.context.route("**/api/findings/client/**", lose_first_edit_answer)
    tablet.context.set_offline(False)
    sent(tablet, timeout=60_000)
    assert len(lost) == 1 and lost[0]["note"] == "甲改"

    after = by_note(store, month)
    assert sorted(after) == ["丙", "乙", "甲改"]
    a, b, c = after["甲改"], after["乙"], after["丙"]
    assert len(a["photos"]) == 1 and a["photos"] != before["甲"]["photos"]
    # moved west, where the tap was (how far in degrees depends on the map's zoom at that moment)
    assert b["geom"].x < before["乙"]["geom"].x - 0.0001 and b["count"] == 2
    assert len(c["photos"]) == 1 and c["rule"] == "8.3.1"
    # each write once: the lost answer's re-send changed nothing and logged nothing again
    assert actions(store, a["id"]) == ["create", "photo", "update", "unphoto", "photo"]
    assert actions(store, b["id"]) == ["create", "update"]
    assert actions(store, c["id"]) == ["create", "photo"]
    assert actions(store, before["丁"]["id"]) == ["create", "delete"]
    assert inspections.finding(store, id=before["丁"]["id"])["deleted_at"] is not None
    tablet.until("document.getElementById('score-note').hidden === true")


def test_the_server_stopped_and_started_again_mid_send(chromium, live_server, district_month, tmp_path):
    from conftest import LiveServer, Tablet

    from gisgrid.web import create_app

    month, password = district_month
    tablet = Tablet(chromium, live_server, geolocation=ON_R11)
    try:
        open_road(tablet, month, password)
        tablet.page.reload()
        tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
        tablet.context.set_offline(True)
        for n, dx in enumerate((-150, -50, 50, 150)):
            pin(tablet, "5.3.1", at=map_point(tablet, dx=dx), note=f"第{n}", photo=photo_file(tmp_path, f"{n}.jpg"))
        tablet.until("Outbox.all().then(items => items.length === 8)", polling=200)

        stopped = []

        def stop_after_the_first_photo(route):
            if stopped:             # the server is gone: what the tablet sends now finds no one
                route.abort("connectionrefused")
                return
            response = route.fetch()
            route.fulfill(response=response)
            if not stopped:
                stopped.append(True)
                live_server.stop()   # the server goes away while the tablet is sending

        tablet.context.route("**/photos", stop_after_the_first_photo)
        tablet.context.set_offline(False)
        tablet.until("Outbox.all().then(items => items.length <= 6)", polling=200)
        store = live_server.store
        assert stopped and 1 <= len(inspections.road_findings(store, month, "R11")) <= 2
        assert waiting(tablet) > 0
        tablet.context.unroute("**/photos")

        # a new server on the same database and port, as after a restart
        config = {k: live_server.app.config[k] for k in ("DATABASE_URL", "SECRET_KEY")}
        again = LiveServer(create_app({**config, "INSTANCE_PATH": live_server.app.instance_path, "TILES": "none"}),
                           port=int(live_server.url.rsplit(":", 1)[1]))
        try:
            sent(tablet, timeout=60_000)
            stored = inspections.road_findings(again.store, month, "R11")
            assert sorted(f["note"] for f in stored) == ["第0", "第1", "第2", "第3"]
            assert [len(f["photos"]) for f in stored] == [1, 1, 1, 1]
            assert all(actions(again.store, f["id"]) == ["create", "photo"] for f in stored)
        finally:
            again.stop()
            again.store.dispose()
    finally:
        tablet.close()


def test_a_refused_finding_can_be_moved_or_discarded(tablet, district_month):
    """Queued offline, refused on reconnect (the office gave the road to someone else meanwhile):
    the inspector sees why, and can move it (sent again) or discard it."""
    from gisgrid.web.auth import add_account

    month, password = district_month
    store = tablet.server.store
    open_road(tablet, month, password)
    tablet.page.reload()
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.context.set_offline(True)
    pin(tablet, "5.3.1", at=map_point(tablet, dx=-100), note="被拒一")
    pin(tablet, "5.3.2", at=map_point(tablet, dx=100), note="被拒二")
    tablet.until("document.querySelectorAll('#findings li.pending').length === 2")
    add_account(store, "li", "inspector")
    inspections.assign(store, month, "R11", "li", "office")
    tablet.context.set_offline(False)
    tablet.until("document.querySelectorAll('#findings li.refused').length === 2", timeout=30_000)
    assert "不是分配给你" in tablet.page.locator("#findings li.refused").first.inner_text()

    tablet.page.once("dialog", lambda d: d.accept())
    tablet.page.locator("#findings li", has_text="被拒二").locator("button.discard").click()
    tablet.until("document.querySelectorAll('#findings li.refused').length === 1")
    assert waiting(tablet) == 1
    # given back to wang, the remaining one is moved (a tap on the road) and goes
    inspections.assign(store, month, "R11", "wang", "office")
    tablet.page.locator("#findings li", has_text="被拒一").locator("button.move-refused").click()
    tablet.page.touchscreen.tap(*map_point(tablet, dx=-160))
    sent(tablet)
    stored = inspections.road_findings(store, month, "R11")
    assert [f["note"] for f in stored] == ["被拒一"]


def test_the_first_login_keeps_the_roads_for_offline_before_saying_so(tablet, district_month):
    """A fresh tablet: the service worker is new and does not control the page the inspector
    logs in to. The notice that the roads are kept appears only once they are, and then the
    list and a road open with no network."""
    month, password = district_month
    tablet.login("wang", password)
    assert "/inspect/" in tablet.page.url
    tablet.page.locator("#offline-ready").wait_for(state="visible")
    assert "已保存在本机" in tablet.page.inner_text("#offline-ready")

    tablet.context.set_offline(True)
    tablet.page.reload()
    assert tablet.page.locator("a.road-link").count() == 2
    tablet.page.click("a.road-link[href$='/R11']")
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    assert "R11" in tablet.page.inner_text("h1")
    # back by the road page's "My roads" (the month's list by its query), and by the logo's "/"
    tablet.page.click(f"a[href='/inspect/?month={month}']")
    tablet.page.wait_for_selector("a.road-link")
    assert tablet.page.locator("a.road-link").count() == 2
    tablet.page.goto(tablet.server.url + "/")
    tablet.page.wait_for_selector("a.road-link")
    assert tablet.page.locator("a.road-link").count() == 2


def test_the_kept_notice_says_sent_once_the_outbox_is_empty(tablet, district_month):
    """"Kept on this tablet; sending in the background" stands while the finding waits, and
    gives way to "sent" once the outbox has sent it: it never says sending when nothing is."""
    month, password = district_month
    open_road(tablet, month, password)
    tablet.page.reload()
    tablet.page.wait_for_selector("#map .leaflet-overlay-pane path")
    tablet.context.set_offline(True)
    pin(tablet, "5.3.1", at=map_point(tablet, dx=-100), note="待上传")
    tablet.until("Outbox.all().then(items => items.length === 1)", polling=200)
    message = tablet.page.locator("#message")
    assert message.inner_text() == "已保存在本机，正在后台上传"

    tablet.context.set_offline(False)
    sent(tablet)
    tablet.until("document.getElementById('message').textContent !== '已保存在本机，正在后台上传'")
    assert message.is_visible() and message.inner_text() == "已上传到服务器"
    assert [f["note"] for f in inspections.road_findings(tablet.server.store, month, "R11")] == ["待上传"]
