"""The planner's import wizard over HTTP: upload, preview (layers, fields, first rows, CRS),
field mapping, import in one transaction with its progress, and every refusal clear and
harmless: unknown formats, oversized or empty files, a file with no CRS, someone else's
upload, a second start, a failing import that leaves the database as it was."""

import time

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box, shape

from gisgrid.domain.errors import LayerError
from gisgrid.storage import boundaries

X0, Y0 = 503_700.0, 3_717_300.0   # EPSG:4547 metres near Luohe


@pytest.fixture
def planner(auth):
    auth.login("planner1", "planner")
    return {"X-CSRFToken": auth.csrf("/")}


def multipart(path, kind="grids") -> bytes:
    """The request body a browser sends. Built here because the test client spools large
    bodies to temporary files it never closes."""
    return (f'--B0UNDARY\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'
            f'--B0UNDARY\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + b"\r\n--B0UNDARY--\r\n"


def upload(client, planner, path, kind="grids"):
    return client.post("/api/plan/uploads", data=multipart(path, kind),
                       headers={**planner, "Content-Type": "multipart/form-data; boundary=B0UNDARY"})


def previewed(client, response):
    """The preview an upload (or a preview request) answers with, polled while it is read in
    the background (202)."""
    for _ in range(600):
        if response.status_code != 202:
            return response
        time.sleep(0.05)
        response = client.get(response.get_json()["preview"])
    raise AssertionError("the preview did not finish")


def finish(client, token):
    for _ in range(600):
        state = client.get(f"/api/plan/uploads/{token}/progress").get_json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"the import did not finish: {state}")


def grids_frame(codes=("W1", "W2")):
    return gpd.GeoDataFrame({"BH": list(codes), "MC": [f"网格{c}" for c in codes]},
                            geometry=[box(X0 + 300 * i, Y0, X0 + 300 * (i + 1), Y0 + 300) for i in range(len(codes))],
                            crs="EPSG:4547")


def test_shapefile_without_crs_previews_after_choosing_one_and_imports_with_a_mapping(client, planner, store, tmp_path):
    frame = grids_frame()
    pyogrio.write_dataframe(frame, tmp_path / "grids.shp", encoding="UTF-8")
    (tmp_path / "grids.prj").unlink()     # the surveying office forgot the .prj
    import zipfile
    with zipfile.ZipFile(tmp_path / "grids.zip", "w") as archive:
        for part in tmp_path.glob("grids.*"):
            if part.suffix != ".zip":
                archive.write(part, part.name)
    sent = upload(client, planner, tmp_path / "grids.zip")
    assert sent.status_code == 201
    preview = sent.get_json()
    assert (preview["crs"], preview["features"], preview["count"]) == (None, None, 2)
    assert preview["fields"] == ["BH", "MC"] and preview["rows"] == [["W1", "网格W1"], ["W2", "网格W2"]]
    assert preview["mapping"] == {}                       # BH and MC are no usual names: the planner maps them
    token = preview["token"]
    shown = client.get(f"/api/plan/uploads/{token}/preview", query_string={"kind": "grids", "crs": "EPSG:4547"})
    assert len(shown.get_json()["features"]["features"]) == 2
    assert 114.0 < shown.get_json()["features"]["features"][0]["geometry"]["coordinates"][0][0][0] < 114.1

    unmapped = client.post(f"/api/plan/uploads/{token}/import", json={"kind": "grids", "crs": "EPSG:4547"},
                           headers=planner)
    assert unmapped.status_code == 202
    failed = finish(client, token)
    assert failed["state"] == "failed" and "code" in failed["message"]
    assert store.grid_codes() == []                       # nothing written

    started = client.post(f"/api/plan/uploads/{token}/import", headers=planner,
                          json={"kind": "grids", "crs": "EPSG:4547", "fields": {"code": "BH", "name": "MC"}})
    assert started.status_code == 202
    done = finish(client, token)
    assert done["state"] == "done" and done["result"]["created"] == 2 and done["result"]["crs"] == "EPSG:4547"
    assert store.grids_frame()[["code", "name"]].values.tolist() == [["W1", "网格W1"], ["W2", "网格W2"]]
    again = client.post(f"/api/plan/uploads/{token}/import", json={"kind": "grids"}, headers=planner)
    assert again.status_code == 400                        # one import per upload: no duplicates
    assert store.count("grids") == 2


def test_a_file_named_like_the_bookkeeping_imports(client, planner, store, tmp_path):
    path = tmp_path / "progress.json"
    grids_frame().to_crs(4326).rename(columns={"BH": "code", "MC": "name"}).to_file(path, driver="GeoJSON")
    token = upload(client, planner, path).get_json()["token"]
    assert client.get(f"/api/plan/uploads/{token}/progress").get_json() == {"state": "waiting"}
    assert client.post(f"/api/plan/uploads/{token}/import", json={"kind": "grids"}, headers=planner).status_code == 202
    assert finish(client, token)["state"] == "done" and store.grid_codes() == ["W1", "W2"]


def test_codes_a_url_cannot_carry_are_refused_and_nothing_is_written(client, planner, store, tmp_path):
    boundaries.save_feature(store, "grid", "W1", {"name": "网格W1"}, grids_frame(["W1"]).to_crs(4326).geometry[0],
                            None, "planner1")
    path = tmp_path / "slashed.geojson"
    grids_frame(["W1", "第2/3网格", "W 4"]).to_crs(4326).rename(columns={"BH": "code", "MC": "name"}) \
        .to_file(path, driver="GeoJSON")
    token = upload(client, planner, path).get_json()["token"]
    assert client.post(f"/api/plan/uploads/{token}/import", json={"kind": "grids"}, headers=planner).status_code == 202
    failed = finish(client, token)
    assert failed["state"] == "failed" and "'第2/3网格'" in failed["message"] and "'W 4'" in failed["message"]
    assert store.grid_codes() == ["W1"] and len(boundaries.history(store, "grid", "W1")) == 1


def test_an_import_starts_once_and_a_failed_or_interrupted_one_again(tmp_path, caplog):
    import io
    import subprocess
    import sys
    import threading

    from gisgrid.storage.uploads import INTERRUPTED, UNEXPECTED, Uploads

    uploads = Uploads(tmp_path)
    token = uploads.save(io.BytesIO(b"{}"), "a.geojson", "planner1", 1 << 20)
    release, ran = threading.Event(), []

    def slow(progress):
        ran.append(1)
        release.wait(10)
        return {"created": 1}

    starts = [threading.Thread(target=lambda: _start(uploads, token, slow)) for _ in range(8)]
    for start in starts:
        start.start()
    for start in starts:
        start.join()
    release.set()
    _wait(uploads, token)
    assert len(ran) == 1 and uploads.progress(token)["state"] == "done"    # eight clicks, one import
    with pytest.raises(LayerError):
        uploads.run(token, slow)

    token = uploads.save(io.BytesIO(b"{}"), "b.geojson", "planner1", 1 << 20)
    uploads.run(token, lambda progress: 1 / 0)            # a bug: logged, not shown
    state = _wait(uploads, token)
    assert state["error"]["template"] == UNEXPECTED.template and "division" not in str(state)
    assert "ZeroDivisionError" in caplog.text
    uploads.run(token, lambda progress: {"created": 2})  # tried again after the failure
    assert _wait(uploads, token)["state"] == "done"

    token = uploads.save(io.BytesIO(b"{}"), "c.geojson", "planner1", 1 << 20)
    (tmp_path / token / "progress.json").write_text('{"state": "running", "stage": "write", "fraction": 0.5}')
    worker = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; lock = open(sys.argv[1], 'a'); "
                               "fcntl.flock(lock, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               str(tmp_path / token / "lock")], stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline() == "held\n"           # another worker process runs this import
    assert uploads.progress(token)["state"] == "running"
    with pytest.raises(LayerError):
        uploads.run(token, lambda progress: {"created": 3})
    worker.kill()                                           # … and is restarted away mid-import
    worker.communicate()
    assert uploads.progress(token)["error"]["template"] == INTERRUPTED.template
    uploads.run(token, lambda progress: {"created": 3})
    assert _wait(uploads, token)["result"] == {"created": 3}


def test_an_import_finishing_while_its_progress_is_read_is_reported_done(tmp_path):
    import io
    import threading

    from gisgrid.storage.uploads import Uploads

    release = threading.Event()

    class Racing(Uploads):
        def _running(self, token):       # the import ends between reading "running" and looking at its lock
            release.set()
            while super()._running(token):
                time.sleep(0.01)
            return False

    uploads = Racing(tmp_path)
    token = uploads.save(io.BytesIO(b"{}"), "a.geojson", "planner1", 1 << 20)
    uploads.run(token, lambda progress: release.wait(5) and {"created": 1})
    assert uploads.progress(token) == {"state": "done", "fraction": 1.0, "result": {"created": 1}}


def _start(uploads, token, job):
    try:
        uploads.run(token, job)
    except LayerError:
        pass


def _wait(uploads, token):
    for _ in range(400):
        state = uploads.progress(token)
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.025)
    raise AssertionError(f"the job did not finish: {state}")


def test_a_wrong_crs_is_refused_with_the_zone_it_suggests_in_the_planners_language(client, planner, store, tmp_path):
    path = tmp_path / "grids.gpkg"
    grids_frame().to_file(path, driver="GPKG")
    token = upload(client, planner, path).get_json()["token"]
    wrong = client.get(f"/api/plan/uploads/{token}/preview", query_string={"kind": "grids", "crs": "EPSG:4526"})
    assert wrong.status_code == 400
    assert wrong.get_json()["message"] == ("grids.gpkg：坐标不可能属于 EPSG:4526；x 值（如 503700）不带带号："
                                          "请使用不带带号的同一分带 EPSG:4547")
    assert client.post("/lang/en", data={"csrf_token": planner["X-CSRFToken"]}).status_code == 302
    english = client.get(f"/api/plan/uploads/{token}/preview", query_string={"crs": "EPSG:4326"})
    assert english.get_json()["message"].startswith("grids.gpkg: coordinates cannot be in EPSG:4326; they look like metres")
    assert client.get(f"/api/plan/uploads/{token}/preview", query_string={"crs": "EPSG:4547"}).status_code == 200
    assert store.grid_codes() == []


def test_geopackage_layers_are_listed_and_one_is_chosen(client, planner, tmp_path):
    path = tmp_path / "survey.gpkg"
    grids_frame().rename(columns={"BH": "code", "MC": "name"}).to_file(path, layer="网格", driver="GPKG")
    grids_frame(["X1"]).rename(columns={"BH": "code", "MC": "name"}).to_file(path, layer="other", driver="GPKG")
    preview = upload(client, planner, path).get_json()
    assert sorted(preview["layers"]) == ["other", "网格"] and preview["layer"] is None and preview["rows"] == []
    chosen = client.get(f"/api/plan/uploads/{preview['token']}/preview", query_string={"layer": "网格"}).get_json()
    assert chosen["count"] == 2 and chosen["mapping"] == {"code": "code", "name": "name"}
    assert chosen["crs"] == "EPSG:4547" and len(chosen["features"]["features"]) == 2


def test_refusals_are_clear_and_keep_nothing(client, planner, app, tmp_path, auth):
    text = tmp_path / "notes.txt"
    text.write_text("not a layer")
    refused = upload(client, planner, text)
    assert refused.status_code == 400 and "GeoJSON" in refused.get_json()["message"]
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    assert upload(client, planner, empty).status_code == 400
    nothing = tmp_path / "nothing.geojson"
    nothing.write_text('{"type": "FeatureCollection", "features": []}')
    no_features = upload(client, planner, nothing)
    assert no_features.status_code == 400 and "nothing.geojson" in no_features.get_json()["message"]
    app.config["LAYER_MAX_BYTES"] = 1 << 20
    big = tmp_path / "big.geojson"
    grids_frame().to_crs(4326).to_file(big, driver="GeoJSON")
    big.write_bytes(big.read_bytes() + b" " * (1 << 20))
    too_large = upload(client, planner, big)
    assert too_large.status_code == 413 and "1 MB" in too_large.get_json()["message"]
    app.config["LAYER_MAX_BYTES"] = 40 << 20       # beyond the 32 MB every other request is held to
    bigger = tmp_path / "bigger.geojson"
    bigger.write_bytes(big.read_bytes() + b" " * (33 << 20))
    assert upload(client, planner, bigger).status_code == 201
    no_token = client.post("/api/plan/uploads", data=multipart(big),
                           headers={"Content-Type": "multipart/form-data; boundary=B0UNDARY"})
    assert no_token.status_code == 400 and no_token.get_json()["error"] == "CSRFError"
    import os
    assert len(os.listdir(os.path.join(app.instance_path, "uploads"))) == 1   # only the accepted upload is kept
    token = upload(client, planner, big).get_json()["token"]
    auth.login("planner2", "planner")
    assert client.get(f"/api/plan/uploads/{token}/preview").status_code == 404   # someone else's upload
    assert client.get("/api/plan/uploads/..%2F..%2Fsecret/progress").status_code == 404


def test_openstreetmap_extract_drafts_roads_and_grids_and_a_second_run_keeps_the_planners_work(
        client, planner, store, shared_dir):
    path = shared_dir / "data" / "osm" / "beijing-haidian.osm"
    preview = previewed(client, upload(client, planner, path)).get_json()
    assert preview["osm"] and preview["count"] > 20 and preview["drafted_grids"] > 0
    names = {f["properties"]["name"] for f in preview["features"]["features"]}
    assert any(name.endswith(("路", "街", "大街")) for name in names)
    assert store.grid_codes() == []                       # the preview writes nothing
    assert client.post(f"/api/plan/uploads/{preview['token']}/import", json={}, headers=planner).status_code == 202
    done = finish(client, preview["token"])
    assert done["state"] == "done" and done["result"]["created"] == preview["count"]
    assert done["result"]["grids"] == preview["drafted_grids"] == len(store.grid_codes())
    assert set(store.roads_frame()["name"]) == names
    drafted = store.roads_frame()
    road = drafted["code"].iloc[0]
    first = boundaries.feature(store, "road", road)
    boundaries.save_feature(store, "road", road, {**first["properties"], "name": "规划师改的名"},
                            shape(first["geometry"]), 1, "planner1")
    emptied = drafted["grid"].iloc[-1]                    # a grid whose every road the planner removed
    gone = drafted.loc[drafted["grid"] == emptied, "code"].tolist()
    for code in gone:
        boundaries.retire(store, "road", code, 1, "planner1")
    again = upload(client, planner, path).get_json()["token"]       # the same extract, imported again
    assert client.post(f"/api/plan/uploads/{again}/import", json={}, headers=planner).status_code == 202
    rerun = finish(client, again)["result"]
    assert (rerun["created"], rerun["grids"], rerun["kept"]) == (0, 0, preview["count"])
    assert boundaries.feature(store, "road", road)["properties"]["name"] == "规划师改的名"   # the planner's edit stays
    assert not set(gone) & set(store.roads_frame()["code"])                              # and so do the removals
    assert len(store.roads_frame()) == preview["count"] - len(gone)


def test_an_osm_draft_starts_over_once_every_grid_is_removed(store, shared_dir):
    from gisgrid.services import office

    path = shared_dir / "data" / "osm" / "beijing-haidian.osm"
    first = office.bootstrap_osm(store, path)
    for road in store.roads_frame()["code"]:
        boundaries.retire(store, "road", road, 1, "planner1")
    for grid in store.grid_codes():
        boundaries.retire(store, "grid", grid, 1, "planner1")
    again = office.bootstrap_osm(store, path)
    assert (again["grids"], again["created"], again["kept"]) == (first["grids"], first["created"], 0)
    assert len(store.grid_codes()) == first["grids"] and len(store.roads_frame()) == first["created"]


def test_an_osm_draft_writes_grids_and_roads_together_or_not_at_all(store, shared_dir, monkeypatch):
    from gisgrid.services import office
    from gisgrid.gis import osm

    drafted = osm.bootstrap_roads(shared_dir / "data" / "osm" / "beijing-haidian.osm")
    roads, grids = drafted[0].copy(), drafted[1]
    roads.loc[roads.index[-1], "grid"] = "NOT-A-GRID"          # the roads part fails after the grids
    monkeypatch.setattr(osm, "bootstrap_roads", lambda path, stored, **_: (roads, grids))
    with pytest.raises(LayerError, match="NOT-A-GRID"):
        office.bootstrap_osm(store, "extract.osm")
    assert store.grid_codes() == [] and store.count("roads") == 0
