"""Storage, in one place: the database behind gisgrid (a SQLite file by default, any
SQLAlchemy URL such as PostgreSQL + PostGIS by choice), its migrations, and every query.
This module holds the core (layers, samples, findings, accounts); the sibling modules hold
the queries of one area each (inspections, boundaries, publishing)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path

import geopandas as gpd
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, create_engine, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from ..domain import scoring
from ..domain.errors import Conflict, GisgridError, LayerError
from ..domain.months import DEFAULT_TIMEZONE, zone
from .schema import CODE, SRID, Finding, Grid, Road, SampleDraw, SampleRoad, Setting, User, utcnow
from ..settings import Settings
from ..settings import load as load_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_SETTINGS = {"timezone": DEFAULT_TIMEZONE, "snap_tolerance_m": "10"}
grid_t, road_t, draw_t, sample_t, finding_t, setting_t, user_t = (
    m.__table__ for m in (Grid, Road, SampleDraw, SampleRoad, Finding, Setting, User))
ROLES = ("admin", "planner", "inspector", "reviewer")
LANGS = ("zh", "en")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def schema_head() -> str:
    """The newest migration this gisgrid has (read from the migration files once)."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def database_url(db: str | None, instance_path: Path) -> str:
    """A SQLAlchemy URL or a plain SQLite file path; none: the instance folder's SQLite file."""
    if not db:
        folder = Path(instance_path)
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'gisgrid.sqlite'}"
    if "://" not in db:
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    for plain in ("postgresql://", "postgres://"):
        if db.startswith(plain):
            return "postgresql+psycopg://" + db[len(plain):]
    return db


def _sqlite_pragmas(dbapi_connection, _record):
    # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn) -> None:
    """A write transaction takes SQLite's write lock at its start (BEGIN IMMEDIATE): one that
    read first and wrote later would fail at once, not wait, when another writer came between
    (a use case reads what it checks, then writes, in one transaction)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("gisgrid_write") else "BEGIN")


def ignoring_duplicates(dialect: str, table):
    """An INSERT that skips rows whose external id is stored (idempotent retries)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - other databases: duplicates are filtered before insert
        return insert(table)
    return dialect_insert(table).on_conflict_do_nothing(index_elements=["external_id"])


@dataclass(frozen=True)
class Draw:
    id: int
    month: str
    seed: int | None
    method: str
    drawn_by: str
    drawn_at: datetime
    superseded_at: datetime | None
    reason: str | None
    sample: dict[str, list[str]]


class Store:
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

    def dispose(self) -> None:
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
        stays as read until it ends (no other writer comes between)."""
        with self._writer.begin() as conn:
            yield conn

    # settings -------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            stored = dict(conn.execute(select(setting_t.c.key, setting_t.c.value)).all())
        return {**DEFAULT_SETTINGS, **stored}

    def rulebooks(self) -> list:
        """The installation's rulebooks: the shipped ones and the district's own folder's."""
        from ..domain.rulebook import load_rulebooks

        return load_rulebooks(self.config["RULEBOOK_DIR"])

    def timezone(self):
        return zone(self.settings()["timezone"])

    def snap_tolerance_m(self) -> float:
        return float(self.settings()["snap_tolerance_m"])

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            if conn.execute(update(setting_t).where(setting_t.c.key == key).values(value=value)).rowcount == 0:
                conn.execute(insert(setting_t).values(key=key, value=value))

    # grids and roads ------------------------------------------------------------------

    def _upsert(self, conn: Connection, table, rows: list[dict], changed_by: str, reason: str | None,
                only_new: bool = False) -> tuple[int, int]:
        from . import boundaries  # every change is versioned in the same transaction (issue 4)

        existing = dict(conn.execute(select(table.c.code, table.c.id)).all())
        if only_new:                # a draft never overwrites, nor brings back what a planner retired
            rows = [r for r in rows if r["code"] not in existing]
        codes = {r["code"] for r in rows}
        before = boundaries.snapshot(conn, table, codes & existing.keys())
        now = utcnow()
        new = [{**r, "version": 1, "updated_at": now} for r in rows if r["code"] not in existing]
        # a retired code imported again comes back
        changed = [{**r, "b_id": existing[r["code"]], "updated_at": now, "retired_at": None}
                   for r in rows if r["code"] in existing]
        if new:
            conn.execute(insert(table), new)
        if changed:
            columns = {k: bindparam(k) for k in changed[0] if k not in ("b_id", "code")}
            conn.execute(update(table).where(table.c.id == bindparam("b_id"))
                         .values(**columns, version=table.c.version + 1), changed)
        boundaries.record_bulk(conn, table, rows, before, changed_by, reason, now)
        return len(new), len(changed)

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
        done_grids = done_roads = (0, 0)
        unusable = sorted({c for frame in (grids, roads) if frame is not None for c in frame["code"]
                           if not CODE.fullmatch(str(c))})
        if unusable:
            raise LayerError("Codes must be 1 to 32 characters without spaces or slashes; these are not: {codes}",
                             codes=", ".join(map(repr, unusable[:10])) + (" …" if len(unusable) > 10 else ""))
        with self.begin() as conn:
            if grids is not None:
                rows = [{"code": r.code, "name": r.name, "town": r.town, "grid_class": r.grid_class,
                         "leader": getattr(r, "leader", None), "geom": r.geometry}
                        for r in grids.itertuples(index=False)]
                done_grids = self._upsert(conn, grid_t, rows, changed_by, reason, only_new)
            if roads is not None:
                grid_ids = dict(conn.execute(select(grid_t.c.code, grid_t.c.id)
                                             .where(grid_t.c.retired_at.is_(None))).all())
                unknown = sorted({g for g in roads["grid"] if g is not None and g not in grid_ids})
                if unknown:
                    raise LayerError("Roads name grids that are not in the database: {codes} (import those grids "
                                     "first)", codes=", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else ""))
                rows = [{"code": r.code, "name": r.name, "grade": r.grade,
                         "grid_id": grid_ids.get(r.grid) if r.grid is not None else None, "geom": r.geometry}
                        for r in roads.itertuples(index=False)]
                done_roads = self._upsert(conn, road_t, rows, changed_by, reason, only_new)
        return done_grids, done_roads

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

    # samples --------------------------------------------------------------------------

    def draws(self, month: str) -> list[Draw]:
        """Every draw of the month, newest first; the first one not superseded is the sample."""
        with self.engine.connect() as conn:
            draws = conn.execute(select(draw_t).where(draw_t.c.month == month)
                                 .order_by(draw_t.c.id.desc())).all()
            picks = conn.execute(
                select(sample_t.c.draw_id, grid_t.c.code.label("grid"), road_t.c.code.label("road"))
                .join(grid_t, sample_t.c.grid_id == grid_t.c.id).join(road_t, sample_t.c.road_id == road_t.c.id)
                .where(sample_t.c.draw_id.in_([d.id for d in draws] or [-1]))
                .order_by(grid_t.c.code, road_t.c.code)
            ).all()
        samples: dict[int, dict[str, list[str]]] = {d.id: {} for d in draws}
        for pick in picks:
            samples[pick.draw_id].setdefault(pick.grid, []).append(pick.road)
        return [Draw(id=d.id, month=d.month, seed=d.seed, method=d.method, drawn_by=d.drawn_by,
                     drawn_at=d.drawn_at, superseded_at=d.superseded_at, reason=d.reason, sample=samples[d.id])
                for d in draws]

    def drawn_at(self, month: str) -> datetime | None:
        """When the month's sample (its draw not superseded) was drawn; None before any draw."""
        with self.engine.connect() as conn:
            return conn.execute(select(draw_t.c.drawn_at).where(draw_t.c.month == month,
                                                                draw_t.c.superseded_at.is_(None))).scalar()

    def sample(self, month: str) -> Draw | None:
        return next((d for d in self.draws(month) if d.superseded_at is None), None)

    def months_drawn(self, year: int | None = None) -> list[str]:
        """Months that have a sample (of `year`, or all), oldest first."""
        query = select(draw_t.c.month).distinct().where(draw_t.c.superseded_at.is_(None)).order_by(draw_t.c.month)
        if year is not None:
            query = query.where(draw_t.c.month.like(f"{year:04d}-%"))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def save_draw(self, month: str, seed: int | None, method: str, sample: dict[str, list[str]],
                  designated: Iterable[str], drawn_by: str, reason: str | None = None) -> int:
        """Record a draw as the month's sample, superseding (and keeping) the previous one."""
        designated = set(designated)
        with self.begin() as conn:
            now = utcnow()
            conn.execute(update(draw_t).where(draw_t.c.month == month, draw_t.c.superseded_at.is_(None))
                         .values(superseded_at=now))
            draw_id = conn.execute(insert(draw_t).values(month=month, seed=seed, method=method, drawn_by=drawn_by,
                                                         drawn_at=now, reason=reason)).inserted_primary_key[0]
            grid_ids = dict(conn.execute(select(grid_t.c.code, grid_t.c.id)).all())
            road_ids = dict(conn.execute(select(road_t.c.code, road_t.c.id)).all())
            rows = [{"draw_id": draw_id, "road_id": road_ids[road], "grid_id": grid_ids[grid],
                     "designated": grid in designated} for grid, roads in sample.items() for road in roads]
            if rows:
                conn.execute(insert(sample_t), rows)
        return draw_id

    def findings_on_sample(self, draw_id: int, month: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(finding_t)
                                .join(sample_t, sample_t.c.road_id == finding_t.c.road_id)
                                .where(sample_t.c.draw_id == draw_id, finding_t.c.month == month,
                                       finding_t.c.deleted_at.is_(None))).scalar_one()

    # findings -------------------------------------------------------------------------

    def existing_findings(self, external_ids: Sequence[str]) -> dict[str, dict]:
        """Stored findings by external id, for telling a duplicate from a conflict."""
        found: dict[str, dict] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(external_ids), 500):
                chunk = list(external_ids[start:start + 500])
                rows = conn.execute(select(finding_t.c.external_id, finding_t.c.rule, finding_t.c.count,
                                           finding_t.c.area_m2, finding_t.c.observed_at, finding_t.c.deadline,
                                           finding_t.c.note, road_t.c.code.label("road"))
                                    .join(road_t, road_t.c.id == finding_t.c.road_id)
                                    .where(finding_t.c.external_id.in_(chunk)))
                found.update({r.external_id: r._asdict() for r in rows})
        return found

    def add_findings(self, rows: list[dict]) -> int:
        """Insert findings; one whose external id is already stored is skipped (idempotent
        retries). Returns how many were inserted."""
        if not rows:
            return 0
        # RETURNING counts what was really inserted (rowcount is -1 for batches on some drivers).
        insert_stmt = ignoring_duplicates(self.engine.dialect.name, finding_t).returning(finding_t.c.id)
        now = utcnow()
        inserted = 0
        with self.begin() as conn:
            for start in range(0, len(rows), 20000):
                chunk = [{"created_at": now, "created_by": None, **r} for r in rows[start:start + 20000]]
                inserted += len(conn.execute(insert_stmt, chunk).all())
        return inserted

    def road_ids(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(road_t.c.code, road_t.c.id)).all())

    def findings_for_scoring(self, draw_id: int, month: str, tz) -> dict[str, list[scoring.Finding]]:
        """The month's findings on the sampled roads, as the pure scorer wants them."""
        # A plain DB-API fetch: this is the hot path of scoring a whole city's month.
        query = ("SELECT r.code, f.rule, f.count, f.area_m2, "
                 "CASE WHEN f.deadline IS NULL THEN NULL ELSE f.observed_at END, f.deadline "
                 # sample roads first (SQLite keeps CROSS JOIN order): a few index look-ups per road
                 "FROM sample_road s CROSS JOIN finding f JOIN road r ON r.id = f.road_id "
                 "WHERE s.draw_id = %(draw)s AND f.road_id = s.road_id AND f.month = %(month)s "
                 "AND f.deleted_at IS NULL")
        if self.engine.dialect.paramstyle == "qmark":
            query, params = query.replace("%(draw)s", "?").replace("%(month)s", "?"), (draw_id, month)
        else:
            params = {"draw": draw_id, "month": month}
        by_road: dict[str, list[scoring.Finding]] = {}
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            cursor.execute(query, params)
            rows = cursor.fetchall()
            cursor.close()
        make = tuple.__new__  # a Finding straight from its fields: the hot loop of a city's month
        for road, rule, count, area, observed, deadline in rows:
            observed_on = None
            if deadline is not None:  # only 5.4-like rules need the local date of observation
                if isinstance(observed, str):  # SQLite: naive UTC text (PostgreSQL's driver gives aware times)
                    observed = datetime.fromisoformat(observed).replace(tzinfo=timezone.utc)
                deadline = date.fromisoformat(deadline[:10]) if isinstance(deadline, str) else deadline
                observed_on = observed.astimezone(tz).date()
            by_road.setdefault(road, []).append(make(scoring.Finding, (rule, count, area, observed_on, deadline)))
        return by_road

    def grid_codes(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(grid_t.c.code).where(grid_t.c.retired_at.is_(None))
                                     .order_by(grid_t.c.code)).scalars())

    def findings_frame(self, month: str | None = None) -> gpd.GeoDataFrame:
        query = (select(finding_t.c.external_id.label("id"), road_t.c.code.label("road"), grid_t.c.code.label("grid"),
                        finding_t.c.month, finding_t.c.rule, finding_t.c.count, finding_t.c.area_m2,
                        finding_t.c.observed_at, finding_t.c.deadline, finding_t.c.note, finding_t.c.snapped_m,
                        finding_t.c.geom)
                 .join(road_t, road_t.c.id == finding_t.c.road_id)
                 .outerjoin(grid_t, grid_t.c.id == road_t.c.grid_id).where(finding_t.c.deleted_at.is_(None))
                 .order_by(finding_t.c.id))
        if month:
            query = query.where(finding_t.c.month == month)
        with self.engine.connect() as conn:
            rows = [r._asdict() for r in conn.execute(query)]
        columns = ["id", "road", "grid", "month", "rule", "count", "area_m2", "observed_at", "deadline", "note",
                   "snapped_m", "geom"]
        return gpd.GeoDataFrame(rows, columns=columns, geometry="geom", crs=SRID).rename_geometry("geometry")

    def count(self, what: str) -> int:
        table = {"grids": grid_t, "roads": road_t, "findings": finding_t}[what]
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()


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

    def users(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(user_t).order_by(user_t.c.name))]

    def set_user_lang(self, user_id: int, lang: str) -> None:
        if lang not in LANGS:
            raise GisgridError("Unknown language {lang!r}", lang=lang)
        with self.begin() as conn:
            conn.execute(update(user_t).where(user_t.c.id == user_id).values(lang=lang))
