"""The reviewer in Chromium on the demo district: the month map (hover and click equal the
core's scores), a grid with its pins and a photo, publishing, a refused edit, re-opening with
a reason, the bulletin as an A4 PDF, and the XLSX export."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from gisgrid.services import office
from gisgrid.services.demo import load_demo
from gisgrid.domain.errors import Conflict
from gisgrid.reports import scores
from gisgrid.services import Actor, findings
from gisgrid.storage import inspections
from gisgrid.web.auth import add_account

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def quiet(_message):
    pass


@pytest.fixture
def demo(tablet):
    """The demo district loaded, a reviewer logged in; returns (month, the core's month document)."""
    store = tablet.server.store
    month = load_demo(store, log=quiet)
    tablet.login("office1", add_account(store, "office1", "reviewer"))
    return month, scores.month_json(store, month)


def add_photo(server, finding_id: int) -> int:
    """A photo on a finding, stored as the inspector's upload stores it."""
    image = Image.new("RGB", (640, 480), (200, 60, 40))
    raw = io.BytesIO()
    image.save(raw, "JPEG")
    settings = server.app.extensions["gisgrid.settings"]
    photo, _ = findings.add_photo(server.store, Actor(None, "office", "admin"), settings.photo_dir, finding_id, "p1",
                                  raw.getvalue(), 10 * 1024 * 1024, 3)
    photo_id = photo["id"]
    return photo_id


def test_month_map_hover_and_click_equal_the_core(tablet, demo):
    month, core = demo
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    page.wait_for_selector(".folium-map[data-drawn]")
    assert page.locator(".leaflet-overlay-pane path[data-code]").count() == len(core["grids"])
    worst = [g for g in core["grids"] if g["score"] is not None][-1]
    page.locator(f'path[data-code="{worst["code"]}"]').hover(force=True)
    tip = page.locator(".leaflet-tooltip").inner_text()
    assert worst["name"] in tip and f'{worst["score"]:.2f}' in tip and f'排名 {worst["rank"]}' in tip
    page.locator(f'path[data-code="{worst["code"]}"]').click(force=True)
    detail = page.locator(f'#grid-detail[data-code="{worst["code"]}"]')
    detail.wait_for()
    for road in worst["roads"]:
        shown = detail.locator(f'li[data-road="{road["code"]}"]')
        assert shown.locator(".road-score").inner_text() == f'{road["score"]:.2f}'
        lost = [float(t) for t in shown.locator("li[data-section] .points").all_inner_texts()]
        assert sum(lost) == pytest.approx(road["deductions"]) and len(lost) == len(
            {code.split(".")[0] for code in road["by_rule"]})
    assert page.locator(f'#ranking tr.selected[data-code="{worst["code"]}"]').count() == 1
    unassessed = [g for g in core["grids"] if g["score"] is None]
    for grid in unassessed:
        assert page.locator(f'path[data-code="{grid["code"]}"]').get_attribute("fill") == "#bdbdbd"
    tablet.screenshot("review-month.png")
    assert tablet.offsite() == []


def test_month_map_labels_sit_centred_on_their_grids_label_points(tablet, demo):
    """Each grid's name on the month map is centred on the point it is placed at (not hung
    down-right of it from its top-left corner), on one line."""
    month, core = demo
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    page.wait_for_selector(".folium-map[data-drawn]")
    tablet.until("(n) => document.querySelectorAll('.grid-label[data-code]').length === n"
                 " && Object.values(window.gisgridMaps).every((map) => !map._animatingZoom)", len(core["grids"]))
    labels = page.evaluate("""() => {
      const out = [];
      for (const map of Object.values(window.gisgridMaps)) {
        const frame = map.getContainer().getBoundingClientRect();
        map.eachLayer((layer) => {
          const icon = layer instanceof L.Marker && layer.getElement();
          if (!icon || !icon.dataset.code) return;
          const text = icon.querySelector('.grid-label-text');
          const box = text.getBoundingClientRect();
          const point = map.latLngToContainerPoint(layer.getLatLng());
          out.push({code: icon.dataset.code, text: text.textContent,
                    dx: box.left + box.width / 2 - frame.left - point.x,
                    dy: box.top + box.height / 2 - frame.top - point.y,
                    width: box.width, height: box.height, lines: text.getClientRects().length,
                    size: parseFloat(getComputedStyle(text).fontSize)});
        });
      }
      return out;
    }""")
    assert sorted(label["code"] for label in labels) == sorted(g["code"] for g in core["grids"])
    for label in labels:
        assert label["width"] > 10 and label["text"], label
        assert abs(label["dx"]) <= 2 and abs(label["dy"]) <= 2, label
        assert label["lines"] == 1 and label["height"] < 2 * label["size"], label   # not wrapped


def test_grid_page_pins_findings_and_opens_a_photo(tablet, demo):
    month, core = demo
    server = tablet.server
    worst = [g for g in core["grids"] if g["score"] is not None][-1]
    road = worst["roads"][0]["code"]
    finding = inspections.road_findings(server.store, month, road)[0]
    add_photo(server, finding["id"])
    page = tablet.page
    page.goto(f"{server.url}/review/{month}/grid/{worst['code']}")
    page.wait_for_selector(".leaflet-marker-icon, .leaflet-overlay-pane path.leaflet-interactive")
    # every finding of the grid's roads is pinned: single pins plus the counts on clusters
    pins = page.locator(".leaflet-overlay-pane path").count()
    clustered = sum(int(t) for t in page.locator(".marker-cluster span").all_inner_texts())
    findings = page.locator("#findings tbody tr[data-finding]").count()
    assert findings >= 1 and clustered + pins >= findings
    thumb = page.locator(f'#findings tr[data-finding="{finding["id"]}"] img.thumb')
    thumb.scroll_into_view_if_needed()         # loaded lazily: once it is in view
    tablet.until(f"(() => {{ const img = document.querySelector('#findings tr[data-finding=\"{finding['id']}\"] img.thumb');"
                 " return img.complete && img.naturalWidth > 0; })()")
    with page.context.expect_page() as opened:
        thumb.click()
    photo = opened.value
    photo.wait_for_load_state()
    assert photo.url.endswith("/api/photos/1")
    tablet.screenshot("review-grid.png")
    assert tablet.offsite() == []


def test_publish_refused_edit_reopen_and_audit(tablet, demo):
    month, _core = demo
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    page.click("#publish-form button")
    page.wait_for_selector("#reopen-form")
    assert page.locator("#month-state").inner_text() == "已发布"
    with pytest.raises(Conflict):
        office.record_findings(tablet.server.store, [({"id": "late", "rule": "5.1", "observed_at": f"{month}-20T10:00"},
                                                      114.03, 33.59)])
    page.fill("#reopen-form input[name=reason]", "补录遗漏的问题")
    page.click("#reopen-form button")
    page.wait_for_selector("#publish-form")
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert len(rows) == 2 and "office1" in rows[1] and "补录遗漏的问题" in rows[1]
    tablet.screenshot("review-audit.png")


def test_bulletin_pdf_has_the_ranking_on_page_one(tablet, demo, chromium, tmp_path):
    from gisgrid.web.review import bulletin_pdf

    month, core = demo
    pdf = tmp_path / "bulletin.pdf"
    assert bulletin_pdf(tablet.server.app, month, pdf, browser=chromium) > 10_000
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "A4" in info
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "排名" in text and f"{month[:4]}年{int(month[5:])}月" in text
    assert core["grids"][0]["name"] in text
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(ARTIFACTS / "review-bulletin")], check=True)
    assert (ARTIFACTS / "review-bulletin.png").stat().st_size > 10_000


def test_bulletin_pdf_in_english_names_the_classes_in_english(tablet, demo, chromium, tmp_path):
    """What `gisgrid bulletin --lang en --pdf` writes: the class headings in English."""
    from gisgrid.web.review import bulletin_pdf

    month, core = demo
    pdf = tmp_path / "bulletin-en.pdf"
    bulletin_pdf(tablet.server.app, month, pdf, lang="en", browser=chromium)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert {g["class"] for g in core["grids"]} == {"A", "B", "C"}
    for name in ("Class A (main roads, strict)", "Class B (secondary roads, controlled)",
                 "Class C (back streets and alleys, regulated)"):
        assert name in text
    assert "A类" not in text and "类（" not in text


def test_xlsx_download_opens_in_openpyxl(tablet, demo, tmp_path):
    from openpyxl import load_workbook

    month, core = demo
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    with page.expect_download() as download:
        page.click("text=XLSX")
    assert download.value.suggested_filename == f"scores-{month}.xlsx"
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    book = load_workbook(saved)
    grids = list(book["网格得分"].values)
    assert grids[0][:4] == ("月份", "排名", "网格编码", "网格名称")
    assert {(r[2], r[6]) for r in grids[1:]} == {(g["code"], g["score"]) for g in core["grids"]}


def test_scale_benchmark_runs_on_a_small_city(chromium):
    """The benchmark's machinery on 200 grids (figures are printed by `python -m gisgrid.bench_review`)."""
    from gisgrid.bench_review import run_review_bench

    figures = run_review_bench((200,), log=quiet, browser=chromium)["200_grids"]
    assert figures["ours"]["svg_paths"] == figures["folium_plain_geojson"]["svg_paths"] == 200
    assert figures["ours"]["bytes"] < figures["folium_plain_geojson"]["bytes"]


def test_bulletin_command_writes_a_pdf_without_a_server(tmp_path):
    """`gisgrid bulletin YYYY-MM --pdf PATH` in its own process (it drives its own Chromium)."""
    import os
    import sys

    from fixtures import finding, small_district

    from gisgrid.storage import Store

    grids, roads = small_district()
    grids.to_file(tmp_path / "grids.geojson")
    roads.to_file(tmp_path / "roads.geojson")
    store = Store(str(tmp_path / "gisgrid.sqlite"))
    store.migrate()
    office.import_layer(store, "grids", tmp_path / "grids.geojson")
    office.import_layer(store, "roads", tmp_path / "roads.geojson")
    office.sample_month(store, "2026-11", seed=1)
    office.record_findings(store, [finding("n1", 114.035, 33.5951, "5.1")])
    store.dispose()
    env = {**os.environ, "GISGRID_INSTANCE_PATH": str(tmp_path / "instance")}
    command = [sys.executable, "-m", "gisgrid", "--db", str(tmp_path / "gisgrid.sqlite"), "bulletin", "2026-11",
               "--pdf", str(tmp_path / "b.pdf")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "b.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "关于2026年11月份网格化管理考核情况的通报" in text.replace(" ", "") and "沙北街道第1网格" in text and "97.50" in text
    bad = subprocess.run(command[:5] + ["2026-13", "--pdf", str(tmp_path / "c.pdf")], capture_output=True, text=True,
                         env=env, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _shown(value) -> str:
    from fractions import Fraction

    from gisgrid.domain.scoring import as_points

    return "—" if value is None else f"{as_points(Fraction(str(value))):.2f}"


def test_dashboard_tiles_and_a_sorted_filtered_ranking_equal_the_core(tablet, demo):
    from fractions import Fraction

    from gisgrid.domain.scoring import mean

    month, core = demo
    page = tablet.page
    page.goto(f"{tablet.server.url}/review/{month}")
    page.wait_for_selector(".folium-map[data-drawn]")
    assessed = [g for g in core["grids"] if g["score"] is not None]
    tile = lambda name: page.locator(f'[data-tile="{name}"] .tile-value').inner_text().strip()  # noqa: E731
    assert tile("assessed") == str(len(assessed))
    assert tile("mean") == _shown(float(mean([Fraction(str(g["score"])) for g in assessed])))
    lowest = min(assessed, key=lambda g: (g["score"], g["code"]))
    assert tile("lowest") == _shown(lowest["score"])
    assert page.locator('[data-tile="lowest"] a').get_attribute("data-code") == lowest["code"]
    lost = sum(d for g in core["grids"] for r in g["roads"] for d in r["by_rule"].values())
    assert float(tile("lost")) == pytest.approx(lost)
    assert tile("rectification") == "—"
    # a metric scale bar only, and the grids named on the map
    scale = page.locator(".leaflet-control-scale-line")
    assert scale.count() == 1 and scale.inner_text().strip().endswith(("m", "km")) and "ft" not in scale.inner_text()
    tablet.until("(n) => document.querySelectorAll('.grid-label[data-code]').length === n", len(core["grids"]))

    town = core["towns"][-1]["town"]
    page.select_option("#ranking-filter select[name=town]", town)
    page.wait_for_url(f"**town=*")
    page.select_option("#ranking-filter select[name=class]", "B")
    page.wait_for_url(f"**class=B*")
    page.click('#ranking a[data-sort="score"]')
    page.wait_for_url("**sort=score*")
    wanted = sorted((g for g in core["grids"] if g["town"] == town and g["class"] == "B"),
                    key=lambda g: (g["score"] is None, g["score"] or 0, g["code"]))
    assert wanted, "the demo has class B grids in every town"
    rows = page.locator("#ranking tbody tr")
    shown = [(rows.nth(i).get_attribute("data-code"), rows.nth(i).locator("td.score").inner_text().strip())
             for i in range(rows.count())]
    assert shown == [(g["code"], _shown(g["score"]) if g["score"] is not None else "未考核") for g in wanted]
    # highest first on a second click, still filtered
    page.click('#ranking a[data-sort="score"]')
    page.wait_for_url("**sort=-score*")
    first = page.locator("#ranking tbody tr").first.get_attribute("data-code")
    assert first == sorted(wanted, key=lambda g: (g["score"] is None, -(g["score"] or 0), g["code"]))[0]["code"]
    tablet.screenshot("review-dashboard.png")
    page.click(f'#ranking tr[data-code="{first}"] a')
    page.wait_for_url(f"**/grid/{first}")
