"""The database counts each month's finding writes and refuses writes to a published month's
findings, in the writing transaction, whatever wrote them (the tablet, an import, SQL).

The count is the key of a draft month's kept scores: the largest finding id was, and on
PostgreSQL a finding whose transaction took its id first and committed last hid behind it (the
scores kept stale, and frozen so by a publication). Publishing locks the month's count row:
a write of the month's findings either committed before (and the publication sees its count
move and scores again) or waits for it and then finds the month published.

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

# one statement's rows at once (an import's 20,000), from its transition tables
POSTGRES_FUNCTION = f"""
CREATE FUNCTION gisgrid_count_finding_writes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT month) INTO written FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT month) INTO written
          FROM (SELECT month FROM old_rows UNION SELECT month FROM new_rows) AS m;
    ELSE
        SELECT array_agg(DISTINCT month) INTO written FROM old_rows;
    END IF;
    IF written IS NULL THEN
        RETURN NULL;
    END IF;
    -- the count rows in one order: two imports never wait for each other crosswise
    INSERT INTO month_revision (month, changes) SELECT m, 1 FROM unnest(written) AS m ORDER BY m
        ON CONFLICT (month) DO UPDATE SET changes = month_revision.changes + 1;
    -- read after the count row is ours: a publication that held it has committed by now
    IF EXISTS (SELECT 1 FROM month_state WHERE state = 'published' AND month = ANY (written)) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$
"""
POSTGRES_TRIGGERS = [
    ("finding_insert_counted", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    ("finding_update_counted", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("finding_delete_counted", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
]


def upgrade():
    op.create_table("month_revision",
                    sa.Column("month", sa.String(7), primary_key=True),
                    sa.Column("changes", sa.BigInteger, nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for name, event, transition in POSTGRES_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON finding {transition} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION gisgrid_count_finding_writes()")
    else:
        for _name, statement in SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _event, _transition in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON finding")
        op.execute("DROP FUNCTION gisgrid_count_finding_writes()")
    else:
        for name, _statement in SQLITE:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("month_revision")
