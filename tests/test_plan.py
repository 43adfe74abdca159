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
    assert created.status_code == 201 and created.get_json()["properties"]["version"] == 1
    first = client.post("/api/plan/grid/G1", json=_body(1, "东区", 114.02), headers=planner)
    assert first.status_code == 200 and first.get_json()["properties"]["version"] == 2
    second = client.post("/api/plan/grid/G1", json=_body(1, "西区", 114.03), headers=planner)
    assert second.status_code == 409
    refusal = second.get_json()
    assert refusal["theirs"]["properties"]["name"] == "东区" and refusal["theirs"]["properties"]["version"] == 2
    assert refusal["yours"]["properties"]["name"] == "西区"
    assert client.get("/api/plan/grid/G1").get_json()["properties"]["name"] == "东区"

    log = client.get("/api/plan/grid/G1/history").get_json()["history"]
    assert [(h["version"], h["changed_by"]) for h in log] == [(2, "planner1"), (1, "planner1")]
    restored = client.post("/api/plan/grid/G1/restore", json={"version": 1}, headers=planner)
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
