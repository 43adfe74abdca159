"""Two app servers on one PostgreSQL + PostGIS, each with its own instance folder and caches,
sharing the photo and upload folders: a save through one is seen by the other at once (its
caches are keyed by a revision read from the database), and an import started from both at
the same moment runs once (the lock is the database's)."""

import re
import threading
import time

import geopandas as gpd
import pytest
from shapely.geometry import box, mapping

from gisgrid.services import office
from gisgrid.render import maps as review
from gisgrid.storage import boundaries, inspections
from gisgrid.web import create_app
from gisgrid.web.auth import add_account

pytestmark = pytest.mark.parametrize("db_url", ["postgis"], indirect=True)   # SQLite is one machine's

MONTH = "2026-11"
ON_R11 = (114.035, 33.5951)
ON_NEW_ROAD = (114.055, 33.5951)       # in grid G3, which has no road until a planner draws one


class Browser:
    """One person logged in on one app server."""

    def __init__(self, app, name: str, password: str, page: str):
        self.client = app.test_client()
        done = self.client.post("/login", data={"name": name, "password": password, "csrf_token": self._token("/login")})
        assert done.status_code == 302
        self.headers = {"X-CSRFToken": self._token(page)}

    def _token(self, path: str) -> str:
        html = self.client.get(path, follow_redirects=True).get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, json: dict):
        return self.client.post(path, json=json, headers=self.headers)


class Server:
    def __init__(self, app):
        self.app, self.store = app, app.extensions["gisgrid.storage"]

    def login(self, name: str, password: str, page: str = "/") -> Browser:
        return Browser(self.app, name, password, page)


@pytest.fixture
def servers(db_url, tmp_path):
    shared = {"PHOTO_DIR": str(tmp_path / "shared" / "photos"), "UPLOAD_DIR": str(tmp_path / "shared" / "uploads")}
    apps = [create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / f"instance-{n}"),
                        "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
                        **shared})
            for n in ("a", "b")]
    yield [Server(app) for app in apps]
    for app in apps:
        app.extensions["gisgrid.storage"].dispose()


@pytest.fixture
def accounts(servers):
    return {name: add_account(servers[0].store, name, role)
            for name, role in (("planner1", "planner"), ("wang", "inspector"), ("office1", "admin"))}


def _grid_names(layers: dict) -> dict:
    return {f["properties"]["code"]: f["properties"]["name"] for f in layers["grids"]["features"]}


def _finding(id, rule, lon, lat):
    return {"id": id, "rule": rule, "observed_at": "2026-11-25T10:00:00+08:00", "lon": lon, "lat": lat}


def test_a_save_on_one_server_is_seen_on_the_other_at_once(servers, accounts, district_files):
    a, b = servers
    office.import_layer(a.store, "grids", district_files[0])
    office.import_layer(a.store, "roads", district_files[1])
    plan_a, plan_b = (s.login("planner1", accounts["planner1"]) for s in servers)

    before = plan_b.get("/api/plan/layers").get_json()          # b builds its layer indexes and towns
    assert _grid_names(before)["G1"] == "沙北街道第1网格"
    assert [t["properties"]["town"] for t in before["towns"]["features"]] == ["城关镇", "沙北街道"]
    assert review.store_grids_encoded(b.store)["names"][0] == "沙北街道第1网格"

    g1 = plan_a.get("/api/plan/grid/G1").get_json()
    saved = plan_a.post("/api/plan/grid/G1", {
        "version": g1["properties"]["version"], "reason": "renamed", "geometry": g1["geometry"],
        "properties": {**g1["properties"], "name": "东区网格", "town": "新城街道"}})
    assert saved.status_code == 200
    after = plan_b.get("/api/plan/layers").get_json()
    assert _grid_names(after)["G1"] == "东区网格"
    assert [t["properties"]["town"] for t in after["towns"]["features"]] == ["城关镇", "新城街道", "沙北街道"]
    assert review.store_grids_encoded(b.store)["names"][0] == "东区网格"
    assert plan_b.get("/api/plan/grid/G1").get_json()["properties"]["version"] == 2

    # the month road index: b places findings with it, a planner adds a road through a (the
    # office records them: no sample is drawn yet, and an inspector pins only on roads given to them)
    office_b = b.login("office1", accounts["office1"], "/inspect/")
    inspect_a, inspect_b = office_b, office_b
    first = inspect_b.post("/api/findings", _finding("tab-1", "5.1", *ON_R11))
    assert first.status_code == 201 and first.get_json()["road"] == "R11"
    assert inspect_b.post("/api/findings", _finding("tab-2", "5.1", *ON_NEW_ROAD)).status_code == 422  # no road yet
    road = plan_a.post("/api/plan/road/R31", {
        "version": None, "reason": "new road", "geometry": mapping(box(114.051, 33.5950, 114.059, 33.5952)),
        "properties": {"name": "新华路", "grade": "次干道", "grid": "G3"}})
    assert road.status_code == 201
    placed = inspect_b.post("/api/findings", _finding("tab-2", "5.1", *ON_NEW_ROAD))
    assert placed.status_code == 201 and placed.get_json()["road"] == "R31"
    assert "R31" in {f["properties"]["code"] for f in plan_b.get("/api/plan/layers").get_json()["roads"]["features"]}

    # a finding recorded through a changes the road's score b answers
    office.sample_month(a.store, MONTH, roads=["R11", "R12", "R21", "R31", "R41", "R42"])
    inspections.assign(a.store, MONTH, "R11", "wang", "test")
    inspect_a, inspect_b = (s.login("wang", accounts["wang"], "/inspect/") for s in servers)
    assert inspect_b.get(f"/api/months/{MONTH}/roads/R11").get_json()["score"]["score"] == 95.0
    more = inspect_a.post("/api/findings", _finding("tab-3", "5.2", *ON_R11))
    assert more.status_code == 201 and more.get_json()["score"]["score"] == 94.0
    assert inspect_b.get(f"/api/months/{MONTH}/roads/R11").get_json()["score"]["score"] == 94.0


def _upload(browser, path):
    body = (f'--B0UNDARY\r\nContent-Disposition: form-data; name="kind"\r\n\r\ngrids\r\n'
            f'--B0UNDARY\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + b"\r\n--B0UNDARY--\r\n"
    return browser.client.post("/api/plan/uploads", data=body,
                               headers={**browser.headers, "Content-Type": "multipart/form-data; boundary=B0UNDARY"})


def test_an_import_started_from_both_servers_at_once_runs_once(servers, accounts, tmp_path):
    a, b = servers
    on_a, on_b = (s.login("planner1", accounts["planner1"]) for s in servers)
    codes = [f"W{i}" for i in range(60)]       # enough grids that the import is still running when b asks
    path = tmp_path / "grids.geojson"
    gpd.GeoDataFrame({"code": codes, "name": [f"网格{c}" for c in codes]},
                     geometry=[box(114.0 + 0.003 * i, 33.5, 114.0 + 0.003 * (i + 1), 33.503) for i in range(60)],
                     crs=4326).to_file(path, driver="GeoJSON")
    sent = _upload(on_a, path)
    assert sent.status_code == 201
    token = sent.get_json()["token"]
    assert on_b.get(f"/api/plan/uploads/{token}/preview").get_json()["count"] == 60   # b sees a's upload

    together, answers = threading.Barrier(2), {}

    def start(browser):
        together.wait(10)
        answers[browser] = browser.post(f"/api/plan/uploads/{token}/import", {"kind": "grids"})

    threads = [threading.Thread(target=start, args=(browser,)) for browser in (on_a, on_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers.values()) == [202, 400]
    refused = next(answer for answer in answers.values() if answer.status_code == 400).get_json()
    assert refused["message"] == "此文件正在导入或已导入"

    for _ in range(600):
        state = on_b.get(f"/api/plan/uploads/{token}/progress").get_json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["result"]["created"] == 60
    assert on_a.get(f"/api/plan/uploads/{token}/progress").get_json()["state"] == "done"
    assert a.store.count("grids") == 60
    assert all(len(boundaries.history(b.store, "grid", code)) == 1 for code in codes)   # imported once
    assert on_b.post(f"/api/plan/uploads/{token}/import", {"kind": "grids"}).status_code == 400
