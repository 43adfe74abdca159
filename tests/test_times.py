"""Times are instants: stored as aware UTC (timestamptz on PostgreSQL, so QGIS shows a finding made
at 10:05 Beijing time as such, not as a bare 02:05), read back aware, and given out by the API in
the district's time with its offset."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import shapely
from alembic import command
from sqlalchemy import select, text

from gisgrid.services import office
from gisgrid.render.times import shown_time
from gisgrid.storage.schema import Base, Instant
from gisgrid.storage import _alembic_config, inspections
from gisgrid.storage import MIGRATIONS, finding_t

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
    path = next(MIGRATIONS.glob("versions/0009_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    # tables made after 0009 create their time columns as timestamptz themselves
    made_later = {("client_write", "created_at"), ("photo", "removed_at"),   # 0011
                  ("rulebook_file", "uploaded_at"),                            # 0013
                  ("notice", "issued_at"), ("notice", "received_at"), ("notice_item", "reported_at"),
                  ("notice_item", "checked_at"), ("notice_photo", "created_at")}  # 0014
    assert sorted({(t, c) for t, columns in migration.TIMES.items() for c in columns} | made_later) == _time_columns()


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)     # a PostgreSQL column type
def test_postgis_stores_timestamptz(store):
    with store.engine.connect() as conn:
        types = dict(((r.table_name, r.column_name), r.data_type) for r in conn.execute(text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%' AND table_name IN ("
                # the tables' columns: the GIS views (0012) show a local time on purpose
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')")))
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


def test_many_rows_in_one_write_keep_each_their_own_moment(district):
    """A bulk write converts each distinct moment once: the same instant given in two zones is
    stored once as UTC, other moments stay apart, and a naive one among them is still refused."""
    ids = district.road_ids()
    beijing = ZoneInfo("Asia/Shanghai")
    moments = [datetime(2026, 11, 25, 10, 5, tzinfo=beijing), datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc),
               datetime(2026, 11, 25, 10, 6, tzinfo=beijing)]
    rows = [{"external_id": f"bulk-{i}", "road_id": ids["R11"], "month": MONTH, "rule": "5.1", "count": 1,
             "area_m2": None, "observed_at": at, "deadline": None, "note": None, "snapped_m": 0.0,
             "geom": shapely.Point(*ON_R11)} for i, at in enumerate(moments)]
    district.add_findings(rows)
    with district.engine.connect() as conn:
        stored = dict(conn.execute(select(finding_t.c.external_id, finding_t.c.observed_at)).all())
    assert stored == {"bulk-0": datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc),
                      "bulk-1": datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc),
                      "bulk-2": datetime(2026, 11, 25, 2, 6, tzinfo=timezone.utc)}
    naive = {**rows[0], "external_id": "naive", "observed_at": datetime(2026, 11, 25, 2, 5)}
    with pytest.raises(Exception, match="naive datetime"):
        district.add_findings([naive])
    assert district.count("findings") == 3


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
    from gisgrid.storage import publishing

    assert [r["at"] for r in publishing.audit_log(store)] == [datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc)]


# shown to people: the district's time, the reader's language --------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW_ZH = re.compile(r"2026年11月25日 10:0\d")   # the frozen clock (conftest), which ticks on
NOW_EN = re.compile(r"25 Nov 2026 10:0\d")


def test_shown_time_in_each_language():
    moment = datetime(2026, 12, 21, 7, 12, 40, tzinfo=timezone.utc)
    assert shown_time(moment, SHANGHAI, "zh") == "2026年12月21日 15:12"
    assert shown_time(moment, SHANGHAI, "en") == "21 Dec 2026 15:12"
    assert shown_time("2026-12-21T07:12:40Z", SHANGHAI, "en") == "21 Dec 2026 15:12"   # ISO text from JSON data
    assert shown_time("2027-01-05T09:03+08:00", SHANGHAI) == "2027年1月5日 09:03"
    assert shown_time(None, SHANGHAI) == "" and shown_time("", SHANGHAI) == ""
    with pytest.raises(ValueError, match="naive"):
        shown_time(datetime(2026, 12, 21, 7, 12), SHANGHAI)


def _english(client, auth):
    client.post("/lang/en", data={"csrf_token": auth.csrf("/")})


def test_draw_record_publishing_and_audit_pages(app, client, auth, district_files):
    store = app.extensions["gisgrid.storage"]
    office.import_layer(store, "grids", district_files[0])
    office.import_layer(store, "roads", district_files[1])
    office.sample_month(store, MONTH, seed=1)
    office.record_findings(store, [({"id": "late", "rule": "5.1", "observed_at": "2026-11-24T21:07:00+08:00"},
                                    *ON_R11)])
    auth.login("office1", "reviewer")
    client.post(f"/review/{MONTH}/publish", data={"csrf_token": auth.csrf(f"/review/{MONTH}")})

    month = client.get(f"/review/{MONTH}").get_data(as_text=True)
    assert re.search(r"道路由 cli 于 2026年11月25日 10:0\d 抽取", month)               # the draw
    assert re.search(r"由 office1 于 2026年11月25日 10:0\d 发布", month)              # publishing
    audit = month.split('id="audit"')[1]
    assert NOW_ZH.search(audit) and "UTC" not in month and "T02:0" not in month
    grid = client.get(f"/review/{MONTH}/grid/G1").get_data(as_text=True)
    assert NOW_ZH.search(grid.split("抽取时间")[1])                                        # the draw record
    assert "<td>2026年11月24日 21:07</td>" in grid                                       # the finding's row
    assert '"observed_at":"2026年11月24日 21:07"' in grid                                 # its map popup

    _english(client, auth)
    month = client.get(f"/review/{MONTH}").get_data(as_text=True)
    assert re.search(r"Sample drawn by cli at 25 Nov 2026 10:0\d", month)
    assert re.search(r"Published by office1 at 25 Nov 2026 10:0\d", month)
    grid = client.get(f"/review/{MONTH}/grid/G1").get_data(as_text=True)
    assert "<td>24 Nov 2026 21:07</td>" in grid and '"observed_at":"24 Nov 2026 21:07"' in grid
    # the JSON twin keeps ISO 8601 with the offset
    twin = client.get(f"/review/{MONTH}/grid/G1.json").get_json()
    assert [f["observed_at"] for f in twin["findings"]] == ["2026-11-24T21:07+08:00"]
    assert twin["draw"]["drawn_at"].endswith("+00:00")


def test_boundary_history_page(client, auth):
    auth.login("planner1", "planner")
    headers = {"X-CSRFToken": auth.csrf("/")}
    square = {"type": "Polygon", "coordinates": [[[114.0, 33.0], [114.01, 33.0], [114.01, 33.01], [114.0, 33.01],
                                                  [114.0, 33.0]]]}
    assert client.post("/api/plan/grid/G1", json={"version": None, "properties": {"name": "一", "grid_class": "B"},
                                                 "geometry": square}, headers=headers).status_code == 201
    page = client.get("/plan/grid/G1/history").get_data(as_text=True)
    assert NOW_ZH.search(page) and not re.search(r"2026-11-25T0\d:", page.split("<table")[1].split("</table>")[0])
    _english(client, auth)
    assert NOW_EN.search(client.get("/plan/grid/G1/history").get_data(as_text=True))
    # the API keeps ISO 8601 in UTC
    assert client.get("/api/plan/grid/G1/history").get_json()["history"][0]["changed_at"].endswith("Z")


def test_command_line_says_which_draw_it_supersedes(district):
    office.sample_month(district, MONTH, seed=1)
    lines = []
    office.sample_month(district, MONTH, seed=2, log=lines.append)
    assert any(re.search(r"superseding the draw of 25 Nov 2026 10:0\d by cli", line) for line in lines), lines


def test_a_finding_without_id_keeps_the_id_it_had_when_times_were_naive():
    """Re-importing a file whose findings have no id must find them again, not add them twice:
    the id made from their content is the one gisgrid made before times were stored aware."""
    row = {"rule": "5.1", "count": 1, "area_m2": None, "deadline": None, "note": "x",
           "observed_at": datetime(2026, 11, 25, 2, 5, tzinfo=timezone.utc)}
    assert office._content_id(row, *ON_R11) == "sha1:615a8fe32434de5e52ce7e67af676ce636373dd2"
