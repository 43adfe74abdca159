"""Inspections: roads assigned to inspectors, submissions, photos, finding edits.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("road_id", sa.Integer, sa.ForeignKey("road.id"), nullable=False),
        sa.Column("inspector_id", sa.Integer, sa.ForeignKey("user_account.id"), nullable=False, index=True),
        sa.Column("assigned_at", sa.DateTime, nullable=False),
        sa.Column("assigned_by", sa.String(100), nullable=False),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("submitted_by", sa.String(100)),
        sa.UniqueConstraint("month", "road_id", name="uq_inspection_month_road"),
    )
    with op.batch_alter_table("finding") as batch:
        batch.add_column(sa.Column("inspector_id", sa.Integer, sa.ForeignKey("user_account.id",
                                                                             name="fk_finding_inspector")))
        batch.add_column(sa.Column("updated_at", sa.DateTime))
        batch.add_column(sa.Column("deleted_at", sa.DateTime))
    op.create_table(
        "finding_change",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("finding.id"), nullable=False, index=True),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("finding.id"), nullable=False, index=True),
        sa.Column("client_id", sa.String(128), nullable=False, unique=True),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("thumb", sa.String(255), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(100)),
    )


def downgrade():
    op.drop_table("photo")
    op.drop_table("finding_change")
    with op.batch_alter_table("finding") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("updated_at")
        batch.drop_column("inspector_id")
    op.drop_table("inspection")
