"""Rectification through the web app, on SQLite and PostGIS: the office issues a notice (from a
finding or typed), the town office receives it and reports items fixed with an after-photo,
an inspector re-inspects through the tablet's API (once per client id), and the reviewer's
month and grid pages show the deductions and the rate. Refusals leave everything as it was."""

import io
import json
import re

import pytest
from PIL import Image

from gisgrid.services import OPERATOR, office
from gisgrid.services import accounts
from gisgrid.storage import audit, inspections, notices

MONTH = "2026-11"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), "green").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def month(app, district, auth):
    """November drawn (G1: R11 and R12; G2: R21), the inspector wang on G1's roads, two town offices."""
    office.sample_month(district, MONTH, roads=["R11", "R12", "R21"])
    auth.account("wang", "inspector")
    for road in ("R11", "R12"):
        inspections.assign(district, MONTH, road, "wang", "test")
    for name, town in (("shabei", "沙北街道"), ("chengguan", "城关镇")):
        accounts.add_account(district, OPERATOR, name, "town", password=f"{name}-password-1", towns=[town])
        auth.passwords[name] = f"{name}-password-1"
    return district


def post(auth, path, **data):
    return auth.client.post(path, data={"csrf_token": auth.csrf("/"), **data})


def api(auth, method, path, json):
    return auth.client.open(path, method=method, json=json, headers={"X-CSRFToken": auth.csrf("/")})


def test_a_notice_from_a_finding_reported_by_the_town_and_confirmed_on_the_tablet(month, auth):
    auth.login("wang", "inspector")
    made = api(auth, "POST", "/api/findings", {"id": "tablet-0001", "rule": "5.1", "note": "店招破损",
                                                "observed_at": "2026-11-20T10:00:00+08:00",
                                                "lon": 114.035, "lat": 33.5951})
    finding_id = made.json["finding"]["id"]
    auth.logout()

    auth.login("office", "admin")
    grid_page = auth.client.get(f"/review/{MONTH}/grid/G1").get_data(as_text=True)
    assert f"/office/notices?grid=G1&amp;finding={finding_id}" in grid_page
    form = auth.client.get(f"/office/notices?grid=G1&finding={finding_id}").get_data(as_text=True)
    assert f'name="finding" value="{finding_id}" checked' in form
    issued = post(auth, "/office/notices", grid="G1", rule="6.3.1", issued="2026-11-21", deadline="2026-11-24",
                  finding=str(finding_id))
    assert issued.status_code == 302
    notice_id = int(re.search(r"/notices/(\d+)$", issued.headers["Location"]).group(1))
    page = auth.client.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert "店招破损" in page and "R11" in page and "2026-11-24" in page
    auth.logout()

    # another town's office sees nothing of it and cannot report it
    auth.login("chengguan", "town")
    assert auth.client.get(f"/notices/{notice_id}").status_code == 403
    assert post(auth, f"/notices/{notice_id}/items/1/report", on="2026-11-23").status_code == 403
    assert "网办整改" not in auth.client.get("/town/").get_data(as_text=True)
    auth.logout()

    auth.login("shabei", "town")
    home = auth.client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "网办整改〔2026〕1号" in home
    # its towns' scores of the month, not another town's
    grids_shown = re.findall(r'<tr data-code="([^"]+)">', re.search(r'id="town-grids">(.*?)</table>', home, re.S).group(1))
    assert grids_shown == ["G2", "G1"] and 'data-town="城关镇"' not in home
    assert post(auth, f"/notices/{notice_id}/receive").status_code == 302
    future = post(auth, f"/notices/{notice_id}/items/1/report", on="2026-11-26")
    assert future.status_code == 400 and "2026-11-26" in future.get_data(as_text=True)
    assert notices.notice(month, notice_id)["items"][0]["reported_on"] is None      # nothing saved
    reported = auth.client.post(f"/notices/{notice_id}/items/1/report", data={
        "csrf_token": auth.csrf("/"), "on": "2026-11-23", "note": "已更换店招",
        "photo": (io.BytesIO(jpeg()), "after.jpg")}, content_type="multipart/form-data")
    assert reported.status_code == 200 and 'id="done"' in reported.get_data(as_text=True)
    stored = notices.notice(month, notice_id)
    assert stored["received_at"] is not None and stored["items"][0]["reported_on"].isoformat() == "2026-11-23"
    assert [p["stage"] for p in stored["items"][0]["photos"]] == ["report"]
    printed = auth.client.get(f"/notices/{notice_id}.pdf")
    assert printed.status_code == 200 and printed.data.startswith(b"%PDF")
    auth.logout()

    # the month before the re-inspection: the item is due, not fixed, past its deadline
    auth.login("office", "admin")
    g1 = next(g for g in auth.client.get(f"/review/{MONTH}.json").json["grids"] if g["code"] == "G1")
    assert g1["rectification"]["rate"] == 0 and [d["rule"] for d in g1["grid_deductions"]] == ["6.3.1", "6.3.2"]
    auth.logout()

    auth.login("wang", "inspector")
    tasks = auth.client.get("/api/rechecks").json["tasks"]
    assert [(t["notice"], t["item"], t["why"], t["reported_on"]) for t in tasks] == [
        (str(notice_id), 1, "reported", "2026-11-23")]
    tablet = auth.client.get("/inspect/rechecks")
    embedded = re.search(r'id="rechecks-data">(.*?)</script>', tablet.get_data(as_text=True), re.S).group(1)
    assert tablet.status_code == 200 and json.loads(embedded)["tasks"] == tasks
    body = {"client_id": "recheck-0001", "fixed": True, "on": "2026-11-24", "satisfaction": 5}
    first = api(auth, "POST", f"/api/notices/{notice_id}/items/1/check", body)
    again = api(auth, "POST", f"/api/notices/{notice_id}/items/1/check", body)
    assert first.status_code == again.status_code == 200 and again.json == first.json
    assert first.json["items"][0]["fixed_on"] == "2026-11-24"
    other = api(auth, "POST", f"/api/notices/{notice_id}/items/1/check", {**body, "on": "2026-11-25"})
    assert other.status_code == 409
    assert len(audit.entries(month, what="notice_check")) == 1
    assert auth.client.get("/api/rechecks").json["tasks"] == []
    auth.logout()

    auth.login("office", "admin")
    g1 = next(g for g in auth.client.get(f"/review/{MONTH}.json").json["grids"] if g["code"] == "G1")
    assert g1["rectification"] == {"due": 1, "on_time": 1, "open": 0, "rate": 1.0} and g1["grid_deductions"] == []
    page = auth.client.get(f"/review/{MONTH}/grid/G1").get_data(as_text=True)
    assert 'id="rectification"' in page and "1/1" not in page and "100.00%" in page
    # the case loop of November's notices: received at once, reported fixed within 7 days, rated 5
    loop = auth.client.get(f"/office/notices?month={MONTH}").get_data(as_text=True)
    row = re.search(r'<tr data-town="沙北街道">(.*?)</tr>', loop, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["沙北街道", "1", "1 (100%)", "1", "1 (100%)", "5.00"]


def test_the_worked_case_from_the_web(month, auth):
    """DOMAIN.md's case through the pages and the API: one 6.3.1 notice to G1, deadline 5 Nov,
    items confirmed fixed 4 Nov and 8 Nov on the tablet, the third never: 2 × 2 + 10 off."""
    auth.login("wang", "inspector")
    r11, r12 = (114.035, 33.5951), (114.0351, 33.593)
    for n, (rule, count, (lon, lat)) in enumerate((("5.1", 3, r11), ("5.1", 3, r12), ("5.2", 1, r12), ("7", 1, r12))):
        assert api(auth, "POST", "/api/findings", {"id": f"tablet-000{n}", "rule": rule, "count": count,
                                                    "observed_at": "2026-11-20T10:00:00+08:00",
                                                    "lon": lon, "lat": lat}).status_code == 201
    auth.logout()
    auth.login("office", "admin")
    issued = post(auth, "/office/notices", grid="G1", issued="2026-11-01", deadline="2026-11-05",
                  items="清理占道堆放\n修复破损店招\n清除小广告\n")
    notice_id = int(issued.headers["Location"].rsplit("/", 1)[1])
    auth.logout()
    auth.login("wang", "inspector")
    for item, on in ((1, "2026-11-04"), (2, "2026-11-08")):
        sent = api(auth, "POST", f"/api/notices/{notice_id}/items/{item}/check",
                   {"client_id": f"recheck-{item:04d}", "fixed": True, "on": on})
        assert sent.status_code == 200, sent.json
    not_fixed = api(auth, "POST", f"/api/notices/{notice_id}/items/3/check",
                    {"client_id": "recheck-0003", "fixed": False, "on": "2026-11-10"})
    assert not_fixed.json["items"][2]["fixed_on"] is None and not_fixed.json["items"][2]["checked_on"] == "2026-11-10"
    auth.logout()
    auth.login("office", "admin")
    grids = {g["code"]: g for g in auth.client.get(f"/review/{MONTH}.json").json["grids"]}
    # R11: 100 − 15 = 85; R12: 100 − 15 − 1 − 0.5 = 83.5: mean 84.25, less 14
    assert (grids["G1"]["road_mean"], grids["G1"]["score"]) == (84.25, 70.25)
    assert grids["G1"]["rectification"] == {"due": 3, "on_time": 1, "open": 0, "rate": pytest.approx(1 / 3)}
    page = auth.client.get(f"/review/{MONTH}").get_data(as_text=True)
    assert "−14" in page and "70.25" in page
    office_page = auth.client.get(f"/office/notices?month={MONTH}").get_data(as_text=True)
    assert "清除小广告" in office_page and 'id="overdue"' in office_page


def test_tablet_refusals_say_why(month, auth):
    notice = office_notice(month)
    auth.login("wang", "inspector")
    bad = api(auth, "POST", f"/api/notices/{notice}/items/1/check", {"client_id": "recheck-0009", "on": "2026-11-20"})
    assert bad.status_code == 400 and "请说明是否已整改" in bad.json["message"]
    missing = api(auth, "POST", f"/api/notices/{notice}/items/7/check",
                  {"client_id": "recheck-0010", "fixed": True, "on": "2026-11-20"})
    assert missing.status_code == 404
    rating = api(auth, "POST", f"/api/notices/{notice}/items/1/check",
                 {"client_id": "recheck-0011", "fixed": True, "on": "2026-11-20", "satisfaction": 9})
    assert rating.status_code == 400 and "满意度是 1 到 5 的整数" in rating.json["message"]
    assert notices.notice(month, notice)["items"][0]["checked_on"] is None
    photo = auth.client.post(f"/api/notices/{notice}/items/1/photos", headers={"X-CSRFToken": auth.csrf("/")},
                             data={"client_id": "recheck-p001", "photo": (io.BytesIO(b"not a photo"), "x.jpg")},
                             content_type="multipart/form-data")
    assert photo.status_code == 422
    auth.logout()
    auth.login("shabei", "town")     # the town office reports; it does not re-inspect
    assert api(auth, "POST", f"/api/notices/{notice}/items/1/check",
               {"client_id": "recheck-0012", "fixed": True, "on": "2026-11-20"}).status_code == 403


def office_notice(store) -> int:
    from gisgrid.services import rectification

    return int(rectification.issue(store, OPERATOR, "G1", "2026-11-24", [{"text": "清理"}], issued="2026-11-20")["notice"])


def test_the_office_previews_an_excel_of_notices_then_imports_it(month, auth):
    from test_rectification import NOTICES_CSV

    auth.login("office", "admin")
    token = auth.csrf("/office/notices")
    bad = auth.client.post("/office/notices/import", data={"csrf_token": token, "file": (
        io.BytesIO("文号,网格,整改期限,整改内容\nX-1,G9,2026-11-20,清理\n".encode()), "bad.csv")},
        content_type="multipart/form-data")
    page = bad.get_data(as_text=True)
    errors = re.search(r'id="import-errors">(.*?)</table>', page, re.S).group(1)
    assert bad.status_code == 200 and "&#39;G9&#39;" in errors and 'id="import-confirm"' not in page
    wrong_kind = auth.client.post("/office/notices/import", data={"csrf_token": token, "file": (
        io.BytesIO(b"<kml/>"), "notices.kml")}, content_type="multipart/form-data")
    assert wrong_kind.status_code == 400 and "CSV" in wrong_kind.get_data(as_text=True)

    preview = auth.client.post("/office/notices/import", data={"csrf_token": token, "file": (
        io.BytesIO(NOTICES_CSV.encode("gb18030")), "notices.csv")}, content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "郾网办〔2026〕7号" in page and "郾网办〔2026〕8号" in page
    assert notices.notices(month) == []                                     # a preview writes nothing
    confirm = re.search(r'action="(/office/notices/import/[^"?]+)[^"]*" id="import-confirm"', page).group(1)
    done = auth.client.post(confirm, data={"csrf_token": token})
    assert done.status_code == 200 and 'id="imported"' in done.get_data(as_text=True)
    assert sorted(n["number"] for n in notices.notices(month)) == ["郾网办〔2026〕7号", "郾网办〔2026〕8号"]
    assert all(n["source"] == "imported" for n in notices.notices(month))
    assert len(audit.entries(month, what="notice_import")) == 1
    again = auth.client.post(confirm, data={"csrf_token": token})             # the upload is gone once written
    assert again.status_code == 404 and len(notices.notices(month)) == 2


def test_three_months_with_every_rule_from_the_web(month, auth):
    """The command line's three-month case (test_rectification) through the office's form and the
    tablet's API: Sep 83, Oct 90, Nov 87 for G1, and the year over them."""
    for earlier in ("2026-09", "2026-10"):
        office.sample_month(month, earlier, roads=["R11", "R12", "R21"])
    auth.login("office", "admin")

    def issue(rule, issued, deadline, *texts):
        sent = post(auth, "/office/notices", grid="G1", rule=rule, issued=issued, deadline=deadline,
                    items="\n".join(texts))
        assert sent.status_code == 302, sent.get_data(as_text=True)
        return int(sent.headers["Location"].rsplit("/", 1)[1])

    a = issue("6.3.1", "2026-09-10", "2026-09-20", "a1", "a2")
    b = issue("5.4", "2026-09-15", "2026-09-30", "户外广告")
    c = issue("5.5", "2026-10-01", "2026-10-15", "店招整治")
    d = issue("5.5", "2026-11-01", "2026-11-10", "d1", "d2")
    issue("6.3.1", "2026-11-20", "2026-11-30", "e1")
    auth.logout()
    auth.login("wang", "inspector")
    for n, (notice, item, on) in enumerate(((a, 1, "2026-09-18"), (a, 2, "2026-09-25"), (c, 1, "2026-10-15"),
                                            (d, 1, "2026-11-09"), (d, 2, "2026-11-12"))):
        sent = api(auth, "POST", f"/api/notices/{notice}/items/{item}/check",
                   {"client_id": f"three-months-{n:02d}", "fixed": True, "on": on})
        assert sent.status_code == 200, sent.json
    auth.logout()
    auth.login("office", "admin")
    g1 = {m: next(g for g in auth.client.get(f"/review/{m}.json").json["grids"] if g["code"] == "G1")
          for m in ("2026-09", "2026-10", "2026-11")}
    assert [g["score"] for g in g1.values()] == [83, 90, 87]
    assert [(x["rule"], x["points"], x["notice"]) for x in g1["2026-10"]["grid_deductions"]] == [("5.4", 10, str(b))]
    year = auth.client.get("/review/year/2026.json?all=1").json
    row = next(g for g in year["grids"] if g["code"] == "G1")
    assert row["months"] == {"2026-09": 83, "2026-10": 90, "2026-11": 87}


def test_the_month_page_is_kept_until_what_it_shows_changes(month, auth):
    """A second view of the month reads the kept report; a finding, a notice's fix and
    publishing each make the next view new (and right)."""
    from gisgrid.reports import assessment
    from gisgrid.services import month as month_work
    from gisgrid.services.policy import Actor

    first, again = assessment.month_report(month, MONTH), assessment.month_report(month, MONTH)
    assert again["grids"] is first["grids"]                             # kept, not rebuilt
    assert again is not first                                          # each caller its own dict
    auth.login("wang", "inspector")
    api(auth, "POST", "/api/findings", {"id": "tablet-0001", "rule": "5.1", "observed_at": "2026-11-20T10:00:00+08:00",
                                         "lon": 114.035, "lat": 33.5951})
    after_finding = assessment.month_report(month, MONTH)
    g1 = lambda report: next(g for g in report["grids"] if g["code"] == "G1")      # noqa: E731
    assert (g1(first)["score"], g1(after_finding)["score"]) == (100, 97.5)
    notice = office_notice(month)                                       # due 24 Nov, not fixed: −2 −10
    assert g1(assessment.month_report(month, MONTH))["score"] == 85.5
    api(auth, "POST", f"/api/notices/{notice}/items/1/check", {"client_id": "recheck-0100", "fixed": True,
                                                                "on": "2026-11-24"})
    assert g1(assessment.month_report(month, MONTH))["score"] == 97.5
    month_work.publish(month, Actor(None, "zhao", "reviewer"), MONTH)
    assert assessment.month_report(month, MONTH)["state"]["state"] == "published"
