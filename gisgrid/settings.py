"""Every setting gisgrid reads, declared once with its default and its help, and built once:
defaults, then the instance folder's `config.py`, then `GISGRID_*` environment variables.
The app, the command line and the storage take the built object; nothing else reads the
environment."""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .domain.errors import GisgridError

PREFIX = "GISGRID_"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _text_or_none(text: str) -> str | None:
    return text if text.strip() else None


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = _text_or_none


OPTIONS: tuple[Option, ...] = (
    Option("DATABASE_URL", None, "SQLAlchemy URL or SQLite file path of the database "
                                 "(default: `gisgrid.sqlite` in the instance folder)"),
    Option("INSTANCE_PATH", None, "the instance folder: database, secret key, config.py, uploads "
                                  "(default: `instance/` beside the package)"),
    Option("TIMEZONE", "Asia/Shanghai", "the district's time zone, fixed when the database is created"),
    Option("SNAP_TOLERANCE_M", 10.0, "how far outside a road a finding may be and still snap to it, fixed at "
                                     "creation", float),
    Option("RULEBOOK_DIR", None, "a folder of the district's own rulebook TOML files"),
    Option("LAYERS_DIR", None, "where the demo district's layers are read from (default: `layers/`)"),
    Option("PHOTO_DIR", None, "where photos are kept (default: `photos/` in the instance folder); shared "
                              "storage when several app servers run"),
    Option("UPLOAD_DIR", None, "where layer files a planner uploads wait to be imported (default: `uploads/` in "
                               "the instance folder); shared storage when several app servers run"),
    Option("CHROMIUM", "/usr/bin/chromium", "the Chromium that prints bulletins to PDF"),
    Option("BULLETIN_OFFICE", "区网格化管理领导小组办公室", "the office that issues the bulletin (通报), printed at its "
                                                       "head and over its date", str),
    Option("BULLETIN_NUMBER", "网办〔{year}〕{month}号", "the month bulletin's document number; `{year}` and `{month}` "
                                                   "are filled in (e.g. `郾网办〔{year}〕{month}号`)", str),
    Option("BULLETIN_YEAR_NUMBER", "网办〔{year}〕年终号", "the year-end bulletin's document number; `{year}` is "
                                                     "filled in", str),
    Option("NOTICE_NUMBER", "网办整改〔{year}〕{seq}号", "a rectification notice's number; `{year}` (of its issue "
                                                  "date) and `{seq}` (its place in that year) are filled in "
                                                  "(e.g. `郾网办〔{year}〕{seq}号`)", str),
    Option("BULLETIN_CC", "区委、区政府领导，各镇人民政府、街道办事处", "the bulletin's 抄送 (copies to) line", str),
    Option("SECRET_KEY", None, "signs sessions and CSRF tokens (default: generated once into "
                               "`instance/secret_key`)"),
    Option("MAX_CONTENT_LENGTH", 32 * 1024 * 1024, "largest request the app accepts, in bytes", int),
    Option("PHOTO_MAX_BYTES", 10 * 1024 * 1024, "largest photo accepted, in bytes", int),
    Option("LAYER_MAX_BYTES", 200 * 1024 * 1024, "largest layer file a planner may upload to import, in bytes", int),
    Option("PREVIEW_WAIT_S", 1.0, "how long a planner's upload or preview request waits for the preview "
                                  "before the page polls for it, in seconds", float),
    Option("PLAN_VIEW_LIMIT", 3000, "most grids and roads the planner's map shows at once; a city beyond it is "
                                    "loaded by view", int),
    Option("PHOTOS_PER_FINDING", 3, "photos per finding", int),
    Option("TILES", "none", "base map preset: `osm`, `tianditu` (needs a key) or `none` (vector layers alone)",
           str),
    Option("TILE_URL", None, "a custom tile URL template (`…/{z}/{x}/{y}.png`), overrides the preset"),
    Option("TILE_ATTRIBUTION", "", "attribution shown with a custom tile URL", str),
    Option("TIANDITU_KEY", None, "the Tianditu key for the `tianditu` preset"),
    Option("SESSION_IDLE_MINUTES", 480, "a session unused this long ends (log in again)", int),
    Option("SESSION_MAX_HOURS", 24, "a session ends this long after its login, used or not", int),
    Option("LOGIN_WINDOW_MINUTES", 15, "how long a failed login counts for the throttle; every wait ends within it",
           int),
    Option("LOGIN_FAILURES_PER_ACCOUNT", 5, "failed logins for one account from one address before that address "
                                            "waits for that account", int),
    Option("LOGIN_FAILURES_UNKNOWN_ADDRESSES", 20, "failed logins for one account from all addresses before the "
                                                   "addresses it never logged in from wait for it", int),
    Option("LOGIN_FAILURES_PER_ADDRESS", 50, "failed logins from one address, any account, before it waits for the "
                                             "accounts it never logged in to", int),
    Option("TRUSTED_PROXIES", 0, "reverse proxies in front of the app whose `X-Forwarded-For` gives the client's "
                                 "address (the login throttle counts by address)", int),
    Option("SESSION_COOKIE_SECURE", True, "session cookies only over HTTPS (and http://localhost); set `false` "
                                          "only to try the app over plain HTTP on a LAN", _bool),
)
BY_NAME = {o.name: o for o in OPTIONS}


class Settings(Mapping):
    """The built settings: read-only, by name (`settings["TIMEZONE"]`)."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def instance_path(self) -> Path:
        return Path(self._values["INSTANCE_PATH"])

    @property
    def photo_dir(self) -> Path:
        return Path(self._values["PHOTO_DIR"] or self.instance_path / "photos")

    @property
    def upload_dir(self) -> Path:
        return Path(self._values["UPLOAD_DIR"] or self.instance_path / "uploads")

    @property
    def layers_dir(self) -> Path:
        return Path(self._values["LAYERS_DIR"] or PACKAGE_ROOT / "layers")

    def replace(self, **changes) -> Settings:
        return Settings({**self._values, **changes})


def _config_file(instance: Path) -> dict[str, Any]:
    """The upper-case names of `instance/config.py`, as Flask reads such a file."""
    path = instance / "config.py"
    if not path.is_file():
        return {}
    module = types.ModuleType("config")
    module.__file__ = str(path)
    try:
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)  # noqa: S102 - the operator's own file
    except Exception as exc:  # noqa: BLE001 - any mistake in it is the operator's to fix
        raise GisgridError("{path} cannot be read: {error}", path=str(path), error=exc) from None
    return {k: v for k, v in vars(module).items() if k.isupper()}


def _parsed(option: Option, text: str, source: str) -> Any:
    try:
        return option.parse(text)
    except ValueError:
        raise GisgridError("{source}: {value!r} is not a valid {name}", source=source, value=text,
                           name=option.name) from None


def environment_with(**values: str) -> dict[str, str]:
    """This process's environment with some settings given as GISGRID_* variables: for a child
    process (a server a benchmark starts) that builds its own settings as in production."""
    return {**os.environ, **{PREFIX + name: value for name, value in values.items()}}


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults -> instance/config.py -> GISGRID_* environment -> `overrides` (a test's, or `--db`).
    Names that are not gisgrid's own (Flask's, say) pass through to the web app as they are."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {o.name: o.default for o in OPTIONS}
    instance = overrides.get("INSTANCE_PATH") or environ.get(PREFIX + "INSTANCE_PATH") or PACKAGE_ROOT / "instance"
    values.update(_config_file(Path(instance)))
    for key, text in environ.items():
        if key.startswith(PREFIX) and key[len(PREFIX):] in BY_NAME:
            values[key[len(PREFIX):]] = _parsed(BY_NAME[key[len(PREFIX):]], text, key)
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["INSTANCE_PATH"] = str(Path(values.get("INSTANCE_PATH") or instance))
    return Settings(values)
