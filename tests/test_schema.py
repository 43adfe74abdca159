"""One schema: what the migrations build is exactly what schema.py declares, on SQLite and PostGIS,
so Alembic's autogenerate proposes nothing (no dropped tables or indexes, no type changes)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, text

from gisgrid.reports import scores
from gisgrid.services import office
from gisgrid.domain.errors import GisgridError
from gisgrid.storage.schema import SPATIAL_INDEXES, Base, include_object
from gisgrid.storage import Store


def _compare(store, **opts):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                         **opts})
        return compare_metadata(context, Base.metadata)


def _names(diffs) -> set:
    # a diff is a tuple (op, object, ...) or, for column changes, a list of such tuples
    flat = [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]
    return {(d[0], getattr(d[1], "name", None)) for d in flat}


def test_migrated_database_is_what_schema_declares(store):
    assert _compare(store, include_object=include_object) == []


def test_compare_leaves_out_only_postgis_own_objects(store):
    """Without the hook, a PostGIS database differs by PostGIS's own table and the GiST indexes, nothing more."""
    expected = set()
    if store.postgis:
        expected = {("remove_table", "spatial_ref_sys")} | {("remove_index", name) for name in SPATIAL_INDEXES}
    assert _names(_compare(store)) == expected


# no migration on the read path ------------------------------------------------------------


@pytest.fixture
def alembic_calls(monkeypatch):
    """How often Alembic's upgrade command is entered (the real one runs; it is only counted)."""
    calls = []
    upgrade = command.upgrade

    def counted(*args, **kwargs):
        calls.append(args)
        return upgrade(*args, **kwargs)

    monkeypatch.setattr(command, "upgrade", counted)
    return calls


def _version_queries(engine) -> list:
    queries = []
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: queries.append(statement) if "alembic_version" in statement
                 else None)
    return queries


def test_month_report_runs_no_migration(district, alembic_calls):
    office.sample_month(district, "2026-11", seed=7)
    reader = Store(district.url)  # as a new command line or web process opens the database
    queries = _version_queries(reader.engine)
    try:
        scores.score_month(reader, "2026-11")
        scores.month_json(reader, "2026-11")
        scores.month_json(reader, "2026-11")
    finally:
        reader.dispose()
    assert alembic_calls == []
    # one look at the schema version, for the store's life
    assert len([q for q in queries if q.lstrip().upper().startswith("SELECT")]) == 1


def test_writes_that_make_the_schema_migrate_once(db_url, district_files, alembic_calls):
    store = Store(db_url)
    try:
        office.import_layer(store, "grids", district_files[0])
        assert len(alembic_calls) == 1
        office.sample_month(store, "2026-11", seed=7)
        scores.score_month(store, "2026-11")
        assert len(alembic_calls) == 1
    finally:
        store.dispose()


def test_report_on_an_old_schema_says_to_run_init(district):
    office.sample_month(district, "2026-11", seed=7)
    with district.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    reader = Store(district.url)
    try:
        with pytest.raises(GisgridError, match=r"schema version 0006.*run `gisgrid init`"):
            scores.score_month(reader, "2026-11")
    finally:
        reader.dispose()
