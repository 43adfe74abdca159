"""Rectification in Chromium (issue 16), each person in their own browser: the office issues a
notice from a finding on the grid page, the town office receives it and reports the item fixed
with an after-photo, the inspector confirms it on the tablet with no network (the check waits
in the outbox, survives a reload, and is sent once when the network returns), and the month's
rate and score change accordingly. Dates are the real clock's: the deadline is yesterday."""

from datetime import timedelta

from test_inspector import ON_R11, district_month, photo_file  # noqa: F401

from gisgrid import clock
from gisgrid.reports import scores
from gisgrid.services import OPERATOR, Actor, accounts, findings, office
from gisgrid.storage import audit, notices
from gisgrid.web.auth import add_account


def g1(store, month) -> dict:
    return next(g for g in scores.month_json(store, month)["grids"] if g["code"] == "G1")


def test_a_notice_from_a_finding_to_the_towns_fix_and_the_tablets_confirmation(chromium, live_server, tablet,
                                                                              district_month, tmp_path):
    from conftest import Tablet

    month, password = district_month
    store = live_server.store
    yesterday = clock.today(store.timezone()) - timedelta(days=1)
    counted = f"{yesterday:%Y-%m}"                  # the month the deadline falls in
    if counted != month:
        office.sample_month(store, counted, roads=["R11", "R12", "R21"])
    stored, _ = findings.record(store, Actor(None, "office", "admin"), {
        "id": "office-0001", "rule": "5.1", "note": "店招破损", "observed_at": clock.now().isoformat()},
        ON_R11["longitude"], ON_R11["latitude"])
    add_account(store, "chief", "admin", "the-chiefs-password")
    accounts.add_account(store, OPERATOR, "shabei", "town", password="shabei-password", towns=["沙北街道"])

    # the office: from the finding on the grid page to a notice due yesterday
    desk = Tablet(chromium, live_server)
    try:
        desk.login("chief", "the-chiefs-password")
        desk.page.goto(f"{live_server.url}/review/{month}/grid/G1")
        desk.page.click(f"tr[data-finding='{stored['id']}'] a.issue-notice")
        desk.page.wait_for_selector("#issue-form")
        assert desk.page.is_checked(f"#from-findings input[value='{stored['id']}']")
        desk.page.fill("#issue-form input[name=issued]", yesterday.isoformat())
        desk.page.fill("#issue-form input[name=deadline]", yesterday.isoformat())
        desk.page.click("#issue-form button[type=submit]")
        desk.page.wait_for_selector("#notice")
        number = "网办整改〔%d〕1号" % yesterday.year
        assert number in desk.page.inner_text("h1") and "店招破损" in desk.page.inner_text("#items-1")
        notice_id = int(desk.page.get_attribute("#notice", "data-notice"))
    finally:
        desk.close()
    before = g1(store, counted)
    assert [d["rule"] for d in before["grid_deductions"]] == ["6.3.1", "6.3.2"]
    assert before["rectification"]["rate"] == 0 and before["score"] == before["road_mean"] - 12

    # the town office: receives it, reports the item fixed on the deadline with an after-photo
    town = Tablet(chromium, live_server)
    try:
        town.login("shabei", "shabei-password")
        assert town.page.url.endswith("/town/")
        town.page.click(f"text={number}")
        town.page.click("#receive-form button")
        town.page.wait_for_selector(".report-form")
        form = town.page.locator(".report-form[data-item='1']")
        form.locator("input[name=on]").fill(yesterday.isoformat())
        form.locator("input[name=photo]").set_input_files(str(photo_file(tmp_path, "after.jpg")))
        form.locator("button[type=submit]").click()
        town.page.wait_for_selector("#done")
        assert yesterday.isoformat() in town.page.inner_text("#item-1 .reported")
        assert town.page.locator(".photos img.thumb").count() == 1
        town.screenshot("rectification-town.png")
    finally:
        town.close()
    assert g1(store, counted)["score"] == before["score"]           # a report counts only once confirmed

    # the inspector: the task on the tablet, confirmed with no network, sent once when it returns
    tablet.login("wang", password)
    tablet.page.goto(live_server.url + "/inspect/rechecks")
    tablet.page.wait_for_selector(f"[data-task='{notice_id}/1']")
    tablet.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    tablet.page.reload()                    # now under the service worker, kept for offline use
    card = tablet.page.locator(f"[data-task='{notice_id}/1']")
    card.wait_for()
    assert "店招破损" in card.inner_text() and tablet.page.locator("#recheck-map .leaflet-overlay-pane path").count() == 1
    tablet.context.set_offline(True)
    card.locator("input[name=fixed][value=yes]").check()
    card.locator("input[name=on]").fill(yesterday.isoformat())
    card.locator("input[name=photo]").set_input_files(str(photo_file(tmp_path, "check.jpg")))
    card.locator("select[name=satisfaction]").select_option("5")
    card.locator("button[type=submit]").click()
    tablet.until("Outbox.all().then(items => items.length === 2)", polling=200)
    tablet.page.reload()                    # closed and opened again, still offline
    card = tablet.page.locator(f"[data-task='{notice_id}/1']")
    card.wait_for()
    tablet.until("!document.querySelector('.task-state').hidden")
    assert notices.notice(store, notice_id)["items"][0]["fixed_on"] is None       # nothing left the tablet
    tablet.screenshot("rectification-tablet-offline.png")
    tablet.context.set_offline(False)
    tablet.page.evaluate("window.dispatchEvent(new Event('online'))")
    tablet.until("Outbox.all().then(items => items.length === 0)", polling=200)
    tablet.until("document.querySelectorAll('[data-task]').length === 0")

    item = notices.notice(store, notice_id)["items"][0]
    assert item["fixed_on"] == yesterday and item["satisfaction"] == 5
    assert [p["stage"] for p in item["photos"]] == ["report", "check"]
    assert len(audit.entries(store, what="notice_check")) == 1
    after = g1(store, counted)
    assert after["grid_deductions"] == [] and after["rectification"]["rate"] == 1.0
    assert after["score"] == after["road_mean"] == before["road_mean"]
    assert tablet.offsite() == []
