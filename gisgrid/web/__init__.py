"""The Flask app: configuration, extensions, one place mapping user errors to HTTP, and the
blueprints by who uses them (auth, inspect, api …). Views stay thin: read, call the core, render."""

from __future__ import annotations

import gzip
import secrets
from pathlib import Path

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import Babel, gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..errors import GisgridError
from ..i18n import DOMAINS, TRANSLATIONS
from ..layers import confine_gdal
from ..store import LANGS, Store, default_instance_path

ROOT = Path(__file__).resolve().parent.parent.parent
csrf = CSRFProtect()
babel = Babel()

TILE_PRESETS = {
    "osm": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attribution": "© OpenStreetMap contributors", "max_zoom": 19},
    "tianditu": {"url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                        "&TILECOL={x}&tk={key}",
                 "attribution": "© 天地图 Tianditu", "max_zoom": 18, "subdomains": "01234567"},
    "none": None,
}

DEFAULTS = {
    "DATABASE_URL": None,
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,      # a request: three photos and a form
    "PHOTO_MAX_BYTES": 10 * 1024 * 1024,
    "LAYER_MAX_BYTES": 200 * 1024 * 1024,         # a planner's layer upload (a city's roads as a zip)
    "PREVIEW_WAIT_S": 1.0,                        # a request waits this long for an upload's preview, then polls
    "PLAN_VIEW_LIMIT": 3000,                      # grids and roads on the planner's map at once (~3 MB)
    "PHOTOS_PER_FINDING": 3,
    "TILES": "none",                              # osm | tianditu | none | custom (TILE_URL)
    "TILE_URL": None,
    "TILE_ATTRIBUTION": "",
    "TIANDITU_KEY": None,
    "BABEL_DEFAULT_LOCALE": "zh",
    # One catalogue (domain) per area, so that each area's translations live beside each other.
    "BABEL_DOMAIN": ";".join(DOMAINS),
    "BABEL_TRANSLATION_DIRECTORIES": ";".join([str(TRANSLATIONS)] * len(DOMAINS)),
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_TIME_LIMIT": None,                   # a form left open on a tablet all day still submits
}


def _secret_key(instance: Path) -> str:
    """A key made once per installation and kept in the instance folder, never in the code."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def select_locale() -> str:
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.lang
    return request.cookies.get("lang") if request.cookies.get("lang") in LANGS else \
        (request.accept_languages.best_match(LANGS) or "zh")


def get_store() -> Store:
    return current_app.extensions["gisgrid.store"]


def translate(error: GisgridError) -> str:
    """A user error in the user's language: the template is the message id."""
    return translated(error.template, error.params)


def translated(template: str, params: dict) -> str:
    return gettext(template).format(**params) if params else gettext(template)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def refusal(kind: str, message: str, status: int):
    """One shape for every refusal: JSON for the API, the error page for people."""
    if wants_json():
        return jsonify(error=kind, message=message), status
    return render_template("error.html", message=message), status


def create_app(test_config: dict | None = None) -> Flask:
    instance = Path((test_config or {}).get("INSTANCE_PATH") or default_instance_path())
    app = Flask("gisgrid", instance_path=str(instance), instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("GISGRID")
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(instance)

    confine_gdal()      # the server opens planners' uploads: GDAL reaches no network from this process
    store = Store(app.config["DATABASE_URL"], instance)
    store.migrate()
    app.extensions["gisgrid.store"] = store

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from . import api, auth, inspect, plan, review

    auth.login_manager.init_app(app)
    for module in (auth, inspect, api, plan, review):
        app.register_blueprint(module.bp)

    @app.errorhandler(GisgridError)
    def user_error(error: GisgridError):
        return refusal(type(error).__name__, translate(error), error.http_status)

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return refusal("CSRFError", gettext("The form has expired or was not sent from this site; reload the page "
                                            "and try again."), 400)

    @app.errorhandler(403)
    def forbidden(_error):
        return refusal("Forbidden", gettext("Your role may not open this page."), 403)

    @app.errorhandler(413)
    def too_large(_error):
        return refusal("TooLarge", gettext("The upload is too large (at most %(mb)d MB).",
                                           mb=(request.max_content_length or 0) // (1024 * 1024)), 413)

    @app.context_processor
    def page_globals():
        return {"tiles": tile_layer(app.config), "lang": select_locale(), "roles_label": auth.ROLE_LABELS}

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return compressed(response)

    return app


# not HTML: a page carries the CSRF token beside what the request reflects, and compressing
# both together leaks the token to whoever can watch sizes (BREACH)
COMPRESSED = ("application/json", "application/geo+json", "text/csv")


def compressed(response):
    """Large JSON and CSV gzipped for clients that accept it: a city's month map data or layers
    shrink several times over a slow district network. Files (photos, exports) pass as they are."""
    if (response.status_code != 200 or response.direct_passthrough or response.is_streamed
            or response.mimetype not in COMPRESSED or "Content-Encoding" in response.headers
            or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    body = response.get_data()
    if len(body) < 16 * 1024:
        return response
    response.set_data(gzip.compress(body, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def tile_layer(config) -> dict | None:
    """The base map for Leaflet: a preset, a custom URL template, or none (vector layers alone)."""
    if config.get("TILE_URL"):
        return {"url": config["TILE_URL"], "attribution": config.get("TILE_ATTRIBUTION", ""), "max_zoom": 19}
    preset = TILE_PRESETS.get(config.get("TILES") or "none")
    if preset and "{key}" in preset["url"]:
        if not config.get("TIANDITU_KEY"):
            return None
        preset = {**preset, "url": preset["url"].replace("{key}", config["TIANDITU_KEY"])}
    return preset
