"""process board totals: per-process member sums kept by a ledger trigger, like 0010

Revision ID: 0012_process_boards
Revises: 0010_board_totals (after 0003_community)

Process boards used to sum the ledger through contributions and tasks on every uncached
read. ``process_board_totals`` holds one row per (process, bucket, dimension, member), added
to by a trigger on ``ledger_entries`` for entries that come from a contribution, in the same
transaction; buckets and dimensions mean what they mean in ``board_totals`` (0010).
Team boards need no table of their own: they read ``board_totals`` for their members.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_process_boards"
down_revision = "0010_board_totals"
branch_labels = None
# On SQLite, 0003's table rebuilds of contributions and tasks would trip over a trigger
# that names them, so this runs after them.
depends_on = "0003_community"

SQLITE_WEEK = "'w' || date(substr({col}, 1, 19), '-6 days', 'weekday 1')"
SQLITE_MONTH = "'m' || strftime('%Y-%m-01', substr({col}, 1, 19))"
PG_WEEK = "'w' || to_char(date_trunc('week', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
PG_MONTH = "'m' || to_char(date_trunc('month', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"

PG_FUNCTION = f"""
CREATE FUNCTION kopa_process_board_totals() RETURNS trigger AS $$
DECLARE
  p integer;
  b text;
  d text;
BEGIN
  IF NEW.dimension = 'credits' OR NEW.contribution_id IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT t.process_id INTO p FROM contributions c JOIN tasks t ON t.id = c.task_id
   WHERE c.id = NEW.contribution_id;
  IF p IS NULL THEN
    RETURN NEW;
  END IF;
  FOREACH b IN ARRAY ARRAY['all', {PG_WEEK.format(col="NEW.created_at")},
                           {PG_MONTH.format(col="NEW.created_at")}] LOOP
    FOREACH d IN ARRAY ARRAY['*', NEW.dimension] LOOP
      INSERT INTO process_board_totals (process_id, bucket, dimension, member_id, points, last_entry_id)
      VALUES (p, b, d, NEW.member_id, NEW.points, NEW.id)
      ON CONFLICT (process_id, bucket, dimension, member_id) DO UPDATE
        SET points = process_board_totals.points + EXCLUDED.points,
            last_entry_id = GREATEST(process_board_totals.last_entry_id, EXCLUDED.last_entry_id);
    END LOOP;
  END LOOP;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

SQLITE_TRIGGER = f"""
CREATE TRIGGER ledger_process_board_totals AFTER INSERT ON ledger_entries
WHEN NEW.dimension <> 'credits' AND NEW.contribution_id IS NOT NULL
BEGIN
  INSERT INTO process_board_totals (process_id, bucket, dimension, member_id, points, last_entry_id)
  SELECT t.process_id, b.bucket, d.dimension, NEW.member_id, NEW.points, NEW.id
  FROM contributions c JOIN tasks t ON t.id = c.task_id,
       (SELECT 'all' AS bucket
        UNION ALL SELECT {SQLITE_WEEK.format(col="NEW.created_at")}
        UNION ALL SELECT {SQLITE_MONTH.format(col="NEW.created_at")}) AS b,
       (SELECT '*' AS dimension UNION ALL SELECT NEW.dimension) AS d
  WHERE c.id = NEW.contribution_id
  ON CONFLICT (process_id, bucket, dimension, member_id) DO UPDATE
    SET points = points + excluded.points, last_entry_id = max(last_entry_id, excluded.last_entry_id);
END
"""


def backfill_statements(postgres: bool) -> list[str]:
    """The totals of the entries already in the ledger (the benchmark reuses them)."""
    week, month = (PG_WEEK, PG_MONTH) if postgres else (SQLITE_WEEK, SQLITE_MONTH)
    return [
        "INSERT INTO process_board_totals (process_id, bucket, dimension, member_id, points, last_entry_id) "
        f"SELECT t.process_id, {bucket}, {dimension}, e.member_id, sum(e.points), max(e.id) "
        "FROM ledger_entries e JOIN contributions c ON c.id = e.contribution_id "
        "JOIN tasks t ON t.id = c.task_id "
        "WHERE e.dimension <> 'credits' GROUP BY 1, 2, 3, 4"
        for bucket in ("'all'", week.format(col="e.created_at"), month.format(col="e.created_at"))
        for dimension in ("'*'", "e.dimension")
    ]


def upgrade() -> None:
    op.create_table(
        "process_board_totals",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=12), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("last_entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"],
                                name=op.f("fk_process_board_totals_process_id_processes")),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"],
                                name=op.f("fk_process_board_totals_member_id_users")),
        sa.PrimaryKeyConstraint("process_id", "bucket", "dimension", "member_id",
                                name=op.f("pk_process_board_totals")),
    )
    op.execute("CREATE INDEX ix_process_board_totals_rank ON process_board_totals "
               "(process_id, bucket, dimension, points DESC, last_entry_id)")
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in backfill_statements(postgres):
        op.execute(statement)
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER ledger_process_board_totals AFTER INSERT ON ledger_entries "
            "FOR EACH ROW EXECUTE FUNCTION kopa_process_board_totals()"
        )
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    on_table = " ON ledger_entries" if postgres else ""
    op.execute(f"DROP TRIGGER IF EXISTS ledger_process_board_totals{on_table}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS kopa_process_board_totals()")
    op.drop_table("process_board_totals")
