"""Core schema: settings, grids, roads, sample draws, findings.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from gisgrid.storage.schema import Geom

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    postgis = op.get_bind().dialect.name == "postgresql"
    if postgis:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "grid",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("town", sa.String(200)),
        sa.Column("grid_class", sa.String(1)),
        sa.Column("leader", sa.String(100)),
        sa.Column("geom", Geom("MULTIPOLYGON"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "road",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("grade", sa.String(50)),
        sa.Column("grid_id", sa.Integer, sa.ForeignKey("grid.id", ondelete="SET NULL"), index=True),
        sa.Column("geom", Geom("MULTIPOLYGON"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "sample_draw",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False, index=True),
        sa.Column("seed", sa.BigInteger),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("drawn_by", sa.String(100), nullable=False),
        sa.Column("drawn_at", sa.DateTime, nullable=False),
        sa.Column("superseded_at", sa.DateTime),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "sample_road",
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("sample_draw.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("road_id", sa.Integer, sa.ForeignKey("road.id"), primary_key=True),
        sa.Column("grid_id", sa.Integer, sa.ForeignKey("grid.id"), nullable=False),
        sa.Column("designated", sa.Boolean, nullable=False),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("external_id", sa.String(128)),
        sa.Column("road_id", sa.Integer, sa.ForeignKey("road.id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("area_m2", sa.Float),
        sa.Column("observed_at", sa.DateTime, nullable=False),
        sa.Column("deadline", sa.Date),
        sa.Column("note", sa.Text),
        sa.Column("snapped_m", sa.Float, nullable=False),
        sa.Column("geom", Geom("POINT"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(100)),
        sa.UniqueConstraint("external_id", name="uq_finding_external_id"),
    )
    op.create_index("ix_finding_month_road", "finding", ["month", "road_id"])
    if postgis:
        for table in ("grid", "road", "finding"):
            op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")


def downgrade():
    for table in ("finding", "sample_road", "sample_draw", "road", "grid", "setting"):
        op.drop_table(table)
