"""Findings in bulk: telling a retry from a conflict, inserting many at once, reading a month's
findings for the scorer (the hot path of a city) and for export."""

from __future__ import annotations

import re

from collections.abc import Collection, Sequence
from datetime import date, datetime, timezone

import geopandas as gpd
from sqlalchemy import func, select

from ..domain import scoring
from .schema import SRID, utcnow

from .db import finding_t, grid_t, ignoring_duplicates, road_t


def _among(roads: Collection[int] | None) -> str:
    """The sample's roads limited to `roads` (ids from the database, written in as integers)."""
    if roads is None:
        return ""
    return " AND s.road_id IN (" + (",".join(str(int(r)) for r in roads) or "NULL") + ")"


FINITE = "1e308"     # an area below this is a number (not infinite, not NaN) on either database


class FindingQueries:
    """The Store's queries of findings (a mixin: the Store has the engine)."""

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

    def _fetch(self, query: str, params: dict) -> list[tuple]:
        """A plain DB-API fetch (the hot path of scoring a whole city's month), in either
        driver's parameter style."""
        if self.engine.dialect.paramstyle == "qmark":
            names = re.findall(r"%\((\w+)\)s", query)      # one "?" per occurrence, in order
            query, args = re.sub(r"%\(\w+\)s", "?", query), tuple(params[n] for n in names)
        else:
            args = params
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            cursor.execute(query, args)
            rows = cursor.fetchall()
            cursor.close()
        return rows

    # sample roads first (SQLite keeps CROSS JOIN order): a few index look-ups per road
    _ON_SAMPLE = ("WHERE s.draw_id = %(draw)s AND f.road_id = s.road_id AND f.month = %(month)s "
                  "AND f.deleted_at IS NULL")
    # the month's few findings with a deadline first, from their own index (ix_finding_dated)
    _DATED = ("FROM finding f CROSS JOIN sample_road s JOIN road r ON r.id = f.road_id "
              "WHERE f.month = %(month)s AND f.deadline IS NOT NULL AND f.deleted_at IS NULL "
              "AND s.draw_id = %(draw)s AND s.road_id = f.road_id")

    def sample_road_codes(self, draw_id: int, roads: Collection[int] | None = None) -> dict[int, str]:
        """The draw's sampled roads (`roads`: those of them) by id, with their codes now."""
        return dict(self._fetch("SELECT s.road_id, r.code FROM sample_road s JOIN road r ON r.id = s.road_id "
                                "WHERE s.draw_id = %(draw)s" + _among(roads), {"draw": draw_id}))

    def deduction_units_for_scoring(self, draw_id: int, month: str, tariff: dict[str, tuple[int, int]],
                                    threshold: float, area_rules: Collection[str] = (),
                                    roads: Collection[int] | None = None) -> tuple[dict[int, dict[str, int]], bool]:
        """What each sampled road's findings without a deadline deduct, per rule, in the
        rulebook's whole units, priced by the database from the road's tally (migration 0018):
        items × the rule's low figure, or its high one above the area threshold (`tariff`: rule
        -> (low, high) units; `area_rules`: the rules whose findings need an area, whatever their
        figures). Returns ({road id: {rule: units}}, clean); `clean` is False when a finding the
        tariff cannot price was met (an unknown rule, a count below 1 or not whole, an area
        rule without an area > 0, a rule that needs a deadline): the caller then scores finding
        by finding, which names the finding. `roads` (ids) limits it to those of the sample's
        roads. A road without such findings is not in the answer."""
        def literal(code: str) -> str:
            return "'" + code.replace("'", "''") + "'"

        # integers and the rulebook's own codes only: the tariff is built into the statement;
        # no price (NULL) for an area rule's tally without an area the scorer takes (> 0 and
        # finite: PostgreSQL's NaN is above every number)
        price = " ".join(f"WHEN {literal(code)} THEN " + (
            f"CASE WHEN t.area > 0 AND t.area <= %(threshold)s THEN {low} "
            f"WHEN t.area > %(threshold)s AND t.area < {FINITE} THEN {high} END"
            if low != high or code in area_rules else str(low)) for code, (low, high) in tariff.items())
        # the sample's roads first (SQLite keeps CROSS JOIN order): one range of the tally's key
        # each; a road's rows of one rule (one per area) are added up here
        rows = self._fetch(f"SELECT s.road_id, t.rule, t.items * (CASE t.rule {price} END), t.uncounted "
                           "FROM sample_road s CROSS JOIN road_tally t WHERE s.draw_id = %(draw)s "
                           "AND t.month = %(month)s AND t.road_id = s.road_id" + _among(roads),
                           {"draw": draw_id, "month": month, "threshold": threshold})
        by_road: dict[int, dict[str, int]] = {}
        clean = True
        for road, rule, units, uncounted in rows:
            if units is None or uncounted:
                clean = False
                continue
            of_road = by_road.get(road)
            if of_road is None:
                by_road[road] = {rule: units}
            else:
                of_road[rule] = of_road.get(rule, 0) + units
        return by_road, clean

    def findings_for_scoring(self, draw_id: int, month: str, tz, with_deadline_only: bool = False,
                             roads: Collection[int] | None = None) -> dict[str, list[scoring.Finding]]:
        """The month's findings on the sampled roads (`roads`: on those of them), as the pure
        scorer wants them (only those with a deadline, when the others are summed by
        deduction_units_for_scoring)."""
        query = ("SELECT r.code, f.rule, f.count, f.area_m2, "
                 "CASE WHEN f.deadline IS NULL THEN NULL ELSE f.observed_at END, f.deadline " +
                 (self._DATED if with_deadline_only else
                  "FROM sample_road s CROSS JOIN finding f JOIN road r ON r.id = f.road_id " + self._ON_SAMPLE) +
                 _among(roads))
        by_road: dict[str, list[scoring.Finding]] = {}
        rows = self._fetch(query, {"draw": draw_id, "month": month})
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

    def roads_written_since(self, month: str, change: int) -> list[int]:
        """The roads (ids) whose findings of `month` were written after the month's count was
        `change` (migration 0017's notes)."""
        return [road for (road,) in self._fetch("SELECT road_id FROM road_written WHERE month = %(month)s "
                                                "AND change > %(change)s", {"month": month, "change": change})]

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


