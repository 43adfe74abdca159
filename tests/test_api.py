"""The inspector's JSON API through the Flask client, on SQLite and PostGIS: idempotent
writes, refusals with reasons, photos checked and guarded, edits after submission only with
a reason that is kept, and the OpenAPI description listing every route."""

import io
import json

import pytest
from PIL import Image

from gisgrid.services import office
from gisgrid.storage import inspections

MONTH = "2026-11"
ON_R11 = (114.035, 33.5951)


@pytest.fixture
def inspector(app, district, auth):
    office.sample_month(district, MONTH, roads=["R11", "R12", "R21", "R41", "R42"])
    auth.account("wang", "inspector")
    for road in ("R11", "R12"):
        inspections.assign(district, MONTH, road, "wang", "test")
    auth.login("wang", "inspector")
    return auth


def post(client, auth, path, payload, method="POST"):
    return client.open(path, method=method, json=payload, headers={"X-CSRFToken": auth.csrf("/inspect/")})


def new(id="tablet-0001", rule="5.1", lon=ON_R11[0], lat=ON_R11[1], **extra):
    return {"id": id, "rule": rule, "observed_at": "2026-11-25T10:00:00+08:00", "lon": lon, "lat": lat, **extra}


def fetch(client, url) -> tuple[int, str]:
    """(status, mimetype) of a GET, the response closed (files are streamed)."""
    with client.get(url) as response:
        return response.status_code, response.mimetype


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), "red").save(out, "JPEG")
    return out.getvalue()


def test_create_is_idempotent_by_client_id(client, inspector, district):
    first = post(client, inspector, "/api/findings", new())
    assert first.status_code == 201 and first.json["score"]["score"] == 95.0
    again = post(client, inspector, "/api/findings", new())
    assert again.status_code == 200 and again.json["created"] is False
    assert again.json["finding"]["id"] == first.json["finding"]["id"]
    other = post(client, inspector, "/api/findings", new(rule="5.2"))
    assert other.status_code == 409
    assert len(inspections.road_findings(district, MONTH, "R11")) == 1


def test_far_pin_is_refused_with_the_distance(client, inspector, district):
    response = post(client, inspector, "/api/findings", new(lat=33.59556))
    assert response.status_code == 422
    assert response.json["message"] == "不在任何道路上：距最近道路 40 米（允许 10 米）"
    assert district.count("findings") == 0


def test_snapped_pin_reports_the_distance(client, inspector):
    response = post(client, inspector, "/api/findings", new(lat=33.595245))
    assert response.status_code == 201 and response.json["road"] == "R11" and 4 < response.json["snapped_m"] < 6


def test_writes_need_the_csrf_token(client, inspector, district):
    response = client.post("/api/findings", json=new())
    assert response.status_code == 400 and response.json["error"] == "CSRFError"
    assert district.count("findings") == 0


def test_photos_checked_idempotent_and_guarded(app, client, inspector, auth, district):
    finding_id = post(client, inspector, "/api/findings", new()).json["finding"]["id"]
    token = {"X-CSRFToken": inspector.csrf("/inspect/")}
    url = f"/api/findings/{finding_id}/photos"
    bad = client.post(url, data={"client_id": "tablet-0001-p0", "photo": (io.BytesIO(b"not an image"), "x.jpg")},
                      headers=token)
    assert bad.status_code == 422 and "不是照片" in bad.json["message"]
    sent = [client.post(url, data={"client_id": "tablet-0001-p0", "photo": (io.BytesIO(jpeg()), "p.jpg")},
                        headers=token) for _ in range(2)]
    assert [r.status_code for r in sent] == [201, 200] and sent[0].json["id"] == sent[1].json["id"]
    assert len(inspections.finding(district, id=finding_id)["photos"]) == 1
    photo_url = sent[0].json["url"]
    assert fetch(client, photo_url) == (200, "image/jpeg")
    assert fetch(client, photo_url + "/thumb") == (200, "image/jpeg")
    auth.logout()
    auth.login("li", "inspector")
    assert fetch(client, photo_url)[0] == 403
    auth.logout()
    auth.login("zhou", "reviewer")
    assert fetch(client, photo_url)[0] == 200


def test_oversized_upload_is_refused_before_anything_is_stored(app, client, inspector, district):
    app.config["PHOTO_MAX_BYTES"] = 100
    finding_id = post(client, inspector, "/api/findings", new()).json["finding"]["id"]
    response = client.post(f"/api/findings/{finding_id}/photos", headers={"X-CSRFToken": inspector.csrf("/inspect/")},
                           data={"client_id": "tablet-0001-p0", "photo": (io.BytesIO(jpeg()), "p.jpg")})
    assert response.status_code == 422 and "照片过大" in response.json["message"]
    assert len(inspections.finding(district, id=finding_id)["photos"]) == 0


def test_edit_and_delete_before_and_after_submission(client, inspector, district):
    finding_id = post(client, inspector, "/api/findings", new()).json["finding"]["id"]
    changed = post(client, inspector, f"/api/findings/{finding_id}", {"rule": "5.2", "note": "字体缺损"}, "PATCH")
    assert changed.status_code == 200 and changed.json["score"]["score"] == 99.0
    assert post(client, inspector, f"/api/months/{MONTH}/roads/R11/submit", {}).status_code == 200
    refused = post(client, inspector, f"/api/findings/{finding_id}", {"count": 2}, "PATCH")
    assert refused.status_code == 409 and "须填写原因" in refused.json["message"]
    allowed = post(client, inspector, f"/api/findings/{finding_id}", {"count": 2, "reason": "复核后为两处"}, "PATCH")
    assert allowed.status_code == 200 and allowed.json["score"]["score"] == 98.0
    gone = post(client, inspector, f"/api/findings/{finding_id}", {"reason": "误报"}, "DELETE")
    assert gone.status_code == 200 and gone.json["score"]["score"] == 100.0
    log = inspections.changes(district, finding_id)
    assert [c["action"] for c in log] == ["create", "update", "update", "delete"]
    assert log[2]["reason"] == "复核后为两处" and json.loads(log[2]["before"])["count"] == 1
    assert json.loads(log[2]["after"])["count"] == 2
    assert inspections.finding(district, id=finding_id)["deleted_at"] is not None  # kept, not scored
    new_on_submitted = post(client, inspector, "/api/findings", new(id="tablet-0002"))
    assert new_on_submitted.status_code == 409


def test_an_inspector_sees_only_their_roads(client, inspector):
    mine = client.get(f"/api/months/{MONTH}/roads").json
    assert [r["code"] for r in mine["roads"]] == ["R11", "R12"]
    assert client.get(f"/api/months/{MONTH}/roads/R21").status_code == 403
    geojson = client.get(f"/api/months/{MONTH}/roads/R11/findings").json
    assert geojson["type"] == "FeatureCollection"


def test_pages_and_api_share_their_data(client, inspector):
    post(client, inspector, "/api/findings", new(note="<script>alert(1)</script>"))
    page = client.get(f"/inspect/{MONTH}/R11").get_data(as_text=True)
    api = client.get(f"/api/months/{MONTH}/roads/R11").json
    assert api["score"]["score"] == 95.0 and "95.0" in page
    assert "<script>alert(1)</script>" not in page  # notes reach the page escaped
    listing = client.get("/inspect/").get_data(as_text=True)
    assert "人民路" in listing and "黄河路" in listing


def test_openapi_describes_every_api_route(app, client, inspector):
    import re

    with client.get("/api/openapi.json") as response:
        spec = response.json
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in spec["paths"]}
    routes = {re.sub(r"<[^>]+>", "{}", rule.rule.replace("<any(thumb):size>", "thumb"))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/") and "openapi" not in rule.rule}
    assert routes == documented
