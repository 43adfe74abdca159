"""The database counts each month's finding writes and refuses writes to a published month's
findings, in the writing transaction, whatever wrote them (the tablet, an import, SQL).

The count is the key of a draft month's kept scores: the largest finding id was, and on
PostgreSQL a finding whose transaction took its id first and committed last hid behind it (the
scores kept stale, and frozen so by a publication). Publishing locks the month's count row:
a write of the month's findings either counted itself before (the publication waits for its
commit, sees the count move and scores again) or counts itself after, and is refused. On
SQLite the triggers run with each statement (its writers take turns anyway); on PostgreSQL at
commit, so that the count row is held for a commit, not for the whole of each write.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

REFUSED = "gisgrid: the findings of a published month are frozen"   # storage.db.FROZEN_FINDINGS, as of 0016

SQLITE = [
    (f"finding_{event.lower()}_counted",
     f"""CREATE TRIGGER finding_{event.lower()}_counted AFTER {event} ON finding FOR EACH ROW BEGIN
         {body}
         SELECT RAISE(ABORT, '{REFUSED}') WHERE EXISTS (SELECT 1 FROM month_state
           WHERE state = 'published' AND month IN ({months}));
     END""")
    for event, months, body in (
        ("INSERT", "NEW.month",
         "INSERT INTO month_revision (month, changes) VALUES (NEW.month, 1) "
         "ON CONFLICT (month) DO UPDATE SET changes = changes + 1;"),
        ("UPDATE", "OLD.month, NEW.month",
         "INSERT INTO month_revision (month, changes) VALUES (OLD.month, 1) "
         "ON CONFLICT (month) DO UPDATE SET changes = changes + 1; "
         "INSERT INTO month_revision (month, changes) SELECT NEW.month, 1 WHERE NEW.month <> OLD.month "
         "ON CONFLICT (month) DO UPDATE SET changes = changes + 1;"),
        ("DELETE", "OLD.month",
         "INSERT INTO month_revision (month, changes) VALUES (OLD.month, 1) "
         "ON CONFLICT (month) DO UPDATE SET changes = changes + 1;"))
]

# at commit, row by row (a deferred constraint trigger): 50 tablets writing one month queued
# behind each other's whole transactions when it ran with the statement
POSTGRES_FUNCTION = f"""
CREATE FUNCTION gisgrid_count_finding_write() RETURNS trigger LANGUAGE plpgsql AS $$
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
    END IF;
    RETURN NULL;
END $$
"""
POSTGRES_TRIGGER = "finding_written_counted"


def upgrade():
    op.create_table("month_revision",
                    sa.Column("month", sa.String(7), primary_key=True),
                    sa.Column("changes", sa.BigInteger, nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(f"CREATE CONSTRAINT TRIGGER {POSTGRES_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON finding "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gisgrid_count_finding_write()")
    else:
        for _name, statement in SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {POSTGRES_TRIGGER} ON finding")
        op.execute("DROP FUNCTION gisgrid_count_finding_write()")
    else:
        for name, _statement in SQLITE:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("month_revision")
