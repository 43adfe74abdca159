"""Rectification's pages and API: the office issues notices (typed, or from findings) and reads
the month's case loop; a notice's page (and its A4 PDF); the town office's notices, received
and reported fixed with an after-photo; the inspector's re-inspection tasks on the tablet
(written through the outbox like every tablet write)."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template, request, send_file,
                   url_for)

from .. import clock
from ..domain import rectification as rules
from ..domain.errors import GisgridError
from ..domain.months import parse_month
from ..reports import rectification as pages
from ..render import maps
from ..services import OPERATOR
from ..services import notice_import
from ..services import rectification as work
from ..storage import notices as stored_notices
from . import get_settings, get_store, translate, translated
from .api import client_id_of, sent_photo
from .auth import ROLE_HOME, actor, role_required
from .requests import json_object, text

bp = Blueprint("notices", __name__)
ROLE_HOME["town"] = "notices.town"
VIEWERS = ("reviewer", "town", "inspector", "planner")


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


# the office ---------------------------------------------------------------------------


def _office_page(month: str, error: str | None = None, status: int = 200, typed: dict | None = None,
                 imported: dict | None = None):
    store = get_store()
    data = pages.month_page(store, actor(), month)
    findings = [int(f) for f in request.values.getlist("finding") if f.isdigit()]
    typed = typed or {"grid": request.args.get("grid", ""), "findings": findings, "rule": rules.DEFAULT_RULE,
                      "issued": clock.today(store.timezone()).isoformat(), "deadline": "", "items": ""}
    return render_template("notices/office.html", data=data, error=error, typed=typed, imported=imported,
                           grids=sorted(store.grid_details()), rule_codes=rules.NOTICE_RULES), status


@bp.get("/office/notices")
@role_required("admin")
def office():
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    return _office_page(month)


@bp.post("/office/notices")
@role_required("admin")
def issue():
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    findings = [f for f in request.form.getlist("finding") if f.strip()]
    typed = {"grid": _field("grid"), "findings": [int(f) for f in findings if f.isdigit()], "rule": _field("rule"),
             "issued": _field("issued"), "deadline": _field("deadline"), "items": request.form.get("items", "")}
    lines = [line.strip() for line in typed["items"].splitlines() if line.strip()]
    try:
        if not typed["deadline"]:
            raise GisgridError("Give the notice's deadline")
        items = [{"finding": f} for f in findings] + [{"text": line} for line in lines]
        notice = work.issue(get_store(), actor(), typed["grid"], typed["deadline"], items, rule=typed["rule"] or None,
                            issued=typed["issued"] or None)
    except GisgridError as refused:
        return _office_page(month, translate(refused), refused.http_status, typed)
    return redirect(url_for("notices.notice", notice_id=int(notice["notice"])))


def _uploads():
    from ..storage.uploads import Uploads

    return Uploads(get_settings().upload_dir, store=get_store())


@bp.post("/office/notices/import")
@role_required("admin")
def import_preview():
    """A CSV or XLSX of notices kept in Excel: what it would add, what is stored already, what
    the file must correct first; nothing is written until the office confirms."""
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise GisgridError("Choose the CSV or XLSX file of notices")
        token = _uploads().save(upload.stream, upload.filename, actor().name, notice_import.MAX_BYTES, tables=True)
        planned = notice_import.plan(get_store(), actor(), _uploads().path(token, actor().name))
    except GisgridError as refused:
        return _office_page(month, translate(refused), refused.http_status)
    errors = [{"row": e["row"], "message": translated(e["template"], e["params"])} for e in planned.errors]
    return render_template("notices/import.html", plan=planned, errors=errors, token=token, month=month,
                           filename=upload.filename)


@bp.post("/office/notices/import/<token>")
@role_required("admin")
def import_write(token: str):
    """Write what the preview showed, planned again from the same file (a number stored in
    between is compared again, never overwritten)."""
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    uploads = _uploads()
    try:
        planned = notice_import.plan(get_store(), actor(), uploads.path(token, actor().name))
        written = notice_import.write(get_store(), actor(), planned)
    except GisgridError as refused:
        return _office_page(month, translate(refused), refused.http_status)
    uploads.discard(token)
    return _office_page(month, imported={"added": written, "unchanged": len(planned.unchanged),
                                         "conflicts": len(planned.conflicts)})


# a notice -----------------------------------------------------------------------------


def _notice_page(notice_id: int, error: str | None = None, status: int = 200, done: int | None = None):
    data = pages.notice_page(get_store(), actor(), notice_id)
    return render_template("notices/notice.html", data=data, error=error, done=done,
                           today=clock.today(get_store().timezone()).isoformat()), status


@bp.get("/notices/<id:notice_id>")
@role_required(*VIEWERS)
def notice(notice_id: int):
    return _notice_page(notice_id)


@bp.get("/notices/<id:notice_id>.pdf")
@role_required("reviewer", "town")
def notice_pdf(notice_id: int):
    from tempfile import TemporaryDirectory

    pages.notice_page(get_store(), actor(), notice_id)          # the policy: whose notice
    with TemporaryDirectory() as folder:
        path = Path(folder) / "notice.pdf"
        maps.html_to_pdf(render_printable(notice_id), path, None, current_app.config["CHROMIUM"])
        body = path.read_bytes()
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="notice-{notice_id}.pdf"'})


def render_printable(ref) -> str:
    """The notice as a self-contained A4 page: its head and number, the grid, the items with
    their photos (inlined), a map of the grid with the items' places, the deadline."""
    import base64

    store = get_store()
    data = pages.notice_page(store, OPERATOR, ref)
    folder = get_settings().photo_dir

    def photo_src(photo_id: int) -> str:
        photo = stored_notices.photo(store, photo_id)
        return "data:image/jpeg;base64," + base64.b64encode((folder / photo["thumb"]).read_bytes()).decode("ascii")

    finding_photos = {i["item"]: _finding_photos(store, i["finding"]) for i in data["items"] if i["finding"]}
    css = (Path(current_app.static_folder) / "css" / "review.css").read_text(encoding="utf-8")
    return render_template("notices/printable.html", data=data, css=css, photo_src=photo_src,
                           finding_photos=finding_photos, office=get_settings()["BULLETIN_OFFICE"],
                           sketch=maps.notice_sketch(*stored_notices.grid_shapes(store, data["grid"]), data))


def _finding_photos(store, finding_id: int) -> list[str]:
    """The finding's photos as data URIs (the printable page has no server to fetch them from)."""
    import base64

    from ..storage import inspections

    folder = get_settings().photo_dir
    out = []
    for photo_id in inspections.finding(store, id=finding_id)["photos"]:
        path = folder / inspections.photo(store, photo_id)["thumb"]
        if path.is_file():
            out.append("data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii"))
    return out


def notice_pdf_file(app, ref, path) -> int:
    """Write a notice as an A4 PDF with headless Chromium (the command line's `notice pdf`)."""
    with app.test_request_context("/"):
        html = render_printable(ref)
    return maps.html_to_pdf(html, path, None, app.config["CHROMIUM"])


@bp.get("/notices/photos/<id:photo_id>")
@bp.get("/notices/photos/<id:photo_id>/<any(thumb):size>")
@role_required(*VIEWERS)
def photo(photo_id: int, size: str | None = None):
    row = work.view_photo(get_store(), actor(), photo_id)
    response = send_file(get_settings().photo_dir / row["thumb" if size else "file"], mimetype="image/jpeg",
                         max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# the town office ----------------------------------------------------------------------


@bp.get("/town/")
@role_required("town")
def town():
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    return render_template("notices/town.html", data=pages.town_page(get_store(), actor(), month))


@bp.post("/notices/<id:notice_id>/receive")
@role_required("town")
def receive(notice_id: int):
    work.receive(get_store(), actor(), notice_id)
    return redirect(url_for("notices.notice", notice_id=notice_id))


@bp.post("/notices/<id:notice_id>/items/<id:item>/report")
@role_required("town")
def report(notice_id: int, item: int):
    """The town office's report of a fix: the date, a note and an after-photo, in that order
    (the photo is stored once the report stands)."""
    store, who = get_store(), actor()
    upload = request.files.get("photo")
    try:
        work.report_fixed(store, who, notice_id, item, _field("on"), note=_field("note"))
        if upload is not None and upload.filename:
            config = current_app.config
            work.add_photo(store, who, get_settings().photo_dir, notice_id, item, "report", uuid.uuid4().hex,
                           upload.read(), config["PHOTO_MAX_BYTES"], config["PHOTOS_PER_FINDING"])
    except GisgridError as refused:
        return _notice_page(notice_id, translate(refused), refused.http_status)
    return _notice_page(notice_id, done=item)


# the inspector's re-inspections (the tablet) -----------------------------------------------


@bp.get("/inspect/rechecks")
@role_required("inspector")
def rechecks():
    from .inspect import PHOTO_LONG_SIDE, PHOTO_TARGET_BYTES

    store = get_store()
    return render_template("notices/rechecks.html", data=_tasks(store),
                           photo_long_side=PHOTO_LONG_SIDE,
                           photo_max_bytes=min(PHOTO_TARGET_BYTES, get_settings()["PHOTO_MAX_BYTES"]))


def _tasks(store) -> dict:
    return {"as_of": clock.now().isoformat(), "today": clock.today(store.timezone()).isoformat(),
            "tasks": work.tasks(store, actor())}


@bp.get("/api/rechecks")
@role_required("inspector")
def api_rechecks():
    return jsonify(_tasks(get_store()))


@bp.post("/api/notices/<id:notice_id>/items/<id:item>/check")
@role_required("inspector")
def api_check(notice_id: int, item: int):
    data = json_object()
    fixed = data.get("fixed")
    if not isinstance(fixed, bool):
        raise GisgridError("Say whether the item is fixed (fixed: true or false)")
    satisfaction = data.get("satisfaction")
    document = work.check(get_store(), actor(), notice_id, item, fixed=fixed, on=text(data, "on") or "",
                          note=text(data, "note"), satisfaction=satisfaction, client_id=client_id_of(data))
    return jsonify(document)


@bp.post("/api/notices/<id:notice_id>/items/<id:item>/photos")
@role_required("inspector")
def api_photo(notice_id: int, item: int):
    client_id, data = sent_photo()
    config = current_app.config
    row, created = work.add_photo(get_store(), actor(), get_settings().photo_dir, notice_id, item, "check", client_id,
                                  data, config["PHOTO_MAX_BYTES"], config["PHOTOS_PER_FINDING"])
    return jsonify(id=row["id"], created=created), 201 if created else 200
