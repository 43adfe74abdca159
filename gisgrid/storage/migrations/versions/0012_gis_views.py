"""Views for GIS users on PostgreSQL (issue 14 §5): QGIS opens them directly. The current grids;
the current roads with their grid's code and town; the findings (not deleted) with their road's
and grid's codes and the time they were observed in the district's time zone. Retired rows are
hidden. Views are no tables: the schema (schema.py) and Alembic's compare do not list them.
On SQLite nothing is made (QGIS users of a SQLite file open its tables).

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

VIEWS = {
    "gis_grids": """
        SELECT g.id, g.code, g.name, g.town, g.grid_class, g.leader, g.version, g.updated_at, g.geom
        FROM grid g WHERE g.retired_at IS NULL""",
    "gis_roads": """
        SELECT r.id, r.code, r.name, r.grade, g.code AS grid_code, g.name AS grid_name, g.town,
               r.version, r.updated_at, r.geom
        FROM road r LEFT JOIN grid g ON g.id = r.grid_id AND g.retired_at IS NULL
        WHERE r.retired_at IS NULL""",
    "gis_findings": """
        SELECT f.id, f.external_id, f.month, f.rule, f.count, f.area_m2, f.deadline, f.note,
               r.code AS road_code, r.name AS road_name, g.code AS grid_code, g.town,
               (f.observed_at AT TIME ZONE COALESCE(
                   (SELECT s.value FROM setting s WHERE s.key = 'timezone'), 'Asia/Shanghai')) AS observed_local,
               f.observed_at, f.created_by, f.geom
        FROM finding f JOIN road r ON r.id = f.road_id LEFT JOIN grid g ON g.id = r.grid_id
        WHERE f.deleted_at IS NULL""",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, query in VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
