"""The bulletin (通报) as issued: office, document number, title with the month written
2026年11月, the town ranking, grids overall and by class with the change against last month,
the rectification line, the largest deductions, remarks, date and 抄送 — as data, as the page,
as a DOCX that LibreOffice opens, and from the command line for a month and for the year."""

import io
import json
import os
import re
import shutil
import subprocess
from datetime import date

import pytest
from docx import Document
from fixtures import finding

from gisgrid.cli import main
from gisgrid.domain.errors import GisgridError
from gisgrid.reports import bulletin
from gisgrid.render.bulletin_docx import bulletin_docx
from gisgrid.services import Actor, office
from gisgrid.services import month as month_work

OCT, NOV = "2026-10", "2026-11"
SAMPLE = ["R11", "R12", "R21", "R41", "R42"]
TITLE = "关于2026年11月份网格化管理考核情况的通报"


@pytest.fixture
def months(district):
    for month in (OCT, NOV):
        office.sample_month(district, month, roads=SAMPLE)
    result = office.record_findings(district, [
        finding("o1", 114.045, 33.5951, "8.3.1", observed_at="2026-10-20T10:00:00+08:00", count=3),   # G2 91 in Oct
        finding("n1", 114.035, 33.5951, "5.1", count=2),                                           # G1 95 in Nov
        finding("n2", 114.035, 33.5851, "4.1", area_m2=6),                                         # G4 98 in Nov
    ])
    assert result.accepted == 3, result.rejected
    return district


def test_month_bulletin_data_as_an_office_issues_it(months):
    data = bulletin.month_bulletin(months, NOV, remarks=["请各镇办限期整改。", "  "], issued=date(2026, 12, 2))
    assert data["title"] == TITLE and data["period"] == "2026年11月" and data["previous_period"] == "2026年10月"
    assert data["number"] == "网办〔2026〕11号" and data["office"] == "区网格化管理领导小组办公室"
    assert data["issued_label"] == "2026年12月2日" and data["cc"].startswith("区委")
    assert data["remarks"] == ["请各镇办限期整改。"] and data["draft"] is True
    # 城关镇 = G4 98 (G3 not assessed); 沙北街道 = (95 + 100) / 2 = 97.5; in October 100 and 95.5
    assert [(t["town"], t["score"], t["rank"], t["rank_change"], t["score_change"]) for t in data["towns"]] == [
        ("城关镇", 98.0, 1, 0, -2.0), ("沙北街道", 97.5, 2, 0, 2.0)]
    assert [(c["class"], [(g["code"], g["class_rank"]) for g in c["grids"]]) for c in data["classes"]] == [
        ("A", [("G4", 1), ("G1", 2)]), ("B", [("G2", 1)])]
    assert data["summary"]["lowest"]["code"] == "G1" and data["rectification"] is None
    assert [f["external_id"] for f in data["worst"]][:2] == ["n1", "n2"]


def test_the_number_follows_the_setting_and_a_bad_pattern_is_named(months):
    months.config._values["BULLETIN_NUMBER"] = "郾网办〔{year}〕{month}号"
    assert bulletin.month_bulletin(months, NOV)["number"] == "郾网办〔2026〕11号"
    assert bulletin.month_bulletin(months, NOV, number="郾网办〔2026〕99号")["number"] == "郾网办〔2026〕99号"
    months.config._values["BULLETIN_NUMBER"] = "郾网办〔{yr}〕号"
    with pytest.raises(GisgridError, match=r"BULLETIN_NUMBER .* may name only \{year\}, \{month\}"):
        bulletin.month_bulletin(months, NOV)


def _docx_text(raw: bytes) -> tuple[list[str], list[list[list[str]]], str]:
    doc = Document(io.BytesIO(raw))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    footer = doc.sections[0].footer._element.xml
    return [p.text for p in doc.paragraphs], tables, footer


def test_docx_holds_the_bulletin_as_editable_tables_with_page_numbers(months):
    data = bulletin.month_bulletin(months, NOV, issued=date(2026, 12, 2))
    paragraphs, tables, footer = _docx_text(bulletin_docx(data))
    assert paragraphs[:3] == ["区网格化管理领导小组办公室", "网办〔2026〕11号", TITLE]
    assert tables[0][0] == ["名次", "镇办", "得分", "考核网格数", "名次升降", "得分变化"]
    assert tables[0][1:] == [["1", "城关镇", "98.00", "1", "=", "-2.00"], ["2", "沙北街道", "97.50", "2", "=", "+2.00"]]
    assert ["1", "沙北街道第2网格", "沙北街道", "B", "100.00", "↑2", "+9.00"] in tables[1]
    assert tables[2][1:] == [["1", "城关镇第2网格", "城关镇", "98.00"], ["2", "沙北街道第1网格", "沙北街道", "95.00"]]
    assert "整改率：—" in paragraphs and "2026年12月2日" in paragraphs
    assert any(p.startswith("抄送：") for p in paragraphs)
    assert "PAGE" in footer and "NUMPAGES" in footer


def _soffice():
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        message = "LibreOffice is not installed (apt-get install libreoffice-writer-nogui)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_docx_from_the_command_line_opens_in_libreoffice(months, tmp_path, capsys):
    soffice = _soffice()
    path = tmp_path / "bulletin.docx"
    code = main(["--db", months.url, "bulletin", NOV, "--docx", str(path), "--number", "郾网办〔2026〕12号",
                 "--remark", "请各镇办对照问题清单限期整改。", "--issued", "2026-12-02"])
    assert code == 0, capsys.readouterr().err
    profile = tmp_path / "lo-profile"      # its own profile: never the user's, never shared between runs
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=180)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "bulletin.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = text.replace(" ", "")
    assert TITLE in flat and "郾网办〔2026〕12号" in flat and "请各镇办对照问题清单限期整改。" in flat
    towns = [line.split() for line in text.splitlines() if line.split()[:1] in (["1"], ["2"])][:2]
    assert towns[0][:3] == ["1", "城关镇", "98.00"] and towns[1][:3] == ["2", "沙北街道", "97.50"]


def test_the_year_bulletin_commends_the_top_and_lists_the_lowest(months, tmp_path, capsys):
    reviewer = Actor(None, "zhao", "reviewer")
    path = tmp_path / "year.docx"
    assert main(["--db", months.url, "bulletin", "2026", "--docx", str(path)]) == 0
    assert "warning: no month of 2026 is published yet" in capsys.readouterr().err
    assert main(["--db", months.url, "bulletin", NOV, "--docx", str(path)]) == 0
    assert "warning: 2026-11 is a draft, not published" in capsys.readouterr().err
    for month in (OCT, NOV):
        month_work.publish(months, reviewer, month)
    data = bulletin.year_bulletin(months, 2026, top=10)
    assert data["title"] == "关于2026年度网格化管理考核情况的通报" and data["number"] == "网办〔2026〕年终号"
    assert data["months"] == ["2026年10月", "2026年11月"]
    # G4 (100 + 98) / 2 = 99, G2 (91 + 100) / 2 = 95.5, G1 (100 + 95) / 2 = 97.5: all three in the top 10
    assert [g["code"] for g in data["commended"]] == ["G4", "G1", "G2"] and data["criticised"] == []
    assert [(t["town"], t["score"]) for t in data["towns"]] == [("城关镇", 99.0), ("沙北街道", 96.5)]
    assert main(["--db", months.url, "bulletin", "2026", "--docx", str(path)]) == 0
    assert main(["--db", months.url, "bulletin", NOV, "--docx", str(tmp_path / "nov.docx")]) == 0
    assert "warning" not in capsys.readouterr().err
    paragraphs, tables, _ = _docx_text(path.read_bytes())
    assert "关于2026年度网格化管理考核情况的通报" in paragraphs
    assert any("城关镇第2网格（城关镇，99.00分）" in p for p in paragraphs)


def test_bulletin_command_needs_a_file_and_a_period(months, tmp_path, capsys):
    assert main(["--db", months.url, "bulletin", NOV]) == 2
    assert "--pdf" in capsys.readouterr().err
    assert main(["--db", months.url, "bulletin", "2026-13", "--docx", str(tmp_path / "x.docx")]) == 2
    assert "YYYY-MM" in capsys.readouterr().err and not (tmp_path / "x.docx").exists()


@pytest.fixture
def reviewer(app, client, auth, district_files):
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    office.sample_month(store, NOV, roads=SAMPLE)
    office.record_findings(store, [finding("n1", 114.035, 33.5951, "5.1", count=2)])
    auth.login("zhao", "reviewer")
    return store


def test_the_page_and_its_docx_for_the_reviewer(reviewer, client, auth):
    page = client.get(f"/review/{NOV}/bulletin").get_data(as_text=True)
    assert TITLE in page and "网办〔2026〕11号" in page and 'id="town-ranking"' in page and "抄送" in page
    assert "整改率: —" in page
    response = client.get(f"/review/{NOV}/bulletin.docx")
    assert response.status_code == 200 and "bulletin-2026-11.docx" in response.headers["Content-Disposition"]
    assert _docx_text(response.data)[0][2] == TITLE
    data = json.loads(client.get(f"/review/{NOV}/bulletin.json").data)
    assert data["title"] == TITLE and "report" not in data
    auth.logout()
    auth.login("li", "inspector")
    assert client.get(f"/review/{NOV}/bulletin.docx").status_code == 403


def test_the_docx_carries_the_photo_of_a_large_deduction(app, reviewer, client):
    from PIL import Image

    from gisgrid.services import findings
    from gisgrid.storage import inspections

    raw = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 60, 40)).save(raw, "JPEG")
    stored = inspections.finding(reviewer, external_id="n1")
    settings = app.extensions["gisgrid.settings"]
    findings.add_photo(reviewer, Actor(None, "office", "admin"), settings.photo_dir, stored["id"], "p1",
                       raw.getvalue(), 10 * 1024 * 1024, 3)
    doc = Document(io.BytesIO(client.get(f"/review/{NOV}/bulletin.docx").data))
    assert len(doc.inline_shapes) == 1
    assert any("沙北街道第1网格，R11：5.1" in p.text for p in doc.paragraphs)


def test_the_command_lines_bulletin_carries_the_photo_too(app, reviewer, tmp_path, monkeypatch, capsys):
    """`gisgrid bulletin` on the same instance as the server: the DOCX holds the photo and the
    PDF shows it; run where the photos are not, it leaves them out and says where it looked."""
    from PIL import Image

    from gisgrid.services import findings
    from gisgrid.storage import inspections

    raw = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 60, 40)).save(raw, "JPEG")
    settings = app.extensions["gisgrid.settings"]
    findings.add_photo(reviewer, Actor(None, "office", "admin"), settings.photo_dir,
                       inspections.finding(reviewer, external_id="n1")["id"], "p1", raw.getvalue(), 10 * 1024 * 1024, 3)
    monkeypatch.setenv("GISGRID_INSTANCE_PATH", str(settings.instance_path))
    docx, pdf = tmp_path / "b.docx", tmp_path / "b.pdf"
    assert main(["--db", reviewer.url, "bulletin", NOV, "--docx", str(docx), "--pdf", str(pdf)]) == 0
    assert len(Document(docx).inline_shapes) == 1
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = [line.split() for line in listed.splitlines()[2:]]
    assert images and all(int(width) > 1 for _page, _num, _type, width, *_ in images), listed

    # run where the photos are not (another instance folder): left out and named, never drawn broken
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("GISGRID_INSTANCE_PATH", str(elsewhere))
    capsys.readouterr()
    assert main(["--db", reviewer.url, "bulletin", NOV, "--docx", str(docx), "--pdf", str(pdf)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: photo")]
    assert len(warnings) == 1 and str(elsewhere / "photos") in warnings[0]
    assert len(Document(docx).inline_shapes) == 0
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert listed.splitlines()[2:] == []
    assert "沙北街道第1网格" in subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                             check=True).stdout


def _class_headings(page: str) -> list[str]:
    classes = page.split('class="bulletin-classes"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<h3>([^<]*)</h3>", classes)


def test_class_headings_in_the_bulletins_language_codes_in_its_json(reviewer, client, auth):
    """The bulletin's class headings read in the page's language; the DOCX (the document offices
    edit, in Chinese throughout) and the JSON's class codes stay as they are."""
    chinese = client.get(f"/review/{NOV}/bulletin").get_data(as_text=True)
    assert _class_headings(chinese) == ["A类（主干道严管）", "B类（次干道严控）"]
    paragraphs = _docx_text(client.get(f"/review/{NOV}/bulletin.docx").data)[0]
    assert "A类（主干道严管）" in paragraphs and "B类（次干道严控）" in paragraphs

    client.post("/lang/en", data={"csrf_token": auth.csrf("/")})
    english = client.get(f"/review/{NOV}/bulletin").get_data(as_text=True)
    assert _class_headings(english) == ["Class A (main roads, strict)", "Class B (secondary roads, controlled)"]
    assert "A类" not in english and "类（" not in english
    assert [c["class"] for c in client.get(f"/review/{NOV}/bulletin.json").get_json()["classes"]] == ["A", "B"]
    assert "A类（主干道严管）" in _docx_text(client.get(f"/review/{NOV}/bulletin.docx").data)[0]


def test_the_bulletin_command_in_english_names_the_classes_in_english(app, reviewer):
    """`gisgrid bulletin --lang en` renders this page (then prints it with Chromium): its class
    headings are English."""
    from gisgrid.web.review import render_bulletin

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        english = render_bulletin(NOV)
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        chinese = render_bulletin(NOV)
    assert _class_headings(english) == ["Class A (main roads, strict)", "Class B (secondary roads, controlled)"]
    assert "A类" not in english
    assert _class_headings(chinese) == ["A类（主干道严管）", "B类（次干道严控）"]
