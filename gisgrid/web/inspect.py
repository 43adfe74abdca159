"""The inspector's pages: my roads this month, a road's map where findings are pinned, and
the service worker that keeps both working with no network."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_from_directory
from flask_login import current_user

from .. import clock
from ..domain.months import parse_month
from . import get_settings, get_store
from ..reports import inspection
from .api import READERS
from .auth import ROLE_HOME, actor, role_required

bp = Blueprint("inspect", __name__)
# photos are shrunk on the tablet before they are queued: the long side in pixels and the size
# each is brought under (a 12-megapixel photo goes as one of a few hundred KB on a weak upload)
PHOTO_LONG_SIDE, PHOTO_TARGET_BYTES = 1920, 500_000
ROLE_HOME["inspector"] = "inspect.roads"


@bp.get("/inspect/")
@role_required(*READERS)
def roads():
    month = parse_month(request.args.get("month") or clock.month(get_store().timezone()))
    return render_template("inspect/roads.html", data=inspection.roads_data(get_store(), actor(), month))


@bp.get("/inspect/<month>/<code>")
@role_required(*READERS)
def road(month: str, code: str):
    month = parse_month(month)
    # what the tablet checks before sending comes from here, not from road.js: the rulebook in
    # force for the month (kinds, area threshold) and the installation's photo limit
    return render_template("inspect/road.html", data=inspection.road_data(get_store(), actor(), month, code),
                           rulebook=inspection.rulebook_data(get_store(), month, current_user.lang),
                           photos_per_finding=get_settings()["PHOTOS_PER_FINDING"],
                           photo_long_side=PHOTO_LONG_SIDE,
                           photo_max_bytes=min(PHOTO_TARGET_BYTES, get_settings()["PHOTO_MAX_BYTES"]))


@bp.get("/sw.js")
def service_worker():
    # Served from the root so that its scope covers every page; never cached itself.
    response = send_from_directory(current_app.static_folder, "js/sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
