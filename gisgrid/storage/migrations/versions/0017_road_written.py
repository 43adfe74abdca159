"""The database notes which roads' findings each write touched, at the month's count: a draft
month's kept scores rescore only the roads written since they were made (a reviewer's view after
one finding no longer rescores the city's 40,000 sampled roads).

`road_written` holds one row per month and road, with the month's count (migration 0016) at its
last write; the triggers of 0016 are replaced by the same ones that also note the road (the old
and the new one when a finding moves). The count row is held by the writer when the road is
noted, so on PostgreSQL the notes are numbered in the order their writes commit.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

REFUSED = "gisgrid: the findings of a published month are frozen"   # storage.db.FROZEN_FINDINGS


def _count(row: str) -> str:
    return (f"INSERT INTO month_revision (month, changes) VALUES ({row}.month, 1) "
            "ON CONFLICT (month) DO UPDATE SET changes = changes + 1;")


def _note(row: str) -> str:
    return (f"INSERT INTO road_written (month, road_id, change) SELECT {row}.month, {row}.road_id, changes "
            f"FROM month_revision WHERE month = {row}.month "
            "ON CONFLICT (month, road_id) DO UPDATE SET change = excluded.change;")


def _sqlite(event: str, months: str, body: str) -> str:
    return (f"CREATE TRIGGER finding_{event.lower()}_counted AFTER {event} ON finding FOR EACH ROW BEGIN "
            f"{body} SELECT RAISE(ABORT, '{REFUSED}') WHERE EXISTS (SELECT 1 FROM month_state "
            f"WHERE state = 'published' AND month IN ({months})); END")


OLD_UPDATE = (_count("OLD") + " INSERT INTO month_revision (month, changes) SELECT NEW.month, 1 "
              "WHERE NEW.month <> OLD.month ON CONFLICT (month) DO UPDATE SET changes = changes + 1;")
SQLITE = {
    "INSERT": ("NEW.month", _count("NEW") + " " + _note("NEW"), _count("NEW")),
    "UPDATE": ("OLD.month, NEW.month", OLD_UPDATE + " " + _note("OLD") + " " + _note("NEW"), OLD_UPDATE),
    "DELETE": ("OLD.month", _count("OLD") + " " + _note("OLD"), _count("OLD")),
}


def _postgres_function(noted: bool) -> str:
    note = """
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO road_written (month, road_id, change) SELECT OLD.month, OLD.road_id, changes
            FROM month_revision WHERE month = OLD.month
            ON CONFLICT (month, road_id) DO UPDATE SET change = EXCLUDED.change;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO road_written (month, road_id, change) SELECT NEW.month, NEW.road_id, changes
            FROM month_revision WHERE month = NEW.month
            ON CONFLICT (month, road_id) DO UPDATE SET change = EXCLUDED.change;
    END IF;""" if noted else ""
    return f"""
CREATE OR REPLACE FUNCTION gisgrid_count_finding_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        written := ARRAY[NEW.month];
    ELSIF TG_OP = 'DELETE' OR NEW.month = OLD.month THEN
        written := ARRAY[OLD.month];
    ELSE
        written := ARRAY[OLD.month, NEW.month];
    END IF;
    -- the count rows in one order: two writers never wait for each other crosswise
    INSERT INTO month_revision (month, changes) SELECT m, 1 FROM unnest(written) AS m ORDER BY m
        ON CONFLICT (month) DO UPDATE SET changes = month_revision.changes + 1;
    -- read after the count row is ours: a publication that held it has committed by now
    IF EXISTS (SELECT 1 FROM month_state WHERE state = 'published' AND month = ANY (written)) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;{note}
    RETURN NULL;
END $$
"""


def _triggers(noted: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgres_function(noted))
        return
    for event, (months, with_note, without) in SQLITE.items():
        op.execute(f"DROP TRIGGER finding_{event.lower()}_counted")
        op.execute(_sqlite(event, months, with_note if noted else without))


def upgrade():
    op.create_table("road_written",
                    sa.Column("month", sa.String(7), primary_key=True),
                    sa.Column("road_id", sa.Integer, primary_key=True),
                    sa.Column("change", sa.BigInteger, nullable=False))
    op.create_index("ix_road_written_change", "road_written", ["month", "change"])
    _triggers(noted=True)


def downgrade():
    _triggers(noted=False)
    op.drop_index("ix_road_written_change", "road_written")
    op.drop_table("road_written")
