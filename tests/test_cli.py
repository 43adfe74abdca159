"""The command line as other tools script it: exact commands, JSON alone on stdout, one
line on stderr and exit code 2 for a user's mistake, nothing half-written."""

import json

import geopandas as gpd
import pytest

from fixtures import small_district
from gisgrid.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(db_url, district_files, capsys):
    for kind, path in zip(("grids", "roads"), district_files):
        assert run(capsys, "--db", db_url, "import", kind, str(path))[0] == 0
    return db_url


def test_import_sample_score_annual_json(db, tmp_path, capsys):
    code, out, _ = run(capsys, "--db", db, "sample", "2026-11", "--seed", "7", "--json")
    assert code == 0
    sample = json.loads(out)
    assert sample["month"] == "2026-11" and sample["seed"] == 7 and set(sample["grids"]) == {"G1", "G2", "G4"}

    findings = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "rule": ["5.1", "5.1", "5.1"], "count": [1, 1, 1],
         "observed_at": ["2026-11-25T10:00:00+08:00"] * 3},
        geometry=gpd.points_from_xy([114.035, 114.045, 114.035], [33.5951, 33.5951, 33.5990]), crs=4326)
    path = tmp_path / "findings.geojson"
    findings.to_file(path, driver="GeoJSON")
    code, out, _ = run(capsys, "--db", db, "import", "findings", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and (report["accepted"], report["duplicates"]) == (2, 0)
    assert [r["id"] for r in report["rejected"]] == ["c"]
    code, out, _ = run(capsys, "--db", db, "import", "findings", str(path), "--json")
    assert json.loads(out)["duplicates"] == 2

    code, out, _ = run(capsys, "--db", db, "score", "2026-11", "--json")
    month = json.loads(out)
    assert code == 0 and month["month"] == "2026-11"
    assert set(month["grids"][0]) >= {"code", "name", "town", "score", "rank", "roads"}
    g2 = next(g for g in month["grids"] if g["code"] == "G2")
    assert g2["score"] == 95.0 and g2["roads"][0] == {"code": "R21", "score": 95.0, "deductions": 5.0,
                                                      "by_rule": {"5.1": 5.0}}

    code, out, _ = run(capsys, "--db", db, "annual", "2026", "--drafts", "--json")
    year = json.loads(out)
    assert year["year"] == 2026 and {g["code"] for g in year["grids"]} == {"G1", "G2", "G4"}
    assert year["published_only"] is False and year["months"] == ["2026-11"]
    assert all(set(g) == {"code", "name", "town", "class", "score", "months", "rank", "class_rank"}
               for g in year["grids"])


def test_human_output_shows_the_ranking_in_chinese(db, capsys):
    run(capsys, "--db", db, "sample", "2026-11", "--seed", "7")
    code, out, _ = run(capsys, "--db", db, "score", "2026-11")
    assert code == 0 and "排名" in out and "沙北街道第1网格" in out and "未考核" in out


@pytest.mark.parametrize("args, message", [
    (["sample", "2026-13"], "Month must be written YYYY-MM"),
    (["score", "2026-12"], "No sample has been drawn for 2026-12"),
    (["sample", "2026-11", "--roads", "R11,R12,R13"], "at most 2 may be designated"),
    (["import", "grids", "/nonexistent/grids.geojson"], "/nonexistent/grids.geojson"),
])
def test_user_errors_are_one_line_and_exit_2(db, capsys, args, message):
    code, out, err = run(capsys, "--db", db, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("gisgrid: error: ") and message in err


def test_a_bad_file_writes_nothing(db_url, tmp_path, capsys):
    grids, _ = small_district()
    grids.loc[1, "code"] = "G1"  # duplicate code
    path = tmp_path / "dup.geojson"
    grids.to_file(path, driver="GeoJSON")
    code, _, err = run(capsys, "--db", db_url, "import", "grids", str(path))
    assert code == 2 and "G1" in err
    code, _, err = run(capsys, "--db", db_url, "score", "2026-11")
    assert code == 2  # no grids were written: nothing to score


def test_plain_path_is_a_sqlite_file(tmp_path, district_files, capsys):
    path = tmp_path / "plain.sqlite"
    assert run(capsys, "--db", str(path), "import", "grids", str(district_files[0]))[0] == 0
    assert path.exists()


def test_database_url_from_the_environment(monkeypatch, tmp_path, district_files, capsys):
    path = tmp_path / "env.sqlite"
    monkeypatch.setenv("GISGRID_DATABASE_URL", f"sqlite:///{path}")
    assert run(capsys, "import", "grids", str(district_files[0]))[0] == 0
    assert path.exists()


def test_bench_prints_its_figures_and_baseline(capsys):
    code, out, _ = run(capsys, "bench", "--grids", "30", "--findings", "3000", "--json")
    figures = json.loads(out)
    assert code == 0
    assert set(figures) >= {"assign_per_s", "sjoin_per_s", "ratio", "score_month_s", "import_roads_s", "peak_rss_mb",
                            "draft_month_report_first_s", "draft_month_report_after_a_write_s"}
    assert figures["assign_agrees_with_sjoin"] is True and figures["roads"] == 240
    # the month from the roads' tallies is the month finding by finding, and their sums what
    # summing the findings gives
    assert figures["score_month_agree"] is True and figures["sums_agree"] is True
    assert {"sums_from_tallies_s", "sums_from_findings_s"} <= set(figures)
    assert figures["ratio"] == pytest.approx(figures["assign_per_s"] / figures["sjoin_per_s"], rel=0.01)


def test_validate_field_mapping_and_osm_draft(db_url, db, tmp_path, capsys, shared_dir):
    code, out, _ = run(capsys, "--db", db, "validate", "--json")
    report = json.loads(out)
    assert code == 0 and report["blocking"] == 0
    assert {d["kind"] for d in report["defects"]} == {"grid_few_roads"}          # G2 has one road, G3 none
    assert sorted(c for d in report["defects"] for c in d["codes"]) == ["G2", "G3"]

    grids, _ = small_district()
    renamed = grids.rename(columns={"code": "WGBH", "name": "WGMC"})
    renamed["WGBH"] = ["N1", "N2", "N3", "N4"]
    renamed.geometry = renamed.geometry.translate(xoff=1.0)
    path = tmp_path / "renamed.geojson"
    renamed.to_file(path, driver="GeoJSON")
    code, _, err = run(capsys, "--db", db, "import", "grids", str(path), "--field", "code=WGBH", "--field", "name=WGMC")
    assert code == 0 and "4 added" in err
    code, _, err = run(capsys, "--db", db, "import", "grids", str(path), "--field", "code")
    assert code == 2 and "OURS=THEIRS" in err

    fresh = tmp_path / "osm.sqlite"
    code, _, err = run(capsys, "--db", str(fresh), "import", "osm", str(shared_dir / "data" / "osm" / "beijing-haidian.osm"))
    assert code == 0 and "draft grids added" in err
    code, out, _ = run(capsys, "--db", str(fresh), "validate", "--json")
    assert json.loads(out)["blocking"] == 0


# accounts and the assignment (issue 15) --------------------------------------------------

from contextlib import contextmanager  # noqa: E402

from gisgrid.services import accounts  # noqa: E402
from gisgrid.storage import audit  # noqa: E402


def _inspectors(capsys, db, *names, role="inspector"):
    for name in names:
        code, out, _ = run(capsys, "--db", db, "user", "add", name, "--role", role)
        assert code == 0 and f"{name} ({role}) password: " in out


def _inspections(db):
    from gisgrid.storage import inspections

    with _store(db) as store:
        return {row["code"]: row["inspector"] for row in inspections.inspections(store, "2026-11")}


def test_assign_json_gives_every_sampled_road_once_in_even_shares(db, capsys):
    _inspectors(capsys, db, "li", "wang")
    code, out, _ = run(capsys, "--db", db, "sample", "2026-11", "--seed", "7", "--json")
    sampled = sorted(road for roads in json.loads(out)["grids"].values() for road in roads)
    code, out, err = run(capsys, "--db", db, "assign", "2026-11", "--inspectors", "li,wang", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"month", "roads"} and document["month"] == "2026-11"
    # the small district's sample: G1 two roads, G2 one, G4 two: five roads, each once
    assert sorted(document["roads"]) == sampled and len(sampled) == 5
    counts = sorted(list(document["roads"].values()).count(n) for n in ("li", "wang"))
    assert counts == [2, 3]
    assert _inspections(db) == document["roads"]          # written as printed
    with _store(db) as store:
        rows = audit.entries(store, what="assign")
    assert [(r["actor"], r["month"]) for r in rows] == [("cli", "2026-11")] and rows[0]["after"] == document["roads"]


@contextmanager
def _store(db):
    from gisgrid.storage import Store

    store = Store(db)
    try:
        yield store
    finally:
        store.dispose()


@pytest.mark.parametrize("names, message", [
    ("li,nobody", "No inspector named 'nobody'"),
    ("li,zhao", "No inspector named 'zhao'"),          # zhao is a reviewer
    (" , ", "Name at least one inspector"),
])
def test_assign_refuses_unknown_or_non_inspector_names_and_writes_nothing(db, capsys, names, message):
    _inspectors(capsys, db, "li")
    _inspectors(capsys, db, "zhao", role="reviewer")
    assert run(capsys, "--db", db, "sample", "2026-11", "--seed", "7")[0] == 0
    code, out, err = run(capsys, "--db", db, "assign", "2026-11", "--inspectors", names, "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("gisgrid: error: ") and message in err
    assert set(_inspections(db).values()) == {None}                # nothing written


def test_assign_cross_town_keeps_inspectors_off_their_own_towns(db, capsys):
    # G1, G2 are 沙北街道's, G4 城关镇's
    code, _, err = run(capsys, "--db", db, "user", "add", "li", "--role", "inspector", "--towns", "沙北街道")
    assert code == 0, err
    run(capsys, "--db", db, "user", "add", "wang", "--role", "inspector", "--towns", "城关镇")
    run(capsys, "--db", db, "sample", "2026-11", "--roads", "R11,R12,R21,R41,R42")
    code, out, _ = run(capsys, "--db", db, "assign", "2026-11", "--inspectors", "li,wang", "--cross-town", "--json")
    roads = json.loads(out)["roads"]
    assert code == 0
    assert {r for r, n in roads.items() if n == "li"} == {"R41", "R42"}
    assert {r for r, n in roads.items() if n == "wang"} == {"R11", "R12", "R21"}


def test_user_list_json_disable_enable_reset_password(db, capsys):
    run(capsys, "--db", db, "user", "add", "li", "--role", "inspector", "--towns", "沙北街道")
    run(capsys, "--db", db, "user", "add", "zhao", "--role", "reviewer", "--lang", "en")
    code, out, _ = run(capsys, "--db", db, "user", "list", "--json")
    assert code == 0
    assert json.loads(out) == {"users": [
        {"name": "li", "role": "inspector", "active": True, "lang": "zh", "towns": ["沙北街道"]},
        {"name": "zhao", "role": "reviewer", "active": True, "lang": "en", "towns": []}]}

    code, out, err = run(capsys, "--db", db, "user", "disable", "li")
    assert code == 0 and "li disabled" in err
    assert json.loads(run(capsys, "--db", db, "user", "list", "--json")[1])["users"][0]["active"] is False
    assert run(capsys, "--db", db, "user", "enable", "li")[0] == 0
    assert json.loads(run(capsys, "--db", db, "user", "list", "--json")[1])["users"][0]["active"] is True

    code, out, _ = run(capsys, "--db", db, "user", "reset-password", "li")
    assert code == 0 and out.startswith("li password: ")
    password = out.split(": ", 1)[1].strip()
    with _store(db) as store:
        assert accounts.authenticate(store, accounts.login_limits(store.config), "li", password, "127.0.0.1",
                                     None)["name"] == "li"
        done = [(e["action"], e["subject"]) for e in audit.entries(store, what="account")]
    assert done == [("account_password", "li"), ("account_enable", "li"), ("account_disable", "li"),
                    ("account_add", "zhao"), ("account_add", "li")]


@pytest.mark.parametrize("args, message", [
    (["user", "disable", "nobody"], "No account named 'nobody'"),
    (["user", "reset-password", "nobody"], "No account named 'nobody'"),
    (["user", "add", "li", "--role", "inspector", "--towns", "月球镇"], "No grid belongs to the town '月球镇'"),
])
def test_user_errors_are_one_line(db, capsys, args, message):
    code, out, err = run(capsys, "--db", db, *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    with _store(db) as store:
        assert store.users() == [] and audit.entries(store) == []


def test_serve_prints_where_the_office_starts_and_no_password(tmp_path):
    """README's first command: `gisgrid serve` on a new installation points to the first-run
    page and the admin's pages, and prints no password (it would be lost, or read by others)."""
    from gisgrid.bench_serve import Server

    with Server(tmp_path, workers=1) as server:
        server.wait_ready()
        printed = (tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert f"{server.url}/setup" in printed and f"{server.url}/admin/" in printed
    assert "password " not in printed.replace("administrator's password", "")


def test_a_file_of_findings_cannot_pin_the_grids_work_on_a_road(db, tmp_path, capsys):
    """6.3.2 comes from the month's rectification rate, 8.1 from the patrol records: a file that
    pins them is refused finding by finding, as the tablet's form refuses them, so 6.3.2 is not
    deducted from a road besides the grid."""
    from fixtures import finding
    from gisgrid.storage import Store

    on_r11 = (114.035, 33.5951)
    path = tmp_path / "findings.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        for props, lon, lat in (finding("rate", *on_r11, "6.3.2"), finding("patrol", *on_r11, "8.1"),
                                finding("ads", *on_r11, "5.3.1"))]}), encoding="utf-8")
    code, out, _ = run(capsys, "--db", db, "import", "findings", str(path), "--json")
    report = json.loads(out)
    reasons = {r["id"]: r["reason"] for r in report["rejected"]}
    assert code == 0 and report["accepted"] == 1 and set(reasons) == {"rate", "patrol"}
    assert reasons["rate"].startswith("Rule 6.3.2 (月整改率低于90%) describes the grid's work, not a spot")
    assert "patrol records" in reasons["patrol"]
    store = Store(db)
    try:
        assert list(store.findings_frame()["id"]) == ["ads"]
    finally:
        store.dispose()
