"""Rectification from the command line, on SQLite and PostGIS: notices issued, items confirmed
fixed, the month's grid deductions and rate in `score --json`, the year over them, and every
refusal leaving what was stored as it was."""

import json
from fractions import Fraction

import pytest

from gisgrid.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, db, *args):
    code, out, err = run(capsys, "--db", db, *args)
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


@pytest.fixture
def db(db_url, district_files, capsys):
    for kind, path in zip(("grids", "roads"), district_files):
        ok(capsys, db_url, "import", kind, str(path))
    return db_url


def findings_file(tmp_path, rows):
    """Findings on the small district's roads: (id, rule, count, lon, lat) in November."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"id": [r[0] for r in rows], "rule": [r[1] for r in rows],
                              "count": [r[2] for r in rows], "observed_at": ["2026-11-20T10:00:00+08:00"] * len(rows)},
                             geometry=gpd.points_from_xy([r[3] for r in rows], [r[4] for r in rows]), crs=4326)
    path = tmp_path / "findings.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


R11, R12, R21, R41 = (114.035, 33.5951), (114.0351, 33.593), (114.045, 33.5951), (114.035, 33.5851)


def grid(month: dict, code: str) -> dict:
    return next(g for g in month["grids"] if g["code"] == code)


def worked_case(db, tmp_path, capsys) -> dict:
    """DOMAIN.md's case on the small district: road means in November 84.25 (G1), 87.5 (G2) and
    0 (G4); G1 has one 6.3.1 notice, deadline 5 Nov, items fixed 4 Nov, 8 Nov and never."""
    ok(capsys, db, "sample", "2026-11", "--roads", "R11,R12,R21,R41,R42")
    path = findings_file(tmp_path, [("a", "5.1", 3, *R11), ("b", "5.1", 3, *R12), ("c", "5.2", 1, *R12),
                                    ("d", "7", 1, *R12), ("e", "5.1", 2, *R21), ("f", "5.2", 2, *R21),
                                    ("g", "7", 1, *R21), ("h", "5.1", 20, *R41), ("i", "5.1", 20, 114.035, 33.5871)])
    ok(capsys, db, "import", "findings", str(path), "--json")
    notice = ok(capsys, db, "notice", "issue", "G1", "--deadline", "2026-11-05", "--issued", "2026-11-01",
                "--item", "清理占道堆放", "--item", "修复破损店招", "--item", "清除小广告", "--json")
    assert {k: notice[k] for k in ("grid", "rule", "issued", "deadline")} == {
        "grid": "G1", "rule": "6.3.1", "issued": "2026-11-01", "deadline": "2026-11-05"}
    assert [(i["item"], i["text"]) for i in notice["items"]] == [(1, "清理占道堆放"), (2, "修复破损店招"), (3, "清除小广告")]
    assert notice["number"] == "网办整改〔2026〕1号" and notice["notice"].isdigit()
    ok(capsys, db, "notice", "fix", notice["notice"], "1", "--on", "2026-11-04")
    ok(capsys, db, "notice", "fix", notice["number"], "2", "--on", "2026-11-08")
    return notice


def test_the_worked_case_of_domain_md_from_the_command_line(db, tmp_path, capsys):
    """84.25 − 2 × 2 − 10 = 70.25."""
    notice = worked_case(db, tmp_path, capsys)

    month = ok(capsys, db, "score", "2026-11", "--json")
    g1, g2, g4 = grid(month, "G1"), grid(month, "G2"), grid(month, "G4")
    assert (g1["road_mean"], g2["score"], g4["score"]) == (84.25, 87.5, 0)
    assert g1["score"] == 70.25 and g1["rank"] == 2 and g2["rank"] == 1
    assert g1["grid_deductions"] == [{"rule": "6.3.1", "points": 2, "notice": notice["notice"], "item": 2},
                                     {"rule": "6.3.1", "points": 2, "notice": notice["notice"], "item": 3},
                                     {"rule": "6.3.2", "points": 10, "notice": None, "item": None}]
    assert g1["rectification"] == {"due": 3, "on_time": 1, "open": 0, "rate": float(Fraction(1, 3))}
    assert g2["grid_deductions"] == [] and g2["rectification"]["rate"] is None
    assert [r["score"] for r in g1["roads"]] == [85, 83.5]                  # roads unchanged
    town = next(t for t in month["towns"] if t["town"] == "沙北街道")
    assert town["score"] == (70.25 + 87.5) / 2

    shown = ok(capsys, db, "score", "2026-11")
    assert "70.25" in shown and "14.00" in shown and "1/3 (33.33%)" in shown


def test_exports_and_the_bulletin_carry_the_grid_deductions(db, tmp_path, capsys):
    import geopandas as gpd

    from gisgrid.reports import assessment, bulletin
    from gisgrid.storage import Store

    notice = worked_case(db, tmp_path, capsys)
    store = Store(db)
    try:
        headers, rows = assessment.export_rows(store, "2026-11", "grids")
        g1 = dict(zip(headers, next(r for r in rows if r[2] == "G1")))
        assert (g1["得分"], g1["道路平均分"], g1["整改扣分"]) == (70.25, 84.25, 14)
        assert g1["整改率"] == float(Fraction(1, 3))
        assert g1["整改扣分明细"] == f"6.3.1 通知书{notice['notice']}第2项 2；6.3.1 通知书{notice['notice']}第3项 2；6.3.2 10"
        data = bulletin.month_bulletin(store, "2026-11")
        assert {k: data["rectification"][k] for k in ("due", "on_time", "rate_label")} == {
            "due": 3, "on_time": 1, "rate_label": "33.33%"}
        assert [(g["code"], g["points"]) for g in data["rectification"]["grids"]] == [("G1", 14)]
        assert assessment.month_report(store, "2026-11")["tiles"]["rectification_rate"] == float(Fraction(1, 3))
    finally:
        store.dispose()
    ok(capsys, db, "export", "scores", str(tmp_path / "scores.gpkg"))
    frame = gpd.read_file(tmp_path / "scores.gpkg").set_index("grid")
    assert (frame.loc["G1", "score"], frame.loc["G1", "deducted"]) == (70.25, 14)
    assert frame.loc["G1", "rect_rate"] == pytest.approx(1 / 3) and frame.loc["G2", "deducted"] == 0


def test_three_months_with_every_rule_and_the_year_over_them(db, capsys):
    """G1 over September to November 2026 (its roads clean: 100 before grid deductions):
    Sep 6.3.1 one late (2), 5.4 not fixed (5), rate 1/3 (10) -> 83; Oct 5.4 still not fixed on
    its doubling day 30 Oct (10), 5.5 on time, rate 1/1 -> 90; Nov 5.5 one late (3), rate 1/2
    (10), a 6.3.1 item due 30 Nov still open (not counted yet) -> 87. Year: 260/3."""
    for month in ("2026-09", "2026-10", "2026-11"):
        ok(capsys, db, "sample", month, "--roads", "R11,R12,R21")

    def issue(*args):
        return ok(capsys, db, "notice", "issue", "G1", *args, "--json")["notice"]

    a = issue("--deadline", "2026-09-20", "--issued", "2026-09-10", "--item", "a1", "--item", "a2")
    b = issue("--rule", "5.4", "--deadline", "2026-09-30", "--issued", "2026-09-15", "--item", "户外广告")
    c = issue("--rule", "5.5", "--deadline", "2026-10-15", "--issued", "2026-10-01", "--item", "店招整治")
    d = issue("--rule", "5.5", "--deadline", "2026-11-10", "--issued", "2026-11-01", "--item", "d1", "--item", "d2")
    e = issue("--deadline", "2026-11-30", "--issued", "2026-11-20", "--item", "e1")
    for notice, item, on in ((a, 1, "2026-09-18"), (a, 2, "2026-09-25"), (c, 1, "2026-10-15"),
                             (d, 1, "2026-11-09"), (d, 2, "2026-11-12")):
        ok(capsys, db, "notice", "fix", notice, str(item), "--on", on)

    months = {m: grid(ok(capsys, db, "score", m, "--json"), "G1") for m in ("2026-09", "2026-10", "2026-11")}
    assert [(g["score"], sum(x["points"] for x in g["grid_deductions"])) for g in months.values()] == [
        (83, 17), (90, 10), (87, 13)]
    assert [(x["rule"], x["points"], x["notice"], x["item"]) for x in months["2026-09"]["grid_deductions"]] == [
        ("6.3.1", 2, a, 2), ("5.4", 5, b, 1), ("6.3.2", 10, None, None)]
    assert months["2026-10"]["grid_deductions"] == [{"rule": "5.4", "points": 10, "notice": b, "item": 1}]
    assert months["2026-10"]["rectification"] == {"due": 1, "on_time": 1, "open": 0, "rate": 1.0}
    assert months["2026-11"]["rectification"] == {"due": 2, "on_time": 1, "open": 1, "rate": 0.5}
    assert [(x["rule"], x["item"]) for x in months["2026-11"]["grid_deductions"]] == [("5.5", 2), ("6.3.2", None)]

    year = ok(capsys, db, "annual", "2026", "--drafts", "--json")
    g1 = next(g for g in year["grids"] if g["code"] == "G1")
    assert g1["months"] == {"2026-09": 83, "2026-10": 90, "2026-11": 87}
    assert g1["score"] == float(Fraction(260, 3))

    listed = ok(capsys, db, "notice", "list", "--grid", "G1", "--month", "2026-11", "--json")["notices"]
    assert {n["notice"] for n in listed} == {d, e}
    still_open = ok(capsys, db, "notice", "list", "--open", "--json")["notices"]
    assert {n["notice"] for n in still_open} == {b, e}


@pytest.mark.parametrize("args, message", [
    (["issue", "G1", "--deadline", "2026-10-31", "--issued", "2026-11-01", "--item", "x"],
     "The deadline 2026-10-31 is before the issue date 2026-11-01"),
    (["issue", "G9", "--deadline", "2026-11-30", "--item", "x"], "Unknown grid code 'G9'"),
    (["issue", "G1", "--deadline", "2026-11-30", "--item", " "], "An item needs its text"),
    (["issue", "G1", "--deadline", "2026-11-30", "--issued", "2026-12-01", "--item", "x"],
     "The issue date 2026-12-01 is in the future"),
    (["issue", "G1", "--deadline", "2026-11-30", "--finding", "999"], "No such finding: 999"),
    (["fix", "77", "1", "--on", "2026-11-20"], "No such notice: 77"),
])
def test_refusals_say_why_and_store_nothing(db, capsys, args, message):
    code, out, err = run(capsys, "--db", db, "notice", *args)
    assert code == 2 and message in err and out == ""
    assert ok(capsys, db, "notice", "list", "--json") == {"notices": []}


def test_a_fix_is_confirmed_once_never_in_the_future_and_never_into_a_published_month(db, capsys):
    ok(capsys, db, "sample", "2026-10", "--roads", "R11,R21")
    notice = ok(capsys, db, "notice", "issue", "G1", "--deadline", "2026-10-20", "--issued", "2026-10-01",
                "--item", "a", "--item", "b", "--json")["notice"]
    code, _, err = run(capsys, "--db", db, "notice", "fix", notice, "1", "--on", "2026-11-26")
    assert code == 2 and "The re-inspection date 2026-11-26 is in the future" in err
    code, _, err = run(capsys, "--db", db, "notice", "fix", notice, "3", "--on", "2026-10-10")
    assert code == 2 and "has no item 3" in err
    ok(capsys, db, "notice", "fix", notice, "1", "--on", "2026-10-10")
    code, _, err = run(capsys, "--db", db, "notice", "fix", notice, "1", "--on", "2026-10-12")
    assert code == 2 and "was confirmed fixed on 2026-10-10 already" in err

    from gisgrid.services import OPERATOR, month as month_work
    from gisgrid.storage import Store

    store = Store(db)
    try:
        month_work.publish(store, OPERATOR, "2026-10")
    finally:
        store.dispose()
    # a fix dated on or before the deadline would change October's frozen figures: refused
    code, _, err = run(capsys, "--db", db, "notice", "fix", notice, "2", "--on", "2026-10-19")
    assert code == 2 and "2026-10 is published" in err
    code, _, err = run(capsys, "--db", db, "notice", "issue", "G1", "--deadline", "2026-10-31", "--issued",
                       "2026-10-01", "--item", "x")
    assert code == 2 and "2026-10 is published" in err
    # a late fix changes no month: taken
    ok(capsys, db, "notice", "fix", notice, "2", "--on", "2026-11-02")
    items = ok(capsys, db, "notice", "list", "--json")["notices"][0]["items"]
    assert [(i["item"], i["fixed_on"]) for i in items] == [(1, "2026-10-10"), (2, "2026-11-02")]
    assert grid(ok(capsys, db, "score", "2026-10", "--json"), "G1")["rectification"]["rate"] == 0.5


def test_an_item_from_a_finding_takes_its_point_and_road_and_must_be_of_the_grid(db, tmp_path, capsys):
    ok(capsys, db, "sample", "2026-11", "--roads", "R11,R21")
    ok(capsys, db, "import", "findings", str(findings_file(tmp_path, [("a", "5.1", 1, *R11), ("b", "5.1", 1, *R21)])),
       "--json")
    from gisgrid.storage import Store, inspections

    store = Store(db)
    try:
        ids = {f: inspections.finding(store, external_id=f)["id"] for f in ("a", "b")}
    finally:
        store.dispose()
    code, _, err = run(capsys, "--db", db, "notice", "issue", "G1", "--deadline", "2026-11-30",
                       "--finding", str(ids["a"]), "--finding", str(ids["b"]))
    assert code == 2 and f"Finding {ids['b']} is on road R21 of grid G2, not of grid G1" in err
    notice = ok(capsys, db, "notice", "issue", "G1", "--deadline", "2026-11-30", "--finding", str(ids["a"]), "--json")
    (item,) = notice["items"]
    assert (item["finding"], item["road"], round(item["lon"], 4), round(item["lat"], 4)) == (ids["a"], "R11", *R11)
    assert item["text"] == "店招店牌破损（人民路）" and notice["issued"] == "2026-11-25"


def test_a_printed_notice_has_its_number_items_photos_place_and_deadline(db, tmp_path, capsys):
    import io
    import subprocess

    from PIL import Image

    from gisgrid.services import findings
    from gisgrid.services.policy import Actor
    from gisgrid.storage import Store, inspections

    ok(capsys, db, "sample", "2026-11", "--roads", "R11,R21")
    ok(capsys, db, "import", "findings", str(findings_file(tmp_path, [("a", "5.1", 1, *R11)])), "--json")
    store = Store(db)
    try:
        finding_id = inspections.finding(store, external_id="a")["id"]
        photo = io.BytesIO()
        Image.new("RGB", (80, 60), "blue").save(photo, "JPEG")
        findings.add_photo(store, Actor(None, "office", "admin"), store.config.photo_dir, finding_id, "photo-0001",
                           photo.getvalue(), 10_000_000, 3)
    finally:
        store.dispose()
    notice = ok(capsys, db, "notice", "issue", "G1", "--deadline", "2026-12-05", "--finding", str(finding_id),
                "--json")
    path = tmp_path / "notice.pdf"
    ok(capsys, db, "notice", "pdf", notice["number"], "--pdf", str(path))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = text.replace(" ", "")
    assert "整改通知书" in flat and notice["number"] in flat and "店招店牌破损（人民路）" in flat
    assert "整改期限：2026-12-05" in flat and "沙北街道第1网格" in flat
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(images.splitlines()) - 2 >= 1                  # the finding's photo is in it
    code, _, err = run(capsys, "--db", db, "notice", "pdf", "99", "--pdf", str(tmp_path / "x.pdf"))
    assert code == 2 and "No such notice: 99" in err and not (tmp_path / "x.pdf").exists()


NOTICES_CSV = """文号,网格,条款,下发日期,整改期限,序号,整改内容,报告整改日期,复查整改日期
郾网办〔2026〕7号,G1,6.3.1,2026/11/1,2026/11/5,1,清理占道堆放,,2026/11/4
郾网办〔2026〕7号,G1,6.3.1,2026/11/1,2026/11/5,2,修复破损店招,2026/11/6,2026/11/8
郾网办〔2026〕7号,G1,6.3.1,2026/11/1,2026/11/5,3,清除小广告,,
郾网办〔2026〕8号,G2,5.5,2026-11-02,2026-11-30,,店招整治,,
"""


def test_notices_kept_in_excel_import_after_a_preview_and_never_overwrite(db, tmp_path, capsys):
    ok(capsys, db, "sample", "2026-11", "--roads", "R11,R12,R21")
    path = tmp_path / "notices.csv"
    path.write_bytes(NOTICES_CSV.encode("gb18030"))           # as Excel saves a CSV in China
    preview = ok(capsys, db, "import", "notices", str(path), "--dry-run", "--json")
    assert [(n["number"], n["grid"], n["rule"], len(n["items"])) for n in preview["new"]] == [
        ("郾网办〔2026〕7号", "G1", "6.3.1", 3), ("郾网办〔2026〕8号", "G2", "5.5", 1)]
    assert preview["new"][0]["items"][1] == {"item": 2, "text": "修复破损店招", "reported_on": "2026-11-06",
                                             "fixed_on": "2026-11-08"}
    assert ok(capsys, db, "notice", "list", "--json") == {"notices": []}          # a preview writes nothing

    code, _, err = run(capsys, "--db", db, "import", "notices", str(path))
    assert code == 0 and "2 added" in err
    g1 = grid(ok(capsys, db, "score", "2026-11", "--json"), "G1")
    assert g1["rectification"]["rate"] == float(Fraction(1, 3)) and g1["score"] == 100 - 14

    again = ok(capsys, db, "import", "notices", str(path), "--dry-run", "--json")
    assert again["new"] == [] and sorted(again["unchanged"]) == ["郾网办〔2026〕7号", "郾网办〔2026〕8号"]
    path.write_bytes(NOTICES_CSV.replace("清除小广告", "清除牛皮癣").encode("gb18030"))
    changed = ok(capsys, db, "import", "notices", str(path), "--json")
    assert changed["conflicts"] == [{"number": "郾网办〔2026〕7号", "kind": "stored", "month": None}]
    items = next(n for n in ok(capsys, db, "notice", "list", "--json")["notices"] if n["number"].endswith("7号"))
    assert [i["text"] for i in items["items"]][2] == "清除小广告"                   # kept as stored


def test_an_xlsx_of_notices_and_the_rows_it_must_correct_first(db, tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["文号", "网格", "整改期限", "整改内容", "下发日期"])
    sheet.append(["A-1", "G1", "2026-11-20", "清理", "2026-11-01"])
    sheet.append(["A-2", "G9", "2026-11-20", "清理", "2026-11-01"])
    sheet.append(["A-3", "G1", "2026-11-20", "", "2026-11-01"])
    sheet.append(["A-4", "G1", "2026-10-20", "清理", "2026-11-01"])
    path = tmp_path / "notices.xlsx"
    book.save(path)
    code, out, err = run(capsys, "--db", db, "import", "notices", str(path), "--json")
    planned = json.loads(out)
    assert code == 2 and [e["row"] for e in planned["errors"]] == [3, 4, 5]
    assert "Unknown grid code 'G9'" in planned["errors"][0]["message"] and "row 3" in err
    assert ok(capsys, db, "notice", "list", "--json") == {"notices": []}          # nothing written
    book = Workbook()
    book.active.append(["名称", "网格"])
    book.save(path)
    code, _, err = run(capsys, "--db", db, "import", "notices", str(path))
    assert code == 2 and "lacks the column(s) number, deadline, text" in err
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    code, _, err = run(capsys, "--db", db, "import", "notices", str(path))
    assert code == 2 and "is not an XLSX workbook" in err


def test_notices_issued_at_once_get_numbers_of_their_own(db, capsys):
    """Eight offices' windows issuing at the same moment: eight numbers, none twice, none lost."""
    from concurrent.futures import ThreadPoolExecutor

    from gisgrid.services import OPERATOR, rectification
    from gisgrid.storage import Store

    store = Store(db)
    try:
        with ThreadPoolExecutor(8) as pool:
            issued = list(pool.map(lambda n: rectification.issue(store, OPERATOR, "G1", "2026-11-30",
                                                                 [{"text": f"第{n}项"}]), range(8)))
        assert sorted(int(n["number"][len("网办整改〔2026〕"):-1]) for n in issued) == list(range(1, 9))
        assert len(ok(capsys, db, "notice", "list", "--json")["notices"]) == 8
    finally:
        store.dispose()
