"""The district office's pages (区网格办, the admin role): accounts, the first-run page, the
month's draw and assignment, the audit log. Plain forms: each view reads the form, calls one
use case and renders; a refusal is shown on the page it came from with what was typed kept."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from .. import clock
from ..domain.errors import GisgridError
from ..domain.months import parse_month
from ..reports import office as office_reports
from ..services import accounts as account_work
from ..services import month as month_work
from ..services import rulebooks as rulebook_work
from ..services.policy import ANONYMOUS
from . import get_store, translate
from .auth import ROLE_HOME, actor, role_required

bp = Blueprint("admin", __name__)
ROLE_HOME["admin"] = "admin.index"


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


# first run ------------------------------------------------------------------------------


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """The first administrator's account, while the installation has none: the person sets
    their own password (nothing is printed at start, where it would be lost or read by others)."""
    store = get_store()
    if not account_work.needs_first_admin(store):
        return redirect(url_for("auth.login"))
    error, status = None, 200
    if request.method == "POST":
        try:
            account_work.set_first_admin(store, ANONYMOUS, _field("name"), request.form.get("password", ""),
                                         request.form.get("again", ""))
        except GisgridError as refused:
            error, status = translate(refused), refused.http_status
        else:
            return redirect(url_for("auth.login"))
    return render_template("admin/setup.html", error=error, name=_field("name") or "admin",
                           min_length=account_work.MIN_PASSWORD), status


# the office's home -----------------------------------------------------------------------


@bp.get("/admin/")
@role_required("admin")
def index():
    return redirect(url_for("admin.month", month=clock.month(get_store().timezone())))


# accounts -------------------------------------------------------------------------------


def _accounts_page(error: str | None = None, status: int = 200, shown: dict | None = None, typed: dict | None = None):
    data = office_reports.accounts_data(get_store(), actor())
    return render_template("admin/accounts.html", data=data, error=error, shown=shown, typed=typed or {},
                           min_length=account_work.MIN_PASSWORD), status


@bp.get("/admin/accounts")
@role_required("admin")
def accounts():
    return _accounts_page()


@bp.post("/admin/accounts")
@role_required("admin")
def add_account():
    typed = {"name": _field("name"), "role": _field("role"), "lang": _field("lang") or "zh",
             "towns": request.form.getlist("towns")}
    try:
        password = account_work.add_account(get_store(), actor(), typed["name"], typed["role"],
                                            request.form.get("password") or None, typed["lang"], typed["towns"])
    except GisgridError as refused:
        return _accounts_page(translate(refused), refused.http_status, typed=typed)
    # the password is on this page only: never in a redirect, a cookie or a log
    return _accounts_page(shown={"name": typed["name"], "password": password,
                                 "generated": not request.form.get("password")})


@bp.post("/admin/accounts/change")
@role_required("admin")
def change_account():
    """One change of one account: role, disable/enable, reset password, towns."""
    store, who, name, change = get_store(), actor(), _field("name"), _field("change")
    try:
        if change == "role":
            account_work.set_role(store, who, name, _field("role"))
        elif change in ("disable", "enable"):
            account_work.set_active(store, who, name, change == "enable")
        elif change == "password":
            password = account_work.reset_password(store, who, name, request.form.get("password") or None)
            return _accounts_page(shown={"name": name, "password": password,
                                         "generated": not request.form.get("password")})
        elif change == "towns":
            account_work.set_towns(store, who, name, request.form.getlist("towns"))
        else:
            raise GisgridError("Unknown change {change!r}", change=change)
    except GisgridError as refused:
        return _accounts_page(translate(refused), refused.http_status)
    return redirect(url_for("admin.accounts", _anchor=f"account-{name}"))


# the month ------------------------------------------------------------------------------


def _month_page(month: str, error: str | None = None, status: int = 200, proposal: dict | None = None,
                typed: dict | None = None):
    data = office_reports.month_data(get_store(), actor(), month)
    return render_template("admin/month.html", data=data, error=error, proposal=proposal, typed=typed or {}), status


@bp.get("/admin/month/<month>")
@role_required("admin")
def month(month: str):
    if request.args.get("month"):       # the month picker without script
        return redirect(url_for("admin.month", month=parse_month(request.args["month"])))
    return _month_page(parse_month(month))


@bp.post("/admin/month/<month>/draw")
@role_required("admin")
def draw(month: str):
    month = parse_month(month)
    typed = {"seed": _field("seed"), "reason": _field("reason"), "roads": request.form.getlist("roads"),
             "how": _field("how"), "force": bool(request.form.get("force"))}
    try:
        seed = None
        if typed["seed"]:
            if not typed["seed"].isdigit() or len(typed["seed"]) > 12:
                raise GisgridError("A seed is a whole number of up to 12 digits (got {seed!r})", seed=typed["seed"])
            seed = int(typed["seed"])
        roads = typed["roads"] if typed["how"] == "designate" else ()
        if typed["how"] == "designate" and not roads:
            raise GisgridError("Tick the roads to designate")
        month_work.draw_sample(get_store(), actor(), month, seed=seed, roads=roads, reason=typed["reason"],
                               force=typed["force"])
    except GisgridError as refused:
        return _month_page(month, translate(refused), refused.http_status, typed=typed)
    return redirect(url_for("admin.month", month=month, _anchor="draw"))


@bp.post("/admin/month/<month>/propose")
@role_required("admin")
def propose(month: str):
    """The automatic proposal shown in the assignment table, not written until saved."""
    month = parse_month(month)
    typed = {"inspectors": request.form.getlist("inspectors"), "cross_town": bool(request.form.get("cross_town"))}
    try:
        proposal = month_work.propose_assignment(get_store(), actor(), month, typed["inspectors"],
                                                 cross_town=typed["cross_town"])
    except GisgridError as refused:
        return _month_page(month, translate(refused), refused.http_status, typed=typed)
    return _month_page(month, proposal=proposal, typed=typed)


@bp.post("/admin/month/<month>/assign")
@role_required("admin")
def assign(month: str):
    """The assignment table as the office left it: every road given an inspector."""
    month = parse_month(month)
    given = {key[len("road:"):]: value.strip() for key, value in request.form.items()
             if key.startswith("road:") and value.strip()}
    try:
        if not given:
            raise GisgridError("Choose an inspector for at least one road")
        month_work.assign_by_hand(get_store(), actor(), month, given)
    except GisgridError as refused:
        return _month_page(month, translate(refused), refused.http_status, proposal=given)
    return redirect(url_for("admin.month", month=month, _anchor="assignment"))


@bp.post("/admin/month/<month>/window")
@role_required("admin")
def window(month: str):
    """Close the inspection window after a date (or open it again: an empty date)."""
    month = parse_month(month)
    closes_on = "" if request.form.get("open") else _field("closes_on")
    try:
        if not closes_on and not request.form.get("open"):
            raise GisgridError("Give the date after which no finding is accepted")
        month_work.close_window(get_store(), actor(), month, closes_on or None)
    except GisgridError as refused:
        return _month_page(month, translate(refused), refused.http_status, typed={"closes_on": closes_on})
    return redirect(url_for("admin.month", month=month, _anchor="window"))


# rulebooks ------------------------------------------------------------------------------


def _rulebooks_page(month: str | None, error: str | None = None, status: int = 200, uploaded: dict | None = None):
    data = office_reports.rulebooks_data(get_store(), actor(), month)
    return render_template("admin/rulebooks.html", data=data, error=error, uploaded=uploaded), status


@bp.get("/admin/rulebooks")
@role_required("admin")
def rulebooks():
    return _rulebooks_page(request.args.get("month") or None)


@bp.post("/admin/rulebooks")
@role_required("admin")
def upload_rulebook():
    upload = request.files.get("rulebook")
    try:
        if upload is None or not upload.filename:
            raise GisgridError("Choose a rulebook file (TOML) to upload")
        done = rulebook_work.upload(get_store(), actor(), upload.filename, upload.read(rulebook_work.MAX_BYTES + 1))
    except GisgridError as refused:
        return _rulebooks_page(request.form.get("month") or None, translate(refused), refused.http_status)
    return _rulebooks_page(done["effective_from"], uploaded=done)


# the audit log --------------------------------------------------------------------------


@bp.get("/admin/audit")
@role_required("admin")
def audit_log():
    data = office_reports.audit_data(get_store(), actor(), request.args.get("who"), request.args.get("what"),
                                     request.args.get("month"))
    return render_template("admin/audit.html", data=data)


@bp.app_context_processor
def office_links():
    """Whether the navigation shows the office's pages (an admin's session)."""
    return {"office_nav": bool(getattr(current_user, "is_authenticated", False) and current_user.role == "admin")}
