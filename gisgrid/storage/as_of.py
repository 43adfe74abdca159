"""The grids as they stood at a moment (a month's draw), from the boundary history: a month's
ranking, bulletin and exports name each grid, its town and class as they were when the sample
was drawn, so a later edit never rewrites that month (issue 14, section 3)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, or_, select

from .schema import BoundaryVersion
from . import Store, grid_t

version_t = BoundaryVersion.__table__


def grid_details_as_of(store: Store, when: datetime) -> dict[str, dict]:
    """code -> {code, name, town, grid_class} of every grid standing at `when` (aware). A grid
    unchanged since keeps its stored attributes; one changed since takes those its first later
    change started from (left out if that change created it, or it was retired by then).
    Two queries, the second only over what changed since."""
    with store.engine.connect() as conn:
        # the database compares the moments: a city's 20,000 grids are not made into datetimes
        rows = {code: (name, town, grid_class, bool(changed), bool(standing))
                for code, name, town, grid_class, changed, standing in conn.execute(
                    select(grid_t.c.code, grid_t.c.name, grid_t.c.town, grid_t.c.grid_class,
                           and_(grid_t.c.updated_at.is_not(None), grid_t.c.updated_at > when),
                           or_(grid_t.c.retired_at.is_(None), grid_t.c.retired_at > when)))}
        changed = {code for code, row in rows.items() if row[3]}
        first: dict[str, str | None] = {}
        if changed:
            for row in conn.execute(select(version_t.c.code, version_t.c.before)
                                    .where(version_t.c.kind == "grid", version_t.c.changed_at > when)
                                    .order_by(version_t.c.code, version_t.c.version)):
                if row.code in changed:
                    first.setdefault(row.code, row.before)
    details: dict[str, dict] = {}
    for code, row in rows.items():
        if code in first:
            then = None if first[code] is None else json.loads(first[code])["properties"]
            if then is None or then.get("retired_at"):
                continue
            details[code] = {"code": code, "name": then.get("name"), "town": then.get("town"),
                             "grid_class": then.get("grid_class")}
        elif row[4]:
            details[code] = {"code": code, "name": row[0], "town": row[1], "grid_class": row[2]}
    return dict(sorted(details.items()))
