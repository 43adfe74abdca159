"""Accounts in the web app: log in and out, the UI language, and the role check every
route carries (`role_required`)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..services import OPERATOR, Actor, accounts
from ..store import LANGS, ROLES, Store

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please log in to see this page.")

ROLE_LABELS = {"admin": lazy_gettext("admin"), "planner": lazy_gettext("planner"),
               "inspector": lazy_gettext("inspector"), "reviewer": lazy_gettext("reviewer")}

# Where each role starts; blueprints of other roles register their home here.
ROLE_HOME: dict[str, str] = {}


class Account(UserMixin):
    def __init__(self, row: dict):
        self.id, self.name, self.role, self.lang = row["id"], row["name"], row["role"], row["lang"]
        self.active = row["active"]

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def load_account(user_id: str):
    from . import get_store

    row = get_store().user(id=int(user_id)) if user_id.isdigit() else None
    return Account(row) if row else None


def role_required(*roles: str):
    """Allow the view to logged-in users of these roles (admin always); 403 for the others."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role != "admin" and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def actor() -> Actor:
    """The logged-in account as the use cases take it."""
    return Actor(current_user.id, current_user.name, current_user.role)


def add_account(store: Store, name: str, role: str, password: str | None = None, lang: str = "zh") -> str:
    """Create an account as the installation itself does (first start, tests); returns the password."""
    return accounts.add_account(store, OPERATOR, name, role, password, lang)


def first_accounts(store: Store) -> dict[str, str]:
    """On first start, one account per role with a generated password (printed once)."""
    if store.users():
        return {}
    return {role: add_account(store, role, role) for role in ROLES}


class LoginForm(FlaskForm):
    name = StringField(lazy_gettext("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired()])


class PlainForm(FlaskForm):
    """A form with only its CSRF token (log out, language switch)."""


@bp.route("/login", methods=["GET", "POST"])
def login():
    from . import get_store

    form = LoginForm()
    error = None
    if form.validate_on_submit():
        row = get_store().user(name=form.name.data.strip())
        if row and row["active"] and check_password_hash(row["password_hash"], form.password.data):
            login_user(Account(row))
            target = request.args.get("next", "")
            # Only local paths: never an open redirect.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("auth.home")
            return redirect(target)
        error = gettext("Wrong user name or password.")
    return render_template("auth/login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    if PlainForm().validate_on_submit():
        logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/lang/<lang>")
def set_lang(lang: str):
    from . import get_store

    if lang not in LANGS or not PlainForm().validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        get_store().set_user_lang(current_user.id, lang)
    response = redirect(request.referrer if (request.referrer or "").startswith(request.host_url) else url_for("auth.home"))
    response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure)
    return response


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    endpoint = ROLE_HOME.get(current_user.role)
    if endpoint:
        return redirect(url_for(endpoint))
    return render_template("auth/home.html", roles=ROLES)
