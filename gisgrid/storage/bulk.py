"""Saving many grids and roads at once (an import, an OSM draft): one transaction with a history
row per feature, planned before that transaction starts.

SQLite has one write lock for the whole database. An import that read the stored features,
built 120,000 history texts and encoded the shapes while holding it kept every tablet's write
waiting for seconds. So the plan is made on a read connection; under the lock it is only
checked — no grid or road was added or changed meanwhile, else it is made again there — and
written. On SQLite the plan's new rows and history are first copied, off the lock, into
temporary tables of the connection that will write (SQLite's temporary database has a lock of
its own): under the lock the database copies them across itself, and an import of 120,000
roads holds it 1.7 s, not 5.2 s."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from ..domain.errors import LayerError
from . import boundaries
from .db import grid_t, road_t
from .schema import BoundaryVersion, utcnow

version_t = BoundaryVersion.__table__


def _versions(conn: Connection, table) -> dict[str, tuple[int, int]]:
    """code -> (id, version) of every stored feature, retired ones too."""
    return {code: (id_, version) for code, id_, version in
            conn.execute(select(table.c.code, table.c.id, table.c.version))}


@dataclass
class Planned:
    """What a save of one table will write, planned on a read connection: valid under the lock
    while `versions` (every stored code's id and version) still stands."""
    table: object
    now: object
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)
    new: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)


def _plan_table(conn: Connection, table, rows: list[dict], stored: dict[str, tuple[int, int]], changed_by: str,
                reason: str | None, only_new: bool, now) -> Planned:
    if only_new:                # a draft never overwrites, nor brings back what a planner retired
        rows = [r for r in rows if r["code"] not in stored]
    before = boundaries.snapshot(conn, table, {r["code"] for r in rows} & stored.keys())
    # GEOS writes every shape's WKB in one call, not one call per row inside the write
    wkb = shapely.to_wkb(np.array([r["geom"] for r in rows], dtype=object)) if rows else []
    written = [{**r, "geom": shape_wkb} for r, shape_wkb in zip(rows, wkb)]
    return Planned(
        table, now, stored,
        new=[{**r, "version": 1, "updated_at": now} for r in written if r["code"] not in stored],
        # a retired code imported again comes back
        changed=[{**r, "b_id": stored[r["code"]][0], "updated_at": now, "retired_at": None}
                 for r in written if r["code"] in stored],
        history=boundaries.history_rows("grid" if table is grid_t else "road", rows, before, changed_by, reason, now))


def _plan(conn: Connection, grids: list[dict] | None, roads: list[dict] | None, changed_by: str,
          reason: str | None, only_new: bool):
    versions = (_versions(conn, grid_t), _versions(conn, road_t))
    now = utcnow()
    plans = [_plan_table(conn, table, rows, stored, changed_by, reason, only_new, now)
             if rows is not None else None for table, rows, stored in zip((grid_t, road_t), (grids, roads), versions)]
    return versions, plans


def _with_grid_ids(conn: Connection, rows: list[dict]) -> list[dict]:
    """Roads name their grid by code; stored, they point at its id (a grid of this save included)."""
    grid_ids = dict(conn.execute(select(grid_t.c.code, grid_t.c.id).where(grid_t.c.retired_at.is_(None))).all())
    _refuse_unknown_grids(sorted({r["grid"] for r in rows if r["grid"] is not None and r["grid"] not in grid_ids}))
    return [{**{k: v for k, v in r.items() if k != "grid"}, "grid_id": grid_ids.get(r["grid"])} for r in rows]


def _refuse_unknown_grids(unknown: list[str]) -> None:
    if unknown:
        raise LayerError("Roads name grids that are not in the database: {codes} (import those grids "
                         "first)", codes=", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else ""))


def _stamp(planned: Planned, rows: list[dict], history: list[dict]) -> None:
    """Give the plan the time it is written at (under the lock), not the time it was made: a
    draw made in between must not see these features as there already when it was drawn."""
    now = utcnow()
    was = f'"updated_at": "{boundaries._utc_text(planned.now)}"'
    stamp = f'"updated_at": "{boundaries._utc_text(now)}"'
    for row in rows:
        row["updated_at"] = now
    for row in history:
        row["changed_at"], row["after"] = now, row["after"].replace(was, stamp)
    planned.now = now


def write(conn: Connection, planned: Planned, staged: Staged | None = None) -> tuple[int, int]:
    """Write a current plan inside the caller's transaction: (created, updated). `staged`: the
    plan's new rows and history as staged() copied them to this connection's temporary tables."""
    if staged is not None and staged.planned is not planned:
        raise ValueError("the staged rows are another plan's")
    was = boundaries._utc_text(planned.now)
    # staged: the database copies the new rows and the history, and stamps them
    new, history = ([], []) if staged is not None else (planned.new, planned.history)
    _stamp(planned, new + planned.changed, history)
    table, changed = planned.table, planned.changed
    if table is road_t and (new or changed):        # staged new roads find their grid in SQL
        new, changed = _with_grid_ids(conn, new), _with_grid_ids(conn, changed)
    if new:
        _insert_many(conn, table, new)
    if changed:
        columns = {k: bindparam(k) for k in changed[0] if k not in ("b_id", "code")}
        conn.execute(update(table).where(table.c.id == bindparam("b_id"))
                     .values(**columns, version=table.c.version + 1), changed)
    if history:
        _insert_many(conn, version_t, history)
    if staged is not None:
        staged.copy(conn, was, planned.now)
        return staged.created, len(changed)
    return len(new), len(changed)


@dataclass
class Staged:
    """A plan's new rows and history in temporary tables of one SQLite connection."""
    planned: Planned
    created: int
    columns: dict[str, list[str]]

    def copy(self, conn: Connection, was: str, now) -> None:
        """Under the lock: the staged rows into the tables, stamped `now` (their history's text
        carried the plan's time, `was`); a road's grid by code, which must be a current grid."""
        table, quote = self.planned.table, conn.dialect.identifier_preparer.quote
        stamp = table.c.updated_at.type.bind_processor(conn.dialect)(now)
        if "new" in self.columns:
            names = self.columns["new"]
            chosen = [f"s.{quote(c)}" for c in names]
            targets = list(names)
            if table is road_t:
                _refuse_unknown_grids([code for (code,) in conn.exec_driver_sql(
                    "SELECT DISTINCT s.grid FROM temp.gisgrid_new s WHERE s.grid IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM grid g WHERE g.code = s.grid AND g.retired_at IS NULL) ORDER BY 1 LIMIT 11")])
                at = names.index("grid")
                targets[at] = "grid_id"
                chosen[at] = "(SELECT g.id FROM grid g WHERE g.code = s.grid AND g.retired_at IS NULL)"
            conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, targets))}, updated_at) "
                                 f"SELECT {', '.join(chosen)}, ? FROM temp.gisgrid_new s ORDER BY s.rowid", (stamp,))
        if "history" in self.columns:
            names = self.columns["history"]
            chosen = ["replace(s.after, ?, ?)" if c == "after" else f"s.{quote(c)}" for c in names]
            conn.exec_driver_sql(
                f"INSERT INTO {quote(version_t.name)} ({', '.join(map(quote, names))}, changed_at) "
                f"SELECT {', '.join(chosen)}, ? FROM temp.gisgrid_history s ORDER BY s.rowid",
                (f'"updated_at": "{was}"', f'"updated_at": "{boundaries._utc_text(now)}"', stamp))


@contextmanager
def staged(conn: Connection, planned: Planned):
    """On SQLite, the plan's new rows and history copied (converted for the database, without
    their time stamps) into this connection's temporary tables and committed: no lock of the
    database is taken. Yields a Staged for write() on the same connection, or None (PostgreSQL,
    which has no one lock, or nothing to copy); the tables are dropped after."""
    if conn.dialect.name != "sqlite" or not (planned.new or planned.history):
        yield None
        return
    if conn.in_transaction():
        conn.commit()
    columns = {}
    try:
        for name, table, rows, stamped in (("new", planned.table, planned.new, "updated_at"),
                                           ("history", version_t, planned.history, "changed_at")):
            if rows:
                columns[name] = [k for k in rows[0] if k != stamped]
                _stage(conn, f"gisgrid_{name}", table, columns[name], rows)
        conn.commit()
        yield Staged(planned, len(planned.new), columns)
    finally:
        if conn.in_transaction():
            conn.rollback()
        for name in columns:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.gisgrid_{name}")
        conn.commit()


def _stage(conn: Connection, name: str, table, keys: list[str], rows: list[dict]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({', '.join(map(quote, keys))})")
    # a road's grid stays its code here: the copy finds the id under the lock
    converters = [(key, table.c[key].type.bind_processor(conn.dialect) if key in table.c else None) for key in keys]
    conn.exec_driver_sql(f"INSERT INTO temp.{name} VALUES ({', '.join('?' * len(keys))})",
                         [tuple(convert(row[key]) if convert else row[key] for key, convert in converters)
                          for row in rows])


def _insert_many(conn: Connection, table, rows: list[dict]) -> None:
    """INSERT rows that all have the same keys. On SQLite, under its one write lock, straight to
    the driver with each value converted by its column's own type: SQLAlchemy's work per row was
    a third of the time an import of 120,000 roads held the lock."""
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    keys = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    converters = [(key, table.c[key].type.bind_processor(conn.dialect)) for key in keys]
    values = [tuple(convert(row[key]) if convert else row[key] for key, convert in converters) for row in rows]
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
                         f"VALUES ({', '.join('?' * len(keys))})", values)


def plan(conn: Connection, table, rows: list[dict], changed_by: str, reason: str | None) -> Planned:
    """Plan writing `rows` of one table (an import's new and changed features) on a read connection."""
    return _plan_table(conn, table, rows, _versions(conn, table), changed_by, reason, False, utcnow())


def still_current(conn: Connection, planned: Planned) -> bool:
    """Under the lock: no feature of the table was added or changed since the plan was made."""
    return _versions(conn, planned.table) == planned.versions


def save(store, grids: list[dict] | None, roads: list[dict] | None, changed_by: str, reason: str | None,
         only_new: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Grids, then roads (each a row per feature, a road naming its grid by code), in one
    transaction with their history: ((created, updated) grids, (created, updated) roads)."""
    with store.engine.connect() as conn:
        versions, plans = _plan(conn, grids, roads, changed_by, reason, only_new)
    with store.begin() as conn:
        if (_versions(conn, grid_t), _versions(conn, road_t)) != versions:
            # another save came in between: plan again, holding the lock this time
            versions, plans = _plan(conn, grids, roads, changed_by, reason, only_new)
        return tuple(write(conn, planned) if planned is not None else (0, 0) for planned in plans)
