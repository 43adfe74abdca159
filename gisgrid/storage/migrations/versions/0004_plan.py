"""Boundaries: every change to a grid or road, with its geometry and attributes before and after.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "boundary_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(4), nullable=False),         # grid | road
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),        # the feature's version after the change
        sa.Column("before", sa.Text),                            # GeoJSON Feature (WGS84) or NULL when created
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.UniqueConstraint("kind", "code", "version", name="uq_boundary_version"),
    )
    op.create_index("ix_boundary_version_kind_code", "boundary_version", ["kind", "code"])


def downgrade():
    op.drop_index("ix_boundary_version_kind_code", table_name="boundary_version")
    op.drop_table("boundary_version")
