"""The Flask app: configuration, extensions, one place mapping user errors to HTTP, and the
blueprints by who uses them (auth, inspect, api …). Views stay thin: read, call the core, render."""

from __future__ import annotations

import gzip
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import Babel, gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..domain.errors import Busy, GisgridError
from ..domain.grid_classes import class_name
from ..i18n import DOMAINS, TRANSLATIONS
from ..gis.formats import confine_gdal
from ..render import times
from ..settings import Settings
from ..settings import load as load_settings
from ..storage import LANGS, Store
from .requests import DatabaseId, FormRequest

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

# Flask's own configuration that is not a setting of the installation (settings.py has those)
FLASK_CONFIG = {
    "BABEL_DEFAULT_LOCALE": "zh",
    # One catalogue (domain) per area, so that each area's translations live beside each other.
    "BABEL_DOMAIN": ";".join(DOMAINS),
    "BABEL_TRANSLATION_DIRECTORIES": ";".join([str(TRANSLATIONS)] * len(DOMAINS)),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
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


def shown_time(moment) -> str:
    """The templates' `when` filter: a time in the district's zone, in the reader's language."""
    if "district_timezone" not in g:
        g.district_timezone = get_store().timezone()
    return times.shown_time(moment, g.district_timezone, select_locale())


def shown_class(code) -> str:
    """The templates' `class_name` filter: a grid class's name in the reader's language."""
    return class_name(code, select_locale())


def get_store() -> Store:
    return current_app.extensions["gisgrid.storage"]


def get_settings() -> Settings:
    return current_app.extensions["gisgrid.settings"]


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


def create_app(test_config: dict | None = None, settings: Settings | None = None) -> Flask:
    """The app on `settings` (built here from the environment when not given); `test_config`
    overrides single settings, as a test or `gisgrid serve --db` does."""
    settings = load_settings(test_config) if settings is None else settings
    instance = settings.instance_path
    app = Flask("gisgrid", instance_path=str(instance), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.request_class = FormRequest
    app.config.from_mapping(FLASK_CONFIG)
    app.config.update(settings)
    app.config["REMEMBER_COOKIE_SECURE"] = settings.get("REMEMBER_COOKIE_SECURE", settings["SESSION_COOKIE_SECURE"])
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(instance)

    if settings["TRUSTED_PROXIES"]:
        # the client's address and scheme as the proxies saw them: the login throttle counts by address
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["TRUSTED_PROXIES"], x_proto=settings["TRUSTED_PROXIES"])

    confine_gdal()      # the server opens planners' uploads: GDAL reaches no network from this process
    store = Store(settings=settings)
    store.migrate()
    app.extensions["gisgrid.settings"] = settings
    app.extensions["gisgrid.storage"] = store

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from . import admin, api, auth, inspect, notices, plan, review

    # before the blueprints: a rule finds its converter when it is added
    app.url_map.converters["id"] = DatabaseId
    auth.login_manager.init_app(app)
    for module in (auth, inspect, api, plan, review, admin, notices):
        app.register_blueprint(module.bp)

    @app.before_request
    def remember_settings():
        g.remembering = store.remembering()
        g.remembering.__enter__()

    @app.teardown_request
    def forget_settings(_error=None):
        if "remembering" in g:
            g.pop("remembering").__exit__(None, None, None)

    @app.errorhandler(GisgridError)
    def user_error(error: GisgridError):
        response, status = refusal(type(error).__name__, translate(error), error.http_status)
        if isinstance(error, Busy):         # the tablet's outbox sends it again; a script may wait
            response = make_response(response, status)
            response.headers["Retry-After"] = "2"
        return response, status

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return refusal("CSRFError", gettext("The form has expired or was not sent from this site; reload the page "
                                            "and try again."), 400)

    @app.errorhandler(403)
    def forbidden(_error):
        return refusal("Forbidden", gettext("Your role may not open this page."), 403)

    @app.errorhandler(404)
    def not_found(error):
        if not wants_json():
            return error      # pages keep the server's plain 404
        return refusal("NotFound", gettext("There is nothing at this address."), 404)

    @app.errorhandler(405)
    def not_allowed(error):
        if not wants_json():
            return error
        response, status = refusal("MethodNotAllowed", gettext("This address does not accept %(method)s.",
                                                               method=request.method), 405)
        response.headers["Allow"] = ", ".join(error.valid_methods or ())
        return response, status

    @app.errorhandler(413)
    def too_large(_error):
        return refusal("TooLarge", gettext("The upload is too large (at most %(mb)d MB).",
                                           mb=(request.max_content_length or 0) // (1024 * 1024)), 413)

    app.add_template_filter(shown_time, "when")
    app.add_template_filter(shown_class, "class_name")

    @app.context_processor
    def page_globals():
        return {"tiles": tile_layer(app.config), "lang": select_locale(), "roles_label": auth.ROLE_LABELS,
                "csp_nonce": csp_nonce}

    app.add_template_filter(nonced)
    tiles_from = tile_sources(tile_layer(app.config))

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), tiles_from))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # no-referrer: a page's address carries a month, a grid or a road code; a tile server
        # (the only other origin a page talks to) needs none of it
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return compressed(response)

    return app


def csp_nonce() -> str:
    """This request's nonce: made once per request, so every inline script of the page and the
    Content-Security-Policy header name the same one, and no two responses share it."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str, tiles_from: list[str] = ()) -> str:
    """Scripts only from this origin or carrying this response's nonce (no 'unsafe-inline', no
    eval: Leaflet, Geoman, markercluster and folium's output need neither). Styles allow inline:
    the pages colour legend swatches and bars with style attributes and folium writes <style>
    blocks; CSS runs no script, and with img-src, connect-src and font-src closed to other origins
    an injected style has nowhere to send what it could read."""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        " ".join(["img-src 'self' data: blob:", *tiles_from]),
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ])


def tile_sources(tiles: dict | None) -> list[str]:
    """The origins the base map's tiles come from, for img-src: one per subdomain ({s}), as
    Leaflet fills them in ("abc" unless the preset names others)."""
    if not tiles:
        return []
    url = tiles["url"]
    hosts = [url.replace("{s}", s) for s in tiles.get("subdomains") or "abc"] if "{s}" in url else [url]
    return sorted({f"{part.scheme}://{part.netloc}" for part in map(urlsplit, hosts)})


_UNNONCED = re.compile(r"<(script|style)\b(?![^>]*\bnonce=)", re.IGNORECASE)


def nonced(html: str) -> str:
    """HTML we generate (folium's map parts) with this request's nonce on each <script> and
    <style> element, so its inline map code runs under the page's policy (templates mark the
    result `|safe`, as they did folium's HTML before)."""
    return _UNNONCED.sub(lambda m: f'<{m.group(1)} nonce="{csp_nonce()}"', str(html))


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
