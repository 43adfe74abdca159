"""The database keeps each road's tally of a month's findings, in the writing transaction: a
city's month is scored from the tallies of its 40,000 sampled roads instead of summing their
quarter of a million findings on every view.

`road_tally` holds one row per month, road, rule and area of the findings that are standing
(not withdrawn) and carry no deadline (5.4's are scored one by one, for their dates): how many
findings, their items (the sum of their counts) and how many have a count below 1 or not whole
(the scorer refuses those; it then scores finding by finding, which names them). The area is
kept as it is (0 for none), not as "above the threshold", so that the tally prices exactly under
any rulebook's threshold. Triggers keep it, whatever wrote the findings (the tablet, an import,
SQL, SQLite's REPLACE with its recursive triggers on): a write takes its old row out of its
tally and puts its new one in. On PostgreSQL the trigger runs at commit after 0016's count,
which holds the month's count row: two writers of a month never take tally rows crosswise.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KEY = "month, road_id, rule, area"


def _standing(row: str) -> str:
    return f"{row}.deleted_at IS NULL AND {row}.deadline IS NULL"


def _uncounted(count: str) -> str:
    """1 for a count the scorer refuses: below 1, or (SQLite keeps what it is given) not whole."""
    return f"CASE WHEN {count} >= 1 AND {count} = CAST({count} AS INTEGER) THEN 0 ELSE 1 END"


def _put(row: str) -> str:
    return (f"INSERT INTO road_tally ({KEY}, findings, items, uncounted) "
            f"SELECT {row}.month, {row}.road_id, {row}.rule, COALESCE({row}.area_m2, 0), 1, {row}.count, "
            f"{_uncounted(row + '.count')} WHERE {_standing(row)} "
            "ON CONFLICT (month, road_id, rule, area) DO UPDATE SET findings = road_tally.findings + 1, "
            "items = road_tally.items + excluded.items, uncounted = road_tally.uncounted + excluded.uncounted;")


def _take(row: str) -> str:
    match = (f"month = {row}.month AND road_id = {row}.road_id AND rule = {row}.rule "
             f"AND area = COALESCE({row}.area_m2, 0)")
    return (f"UPDATE road_tally SET findings = findings - 1, items = items - {row}.count, "
            f"uncounted = uncounted - {_uncounted(row + '.count')} "
            f"WHERE {match} AND {_standing(row)}; "
            f"DELETE FROM road_tally WHERE {match} AND findings = 0;")


SQLITE = {"INSERT": _put("NEW"), "UPDATE": _take("OLD") + " " + _put("NEW"), "DELETE": _take("OLD")}

POSTGRES_FUNCTION = f"""
CREATE FUNCTION gisgrid_tally_finding_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {_take("OLD")}
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {_put("NEW")}
    END IF;
    RETURN NULL;
END $$
"""
# deferred like 0016's finding_written_counted, and named after it: at commit, row by row, each
# after the count that holds the month
POSTGRES_TRIGGER = "finding_written_tallied"

BACKFILL = (f"INSERT INTO road_tally ({KEY}, findings, items, uncounted) "
            f"SELECT month, road_id, rule, COALESCE(area_m2, 0), COUNT(*), SUM(count), SUM({_uncounted('count')}) "
            "FROM finding WHERE deleted_at IS NULL AND deadline IS NULL GROUP BY month, road_id, rule, COALESCE(area_m2, 0)")
# TRUNCATE fires no row trigger: the tallies go with the findings
POSTGRES_TRUNCATED = """
CREATE FUNCTION gisgrid_untally_findings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM road_tally;
    RETURN NULL;
END $$
"""


def upgrade():
    op.create_table("road_tally",
                    sa.Column("month", sa.String(7), primary_key=True),
                    sa.Column("road_id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("rule", sa.String(16), primary_key=True),
                    sa.Column("area", sa.Float, primary_key=True),
                    sa.Column("findings", sa.Integer, nullable=False),
                    sa.Column("items", sa.BigInteger, nullable=False),
                    sa.Column("uncounted", sa.Integer, nullable=False),
                    sqlite_with_rowid=False)
    if op.get_bind().dialect.name == "postgresql":
        # no finding is written between the count and the trigger (a server of several that
        # started first): its write would be in neither
        op.execute("LOCK TABLE finding IN SHARE ROW EXCLUSIVE MODE")
        op.execute(BACKFILL)
        op.execute(POSTGRES_FUNCTION)
        op.execute(f"CREATE CONSTRAINT TRIGGER {POSTGRES_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON finding "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gisgrid_tally_finding_write()")
        op.execute(POSTGRES_TRUNCATED)
        op.execute("CREATE TRIGGER finding_truncated_untallied AFTER TRUNCATE ON finding "
                   "FOR EACH STATEMENT EXECUTE FUNCTION gisgrid_untally_findings()")
    else:                   # the migration holds SQLite's write lock (BEGIN IMMEDIATE)
        op.execute(BACKFILL)
        for event, body in SQLITE.items():
            op.execute(f"CREATE TRIGGER finding_{event.lower()}_tallied AFTER {event} ON finding FOR EACH ROW "
                       f"BEGIN {body} END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER finding_truncated_untallied ON finding")
        op.execute("DROP FUNCTION gisgrid_untally_findings()")
        op.execute(f"DROP TRIGGER {POSTGRES_TRIGGER} ON finding")
        op.execute("DROP FUNCTION gisgrid_tally_finding_write()")
    else:
        for event in SQLITE:
            op.execute(f"DROP TRIGGER finding_{event.lower()}_tallied")
    op.drop_table("road_tally")
