"""The office's pages through the real app on SQLite and PostGIS: the first-run page, accounts
(the password shown once, every change audited), the month's draw (a redraw only with a reason,
the old draw kept, when it is due) and the assignment (proposed, adjusted, saved, seen by the
inspector at once)."""

import re
from datetime import datetime

import pytest
from fixtures import finding

from gisgrid.services import office as office_work
from gisgrid.storage import audit, inspections


def store_of(app):
    return app.extensions["gisgrid.storage"]


def csrf(client, path="/login"):
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


# first run --------------------------------------------------------------------------------


def test_the_first_run_page_sets_the_first_admin_once(app, client):
    assert "/setup" in client.get("/login").get_data(as_text=True)
    token = csrf(client, "/setup")
    refused = client.post("/setup", data={"name": "chief", "password": "long-enough-1", "again": "other-password",
                                          "csrf_token": token})
    assert refused.status_code == 422 and "两次输入的新密码不一致" in refused.get_data(as_text=True)
    assert 'value="chief"' in refused.get_data(as_text=True)             # what was typed is kept
    done = client.post("/setup", data={"name": "chief", "password": "long-enough-1", "again": "long-enough-1",
                                       "csrf_token": token})
    assert done.status_code == 302 and store_of(app).user(name="chief")["role"] == "admin"
    # closed now: the page sends to the login, and a second form sent makes no second admin
    assert client.get("/setup").headers["Location"].endswith("/login")
    client.post("/setup", data={"name": "intruder", "password": "long-enough-2", "again": "long-enough-2",
                                "csrf_token": token})
    assert store_of(app).user(name="intruder") is None
    assert "/setup" not in client.get("/login").get_data(as_text=True)
    assert [e["action"] for e in audit.entries(store_of(app))] == ["account_first_admin"]
    login = client.post("/login", data={"name": "chief", "password": "long-enough-1", "csrf_token": csrf(client)})
    assert login.status_code == 302 and client.get("/").headers["Location"].endswith("/admin/")


# accounts ---------------------------------------------------------------------------------


@pytest.fixture
def office(auth):
    auth.login("chief", "admin")
    return auth


def add(client, **form):
    return client.post("/admin/accounts", data={"csrf_token": csrf(client, "/admin/accounts"), **form})


def change(client, name, what, **form):
    return client.post("/admin/accounts/change",
                       data={"csrf_token": csrf(client, "/admin/accounts"), "name": name, "change": what, **form},
                       follow_redirects=True)


def test_an_added_accounts_generated_password_is_shown_once_and_works(app, client, office):
    refused = add(client, name="li", role="inspector", lang="zh", towns="沙北街道")   # no grids: no such town yet
    assert refused.status_code == 400 and "没有网格属于镇办" in refused.get_data(as_text=True)
    assert store_of(app).user(name="li") is None
    page = add(client, name="li", role="inspector", lang="zh")
    html = page.get_data(as_text=True)
    password = re.search(r'id="shown-password">([^<]+)<', html).group(1)
    assert page.status_code == 200 and len(password) >= 12
    assert password not in client.get("/admin/accounts").get_data(as_text=True)      # only that once
    other = app.test_client()
    assert other.post("/login", data={"name": "li", "password": password, "csrf_token": csrf(other)}).status_code == 302
    entry = audit.entries(store_of(app), what="account_add")[0]
    assert (entry["actor"], entry["subject"], entry["after"]["password"]) == ("chief", "li", "generated")
    assert password not in str(entry)


def test_a_refused_account_keeps_what_was_typed(client, office):
    add(client, name="wang", role="reviewer")
    page = add(client, name="wang", role="planner", password="typed-password-1")
    html = page.get_data(as_text=True)
    assert page.status_code == 409 and "wang" in html and "已存在" in html
    short = add(client, name="zhou", role="planner", password="short")
    assert short.status_code == 422 and 'value="zhou"' in short.get_data(as_text=True)


def test_role_disable_enable_reset_and_the_last_admin(app, client, office):
    store = store_of(app)
    add(client, name="li", role="inspector")
    change(client, "li", "role", role="reviewer")
    assert store.user(name="li")["role"] == "reviewer"
    change(client, "li", "disable")
    assert store.user(name="li")["active"] is False or store.user(name="li")["active"] == 0
    change(client, "li", "enable")
    assert store.user(name="li")["active"]
    page = change(client, "li", "password")
    assert re.search(r'id="shown-password">([^<]+)<', page.get_data(as_text=True))
    refused = change(client, "chief", "disable")
    assert refused.status_code == 409 and "唯一" in refused.get_data(as_text=True)
    assert store.user(name="chief")["active"]
    assert [e["action"] for e in audit.entries(store, what="account")][:4] == [
        "account_password", "account_enable", "account_disable", "account_role"]


def test_only_the_office_sees_its_pages(client, auth):
    auth.login("zhao", "reviewer")
    for path in ("/admin/accounts", "/admin/month/2026-11", "/admin/audit"):
        assert client.get(path).status_code == 403


# the month --------------------------------------------------------------------------------


@pytest.fixture
def district(app, district_files):
    from gisgrid.services import OPERATOR
    from gisgrid.services import layers as layer_work

    for kind, path in zip(("grids", "roads"), district_files):
        layer_work.import_layer(store_of(app), OPERATOR, kind, path, restricted=False)
    return store_of(app)


def post(client, path, **form):
    return client.post(path, data={"csrf_token": csrf(client, "/admin/month/2026-11"), **form})


def test_draw_redraw_with_a_reason_and_the_record(client, office, district):
    page = client.get("/admin/month/2026-11").get_data(as_text=True)
    assert "2026-11-21" in page and "2026-11-30" in page and 'id="no-draw"' in page    # due now: 25 Nov
    assert post(client, "/admin/month/2026-11/draw", how="seed", seed="7").status_code == 302
    first = district.sample("2026-11")
    assert first.seed == 7 and first.drawn_by == "chief"
    assert "7" in client.get("/admin/month/2026-11").get_data(as_text=True)
    refused = post(client, "/admin/month/2026-11/draw", how="seed", seed="8")
    assert refused.status_code == 400 and "原因" in refused.get_data(as_text=True)
    assert district.sample("2026-11").id == first.id                                   # nothing changed
    assert post(client, "/admin/month/2026-11/draw", how="designate", roads=["R11", "R13"],
                reason="R12 closed for works").status_code == 302
    draws = district.draws("2026-11")
    assert len(draws) == 2 and draws[1].id == first.id and draws[1].superseded_at is not None
    assert draws[0].sample["G1"] == ["R11", "R13"] and draws[0].reason == "R12 closed for works"
    page = client.get("/admin/month/2026-11").get_data(as_text=True)
    assert 'id="draws"' in page and "R12 closed for works" in page
    rows = audit.entries(district, what="draw", month="2026-11")
    assert [r["reason"] for r in rows] == ["R12 closed for works", None] and rows[0]["before"]["seed"] == 7


def test_a_redraw_over_recorded_findings_needs_the_box_ticked(client, office, district):
    post(client, "/admin/month/2026-11/draw", how="designate", roads=["R11", "R12", "R21", "R41", "R42"])
    first = district.sample("2026-11")
    office_work.record_findings(district, [finding("a", 114.035, 33.5951, "5.1")])     # inside R11
    refused = post(client, "/admin/month/2026-11/draw", how="seed", seed="8", reason="works on R11")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "已有 1 条问题" in page and 'id="draw-force"' in page
    assert district.sample("2026-11").id == first.id and len(district.draws("2026-11")) == 1
    assert post(client, "/admin/month/2026-11/draw", how="seed", seed="8", reason="works on R11",
                force="1").status_code == 302
    draws = district.draws("2026-11")
    assert len(draws) == 2 and draws[0].seed == 8 and draws[0].reason == "works on R11"
    assert district.count("findings") == 1                                  # recorded findings stay


def test_propose_adjust_save_and_the_inspector_sees_the_roads(app, client, office, district):
    for name in ("li", "wang"):
        add(client, name=name, role="inspector")
    post(client, "/admin/month/2026-11/draw", how="designate", roads=["R11", "R12", "R21", "R41", "R42"])
    proposal = post(client, "/admin/month/2026-11/propose", inspectors=["li", "wang"])
    html = proposal.get_data(as_text=True)
    assert proposal.status_code == 200 and 'id="proposal-note"' in html
    assert set(r["inspector"] for r in inspections.inspections(district, "2026-11")) == {None}   # not saved yet
    chosen = dict(re.findall(r'name="road:(\w+)".*?<option value="(\w+)" selected', html, flags=re.S))
    assert sorted(chosen) == ["R11", "R12", "R21", "R41", "R42"]
    chosen["R21"] = "wang"                                       # adjusted by hand
    saved = post(client, "/admin/month/2026-11/assign", **{f"road:{r}": n for r, n in chosen.items()})
    assert saved.status_code == 302
    assert {r["code"]: r["inspector"] for r in inspections.inspections(district, "2026-11")} == chosen
    li = app.test_client()
    password = office.passwords.get("li")
    # the inspector logs in (their password is reset by the office for the test) and sees their roads
    page = change(client, "li", "password")
    password = re.search(r'id="shown-password">([^<]+)<', page.get_data(as_text=True)).group(1)
    li.post("/login", data={"name": "li", "password": password, "csrf_token": csrf(li)})
    mine = li.get("/inspect/?month=2026-11").get_data(as_text=True)
    for road, name in chosen.items():
        assert (road in mine) == (name == "li"), road
    refused = post(client, "/admin/month/2026-11/assign", **{"road:R11": "nobody"})
    assert refused.status_code == 404 and "nobody" in refused.get_data(as_text=True)
    progress = client.get("/admin/month/2026-11").get_data(as_text=True)
    assert 'id="progress-inspector"' in progress and "未开始" in progress


def test_the_audit_log_filters_by_who_what_and_month(client, office, district):
    add(client, name="li", role="inspector")
    post(client, "/admin/month/2026-11/draw", how="seed", seed="3")
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "<td>account_add</td>" in everything and "<td>draw</td>" in everything
    draws = client.get("/admin/audit?what=draw&month=2026-11").get_data(as_text=True)
    assert "<td>account_add</td>" not in draws and "<td>draw</td>" in draws
    assert "<td>draw</td>" not in client.get("/admin/audit?what=draw&month=2026-10").get_data(as_text=True)
    nobody = client.get("/admin/audit?who=someone-else").get_data(as_text=True)
    assert 'id="no-entries"' in nobody


# the inspection window --------------------------------------------------------------------


def test_closing_the_window_refuses_later_findings_and_keeps_earlier_ones(app, client, office, district):
    from gisgrid.domain.errors import Conflict
    from gisgrid.services import Actor, findings
    from gisgrid.services import month as month_work

    add(client, name="li", role="inspector")
    post(client, "/admin/month/2026-11/draw", how="designate", roads=["R11", "R12", "R21", "R41", "R42"])
    post(client, "/admin/month/2026-11/assign", **{"road:R11": "li"})
    refused = post(client, "/admin/month/2026-11/window", closes_on="2026-12-03")
    assert refused.status_code == 400 and "须在 2026-11 之内" in refused.get_data(as_text=True)
    assert post(client, "/admin/month/2026-11/window", closes_on="2026-11-24").status_code == 302
    assert "2026-11-24" in client.get("/admin/month/2026-11").get_data(as_text=True)
    li = Actor(district.user(name="li")["id"], "li", "inspector")
    point = (114.035, 33.5951)                                    # on R11
    with pytest.raises(Conflict, match="closed on 2026-11-24"):
        findings.record(district, li, {"id": "late", "rule": "5.1", "observed_at": "2026-11-25T09:00:00+08:00"},
                        *point)
    # observed on the last day, sent after the close (an offline tablet): kept
    kept, created = findings.record(district, li, {"id": "queued", "rule": "5.1",
                                                   "observed_at": "2026-11-24T23:30:00+08:00"}, *point)
    assert created and kept["road"] == "R11"
    # nor can a later time be given to a kept one, nor can a file bring one in
    with pytest.raises(Conflict, match="closed on 2026-11-24"):
        findings.edit(district, li, kept["id"], {"observed_at": "2026-11-26T08:00:00+08:00"})
    assert findings.edit(district, li, kept["id"], {"observed_at": "2026-11-24T08:00:00+08:00"})["id"] == kept["id"]
    assert inspections.finding(district, id=kept["id"])["observed_at"] == datetime.fromisoformat("2026-11-24T08:00:00+08:00")
    late_file = office_work.record_findings(district, [
        finding("file-late", *point, "5.1", observed_at="2026-11-27T10:00:00+08:00"),
        finding("file-early", *point, "5.2", observed_at="2026-11-23T10:00:00+08:00")])
    assert late_file.accepted == 1 and [r["id"] for r in late_file.rejected] == ["file-late"]
    assert "closed on 2026-11-24" in late_file.rejected[0]["reason"]
    post(client, "/admin/month/2026-11/window", open="1")
    assert findings.record(district, li, {"id": "late", "rule": "5.1", "observed_at": "2026-11-25T09:00:00+08:00"},
                           *point)[1]
    assert [e["after"]["closes_on"] for e in audit.entries(district, what="window")] == [None, "2026-11-24"]
    month_work.publish(district, Actor(None, "zhao", "reviewer"), "2026-11")
    with pytest.raises(Conflict):
        month_work.close_window(district, Actor(None, "chief", "admin"), "2026-11", "2026-11-20")


# rulebooks --------------------------------------------------------------------------------

OWN_RULEBOOK = """
[rulebook]
id = "our-2027"
name_zh = "本区考核细则"
name_en = "Our district's rules"
effective_from = "2027-01"

[sections]
"1" = { zh = "店外经营", en = "Business outside shops" }

[rules."1"]
zh = "店外经营"
en = "Business outside the shop"
kind = "each"
points = 3
"""


def upload(client, text: str, name="ours.toml"):
    import io

    return client.post("/admin/rulebooks", content_type="multipart/form-data",
                       data={"csrf_token": csrf(client, "/admin/rulebooks"), "month": "2026-11",
                             "rulebook": (io.BytesIO(text.encode()), name)})


def test_the_rulebook_in_force_and_the_months_each_governs(client, office):
    page = client.get("/admin/rulebooks?month=2026-11").get_data(as_text=True)
    assert "yancheng-2012" in page and "自 2012-01 起" in page
    assert 'data-rule="5.4"' in page and "户外广告" in page and "2 / 4" in page        # rule 1: area 2 / 4


def test_an_uploaded_rulebook_is_checked_stored_and_governs_from_its_month(app, client, office):
    bad = upload(client, OWN_RULEBOOK.replace('kind = "each"', 'kind = "per-shop"'))
    assert bad.status_code == 400 and "rule &#39;1&#39;" in bad.get_data(as_text=True) and "per-shop" in bad.get_data(as_text=True)
    assert len(store_of(app).rulebooks()) == 1                                         # nothing stored
    done = upload(client, OWN_RULEBOOK)
    assert done.status_code == 200 and 'id="uploaded"' in done.get_data(as_text=True)
    page = client.get("/admin/rulebooks?month=2027-03").get_data(as_text=True)
    assert "2012-01 至 2026-12" in page and "自 2027-01 起" in page and "本区考核细则" in page
    from gisgrid.domain.rulebook import rulebook_for

    assert rulebook_for("2027-02", store_of(app).rulebooks()).id == "our-2027"
    assert rulebook_for("2026-12", store_of(app).rulebooks()).id == "yancheng-2012"
    again = upload(client, OWN_RULEBOOK.replace('"our-2027"', '"other"'))
    assert again.status_code == 400 and "2027-01" in again.get_data(as_text=True)   # one per month
    assert [e["subject"] for e in audit.entries(store_of(app), what="rulebook")] == ["our-2027"]


def test_a_rulebook_may_not_reach_back_into_a_published_month(app, client, office, district):
    from gisgrid.services import Actor
    from gisgrid.services import month as month_work

    post(client, "/admin/month/2026-11/draw", how="seed", seed="1")
    month_work.publish(district, Actor(None, "zhao", "reviewer"), "2026-11")
    refused = upload(client, OWN_RULEBOOK.replace('"2027-01"', '"2026-11"'))
    assert refused.status_code == 409 and "2026-11 已发布" in refused.get_data(as_text=True)
    assert len(district.rulebooks()) == 1


def test_the_reviewers_audit_shows_publishing_only_beside_the_offices_rows(app, client, office, district):
    from gisgrid.reports import assessment
    from gisgrid.services import Actor
    from gisgrid.services import month as month_work

    post(client, "/admin/month/2026-11/draw", how="seed", seed="1")
    add(client, name="li", role="inspector")
    post(client, "/admin/month/2026-11/propose", inspectors=["li"])
    month_work.assign_roads(district, Actor(None, "chief", "admin"), "2026-11", ["li"])
    month_work.publish(district, Actor(None, "zhao", "reviewer"), "2026-11")
    assert [e["action"] for e in assessment.audit_report(district, "2026-11")] == ["publish"]
    assert client.get("/review/2026-11").status_code == 200
