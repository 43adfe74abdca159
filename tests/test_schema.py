"""One schema: what the migrations build is exactly what schema.py declares, on SQLite and PostGIS,
so Alembic's autogenerate proposes nothing (no dropped tables or indexes, no type changes)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gisgrid.schema import SPATIAL_INDEXES, Base, include_object


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
