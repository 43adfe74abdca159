"""The reviewer's pages: the month on a map, rankings, a grid, the year, publishing, the
bulletin and exports. Every page has a JSON twin (`….json`) built from the same data."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from .. import clock
from ..render import maps as review
from ..domain import grid_classes
from ..domain.errors import GisgridError
from ..domain.months import parse_month, parse_year
from ..reports import assessment
from ..reports import bulletin as bulletin_data
from ..render import bulletin_docx as word
from ..services import month as month_work
from . import get_store, shown_time, tile_layer, wants_json
from .auth import ROLE_HOME, actor, role_required
from .requests import json_object, text

bp = Blueprint("review", __name__)
ROLE_HOME["reviewer"] = "review.index"
ROWS_PER_PAGE = 200


def _static() -> str:
    return url_for("static", filename="").rstrip("/")


def _map_labels() -> dict:
    return {"score": gettext("Score"), "rank": gettext("Rank"), "unassessed": gettext("Not assessed"),
            "sampled": gettext("sampled"), "count": gettext("Count"), "points": gettext("Deduction"),
            "not_scored": gettext("not sampled, not scored"), "photo": gettext("Photo")}


def _month_map(report: dict, map_id: str) -> dict:
    layer = review.light_layer(review.store_grids_encoded(get_store()), report)
    m = review.month_map(layer, _static(), tile_layer(current_app.config),
                         {"labels": _map_labels(), "id": map_id, "month": report["month"]})
    return review.map_parts(m)


@bp.get("/review/")
@role_required("reviewer")
def index():
    store = get_store()
    drawn = store.months_drawn()
    month = clock.month(store.timezone())
    return redirect(url_for("review.month", month=month if month in drawn or not drawn else drawn[-1]))


# the month ----------------------------------------------------------------------------


@bp.get("/review/<month>.json")
@role_required("reviewer")
def month_json(month: str):
    store = get_store()
    report = assessment.month_report(store, month)
    report["audit"] = assessment.audit_report(store, month)
    if request.args.get("grid"):
        # one grid's line (what a click on the map shows): a city's month is megabytes
        report["grids"] = [g for g in report["grids"] if g["code"] == request.args["grid"]]
    return jsonify(report)


@bp.get("/review/<month>")
@role_required("reviewer")
def month(month: str):
    if wants_json():
        return month_json(month)
    store = get_store()
    report = assessment.month_report(store, month)
    maps = [_month_map(report, "main")]
    compare = request.args.get("compare")
    compared = None
    if compare:
        compared = assessment.month_report(store, parse_month(compare))
        maps.append(_month_map(compared, "compare"))
    filters = {"town": request.args.get("town") or None, "grid_class": request.args.get("class") or None,
               "sort": request.args.get("sort") if request.args.get("sort") in assessment.SORTS else "rank"}
    ranked = assessment.ranking(report, **filters)
    page = max(1, request.args.get("page", 1, type=int))
    pages = max(1, -(-len(ranked) // ROWS_PER_PAGE))
    page = min(page, pages)
    return render_template("review/month.html", data=report, maps=maps, compared=compared,
                           rows=ranked[(page - 1) * ROWS_PER_PAGE:page * ROWS_PER_PAGE], page=page, pages=pages,
                           total=len(ranked),
                           audit=assessment.audit_report(store, report["month"]), legend=review.legend(),
                           months=store.months_drawn(), filters=filters, sorts=list(assessment.SORTS),
                           classes=grid_classes.CODES)


@bp.post("/review/<month>/publish")
@role_required("reviewer")
def publish(month: str):
    state = month_work.publish(get_store(), actor(), month)
    if wants_json():
        return jsonify(state={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in state.items()
                              if k != "scores"})
    return redirect(url_for("review.month", month=parse_month(month)))


@bp.post("/review/<month>/reopen")
@role_required("reviewer")
def reopen(month: str):
    reason = request.form.get("reason") if request.form else text(json_object(required=False), "reason")
    state = month_work.reopen(get_store(), actor(), month, reason)
    if wants_json():
        return jsonify(state={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in state.items()
                              if k != "scores"})
    return redirect(url_for("review.month", month=parse_month(month)))


# a grid -------------------------------------------------------------------------------


@bp.get("/review/<month>/grid/<code>.json")
@role_required("reviewer")
def grid_json(month: str, code: str):
    return jsonify(assessment.grid_report(get_store(), month, code))


@bp.get("/review/<month>/grid/<code>")
@role_required("reviewer")
def grid(month: str, code: str):
    if wants_json():
        return grid_json(month, code)
    report = assessment.grid_report(get_store(), month, code)
    labels = _map_labels()
    m = review.grid_map(report, _static(), tile_layer(current_app.config), labels, shown_time)
    return render_template("review/grid.html", data=report, map=review.map_parts(m))


# the year -----------------------------------------------------------------------------


def _year(year: str) -> dict:
    published_only = request.args.get("all") != "1"
    return assessment.year_report(get_store(), parse_year(year), published_only=published_only)


@bp.get("/review/year/<year>.json")
@role_required("reviewer")
def year_json(year: str):
    return jsonify(_year(year))


@bp.get("/review/year/<year>")
@role_required("reviewer")
def year(year: str):
    if wants_json():
        return year_json(year)
    data = _year(year)
    return render_template("review/year.html", data=data, charts=review.year_charts(data))


# the bulletin and exports -------------------------------------------------------------


def _bulletin_data(period: str, number: str | None = None, remarks=None, issued=None) -> dict:
    """A month's bulletin (YYYY-MM) or the year-end one (YYYY)."""
    store = get_store()
    if len(str(period)) == 4:
        return bulletin_data.year_bulletin(store, period, number=number, remarks=remarks, issued=issued)
    data = bulletin_data.month_bulletin(store, parse_month(period), number=number, remarks=remarks, issued=issued)
    data.update(map=review.svg_map(store, data["report"]), legend=review.legend())
    return data


def _without_report(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "report"}


def _photo_bytes(who, missing: list | None = None):
    """A bulletin photo's thumbnail bytes, for `who` (the reviewer on the web; the office on the
    command line, who may see every photo of it); None when the file is gone (its path added to
    `missing`)."""
    from ..reports import inspection
    from .api import photo_folder

    store = get_store()

    def read(photo: dict) -> bytes | None:
        path = photo_folder() / inspection.photo_file(store, who, photo["id"], thumb=True)
        if path.is_file():
            return path.read_bytes()
        if missing is not None:
            missing.append(str(path))
        return None

    return read


@bp.get("/review/<month>/bulletin.json")
@role_required("reviewer")
def bulletin_json(month: str):
    return jsonify({**_without_report(_bulletin_data(month)), "legend": review.legend()})


@bp.get("/review/<month>/bulletin")
@role_required("reviewer")
def bulletin(month: str):
    if wants_json():
        return bulletin_json(month)
    return render_bulletin(month)


@bp.get("/review/year/<year>/bulletin")
@role_required("reviewer")
def year_bulletin(year: str):
    if wants_json():
        return jsonify(_without_report(_bulletin_data(str(parse_year(year)))))
    return render_bulletin(str(parse_year(year)))


@bp.get("/review/<month>/bulletin.docx")
@role_required("reviewer")
def bulletin_docx(month: str):
    return _docx_response(parse_month(month), actor())


@bp.get("/review/year/<year>/bulletin.docx")
@role_required("reviewer")
def year_bulletin_docx(year: str):
    return _docx_response(str(parse_year(year)), actor())


def _docx_response(period: str, who) -> Response:
    body = word.bulletin_docx(_bulletin_data(period), _photo_bytes(who))
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="bulletin-{period}.docx"'})


def render_bulletin(period: str, inline_photos: bool = False, missing: list | None = None, **options) -> str:
    """The bulletin page, self-contained but for photos (inlined too when asked: the PDF
    command renders it with no server to fetch them from; a photo whose file is not found is
    left out, its path added to `missing`, rather than drawn broken)."""
    import base64

    from ..services import OPERATOR

    data = _bulletin_data(period, **options)
    read = _photo_bytes(OPERATOR, missing)

    def photo_src(photo: dict) -> str | None:
        if not inline_photos:
            return photo["thumb"]
        raw = read(photo)
        return "data:image/jpeg;base64," + base64.b64encode(raw).decode("ascii") if raw else None

    css = (Path(current_app.static_folder) / "css" / "review.css").read_text(encoding="utf-8")
    docx_url = url_for("review.bulletin_docx", month=period) if data["kind"] == "month" else None
    return render_template("review/bulletin.html", data=data, css=css, photo_src=photo_src, docx_url=docx_url)


def bulletin_pdf(app, period: str, path, lang: str = "zh", browser=None, missing: list | None = None,
                 **options) -> int:
    """Write a month's (YYYY-MM) or the year's (YYYY) bulletin as an A4 PDF with headless
    Chromium, page numbers in the footer; returns its size in bytes. `options`: number,
    remarks, issued (reports/bulletin.py); `missing` gathers the photos not found."""
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        html = render_bulletin(_period(period), inline_photos=True, missing=missing, **options)
    return review.html_to_pdf(html, path, browser, app.config["CHROMIUM"])


def bulletin_docx_file(app, period: str, path, missing: list | None = None, **options) -> int:
    """Write the bulletin as DOCX (for Word or WPS); returns its size in bytes."""
    from ..services import OPERATOR

    with app.test_request_context("/"):
        body = word.bulletin_docx(_bulletin_data(_period(period), **options), _photo_bytes(OPERATOR, missing))
    Path(path).write_bytes(body)
    return len(body)


def _period(text: str) -> str:
    text = str(text).strip()
    return str(parse_year(text)) if len(text) == 4 else parse_month(text)


@bp.get("/review/<month>/scores.xlsx")
@role_required("reviewer")
def export_xlsx(month: str):
    month = parse_month(month)
    return Response(assessment.xlsx_bytes(get_store(), month),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="scores-{month}.xlsx"'})


@bp.get("/review/<month>/<level>.csv")
@role_required("reviewer")
def export_csv(month: str, level: str):
    month = parse_month(month)
    if level not in assessment.LEVELS:
        raise GisgridError("Can export {choices}, not {what!r}", choices=", ".join(assessment.LEVELS), what=level)
    headers, rows = assessment.export_rows(get_store(), month, level)
    return Response(assessment.csv_bytes(headers, rows), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{level}-{month}.csv"'})
