"""Times are instants: stored as aware UTC (timestamptz on PostgreSQL, so QGIS shows a finding made
at 10:05 Beijing time as such, not as a bare 02:05), read back aware, and given out by the API in
the district's time with its offset."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import shapely
from alembic import command
from sqlalchemy import text

import gisgrid
from gisgrid import office
from gisgrid.schema import Base, Instant
from gisgrid.store import _alembic_config, inspections

MONTH = "2026-11"
ON_R11 = (114.035, 33.5951)


def _time_columns():
    return sorted((table.name, column.name) for table in Base.metadata.sorted_tables for column in table.columns
                  if isinstance(column.type, Instant))


def test_every_time_column_is_an_instant_and_migrated():
    import importlib.util

    from sqlalchemy import DateTime

    plain = [(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns
             if isinstance(c.type, DateTime)]
    assert plain == []
    path = next(Path(gisgrid.__file__).parent.glob("migrations/versions/0009_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert sorted((t, c) for t, columns in migration.TIMES.items() for c in columns) == _time_columns()


def test_postgis_stores_timestamptz(store):
    if not store.postgis:
        pytest.skip("a PostgreSQL column type")
    with store.engine.connect() as conn:
        types = dict(((r.table_name, r.column_name), r.data_type) for r in conn.execute(text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'")))
    assert sorted(types) == _time_columns()
    assert set(types.values()) == {"timestamp with time zone"}


def test_a_finding_at_10_05_beijing_is_02_05_utc_and_10_05_in_the_api(client, district, auth):
    office.sample_month(district, MONTH, roads=["R11"])
    auth.account("wang", "inspector")
    inspections.assign(district, MONTH, "R11", "wang", "test")
    auth.login("wang", "inspector")
    created = client.post("/api/findings", headers={"X-CSRFToken": auth.csrf("/inspect/")}, json={
        "id": "tablet-1005", "rule": "5.1", "observed_at": "2026-11-25T10:05:00+08:00",
        "lon": ON_R11[0], "lat": ON_R11[1]})
    assert created.status_code == 201
    assert created.json["finding"]["properties"]["observed_at"] == "2026-11-25T10:05:00+08:00"

    with district.engine.connect() as conn:
        if district.postgis:  # what psql or QGIS reads, whatever their session's zone
            stored = conn.execute(text("SELECT observed_at AT TIME ZONE 'UTC' FROM finding")).scalar_one()
        else:  # SQLite keeps no offsets: naive UTC
            stored = datetime.fromisoformat(conn.execute(text("SELECT observed_at FROM finding")).scalar_one())
    assert stored == datetime(2026, 11, 25, 2, 5)

    row = inspections.road_findings(district, MONTH, "R11")[0]
    assert row["observed_at"] == datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc)
    again = client.get(f"/api/months/{MONTH}/roads/R11")
    assert [f["properties"]["observed_at"] for f in again.json["findings"]["features"]] == ["2026-11-25T10:05:00+08:00"]


def test_a_naive_time_is_refused_not_guessed(district):
    ids = district.road_ids()
    row = {"external_id": "naive", "road_id": ids["R11"], "month": MONTH, "rule": "5.1", "count": 1,
           "area_m2": None, "observed_at": datetime(2026, 11, 25, 2, 5), "deadline": None, "note": None,
           "snapped_m": 0.0, "geom": shapely.Point(*ON_R11)}
    with pytest.raises(Exception, match="naive datetime"):
        district.add_findings([row])
    assert district.count("findings") == 0


def test_migration_keeps_the_instants_stored_before(store):
    """A database of 0007 held naive UTC; after the upgrade the same rows are the same instants."""
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
        conn.execute(text("INSERT INTO audit_log (month, action, actor, at) "
                          "VALUES ('2026-11', 'publish', 'office1', '2026-11-25 02:05:00')"))
        command.upgrade(config, "head")
    with store.engine.connect() as conn:
        if store.postgis:
            assert conn.execute(text("SELECT at AT TIME ZONE 'UTC' FROM audit_log")).scalar_one() == \
                datetime(2026, 11, 25, 2, 5)
    from gisgrid.store import publishing

    assert [r["at"] for r in publishing.audit_log(store)] == [datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc)]
