"""The planner's JSON endpoints: create, compare-and-set save (409 with both versions),
history, restore, the validation report, and who may call them."""

import pytest


def _body(version, name="第1网格", east=114.01):
    return {"version": version, "reason": "test", "properties": {"name": name, "town": "沙北街道", "grid_class": "A"},
            "geometry": {"type": "Polygon", "coordinates": [[[114.0, 33.0], [east, 33.0], [east, 33.01],
                                                              [114.0, 33.01], [114.0, 33.0]]]}}


@pytest.fixture
def planner(auth):
    auth.login("planner1", "planner")
    return {"X-CSRFToken": auth.csrf("/")}


def test_save_conflict_history_and_restore(client, planner):
    created = client.post("/api/plan/grid/G1", json=_body(None), headers=planner)
    assert created.status_code == 201 and created.get_json()["features"][0]["properties"]["version"] == 1
    assert [w["kind"] for w in created.get_json()["warnings"]] == ["grid_few_roads"]   # saved with a warning
    first = client.post("/api/plan/grid/G1", json=_body(1, "东区", 114.02), headers=planner)
    assert first.status_code == 200 and first.get_json()["features"][0]["properties"]["version"] == 2
    second = client.post("/api/plan/grid/G1", json=_body(1, "西区", 114.03), headers=planner)
    assert second.status_code == 409
    refusal = second.get_json()
    assert refusal["theirs"]["properties"]["name"] == "东区" and refusal["theirs"]["properties"]["version"] == 2
    assert refusal["yours"]["properties"]["name"] == "西区"
    assert client.get("/api/plan/grid/G1").get_json()["properties"]["name"] == "东区"

    log = client.get("/api/plan/grid/G1/history").get_json()["history"]
    assert [(h["version"], h["changed_by"]) for h in log] == [(2, "planner1"), (1, "planner1")]
    unseen = client.post("/api/plan/grid/G1/restore", json={"version": 1, "seen": 1}, headers=planner)
    assert unseen.status_code == 409 and unseen.get_json()["theirs"]["properties"]["name"] == "东区"
    restored = client.post("/api/plan/grid/G1/restore", json={"version": 1, "seen": 2}, headers=planner)
    assert restored.status_code == 200
    assert restored.get_json()["properties"] == {**restored.get_json()["properties"], "name": "第1网格", "version": 3}
    layers = client.get("/api/plan/layers").get_json()
    assert [f["properties"]["code"] for f in layers["grids"]["features"]] == ["G1"]


def test_validation_report_and_refusals(client, planner):
    client.post("/api/plan/grid/G1", json=_body(None), headers=planner)
    report = client.get("/api/plan/validation").get_json()
    assert [d["kind"] for d in report["defects"]] == ["grid_few_roads"]
    assert report["blocking"] == 0 and report["warnings"] == 1
    bowtie = {**_body(None), "geometry": {"type": "Polygon", "coordinates": [[[114.0, 33.0], [114.01, 33.01],
                                                                             [114.01, 33.0], [114.0, 33.01],
                                                                             [114.0, 33.0]]]}}
    assert client.post("/api/plan/grid/G2", json=bowtie, headers=planner).status_code == 400
    assert client.post("/api/plan/grid/G1", json=_body(None), headers=planner).status_code == 409
    assert client.post("/api/plan/lake/L1", json=_body(None), headers=planner).status_code == 404
    assert client.post("/api/plan/grid/G3", json=_body(None)).status_code == 400   # no CSRF header


def test_only_planners(client, auth):
    auth.login("inspector1", "inspector")
    assert client.get("/api/plan/layers").status_code == 403


def _square(x0, x1, y0=33.0, y1=33.01):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _grid(client, planner, code, x0, x1, name=None):
    body = {"version": None, "properties": {"name": name or code, "grid_class": "B"}, "geometry": _square(x0, x1)}
    response = client.post(f"/api/plan/grid/{code}", json=body, headers=planner)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["features"][0]


def test_split_merge_and_retire_are_versioned(client, planner):
    from shapely.geometry import shape

    _grid(client, planner, "G1", 114.0, 114.03)
    line = {"type": "LineString", "coordinates": [[114.02, 32.99], [114.02, 33.02]]}
    split = client.post("/api/plan/grid/G1/split", json={"line": line, "new_code": "G1-2", "version": 1}, headers=planner)
    assert split.status_code == 201
    kept, made = split.get_json()["features"]
    assert (kept["properties"]["code"], made["properties"]["code"]) == ("G1", "G1-2")
    assert shape(kept["geometry"]).area == pytest.approx(2 * shape(made["geometry"]).area)   # the larger part keeps G1
    assert made["properties"]["name"] == "G1" and made["properties"]["grid_class"] == "B"
    short = {"type": "LineString", "coordinates": [[114.005, 33.005], [114.006, 33.006]]}
    refused = client.post("/api/plan/grid/G1/split", json={"line": short, "new_code": "G1-3", "version": 2},
                          headers=planner)
    assert refused.status_code == 400 and "边到边" in refused.get_json()["message"]

    merged = client.post("/api/plan/grid/G1/merge", json={"other": "G1-2", "version": 2, "other_version": 1},
                         headers=planner)
    assert merged.status_code == 200
    assert shape(merged.get_json()["features"][0]["geometry"]).equals(shape(_square(114.0, 114.03)))
    codes = [f["properties"]["code"] for f in client.get("/api/plan/layers").get_json()["grids"]["features"]]
    assert codes == ["G1"]                                              # G1-2 is retired, not deleted
    log = client.get("/api/plan/grid/G1-2/history").get_json()["history"]
    assert log[0]["after"]["properties"]["retired_at"] and log[0]["reason"] == "merged G1-2 into G1"

    _grid(client, planner, "G5", 114.5, 114.51)
    apart = client.post("/api/plan/grid/G1/merge", json={"other": "G5", "version": 3, "other_version": 1},
                        headers=planner)
    assert apart.status_code == 400 and "不相邻" in apart.get_json()["message"]
    stale = client.post("/api/plan/grid/G5/retire", json={"version": 7}, headers=planner)
    assert stale.status_code == 409 and stale.get_json()["theirs"]["properties"]["version"] == 1
    assert client.post("/api/plan/grid/G5/retire", json={"version": 1, "reason": "outside the district"},
                       headers=planner).status_code == 200
    again = client.post("/api/plan/grid/G5", json={"version": 2, "properties": {"name": "x"},
                                                   "geometry": _square(114.5, 114.51)}, headers=planner)
    assert again.status_code == 409 and "已移除" in again.get_json()["message"]


def test_a_grid_with_roads_is_not_removed_and_a_merge_takes_its_roads(client, planner, store):
    from gisgrid.storage import boundaries
    from shapely.geometry import box

    _grid(client, planner, "G1", 114.0, 114.01)
    _grid(client, planner, "G2", 114.01, 114.02)
    boundaries.save_feature(store, "road", "R1", {"name": "人民路", "grid": "G2"}, box(114.012, 33.004, 114.018, 33.005),
                            None, "planner1")
    refused = client.post("/api/plan/grid/G2/retire", json={"version": 1}, headers=planner)
    assert refused.status_code == 409 and "R1" in refused.get_json()["message"]
    assert client.post("/api/plan/grid/G1/merge", json={"other": "G2", "version": 1, "other_version": 1},
                       headers=planner).status_code == 200
    assert store.road_grids() == {"R1": "G1"}
    assert boundaries.history(store, "road", "R1")[0]["reason"] == "merged G2 into G1"


def test_rename_codes_and_attribute_checks(client, planner, store):
    from gisgrid.storage import boundaries
    from shapely.geometry import box

    _grid(client, planner, "411103001001001", 114.0, 114.01)     # a national 15-digit code
    boundaries.save_feature(store, "road", "R1", {"name": "人民路", "grid": "411103001001001"},
                            box(114.002, 33.004, 114.008, 33.005), None, "planner1")
    assert client.get("/api/plan/layers").get_json()["roads"]["features"][0]["properties"]["grid"] == "411103001001001"
    _grid(client, planner, "G2", 114.01, 114.02)
    body = {"version": 1, "properties": {"code": "G2", "name": "x"}, "geometry": _square(114.0, 114.01)}
    taken = client.post("/api/plan/grid/411103001001001", json=body, headers=planner)
    assert taken.status_code == 409 and "G2" in taken.get_json()["message"]
    body["properties"]["code"] = "G1"
    renamed = client.post("/api/plan/grid/411103001001001", json=body, headers=planner)
    assert renamed.status_code == 200 and renamed.get_json()["features"][0]["properties"]["code"] == "G1"
    assert [h["version"] for h in client.get("/api/plan/grid/G1/history").get_json()["history"]] == [2, 1]
    road = client.get("/api/plan/layers").get_json()["roads"]["features"][0]   # the map's road follows the rename
    assert road["properties"]["grid"] == "G1"
    kept = {"version": road["properties"]["version"], "properties": road["properties"], "geometry": road["geometry"]}
    assert client.post("/api/plan/road/R1", json=kept, headers=planner).status_code == 200
    bad = {"version": None, "properties": {"grid_class": "D"}, "geometry": _square(114.3, 114.31)}
    assert client.post("/api/plan/grid/G3", json=bad, headers=planner).status_code == 400
    spaced = {"version": None, "properties": {}, "geometry": _square(114.3, 114.31)}
    assert client.post("/api/plan/grid/G%203", json=spaced, headers=planner).status_code == 400


def test_history_page_restores_and_exports_past_states(client, planner, store):
    from gisgrid.storage.schema import utcnow

    _grid(client, planner, "G1", 114.0, 114.01, name="<b>旧名</b>")
    between = utcnow().astimezone(store.timezone())
    client.post("/api/plan/grid/G1", json={"version": 1, "properties": {"name": "新名"}, "geometry": _square(114.0, 114.02)},
                headers=planner)
    page = client.get("/plan/grid/G1/history").get_data(as_text=True)
    assert "&lt;b&gt;旧名&lt;/b&gt;" in page and "<b>旧名</b>" not in page          # escaped
    past = client.get("/plan/export", query_string={"kind": "grid", "at": between.isoformat()})
    assert past.headers["Content-Disposition"].startswith("attachment")
    assert [f["properties"]["name"] for f in past.get_json()["features"]] == ["<b>旧名</b>"]
    now = client.get("/plan/export", query_string={"kind": "grid"}).get_json()
    assert [f["properties"]["name"] for f in now["features"]] == ["新名"]
    one = client.get("/api/plan/grid/G1/history/1.geojson").get_json()
    assert one["features"][0]["properties"]["version"] == 1
    token = client.get("/plan/grid/G1/history").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    restored = client.post("/plan/grid/G1/restore", data={"version": "1", "seen": "2", "reason": "wrong border",
                                                             "csrf_token": token})
    assert restored.status_code == 302 and "restored=1" in restored.headers["Location"]
    current = client.get("/api/plan/grid/G1").get_json()["properties"]
    assert (current["name"], current["version"]) == ("<b>旧名</b>", 3)
    assert client.post("/plan/grid/G1/restore", data={"version": "1"}).status_code == 400   # no CSRF token
    stale = client.post("/plan/grid/G1/restore", data={"version": "2", "seen": "2", "csrf_token": token})
    assert stale.status_code == 409 and "当前为第 3 版" in stale.get_data(as_text=True)   # a page, saying who came first
    assert client.get("/api/plan/grid/G1").get_json()["properties"]["version"] == 3


def test_a_chinese_code_downloads_under_its_own_name(client, planner):
    from urllib.parse import unquote

    for code in ("东区1", 'x"y'):
        _grid(client, planner, code, 114.0, 114.01)
        sent = client.get(f"/api/plan/grid/{code}/history/1.geojson")
        disposition = sent.headers["Content-Disposition"]
        disposition.encode("latin-1")                                       # a header a WSGI server can send
        assert disposition.count('"') == 2                                  # the plain name stays one value
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"{code}-v1.geojson"
        assert sent.get_json()["features"][0]["properties"]["code"] == code


def test_pages_are_for_planners_only(client, auth):
    auth.login("inspector1", "inspector")
    for url in ("/plan/", "/plan/import", "/plan/export", "/plan/grid/G1/history"):
        assert client.get(url).status_code == 403
    auth.login("reviewer1", "reviewer")
    assert client.get("/plan/").status_code == 403


def test_large_answers_are_gzipped_for_clients_that_accept_it_but_pages_are_not(client, planner):
    import gzip
    import json

    for i in range(80):
        _grid(client, planner, f"G{i:02d}", 114.0 + i * 0.01, 114.01 + i * 0.01)
    plain = client.get("/api/plan/layers")
    packed = client.get("/api/plan/layers", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(plain.data) / 3
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json()
    for version in range(1, 40):    # a long history: a page with a CSRF token in every row
        client.post("/api/plan/grid/G00", json={"version": version, "properties": {"name": f"第{version}版"},
                                                "geometry": _square(114.0, 114.01)}, headers=planner)
    page = client.get("/plan/grid/G00/history?restored=1", headers={"Accept-Encoding": "gzip"})
    assert len(page.data) > 16 * 1024 and "Content-Encoding" not in page.headers and b"csrf_token" in page.data
