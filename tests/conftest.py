"""Shared fixtures: a real database per test — a SQLite file, and a real PostgreSQL + PostGIS
cluster started on 127.0.0.1 for the session — plus small layers built in code."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import time_machine

from fixtures import FROZEN_AT, finding, small_district  # noqa: F401  (finding: for tests importing it from here)
from gisgrid.storage import Store

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package made a `postgres` user for this.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a throw-away PostgreSQL cluster with PostGIS, or the one in GISGRID_TEST_POSTGRES_URL."""
    if os.environ.get("GISGRID_TEST_POSTGRES_URL"):
        yield os.environ["GISGRID_TEST_POSTGRES_URL"].rstrip("/")
        return
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        message = "PostgreSQL is not installed (apt-get install postgresql-15-postgis-3)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    bindir = Path(binaries[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="gisgrid-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                                 "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"]) + ["start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# Browser tests keep the real clock: Chromium's clock and the app's must agree.


@pytest.fixture(autouse=True)
def clock(request):
    """The one clock (gisgrid.clock) set to FROZEN_AT; it ticks on from there."""
    if "browser" in request.node.path.parts:
        yield None
        return
    with time_machine.travel(FROZEN_AT, tick=True) as traveller:
        yield traveller


_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgis_template(postgres_server):
    """A database with the migrated schema, copied for each test (CREATE DATABASE ... TEMPLATE)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_server.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE gisgrid_template"))
    store = Store(f"{postgres_server}/gisgrid_template")
    store.migrate()
    store.dispose()
    yield admin
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgis"])
def db_url(request, tmp_path):
    """The URL of a fresh, migrated database: a SQLite file, then PostgreSQL + PostGIS."""
    if request.param == "sqlite":
        return str(tmp_path / "gisgrid.sqlite")
    from sqlalchemy import text

    server = request.getfixturevalue("postgres_server")
    admin = request.getfixturevalue("postgis_template")
    name = f"gisgrid_test_{next(_database_numbers)}"
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE gisgrid_template"))
            break
        except Exception:  # the template is briefly busy after a previous copy
            time.sleep(0.2 * (attempt + 1))
    else:
        raise RuntimeError("could not copy the PostGIS template database")
    return f"{server}/{name}"


@pytest.fixture
def store(db_url):
    store = Store(db_url)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"../shared is not beside the project ({SHARED}); these tests read its data")
    return SHARED


# web ----------------------------------------------------------------------------------


@pytest.fixture
def app(db_url, tmp_path):
    from gisgrid.web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})
    yield app
    app.extensions["gisgrid.storage"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Log in as an account made for the test (one per role), through the real login form."""

    def __init__(self, app, client):
        self.app, self.client, self.passwords = app, client, {}

    def account(self, name: str, role: str) -> str:
        from gisgrid.web.auth import add_account

        if name not in self.passwords:
            self.passwords[name] = add_account(self.app.extensions["gisgrid.storage"], name, role)
        return self.passwords[name]

    def csrf(self, path: str = "/login") -> str:
        import re

        page = self.client.get(path, follow_redirects=True).get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def login(self, name: str = "inspector1", role: str = "inspector"):
        password = self.account(name, role)
        return self.client.post("/login", data={"name": name, "password": password, "csrf_token": self.csrf()})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(app, client):
    return AuthActions(app, client)


@pytest.fixture
def district_files(tmp_path):
    """(grids.geojson, roads.geojson) of the small district."""
    grids, roads = small_district()
    paths = tmp_path / "grids.geojson", tmp_path / "roads.geojson"
    grids.to_file(paths[0], driver="GeoJSON")
    roads.to_file(paths[1], driver="GeoJSON")
    return paths


@pytest.fixture
def district(store, district_files):
    """The store with the small district imported."""
    from gisgrid.services import office

    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    return store
