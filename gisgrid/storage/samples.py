"""Samples: every draw of a month, the one in force, and recording a new one (the old kept)."""

from __future__ import annotations


from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, insert, select, update

from .schema import utcnow

from .db import Draw, draw_t, finding_t, grid_t, road_t, sample_t


class SampleQueries:
    """The Store's queries of samples (a mixin: the Store has the engine)."""

    def draws(self, month: str) -> list[Draw]:
        """Every draw of the month, newest first; the first one not superseded is the sample."""
        return self._draws(draw_t.c.month == month)

    def _draws(self, *where) -> list[Draw]:
        with self.engine.connect() as conn:
            draws = conn.execute(select(draw_t).where(*where).order_by(draw_t.c.id.desc())).all()
        # a city's draw is 40,000 roads: read as plain rows (the draws' ids are the database's integers)
        picks = self._fetch("SELECT s.draw_id, g.code, r.code, r.id FROM sample_road s JOIN grid g ON g.id = s.grid_id "
                            "JOIN road r ON r.id = s.road_id WHERE s.draw_id IN "
                            f"({', '.join(str(int(d.id)) for d in draws) or '-1'}) ORDER BY g.code, r.code", {})
        samples: dict[int, dict[str, list[str]]] = {d.id: {} for d in draws}
        codes: dict[int, dict[int, str]] = {d.id: {} for d in draws}
        for draw_id, grid, road, road_id in picks:
            samples[draw_id].setdefault(grid, []).append(road)
            codes[draw_id][road_id] = road
        return [Draw(id=d.id, month=d.month, seed=d.seed, method=d.method, drawn_by=d.drawn_by,
                     drawn_at=d.drawn_at, superseded_at=d.superseded_at, reason=d.reason, sample=samples[d.id],
                     road_codes=codes[d.id])
                for d in draws]

    def drawn_at(self, month: str) -> datetime | None:
        """When the month's sample (its draw not superseded) was drawn; None before any draw."""
        with self.engine.connect() as conn:
            return conn.execute(select(draw_t.c.drawn_at).where(draw_t.c.month == month,
                                                                draw_t.c.superseded_at.is_(None))).scalar()

    def draw_id(self, month: str) -> int | None:
        """The id of the month's sample (its draw not superseded), without its 40,000 roads."""
        with self.engine.connect() as conn:
            return conn.execute(select(draw_t.c.id).where(draw_t.c.month == month,
                                                          draw_t.c.superseded_at.is_(None))).scalar()

    def sample(self, month: str) -> Draw | None:
        """The month's sample: its draw not superseded (the earlier draws' roads are not read)."""
        return next(iter(self._draws(draw_t.c.month == month, draw_t.c.superseded_at.is_(None))), None)

    def months_drawn(self, year: int | None = None) -> list[str]:
        """Months that have a sample (of `year`, or all), oldest first."""
        query = select(draw_t.c.month).distinct().where(draw_t.c.superseded_at.is_(None)).order_by(draw_t.c.month)
        if year is not None:
            query = query.where(draw_t.c.month.like(f"{year:04d}-%"))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def save_draw(self, month: str, seed: int | None, method: str, sample: dict[str, list[str]],
                  designated: Iterable[str], drawn_by: str, reason: str | None = None,
                  audited: bool = False) -> int:
        """Record a draw as the month's sample, superseding (and keeping) the previous one; with
        `audited`, its audit row (who drew how, the seed, the sample before and after) in the
        same transaction."""
        from . import audit
        designated = set(designated)
        previous = self.sample(month) if audited else None
        before = {"seed": previous.seed, "method": previous.method, "sample": previous.sample} if previous else None
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
            if audited:
                audit.record(conn, "draw", drawn_by, month=month, subject=f"draw {draw_id}", reason=reason,
                             before=before, after={"seed": seed, "method": method, "sample": sample})
        return draw_id

    def findings_on_sample(self, draw_id: int, month: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(finding_t)
                                .join(sample_t, sample_t.c.road_id == finding_t.c.road_id)
                                .where(sample_t.c.draw_id == draw_id, finding_t.c.month == month,
                                       finding_t.c.deleted_at.is_(None))).scalar_one()

