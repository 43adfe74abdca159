"""What clients send wrong is refused with a JSON 4xx, never a 500: bodies nested 200,000 deep or
not objects, positions that are not numbers on the globe, ids beyond 64 bits, unknown API
addresses and methods, months without a calendar. The cases the schemathesis run found."""

import io
import json

import pytest

from gisgrid.services import office
from gisgrid.storage import inspections
from gisgrid.web.requests import MAX_DEPTH, depth_exceeds

MONTH = "2026-11"
ON_R11 = (114.035, 33.5951)
DEEP = "[" * 200_000 + "]" * 200_000
TOO_BIG = str(2**64)        # beyond 64 bits, as the fuzz run sent; 2**31 is already too big for PostgreSQL


@pytest.fixture
def inspector(app, district, auth):
    office.sample_month(district, MONTH, roads=["R11", "R12", "R21", "R41", "R42"])
    auth.account("wang", "inspector")
    for road in ("R11", "R12"):
        inspections.assign(district, MONTH, road, "wang", "test")
    auth.login("wang", "inspector")
    return {"X-CSRFToken": auth.csrf("/inspect/")}


@pytest.fixture
def planner(auth):
    auth.login("planner1", "planner")
    return {"X-CSRFToken": auth.csrf("/")}


def new_finding(**extra) -> dict:
    return {"id": "tablet-0001", "rule": "5.1", "observed_at": "2026-11-25T10:00:00+08:00",
            "lon": ON_R11[0], "lat": ON_R11[1], **extra}


def refused(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["message"]
    if error:
        assert body["error"] == error
    return body


def test_depth_is_measured_without_recursion():
    deep: list = []
    for _ in range(100_000):           # far beyond the interpreter's recursion limit
        deep = [deep]
    assert depth_exceeds(deep, MAX_DEPTH)
    polygon = {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [0, 1]]]]}}
    assert not depth_exceeds(polygon, MAX_DEPTH)
    assert depth_exceeds({"a": [[1]]}, 2) and not depth_exceeds({"a": [[1]]}, 3)


def test_deeply_nested_bodies_are_refused(client, inspector, district):
    finding_id = client.post("/api/findings", json=new_finding(), headers=inspector).json["finding"]["id"]
    for method, path in (("POST", "/api/findings"), ("PATCH", f"/api/findings/{finding_id}")):
        response = client.open(path, method=method, data=DEEP, content_type="application/json", headers=inspector)
        refused(response, 400, "RequestError")
    nested: list = [1]
    for _ in range(MAX_DEPTH):        # within every parser's reach, but deeper than we read
        nested = [nested]
    nested = {**new_finding(id="tablet-0002"), "note": nested}
    assert "嵌套" in refused(client.post("/api/findings", json=nested, headers=inspector), 400)["message"]
    assert district.count("findings") == 1


def test_a_planner_save_nested_too_deep_or_not_json_is_refused(client, planner, store):
    for data in (DEEP, "[1, 2", '{"version": NaN}'):
        refused(client.post("/api/plan/grid/G1", data=data, content_type="application/json", headers=planner), 400)
    assert store.count("grids") == 0


@pytest.mark.parametrize("payload", ["[1]", '"grid"', "3", "null", "true"])
def test_bodies_that_are_not_objects_are_refused(client, planner, payload):
    for action in ("merge", "restore", "retire", "split"):
        response = client.post(f"/api/plan/grid/G1/{action}", data=payload, content_type="application/json",
                               headers=planner)
        assert "JSON 对象" in refused(response, 400, "RequestError")["message"]


# as JSON text: 1e400 is read as infinity, which no JSON encoder writes
@pytest.mark.parametrize("value", ['[114.035, 33.5951]', '{"lon": 114.035}', '"114.035"', "true", "1e400", "181",
                                   "-181"])
def test_positions_must_be_numbers_on_the_globe(client, inspector, district, value):
    created = client.post("/api/findings", json=new_finding(), headers=inspector).json["finding"]
    for key in ("lon", "lat"):
        moved = client.patch(f"/api/findings/{created['id']}", data=f'{{"{key}": {value}}}',
                             content_type="application/json", headers=inspector)
        assert "经度" in refused(moved, 422, "FindingError")["message"]
        other = {**new_finding(id="tablet-0002"), key: "@"}
        posted = client.post("/api/findings", data=json.dumps(other).replace('"@"', value),
                             content_type="application/json", headers=inspector)
        refused(posted, 422, "FindingError")
    kept = inspections.finding(district, id=created["id"])
    assert (kept["geom"].x, kept["geom"].y) == pytest.approx(tuple(created["geometry"]["coordinates"]))
    assert district.count("findings") == 1


def test_ids_beyond_the_id_columns_are_not_found(client, inspector):
    for method, path in (("POST", f"/api/findings/{TOO_BIG}/photos"), ("DELETE", f"/api/findings/{TOO_BIG}"),
                         ("PATCH", f"/api/findings/{TOO_BIG}"), ("GET", f"/api/photos/{TOO_BIG}"),
                         ("GET", f"/api/photos/{TOO_BIG}/thumb"), ("GET", "/api/photos/0"),
                         ("GET", "/api/photos/" + "9" * 5000)):
        data = {"client_id": "tablet-0001-p0", "photo": (io.BytesIO(b"x"), "p.jpg")} if "photos" in path \
            and method == "POST" else None
        refused(client.open(path, method=method, data=data, headers=inspector), 404, "NotFound")
    refused(client.get(f"/api/photos/{2**31}"), 404, "NotFound")
    assert client.get(f"/api/photos/{2**31 - 1}").status_code == 404     # the largest id is looked up


def test_a_form_part_whose_name_werkzeug_cannot_read_is_refused(client, inspector, district):
    """A line break inside a part's name reads as the name None, on which the CSRF check failed
    with a 500 (the fuzz run found it); refused before any route, and the finding keeps no photo."""
    finding = client.post("/api/findings", json=new_finding(), headers=inspector).get_json()["finding"]["id"]
    for name in ("a\rb", "a\nb"):
        body = (f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\nnull\r\n'
                '--b\r\nContent-Disposition: form-data; name="client_id"\r\n\r\ntablet-0001-p0\r\n--b--\r\n')
        response = client.post(f"/api/findings/{finding}/photos", data=body.encode(), headers=inspector,
                               content_type="multipart/form-data; boundary=b")
        refused(response, 400, "RequestError")
    assert [f["photos"] for f in inspections.road_findings(district, MONTH, "R11")] == [[]]


def test_a_version_beyond_64_bits_is_refused(client, planner):
    response = client.post("/api/plan/grid/G1/restore", json={"version": 2**64, "seen": 1}, headers=planner)
    refused(response, 404)
    response = client.post("/api/plan/grid/G1/retire", json={"version": 2**64}, headers=planner)
    refused(response, 400, "LayerError")
    refused(client.get(f"/api/plan/grid/G1/history/{TOO_BIG}.geojson"), 404)


def test_unknown_api_addresses_and_methods_answer_json(client, inspector):
    refused(client.get("/api/no/such/thing"), 404, "NotFound")
    wrong = client.put("/api/findings", json={}, headers=inspector)
    refused(wrong, 405, "MethodNotAllowed")
    assert "POST" in wrong.headers["Allow"]
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_a_month_without_a_calendar_is_refused(client, inspector):
    refused(client.get("/api/months/0000-01/roads"), 400)
    refused(client.get("/api/rulebook/0000-01"), 400)


def test_a_reopen_body_that_is_not_an_object_is_refused(client, auth):
    auth.login("zhou", "reviewer")
    response = client.post(f"/review/{MONTH}/reopen", json=[1], headers={"X-CSRFToken": auth.csrf("/"),
                                                                           "Accept": "application/json"})
    refused(response, 400, "RequestError")


@pytest.mark.parametrize("reason", [["误报"], {"a": 1}, 3])
def test_a_reason_must_be_text(client, inspector, district, reason):
    finding_id = client.post("/api/findings", json=new_finding(), headers=inspector).json["finding"]["id"]
    changed = client.patch(f"/api/findings/{finding_id}", json={"count": 2, "reason": reason}, headers=inspector)
    assert "文字" in refused(changed, 400, "RequestError")["message"]
    refused(client.delete(f"/api/findings/{finding_id}", json={"reason": reason}, headers=inspector), 400)
    kept = inspections.finding(district, id=finding_id)
    assert kept["count"] == 1 and kept["deleted_at"] is None


def test_a_planner_save_needs_properties_as_an_object_and_text_reasons(client, planner, store):
    polygon = {"type": "Polygon", "coordinates": [[[114.0, 33.0], [114.01, 33.0], [114.01, 33.01], [114.0, 33.01],
                                                   [114.0, 33.0]]]}
    for body in ({"properties": [1], "geometry": polygon, "version": None},
                 {"properties": {"name": "东区"}, "geometry": polygon, "version": None, "reason": ["x"]},
                 {"properties": {"name": "东区"}, "geometry": polygon, "version": 2**64}):
        refused(client.post("/api/plan/grid/G1", json=body, headers=planner), 400)
    assert store.count("grids") == 0
    for action in ("retire", "restore", "merge"):
        response = client.post(f"/api/plan/grid/G1/{action}", json={"version": 1, "seen": 1, "other_version": 1,
                                                                    "reason": {"a": 1}}, headers=planner)
        refused(response, 400, "RequestError")
