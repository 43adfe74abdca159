"""Rectification: the office's notices to grids (整改通知书), their numbered items with the town
office's reported fix and the inspector's re-inspection, and the items' photos.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from gisgrid.storage.schema import Geom

Instant = sa.DateTime(timezone=True)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(100), nullable=False, unique=True),
        sa.Column("grid_id", sa.Integer, sa.ForeignKey("grid.id"), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("issued_at", Instant, nullable=False),
        sa.Column("received_at", Instant),
        sa.Column("received_by", sa.String(100)),
        sa.Column("source", sa.String(10), nullable=False),
    )
    op.create_index("ix_notice_grid_id", "notice", ["grid_id"])
    op.create_index("ix_notice_deadline", "notice", ["deadline"])
    op.create_table(
        "notice_item",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("notice.id"), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("finding.id")),
        sa.Column("road_id", sa.Integer, sa.ForeignKey("road.id")),
        sa.Column("geom", Geom("POINT"), nullable=True),
        sa.Column("reported_on", sa.Date),
        sa.Column("reported_by", sa.String(100)),
        sa.Column("reported_at", Instant),
        sa.Column("report_note", sa.Text),
        sa.Column("checked_on", sa.Date),
        sa.Column("checked_by", sa.String(100)),
        sa.Column("checked_at", Instant),
        sa.Column("check_note", sa.Text),
        sa.Column("fixed_on", sa.Date),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("notice_id", "item", name="uq_notice_item"),
    )
    op.create_index("ix_notice_item_notice_id", "notice_item", ["notice_id"])
    op.create_table(
        "notice_photo",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("notice_item.id"), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False, unique=True),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("thumb", sa.String(255), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("created_by", sa.String(100)),
    )
    op.create_index("ix_notice_photo_item_id", "notice_photo", ["item_id"])


def downgrade():
    op.drop_table("notice_photo")
    op.drop_table("notice_item")
    op.drop_table("notice")
