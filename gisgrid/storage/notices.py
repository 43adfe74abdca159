"""Storage of rectification: notices, their numbered items (the town office's report, the
re-inspection), their photos. Writes take the caller's connection (one transaction with the
audit row); reads open their own."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, insert, select, text, update

from ..domain.errors import NotFound
from .schema import Notice, NoticeItem, NoticePhoto, utcnow
from .db import finding_t, grid_t, road_t
from . import Store

notice_t, item_t, notice_photo_t = Notice.__table__, NoticeItem.__table__, NoticePhoto.__table__

NOTICE_COLUMNS = (notice_t.c.id, notice_t.c.number, notice_t.c.rule, notice_t.c.issued_on, notice_t.c.deadline,
                  notice_t.c.issued_by, notice_t.c.issued_at, notice_t.c.received_at, notice_t.c.received_by,
                  notice_t.c.source, grid_t.c.code.label("grid"), grid_t.c.name.label("grid_name"),
                  grid_t.c.town)
ITEM_COLUMNS = tuple(item_t.c)


def numbering_in(conn) -> None:
    """Take turns at numbering notices until the caller's transaction ends: two offices issuing
    at once on PostgreSQL would count the same year and make the same number. (SQLite's writers
    take turns already.)"""
    if conn.dialect.name == "postgresql":
        from .locks import NAMESPACE

        conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext('notice-number'))"), {"space": NAMESPACE})


def number_taken_in(conn, number: str) -> bool:
    return conn.execute(select(notice_t.c.id).where(notice_t.c.number == number)).first() is not None


def issued_in_year_in(conn, year: int) -> int:
    """How many notices carry an issue date in `year`: the next one's sequence is one more."""
    return conn.execute(select(func.count()).select_from(notice_t).where(
        notice_t.c.issued_on >= date(year, 1, 1), notice_t.c.issued_on <= date(year, 12, 31))).scalar()


def grid_id_in(conn, code: str) -> int:
    grid_id = conn.execute(select(grid_t.c.id).where(grid_t.c.code == code, grid_t.c.retired_at.is_(None))).scalar()
    if grid_id is None:
        raise NotFound("Unknown grid code {code!r}", code=code)
    return grid_id


def insert_notice(conn, values: dict, items: list[dict]) -> int:
    notice_id = conn.execute(insert(notice_t).values(issued_at=utcnow(), **values)).inserted_primary_key[0]
    conn.execute(insert(item_t), [{"notice_id": notice_id, "version": 1, **item} for item in items])
    return notice_id


def finding_for_item_in(conn, finding_id: int) -> dict | None:
    """A finding an item is made from: its road (and that road's grid), point, rule and note."""
    row = conn.execute(select(finding_t.c.id, finding_t.c.road_id, finding_t.c.geom, finding_t.c.rule,
                              finding_t.c.note, finding_t.c.deleted_at, road_t.c.code.label("road"),
                              road_t.c.name.label("road_name"), grid_t.c.code.label("grid"))
                       .join(road_t, road_t.c.id == finding_t.c.road_id)
                       .outerjoin(grid_t, grid_t.c.id == road_t.c.grid_id)
                       .where(finding_t.c.id == finding_id)).first()
    return row._asdict() if row else None


def _notice_query():
    return select(*NOTICE_COLUMNS).join(grid_t, grid_t.c.id == notice_t.c.grid_id)


def _items(conn, notice_ids: list[int]) -> dict[int, list[dict]]:
    items: dict[int, list[dict]] = {n: [] for n in notice_ids}
    if not notice_ids:
        return items
    rows = conn.execute(select(*ITEM_COLUMNS, road_t.c.code.label("road"))
                        .outerjoin(road_t, road_t.c.id == item_t.c.road_id)
                        .where(item_t.c.notice_id.in_(notice_ids)).order_by(item_t.c.notice_id, item_t.c.item)).all()
    photos: dict[int, list[dict]] = {}
    ids = [r.id for r in rows]
    if ids:
        for p in conn.execute(select(notice_photo_t).where(notice_photo_t.c.item_id.in_(ids))
                              .order_by(notice_photo_t.c.id)):
            photos.setdefault(p.item_id, []).append(p._asdict())
    for r in rows:
        items[r.notice_id].append({**r._asdict(), "photos": photos.get(r.id, [])})
    return items


def _with_items(conn, rows) -> list[dict]:
    notices = [r._asdict() for r in rows]
    items = _items(conn, [n["id"] for n in notices])
    return [{**n, "items": items[n["id"]]} for n in notices]


def notice_in(conn, ref: int | str) -> dict:
    """A notice by its id or its number, with its items."""
    where = notice_t.c.id == ref if isinstance(ref, int) else notice_t.c.number == ref
    rows = conn.execute(_notice_query().where(where)).all()
    if not rows:
        raise NotFound("No such notice: {ref}", ref=ref)
    return _with_items(conn, rows)[0]


def notice(store: Store, ref: int | str) -> dict:
    with store.engine.connect() as conn:
        return notice_in(conn, ref)


def notices(store: Store, grid: str | None = None, towns: frozenset[str] | None = None,
            deadline_from: date | None = None, deadline_to: date | None = None) -> list[dict]:
    """Notices with their items, newest deadline first: of one grid, of some towns' grids, with a
    deadline in a range."""
    query = _notice_query().order_by(notice_t.c.deadline.desc(), notice_t.c.id.desc())
    if grid is not None:
        query = query.where(grid_t.c.code == grid)
    if towns is not None:
        query = query.where(grid_t.c.town.in_(sorted(towns)))
    if deadline_from is not None:
        query = query.where(notice_t.c.deadline >= deadline_from)
    if deadline_to is not None:
        query = query.where(notice_t.c.deadline <= deadline_to)
    with store.engine.connect() as conn:
        return _with_items(conn, conn.execute(query).all())


def counted_items(store: Store, first: date, last: date) -> list[dict]:
    """What the rules read of every item whose notice's deadline is in [first, last]: the grid,
    notice, item, rule, deadline and confirmed fix date."""
    with store.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(
            select(grid_t.c.code.label("grid"), notice_t.c.id.label("notice"), item_t.c.item, notice_t.c.rule,
                   notice_t.c.deadline, item_t.c.fixed_on)
            .select_from(item_t.join(notice_t, notice_t.c.id == item_t.c.notice_id)
                         .join(grid_t, grid_t.c.id == notice_t.c.grid_id))
            .where(notice_t.c.deadline >= first, notice_t.c.deadline <= last))]


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of a YYYY-MM month."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, 1), (date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)) - timedelta(1)


def month_range(month: str) -> tuple[date, date]:
    """The deadlines whose items can count in `month`: the month before it (5.4's doubling day
    falls one month after the deadline) and the month itself."""
    first, last = month_days(month)
    return month_days(f"{(first - timedelta(1)):%Y-%m}")[0], last


def update_item_in(conn, item_id: int, values: dict) -> None:
    conn.execute(update(item_t).where(item_t.c.id == item_id).values(version=item_t.c.version + 1, **values))


def mark_received_in(conn, notice_id: int, by: str) -> None:
    conn.execute(update(notice_t).where(notice_t.c.id == notice_id, notice_t.c.received_at.is_(None))
                 .values(received_at=utcnow(), received_by=by))


def photo_in(conn, client_id: str) -> dict | None:
    row = conn.execute(select(notice_photo_t).where(notice_photo_t.c.client_id == client_id)).first()
    return row._asdict() if row else None


def insert_photo_in(conn, values: dict) -> int:
    return conn.execute(insert(notice_photo_t).values(created_at=utcnow(), **values)).inserted_primary_key[0]


def photo(store: Store, photo_id: int) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(select(notice_photo_t, notice_t.c.id.label("notice"), grid_t.c.town)
                           .join(item_t, item_t.c.id == notice_photo_t.c.item_id)
                           .join(notice_t, notice_t.c.id == item_t.c.notice_id)
                           .join(grid_t, grid_t.c.id == notice_t.c.grid_id)
                           .where(notice_photo_t.c.id == photo_id)).first()
    if row is None:
        raise NotFound("No such photo")
    return row._asdict()


def grid_shapes(store: Store, code: str) -> tuple:
    """(the grid's shape or None, its roads' shapes): what a printed notice sketches."""
    with store.engine.connect() as conn:
        row = conn.execute(select(grid_t.c.id, grid_t.c.geom).where(grid_t.c.code == code)).first()
        if row is None:
            return None, []
        roads = conn.execute(select(road_t.c.geom).where(road_t.c.grid_id == row.id,
                                                        road_t.c.retired_at.is_(None))).scalars().all()
    return row.geom, list(roads)


def revision(store: Store) -> tuple:
    """Changes whenever a notice or an item is added or changed: the key of cached month scores."""
    with store.engine.connect() as conn:
        return tuple(conn.execute(select(func.count(), func.max(item_t.c.id), func.sum(item_t.c.version))).one())
