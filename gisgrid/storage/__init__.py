"""Storage, in one place: the database behind gisgrid (a SQLite file by default, any
SQLAlchemy URL such as PostgreSQL + PostGIS by choice), its migrations, and every query.
`Store` holds the core (schema, settings, layers, accounts) with the queries of samples
(samples.py) and findings in bulk (findings.py); db.py has the URL, the connection settings
and the tables; the sibling modules hold the queries of one area each (inspections,
boundaries, publishing, accounts, locks)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

import geopandas as gpd
from alembic import command
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from ..domain.errors import Busy, Conflict, GisgridError, LayerError
from ..domain.months import zone
from ..settings import Settings
from ..settings import load as load_settings
from . import db as database
from .db import (DEFAULT_SETTINGS, LANGS, MIGRATIONS, ROLES, Draw, _alembic_config, _sqlite_begin, _sqlite_pragmas,
                 database_url, draw_t, finding_t, grid_t, ignoring_duplicates, published_months_refused, road_t,
                 sample_t, schema_head, setting_t, user_t)
from .findings import FindingQueries
from .samples import SampleQueries
from .schema import CODE, SRID, AccountTown, utcnow

__all__ = ["DEFAULT_SETTINGS", "LANGS", "MIGRATIONS", "ROLES", "Draw", "Store", "_alembic_config", "database_url",
           "draw_t", "finding_t", "grid_t", "ignoring_duplicates", "road_t", "sample_t", "schema_head", "setting_t",
           "user_t"]

town_t = AccountTown.__table__

# What one unit of work (a web request) reads again and again, read once: the settings and the
# rulebooks (a finding's write asks for its time zone and rules some six times).
_remembered: ContextVar[dict | None] = ContextVar("gisgrid_remembered", default=None)



def _busy() -> Busy:
    return Busy("The database is busy with a large change (an import?); nothing was saved. Try again in a moment.")


class _Writers:
    """SQLite's writers, in turn. Those of one process wait for a thread lock; the processes of
    one database file (the app server's workers, an import from the command line) for an
    `flock` on a file beside it, asked every millisecond or so. Both hand the turn on at once,
    where SQLite's busy handler polls ever more slowly (every 100 ms after the first few): under
    many tablets the newest writer won and early ones waited seconds (p99 3 s, median 0.3 s),
    and one worker's writers kept the other's waiting. A writer kept waiting longer than
    WRITE_WAIT_S is refused with Busy. SQLite's own lock stays the guard against any other
    program writing the file."""

    def __init__(self, database_file: str | None):
        self._threads = threading.Lock()
        self._path = f"{database_file}-writers" if database_file and database_file != ":memory:" else None
        self._file, self._pid = None, None
        self._since_checkpoint = 0

    def written(self, large: bool) -> bool:
        """A write was committed: whether the log is due to be checkpointed now (about every
        CHECKPOINT_EVERY writes of this process, as SQLite would at its 1,000 pages, and after
        a large one such as an import)."""
        with self._threads:
            self._since_checkpoint += 1
            due = large or self._since_checkpoint >= database.CHECKPOINT_EVERY
            if due:
                self._since_checkpoint = 0
        return due

    def pending(self) -> bool:
        """Whether this process wrote since its last checkpoint."""
        return self._since_checkpoint > 0

    def _handle(self):
        """This process's own open file (a forked worker must not share its parent's: an flock
        belongs to the open file, so both would hold it at once); None where none can be made."""
        if self._path is not None and self._pid != os.getpid():
            try:
                self._file = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                weakref.finalize(self, os.close, self._file)     # open for the store's life
            except OSError:
                self._file = None
            self._pid = os.getpid()
        return self._file

    @contextmanager
    def turn(self):
        waited_until = time.monotonic() + database.WRITE_WAIT_S
        if not self._threads.acquire(timeout=database.WRITE_WAIT_S):
            raise _busy()
        try:
            handle = self._handle()
            pause = 0.0001
            while handle is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > waited_until:
                        raise _busy() from None
                    time.sleep(pause)
                    pause = min(2 * pause, 0.001)
            try:
                yield
            finally:
                if handle is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class Store(SampleQueries, FindingQueries):
    def __init__(self, url: str | None = None, settings: Settings | None = None):
        """`url` or the settings' DATABASE_URL; `settings` built from the environment when not given
        (a test's or a script's store), else the app's or the command line's one object."""
        self.config = settings if settings is not None else load_settings()
        self.url = database_url(url or self.config["DATABASE_URL"], self.config.instance_path)
        try:
            self.engine: Engine = create_engine(self.url)
        except (ArgumentError, ModuleNotFoundError) as exc:
            raise GisgridError("Cannot use database URL {url}: {error}", url=self.url, error=exc) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._writer = self.engine.execution_options(gisgrid_write=True)
        self.postgis = self.engine.dialect.name == "postgresql"
        self._schema_current = False  # checked (or migrated) once: a read never runs Alembic
        self._writers = _Writers(self.engine.url.database) if self.engine.dialect.name == "sqlite" else None

    def dispose(self) -> None:
        """Close the store's connections; on SQLite, its writes since the last checkpoint go into
        the database file first (a command's few writes would otherwise wait in the log for the
        server's next checkpoint)."""
        if self._writers is not None and self._writers.pending():
            try:
                self._checkpoint()
            except OperationalError:
                pass            # the file is gone or unreadable: nothing to copy into it
        self.engine.dispose()

    # schema ---------------------------------------------------------------------------

    def has_schema(self) -> bool:
        try:
            return inspect(self.engine).has_table("alembic_version")
        except OperationalError as exc:
            raise GisgridError("Cannot open database {url}: {error}", url=self.engine.url.render_as_string(),
                               error=exc.orig) from None

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration: for the writes that make the
        schema (init, imports, the app's start), never on the read path."""
        config = _alembic_config()
        try:
            with self._writer.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                for key, default in DEFAULT_SETTINGS.items():
                    value = str(self.config[key.upper()])
                    if conn.execute(select(setting_t.c.value).where(setting_t.c.key == key)).first() is None:
                        conn.execute(insert(setting_t).values(key=key, value=value))
        except OperationalError as exc:
            raise GisgridError("Cannot open database {url}: {error}", url=self.engine.url.render_as_string(),
                               error=exc.orig) from None
        self._schema_current = True

    def require_schema(self) -> None:
        """Refuse to read a database without gisgrid's newest schema. Only checks (one query, once
        per store): upgrading is for `gisgrid init`, so a report never takes the migration lock."""
        if self._schema_current:
            return
        url = self.engine.url.render_as_string(hide_password=True)
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()  # None: no alembic_version
        except OperationalError as exc:
            raise GisgridError("Cannot open database {url}: {error}", url=url, error=exc.orig) from None
        if current is None:
            raise GisgridError("Database {url} has no gisgrid data yet; run `gisgrid init` or import grids first",
                               url=url)
        if current != schema_head():
            raise GisgridError("Database {url} has schema version {current}, this gisgrid needs {head}; "
                               "run `gisgrid init` to upgrade it", url=url, current=current, head=schema_head())
        self._schema_current = True

    @contextmanager
    def begin(self) -> Iterable[Connection]:
        """One write transaction: everything inside is written, or nothing is; what it reads
        stays as read until it ends (no other writer comes between). A writer that waited longer
        than WRITE_WAIT_S for SQLite's lock is refused with Busy, having written nothing."""
        with self._writing(self._writer.begin) as conn:
            yield conn

    @contextmanager
    def begin_on(self, conn: Connection) -> Iterable[Connection]:
        """begin()'s write transaction on a connection of the caller's (an import's, which
        copied its rows to that connection's temporary tables first)."""
        if conn.in_transaction():
            conn.commit()
        try:
            with self._writing(conn.execution_options(gisgrid_write=True).begin, large=True):
                yield conn
        finally:
            conn.execution_options(gisgrid_write=False)

    @contextmanager
    def _writing(self, begin: Callable, large: bool = False):
        with self._turn(), published_months_refused():
            try:
                with begin() as conn:
                    yield conn
            except OperationalError as exc:
                if "database is locked" in str(exc):
                    raise _busy() from None
                raise
        if self._writers is not None and self._writers.written(large):
            self._checkpoint()

    def _checkpoint(self) -> tuple[int, int, int]:
        """SQLite: copy what the write-ahead log holds into the database file, after the turn
        was handed on (a checkpoint lets the next writer write meanwhile; SQLite's own, run
        inside a commit, kept every gisgrid writer waiting: 0.4 s of an import's 1.5 s). Returns
        SQLite's (busy, frames in the log, frames copied)."""
        with self.engine.connect() as conn:
            return tuple(conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _turn(self):
        return self._writers.turn() if self._writers is not None else nullcontext()

    # settings -------------------------------------------------------------------------

    @contextmanager
    def remembering(self):
        """Inside, the settings and the rulebooks are read once (the web app wraps each request
        in it); a change to either made inside is read again (see `read_again`)."""
        token = _remembered.set({})
        try:
            yield
        finally:
            _remembered.reset(token)

    def _once(self, what: str, read: Callable):
        memo = _remembered.get()
        if memo is None:
            return read()
        key = (id(self), what)
        if key not in memo:
            memo[key] = read()
        return memo[key]

    def read_again(self) -> None:
        """The settings or the rulebooks changed: the next use reads them again."""
        memo = _remembered.get()
        for key in [k for k in memo or () if k[0] == id(self)]:
            del memo[key]

    def settings(self) -> dict[str, str]:
        def read():
            with self.engine.connect() as conn:
                return {**DEFAULT_SETTINGS, **dict(conn.execute(select(setting_t.c.key, setting_t.c.value)).all())}
        return dict(self._once("settings", read))

    def rulebooks(self) -> list:
        """The installation's rulebooks: the shipped ones, the district's own folder's and the
        ones the office uploaded (kept in the database)."""
        from ..domain.rulebook import checked, load_rulebooks, parse_rulebook
        from . import rulebooks

        def read():
            with self.engine.connect() as conn:
                uploaded = [parse_rulebook(r["source"], source=r["filename"]) for r in rulebooks.stored(conn)]
            return checked(load_rulebooks(self.config["RULEBOOK_DIR"]) + uploaded)
        return list(self._once("rulebooks", read))

    def timezone(self):
        return zone(self.settings()["timezone"])

    def snap_tolerance_m(self) -> float:
        return float(self.settings()["snap_tolerance_m"])

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            if conn.execute(update(setting_t).where(setting_t.c.key == key).values(value=value)).rowcount == 0:
                conn.execute(insert(setting_t).values(key=key, value=value))
        self.read_again()

    # grids and roads ------------------------------------------------------------------

    def save_grids(self, frame: gpd.GeoDataFrame, changed_by: str = "import", reason: str | None = None
                   ) -> tuple[int, int]:
        """Insert new grids and update those whose code exists; returns (created, updated)."""
        return self.save_layers(frame, None, changed_by, reason)[0]

    def save_roads(self, frame: gpd.GeoDataFrame, changed_by: str = "import", reason: str | None = None
                   ) -> tuple[int, int]:
        """Like save_grids; each road's `grid` code must name a stored grid (or be None)."""
        return self.save_layers(None, frame, changed_by, reason)[1]

    def save_layers(self, grids: gpd.GeoDataFrame | None, roads: gpd.GeoDataFrame | None,
                    changed_by: str = "import", reason: str | None = None, only_new: bool = False
                    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """Grids, then roads, in one transaction: ((created, updated) grids, (created, updated)
        roads). With `only_new`, features whose code is stored (even retired) are left as they are."""
        unusable = sorted({c for frame in (grids, roads) if frame is not None for c in frame["code"]
                           if not CODE.fullmatch(str(c))})
        if unusable:
            raise LayerError("Codes must be 1 to 32 characters without spaces or slashes; these are not: {codes}",
                             codes=", ".join(map(repr, unusable[:10])) + (" …" if len(unusable) > 10 else ""))
        from . import bulk

        grid_rows = None if grids is None else [
            {"code": r.code, "name": r.name, "town": r.town, "grid_class": r.grid_class,
             "leader": getattr(r, "leader", None), "geom": r.geometry} for r in grids.itertuples(index=False)]
        road_rows = None if roads is None else [
            {"code": r.code, "name": r.name, "grade": r.grade, "grid": r.grid, "geom": r.geometry}
            for r in roads.itertuples(index=False)]
        return bulk.save(self, grid_rows, road_rows, changed_by, reason, only_new)

    def grids_frame(self) -> gpd.GeoDataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class,
                                       grid_t.c.leader, grid_t.c.geom).where(grid_t.c.retired_at.is_(None))
                               .order_by(grid_t.c.code)).all()
        return gpd.GeoDataFrame([r._asdict() for r in rows], columns=["code", "name", "town", "grid_class",
                                                                       "leader", "geom"],
                                geometry="geom", crs=SRID).rename_geometry("geometry")

    def roads_frame(self) -> gpd.GeoDataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(road_t.c.code, road_t.c.name, road_t.c.grade, grid_t.c.code.label("grid"), road_t.c.geom)
                .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id))
                .where(road_t.c.retired_at.is_(None)).order_by(road_t.c.code)
            ).all()
        return gpd.GeoDataFrame([r._asdict() for r in rows], columns=["code", "name", "grade", "grid", "geom"],
                                geometry="geom", crs=SRID).rename_geometry("geometry")

    def grid_roads(self) -> dict[str, list[str]]:
        """Grid code -> codes of the roads it manages (empty list for a grid with none)."""
        with self.engine.connect() as conn:
            grids = {code: [] for code in conn.execute(select(grid_t.c.code)
                                                       .where(grid_t.c.retired_at.is_(None))).scalars()}
            for grid, road in conn.execute(select(grid_t.c.code, road_t.c.code)
                                           .join(road_t, road_t.c.grid_id == grid_t.c.id)
                                           .where(grid_t.c.retired_at.is_(None), road_t.c.retired_at.is_(None))):
                grids[grid].append(road)
        return grids

    def road_grids(self) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(road_t.c.code, grid_t.c.code)
                                     .select_from(road_t.outerjoin(grid_t, road_t.c.grid_id == grid_t.c.id))
                                     .where(road_t.c.retired_at.is_(None))).all())

    def grid_details(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class))
            return {r.code: r._asdict() for r in rows}

    def roads_revision(self) -> tuple:
        """Changes whenever a road is added or edited: the key of cached road indexes."""
        return self.revision(road_t)

    def revision(self, table) -> tuple:
        """Changes whenever a row of the grid or road table is added or edited (retiring one
        edits it): the key of caches built from the table."""
        with self.engine.connect() as conn:
            return tuple(conn.execute(select(func.count(), func.max(table.c.updated_at), func.max(table.c.id),
                                             func.sum(table.c.version))).one())

    def road_geometries(self) -> tuple[list[int], list[str], list]:
        """(ids, codes, WGS84 geometries) of every road, for assigning findings."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(road_t.c.id, road_t.c.code, road_t.c.geom)
                                .where(road_t.c.retired_at.is_(None)).order_by(road_t.c.id)).all()
        return [r.id for r in rows], [r.code for r in rows], [r.geom for r in rows]

    # accounts -------------------------------------------------------------------------

    def add_user(self, name: str, password_hash: str, role: str, lang: str = "zh") -> int:
        name = name.strip()
        if role not in ROLES:
            raise GisgridError("Unknown role {role!r}; choose one of {roles}", role=role, roles=", ".join(ROLES))
        if not name or len(name) > 64:
            raise GisgridError("A user name must have 1 to 64 characters")
        with self.begin() as conn:
            if conn.execute(select(user_t.c.id).where(user_t.c.name == name)).first():
                raise Conflict("User {name!r} already exists", name=name)
            return conn.execute(insert(user_t).values(name=name, password_hash=password_hash, role=role, lang=lang,
                                                      active=True, created_at=utcnow())).inserted_primary_key[0]

    def user(self, *, id: int | None = None, name: str | None = None) -> dict | None:
        where = user_t.c.id == id if id is not None else user_t.c.name == name
        with self.engine.connect() as conn:
            row = conn.execute(select(user_t).where(where)).first()
        return row._asdict() if row else None

    def towns_of(self, account_id: int) -> list[str]:
        from .accounts import towns_in

        with self.engine.connect() as conn:
            return towns_in(conn, account_id)

    @staticmethod
    def set_towns(conn: Connection, account_id: int, towns: Iterable[str]) -> None:
        """Replace an account's towns, inside the caller's transaction (with its audit row)."""
        conn.execute(town_t.delete().where(town_t.c.account_id == account_id))
        rows = [{"account_id": account_id, "town": t} for t in sorted({t.strip() for t in towns if t.strip()})]
        if rows:
            conn.execute(insert(town_t), rows)

    def users(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(user_t).order_by(user_t.c.name))]

    def set_user_lang(self, user_id: int, lang: str) -> None:
        if lang not in LANGS:
            raise GisgridError("Unknown language {lang!r}", lang=lang)
        with self.begin() as conn:
            conn.execute(update(user_t).where(user_t.c.id == user_id).values(lang=lang))
