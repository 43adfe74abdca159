"""The wizard's side of issue 14 over HTTP: 所属街道 and the other usual Chinese headings are
read as the town, fields no column is read from are listed, the change list comes before the
import and writes nothing, and a file without a town column leaves the stored towns as they are."""

import json

import pytest

from fixtures import small_district
from gisgrid.services import office
from gisgrid.storage import boundaries
from test_plan_import import finish, previewed, upload


@pytest.fixture
def planner(auth):
    auth.login("planner1", "planner")
    return {"X-CSRFToken": auth.csrf("/")}


@pytest.fixture
def stored(app, tmp_path):
    from gisgrid.web import get_store

    with app.app_context():
        store = get_store()
    grids, _ = small_district()
    grids.to_file(tmp_path / "stored.geojson", driver="GeoJSON")
    office.import_layer(store, "grids", tmp_path / "stored.geojson")
    return store


def towns(store):
    return {f["properties"]["code"]: f["properties"]["town"] for f in boundaries.features(store, "grid")["features"]}


def test_a_town_headed_suo_shu_jie_dao_is_read_as_the_town(client, planner, tmp_path):
    grids, _ = small_district()
    frame = grids.rename(columns={"code": "编号", "name": "名称", "town": "所属街道", "class": "网格类型"})
    frame["备注"] = "试点"
    path = tmp_path / "g.geojson"
    path.write_text(frame.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8")
    shown = previewed(client, upload(client, planner, path)).get_json()
    assert shown["mapping"] == {"code": "编号", "name": "名称", "town": "所属街道", "grid_class": "网格类型"}
    assert shown["unmapped"] == ["备注"]


def test_the_change_list_writes_nothing_and_a_file_without_towns_keeps_them(client, planner, stored, tmp_path):
    before = towns(stored)
    grids, _ = small_district()
    frame = grids[["code", "name", "geometry"]].copy()
    frame.loc[frame["code"] == "G2", "name"] = "新名"
    path = tmp_path / "names.geojson"
    path.write_text(frame.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8")
    token = previewed(client, upload(client, planner, path)).get_json()["token"]
    body = {"kind": "grids", "fields": {"code": "code", "name": "name"}}
    asked = client.post(f"/api/plan/uploads/{token}/changes", json=body, headers=planner)
    for _ in range(600):
        if asked.status_code != 202:
            break
        asked = client.post(f"/api/plan/uploads/{token}/changes", json=body, headers=planner)
    found = asked.get_json()
    assert asked.status_code == 200, found
    assert (found["new"], found["unchanged"], found["missing"]) == ([], 3, [])
    assert found["changed"] == [{"code": "G2", "attributes": {"name": ["沙北街道第2网格", "新名"]}, "area_changed_m2": 0.0}]
    assert found["unmapped"] == []
    assert boundaries.feature(stored, "grid", "G2")["properties"]["version"] == 1     # nothing written yet
    started = client.post(f"/api/plan/uploads/{token}/import", json=body, headers=planner)
    assert started.status_code == 202
    done = finish(client, token)
    assert done["state"] == "done" and (done["result"]["updated"], done["result"]["unchanged"]) == (1, 3)
    assert towns(stored) == before and before["G2"] == "沙北街道"


def test_clear_must_be_a_list_of_columns(client, planner, stored, tmp_path):
    grids, _ = small_district()
    path = tmp_path / "g.geojson"
    path.write_text(grids.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8")
    token = previewed(client, upload(client, planner, path)).get_json()["token"]
    refused = client.post(f"/api/plan/uploads/{token}/changes", json={"kind": "grids", "clear": "town"},
                          headers=planner)
    assert refused.status_code == 400 and "clear" in refused.get_json()["message"]
    refused = client.post(f"/api/plan/uploads/{token}/import", json={"kind": "grids", "clear": ["grade"]},
                          headers=planner)
    assert refused.status_code == 400 and "grade" in refused.get_json()["message"]   # refused before it starts
