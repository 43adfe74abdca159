"""The browser never retypes a server rule: the inspector's page carries the rulebook in force
for its month (a district's own, with its area threshold) and the photo limit of the
installation; the planner's map its grades, grid classes and attribute lists."""

import json
import re
from pathlib import Path

import pytest

from gisgrid.services import office
from gisgrid.storage import boundaries, inspections
from gisgrid.web import create_app
from gisgrid.web.plan import GRADES
from gisgrid.domain.rulebook import SHIPPED_DIR

PACKAGED = SHIPPED_DIR / "yancheng-2012.toml"
OCT, NOV = "2026-10", "2026-11"


def district_rulebook(folder: Path, since: str, threshold: int) -> Path:
    """The packaged rulebook as a district's own, taking effect from `since` with another area threshold."""
    folder.mkdir(parents=True, exist_ok=True)
    text = PACKAGED.read_text(encoding="utf-8")
    text = (text.replace('id = "yancheng-2012"', 'id = "district-2026"')
                .replace('effective_from = "2012-01"', f'effective_from = "{since}"')
                .replace("area_threshold_m2 = 4", f"area_threshold_m2 = {threshold}"))
    (folder / "district-2026.toml").write_text(text, encoding="utf-8")
    return folder


def data_block(html: str, block: str) -> dict:
    return json.loads(re.search(rf'<script type="application/json" nonce="[^"]+" id="{block}">(.*?)</script>',
                                html, re.S).group(1))


@pytest.fixture
def district_app(db_url, tmp_path, district_files):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                      "RULEBOOK_DIR": str(district_rulebook(tmp_path / "rulebooks", NOV, 2)),
                      "PHOTOS_PER_FINDING": 2})
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    yield app
    store.dispose()


def login(app, client, name, role):
    from gisgrid.web.auth import add_account

    password = add_account(app.extensions["gisgrid.storage"], name, role)
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def test_the_road_page_carries_the_months_rulebook_and_the_photo_limit(district_app):
    store = district_app.extensions["gisgrid.storage"]
    for month in (OCT, NOV):
        office.sample_month(store, month, roads=["R11"])
    client = district_app.test_client()
    login(district_app, client, "wang", "inspector")
    for month in (OCT, NOV):
        inspections.assign(store, month, "R11", "wang", "test")
    pages = {m: client.get(f"/inspect/{m}/R11").get_data(as_text=True) for m in (OCT, NOV)}
    rules = {m: data_block(html, "rules") for m, html in pages.items()}
    # the district's rulebook takes effect in November: October keeps the packaged one
    assert (rules[OCT]["rulebook"]["id"], rules[OCT]["rulebook"]["area_threshold_m2"]) == ("yancheng-2012", 4)
    assert (rules[NOV]["rulebook"]["id"], rules[NOV]["rulebook"]["area_threshold_m2"]) == ("district-2026", 2)
    assert rules[NOV]["rulebook"] == client.get(f"/api/rulebook/{NOV}").get_json()   # the API's own data
    assert rules[NOV]["photos_per_finding"] == 2
    kinds = {r["code"]: r["kind"] for s in rules[NOV]["rulebook"]["sections"] for r in s["rules"]}
    assert kinds["4.1"] == "area" and kinds["6.1.2"] == "each"
    assert "≤ 2 m²" in pages[NOV] and "≤ 4 m²" in pages[OCT] and "照片（最多 2 张）" in pages[NOV]
    assert data_block(pages[NOV], "i18n")["too_many_photos"] == "最多 2 张照片"
    assert "4 m" not in data_block(pages[NOV], "i18n")["need_area"]


def test_the_planners_map_takes_grades_classes_and_attributes_from_the_server(district_app):
    client = district_app.test_client()
    login(district_app, client, "zhang", "planner")
    html = client.get("/plan/").get_data(as_text=True)
    config = data_block(html, "page-config")
    assert config["grades"] == list(GRADES)
    assert config["grid_classes"] == list(boundaries.GRID_CLASSES)
    assert config["attributes"] == {k: list(v) for k, v in boundaries.ATTRIBUTES.items()}
    assert re.findall(r'<select name="grid_class" id="f-class">(.*?)</select>', html, re.S)[0].count("<option") == \
        1 + len(boundaries.GRID_CLASSES)
    script = (Path(district_app.static_folder) / "js" / "plan_map.js").read_text(encoding="utf-8")
    assert not any(grade in script for grade in GRADES) and '"grid_class", "leader"' not in script
