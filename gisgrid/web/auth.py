"""Accounts in the web app: log in and out, sessions kept in the database, the login throttle,
changing one's password, the UI language, and the role check every route carries
(`role_required`)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..domain.errors import GisgridError
from ..services import OPERATOR, Actor
from ..services import accounts as account_work
from ..storage import LANGS, ROLES, Store

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please log in to see this page.")

ROLE_LABELS = {"admin": lazy_gettext("admin"), "planner": lazy_gettext("planner"),
               "inspector": lazy_gettext("inspector"), "reviewer": lazy_gettext("reviewer"), "town": lazy_gettext("town office")}

# Where each role starts; blueprints of other roles register their home here.
ROLE_HOME: dict[str, str] = {}


class Account(UserMixin):
    """The logged-in account of this request. Flask-Login keeps `get_id()` in the cookie: here
    the session's random id, not the account's, so the database decides whether it still holds."""

    def __init__(self, row: dict, token: str):
        self.id, self.name, self.role, self.lang = row["id"], row["name"], row["role"], row["lang"]
        self.active, self.towns = row["active"], frozenset(row.get("towns", ()))
        self.session_id = row.get("session_id")
        self._token = token

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    def get_id(self) -> str:
        return self._token


@login_manager.user_loader
def load_account(token: str):
    from . import get_settings, get_store

    row = account_work.session_account(get_store(), get_settings(), token)
    return Account(row, token) if row else None


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
    return Actor(current_user.id, current_user.name, current_user.role, current_user.towns)


def add_account(store: Store, name: str, role: str, password: str | None = None, lang: str = "zh") -> str:
    """Create an account as the installation itself does (first start, tests); returns the password."""
    return account_work.add_account(store, OPERATOR, name, role, password, lang)


def local_path(target: str | None) -> str | None:
    r"""`target` if it is a path on this site ("/inspect/?month=2026-03"), else None: never an
    open redirect. Refused: another host ("//host", "/\host", which browsers read as "//host"),
    a scheme, and any control character (browsers drop tabs and newlines from a URL, and the
    redirect's Location loses them too: "/\t/host" would become "//host")."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch < " " or ch == "\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def client_address() -> str:
    # behind reverse proxies, ProxyFix (GISGRID_TRUSTED_PROXIES) has put the client's address here
    return request.remote_addr or "-"


class LoginForm(FlaskForm):
    name = StringField(lazy_gettext("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired()])


class PlainForm(FlaskForm):
    """A form with only its CSRF token (log out, language switch)."""


class PasswordForm(FlaskForm):
    old = PasswordField(lazy_gettext("Current password"), validators=[DataRequired()])
    new = PasswordField(lazy_gettext("New password"), validators=[DataRequired()])
    again = PasswordField(lazy_gettext("New password again"), validators=[DataRequired()])



@bp.route("/login", methods=["GET", "POST"])
def login():
    from . import get_settings, get_store, translate

    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        store, name = get_store(), form.name.data.strip()
        user_agent = request.user_agent.string or None
        try:
            row = account_work.authenticate(store, account_work.login_limits(get_settings()), name,
                                            form.password.data, client_address(), user_agent)
        except GisgridError as refused:
            error, status = translate(refused), refused.http_status
        else:
            token = account_work.start_session(store, row, client_address(), user_agent)
            # A new session from nothing: the CSRF secret (so the token changes at login) and
            # anything a visitor put in the cookie before logging in are gone.
            session.clear()
            g.pop("csrf_token", None)
            login_user(Account(row, token))
            return redirect(local_path(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", form=form, error=error,
                           first_run=account_work.needs_first_admin(get_store())), status


@bp.post("/logout")
def logout():
    from . import get_store

    if PlainForm().validate_on_submit():
        if current_user.is_authenticated:
            account_work.log_out(get_store(), actor())
        logout_user()
        session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password: the current one, the new one twice; the account's other
    sessions end (this one stays)."""
    from . import get_settings, get_store, translate

    form = PasswordForm()
    error, done, status = None, False, 200
    if form.validate_on_submit():
        try:
            account_work.change_own_password(get_store(), actor(), account_work.login_limits(get_settings()),
                                             form.old.data, form.new.data, form.again.data, client_address(),
                                             request.user_agent.string or None, current_user.session_id)
        except GisgridError as refused:
            error, status = translate(refused), refused.http_status
        else:
            done = True
    return render_template("auth/password.html", form=form, error=error, done=done,
                           min_length=account_work.MIN_PASSWORD), status


@bp.post("/lang/<lang>")
def set_lang(lang: str):
    from . import get_store

    if lang not in LANGS or not PlainForm().validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        account_work.set_language(get_store(), actor(), lang)
    # back to the page the switch was on: its path comes in the form (pages send no Referer)
    response = redirect(local_path(request.form.get("next")) or url_for("auth.home"))
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
