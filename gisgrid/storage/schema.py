"""The database schema (SQLAlchemy 2). Geometries are WGS84 (SRID 4326): real PostGIS
geometries on PostgreSQL, so QGIS opens the tables directly; WKB blobs on SQLite."""

from __future__ import annotations

import re
from functools import lru_cache
from datetime import date, datetime, timezone

import shapely
from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, String, Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .. import clock

SRID = 4326
# a grid or road code: what a URL path segment and the planner's map can carry (national 15-digit
# grid codes fit)
CODE = re.compile(r"[^\s/\\?#%]{1,32}")


utcnow = clock.now  # aware UTC, what an Instant column takes


class Instant(TypeDecorator):
    """A moment in time, aware UTC in Python on every database: `timestamptz` on PostgreSQL (so
    QGIS and psql show it in their own zone, not a bare UTC time), naive UTC on SQLite, which
    keeps no offsets (the form gisgrid always stored there, so old files need no migration)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # UTC? Beijing? A naive time is a bug, refused before it is stored
            raise ValueError(f"a naive datetime ({value}) cannot be stored: give it a time zone")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def bind_processor(self, dialect):
        # A bulk write (an import's history rows, a month's draw) stamps many rows with one moment:
        # convert and format each distinct moment once, not once per row.
        process = super().bind_processor(dialect)
        once = lru_cache(maxsize=64)(process)
        return lambda value: None if value is None else once(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Geom(TypeDecorator):
    """A shapely geometry in WGS84: PostGIS `geometry(<type>, 4326)` or a WKB blob."""

    impl = LargeBinary
    cache_ok = True
    spatial_index = False  # GiST indexes are made by the migrations; GeoAlchemy2's DDL hooks read this

    def __init__(self, geometry_type: str = "GEOMETRY"):
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect):
        # GeoAlchemy2's DDL hooks probe types with dialect=None; only PostgreSQL gets PostGIS.
        if dialect is None:
            return LargeBinary()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(self.geometry_type, srid=SRID, spatial_index=False))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        wkb = value if isinstance(value, bytes) else shapely.to_wkb(value)   # bytes: WKB written in bulk
        return WKBElement(wkb, srid=SRID) if dialect.name == "postgresql" else wkb

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        data = value.data if isinstance(value, WKBElement) else value
        return shapely.from_wkb(bytes(data) if not isinstance(data, str) else data)


class Base(DeclarativeBase):
    pass


# The GiST indexes on the geometry columns: the migrations make them on PostGIS only (SQLite has
# no spatial index), so schema.py cannot declare them for both; the schema compare leaves them out.
SPATIAL_INDEXES = frozenset({"ix_grid_geom", "ix_road_geom", "ix_finding_geom"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What Alembic's compare (autogenerate) looks at: everything but two things of PostGIS's."""
    if type_ == "table" and reflected and compare_to is None and name == "spatial_ref_sys":
        return False  # PostGIS's table of coordinate systems, made by CREATE EXTENSION postgis
    if type_ == "index" and reflected and compare_to is None and name in SPATIAL_INDEXES:
        return False  # see SPATIAL_INDEXES
    return True


class Setting(Base):
    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Grid(Base):
    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(200))
    grid_class: Mapped[str | None] = mapped_column(String(1))
    leader: Mapped[str | None] = mapped_column(String(100))
    geom = mapped_column(Geom("MULTIPOLYGON"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(Instant)  # merged away or removed; kept for past months


class Road(Base):
    __tablename__ = "road"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str | None] = mapped_column(String(50))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"), index=True)
    geom = mapped_column(Geom("MULTIPOLYGON"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(Instant)  # merged away or removed; kept for past months


class SampleDraw(Base):
    """One draw of a month's sample. The month's sample is its draw not superseded; a
    redraw supersedes the old one and keeps it, so every draw stays auditable."""

    __tablename__ = "sample_draw"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(10))  # seed | manual | mixed
    drawn_by: Mapped[str] = mapped_column(String(100))
    drawn_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(Instant)
    reason: Mapped[str | None] = mapped_column(Text)


class SampleRoad(Base):
    __tablename__ = "sample_road"
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draw.id", ondelete="CASCADE"), primary_key=True)
    road_id: Mapped[int] = mapped_column(ForeignKey("road.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    designated: Mapped[bool] = mapped_column(Boolean, default=False)


class Finding(Base):
    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("external_id", name="uq_finding_external_id"),
        Index("ix_finding_scoring", "month", "road_id", "deleted_at", "rule", "count", "area_m2", "deadline",
              "observed_at"),
        # the few findings with a deadline (5.4), read one by one when a month is scored
        Index("ix_finding_dated", "month", "road_id", "deleted_at", "rule", "count", "area_m2", "observed_at",
              "deadline", sqlite_where=text("deadline IS NOT NULL"), postgresql_where=text("deadline IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128))
    road_id: Mapped[int] = mapped_column(ForeignKey("road.id"))
    month: Mapped[str] = mapped_column(String(7))
    rule: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=1)
    area_m2: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(Instant)
    deadline: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    snapped_m: Mapped[float] = mapped_column(Float, default=0.0)
    geom = mapped_column(Geom("POINT"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime | None] = mapped_column(Instant)
    deleted_at: Mapped[datetime | None] = mapped_column(Instant)  # kept, not scored


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class AccountTown(Base):
    """The towns an account works for: a town office sees its towns' grids; an inspector's
    towns let the office keep them off their own town's roads (交叉检查)."""

    __tablename__ = "account_town"
    account_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    town: Mapped[str] = mapped_column(String(128), primary_key=True)


class UserSession(Base):
    """One login. The cookie carries a random 256-bit id; the table keeps only its SHA-256, so a
    copy of the database cannot be replayed as cookies. Kept in the database, not in a process,
    so several app servers share it and ending a session ends it on all of them."""

    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Instant)
    end_reason: Mapped[str | None] = mapped_column(String(16))  # logout | password | disabled | reset | expired
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))


class LoginAttempt(Base):
    """Every login attempt, kept as the audit and read back by the throttle: the name tried
    (whether or not such an account exists), the address, when, and how it ended."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_name", "name", "attempted_at"),
                      Index("ix_login_attempt_address", "address", "attempted_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    address: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | wrong | inactive | throttled
    user_agent: Mapped[str | None] = mapped_column(String(256))


class Inspection(Base):
    """Which inspector walks which sampled road in a month, and when they submitted it."""

    __tablename__ = "inspection"
    __table_args__ = (UniqueConstraint("month", "road_id", name="uq_inspection_month_road"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    road_id: Mapped[int] = mapped_column(ForeignKey("road.id"))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    assigned_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(Instant)
    submitted_by: Mapped[str | None] = mapped_column(String(100))


class FindingChange(Base):
    """Every create, edit, move and delete of a finding: who, when, why, before and after."""

    __tablename__ = "finding_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class PhotoFiles:
    """What a stored photo is: its client-made id, the JPEG and its thumbnail (paths under the
    photo folder), its size, who stored it when."""

    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    file: Mapped[str] = mapped_column(String(255))
    thumb: Mapped[str] = mapped_column(String(255))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))


class Photo(PhotoFiles, Base):
    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    # a removed photo is kept (file and row) for the audit, only no longer shown or counted
    removed_at: Mapped[datetime | None] = mapped_column(Instant)
    removed_by: Mapped[str | None] = mapped_column(String(100))


class ClientWrite(Base):
    """Every change the tablet sent with its client-made id (an edit, a move, a delete, a photo
    removed, a road submitted): a replay of the same id is answered from here and writes nothing
    again, so a lost answer and its retry cannot change, delete or audit twice."""

    __tablename__ = "client_write"
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(64))       # the finding's, photo's or road's id
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of what was asked
    created_at: Mapped[datetime] = mapped_column(Instant, default=utcnow)


class BoundaryVersion(Base):
    """Every change to a grid or road: its GeoJSON Feature (WGS84) before (NULL when created) and after."""

    __tablename__ = "boundary_version"
    __table_args__ = (UniqueConstraint("kind", "code", "version", name="uq_boundary_version"),
                      Index("ix_boundary_version_kind_code", "kind", "code"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))  # grid | road
    code: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)  # the feature's version after the change
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(Instant)
    reason: Mapped[str | None] = mapped_column(Text)


class MonthState(Base):
    """A month's state: draft, or published with the scores frozen at publication."""

    __tablename__ = "month_state"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("sample_draw.id"))
    published_at: Mapped[datetime | None] = mapped_column(Instant)
    published_by: Mapped[str | None] = mapped_column(String(100))
    scores: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Instant)
    # the inspection window: no finding observed after this district date (None: open)
    closes_on: Mapped[date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(100))


class MonthRevision(Base):
    """How many times the month's findings were written (added, edited, moved, deleted), counted
    by the database itself (migration 0016's triggers) in the writing transaction. The key of a
    draft month's kept scores, and the row a publication locks: on PostgreSQL, ids are handed out
    before commit, so a finding committed after a later one hides behind the largest id; a count
    cannot. The same triggers refuse any write to the findings of a published month."""

    __tablename__ = "month_revision"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)


class RoadWritten(Base):
    """Which roads' findings a month's writes touched, with the month's count at each road's last
    write (migration 0017's triggers, beside 0016's count): a draft month's kept scores rescore
    the roads written since they were made, not the whole sample."""

    __tablename__ = "road_written"
    __table_args__ = (Index("ix_road_written_change", "month", "change"),)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    road_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    change: Mapped[int] = mapped_column(BigInteger)


class RoadTally(Base):
    """Each road's tally of a month's standing findings without a deadline, by rule and area
    (0: none), kept by the database in the writing transaction (migration 0018's triggers): how
    many findings, their items (counts summed) and how many have a count below 1 or not whole. A city's month
    is priced from these rows, not from its findings."""

    __tablename__ = "road_tally"
    __table_args__ = {"sqlite_with_rowid": False}
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    road_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rule: Mapped[str] = mapped_column(String(16), primary_key=True)
    area: Mapped[float] = mapped_column(Float, primary_key=True)
    findings: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(BigInteger)
    uncounted: Mapped[int] = mapped_column(Integer)


class AuditLog(Base):
    """Every change the office makes, and who published or re-opened a month: who, when, why,
    what it was done to (`subject`: an account, a road; `month` when it belongs to one) and
    the state before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str | None] = mapped_column(String(7), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(Instant)
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class RulebookFile(Base):
    """A district's own rulebook uploaded by the office: the TOML as given (parsed and checked
    like a file in RULEBOOK_DIR), kept in the database so every app server scores with it."""

    __tablename__ = "rulebook_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[str] = mapped_column(String(7), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(Instant)


class Notice(Base):
    """A rectification notice (整改通知书) the office issued to a grid: one rule, an issue date,
    a deadline, its number in the office's style; its items are NoticeItem rows."""

    __tablename__ = "notice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date, index=True)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(Instant)
    # when the town office received it (签收): the case loop's "dispatched within 24 h"
    received_at: Mapped[datetime | None] = mapped_column(Instant)
    received_by: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(10), default="issued")   # issued | imported


class NoticeItem(Base):
    """One numbered item of a notice: typed, or from a finding (its point and road come with it).
    The town office reports it fixed (reported_on); an inspector re-inspects and confirms it
    fixed or not (fixed_on is the confirmed date, the one the rules count)."""

    __tablename__ = "notice_item"
    __table_args__ = (UniqueConstraint("notice_id", "item", name="uq_notice_item"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    item: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"))
    road_id: Mapped[int | None] = mapped_column(ForeignKey("road.id"))
    geom = mapped_column(Geom("POINT"), nullable=True)
    reported_on: Mapped[date | None] = mapped_column(Date)
    reported_by: Mapped[str | None] = mapped_column(String(100))
    reported_at: Mapped[datetime | None] = mapped_column(Instant)
    report_note: Mapped[str | None] = mapped_column(Text)
    checked_on: Mapped[date | None] = mapped_column(Date)        # the last re-inspection, fixed or not
    checked_by: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(Instant)
    check_note: Mapped[str | None] = mapped_column(Text)
    fixed_on: Mapped[date | None] = mapped_column(Date)          # confirmed fixed on this date
    satisfaction: Mapped[int | None] = mapped_column(Integer)    # the resident's 1-5, optional
    version: Mapped[int] = mapped_column(Integer, default=1)


class NoticePhoto(PhotoFiles, Base):
    """A photo of a notice item: the town office's after-photo or the re-inspection's."""

    __tablename__ = "notice_photo"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("notice_item.id"), index=True)
    stage: Mapped[str] = mapped_column(String(10))               # report | check
