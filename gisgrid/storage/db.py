"""The database underneath: the URL, the SQLite connection settings (WAL, foreign keys, a write
lock taken at BEGIN), the migrations' location and head, and the tables by name."""

from __future__ import annotations


from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from ..domain.errors import Conflict
from ..domain.months import DEFAULT_TIMEZONE
from .schema import Finding, Grid, Road, SampleDraw, SampleRoad, Setting, User


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_SETTINGS = {"timezone": DEFAULT_TIMEZONE, "snap_tolerance_m": "10"}
grid_t, road_t, draw_t, sample_t, finding_t, setting_t, user_t = (
    m.__table__ for m in (Grid, Road, SampleDraw, SampleRoad, Finding, Setting, User))
ROLES = ("admin", "planner", "inspector", "reviewer", "town")   # town: a town office (镇办网格办)
LANGS = ("zh", "en")
CHECKPOINT_EVERY = 100  # writes of one process between checkpoints of SQLite's write-ahead log
WRITE_WAIT_S = 10      # how long a write waits for SQLite's one write lock before it is refused


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
    # a REPLACE that deletes a row to make room fires its delete triggers (a finding's count and tally)
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.execute(f"PRAGMA busy_timeout={WRITE_WAIT_S * 1000}")
    cursor.execute("PRAGMA wal_autocheckpoint=0")      # the Store checkpoints, after a writer's turn
    cursor.close()


def _sqlite_begin(conn) -> None:
    """A write transaction takes SQLite's write lock at its start (BEGIN IMMEDIATE): one that
    read first and wrote later would fail at once, not wait, when another writer came between
    (a use case reads what it checks, then writes, in one transaction)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("gisgrid_write") else "BEGIN")


# what the database answers a write to a published month's findings (migration 0016's triggers)
FROZEN_FINDINGS = "gisgrid: the findings of a published month are frozen"


@contextmanager
def published_months_refused():
    """The database's refusal of a write to a published month's findings as the user's error:
    a month published between the write's check and its commit (PostgreSQL lets them meet)."""
    try:
        yield
    except IntegrityError as error:
        if FROZEN_FINDINGS in str(error.orig):
            raise Conflict("The month was published meanwhile: its scores and findings are frozen; "
                           "re-open the month with a reason to change them") from None
        raise


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
    # the sampled roads' codes by id, read with the sample (their codes then, as `sample`'s)
    road_codes: dict[int, str] = field(default_factory=dict, compare=False, repr=False)
