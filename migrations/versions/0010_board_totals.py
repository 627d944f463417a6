"""board totals: per-member sums per period bucket and dimension, kept by a ledger trigger

Revision ID: 0010_board_totals
Revises: 0008_boards

The community boards read ``board_totals`` instead of summing the ledger: one row per
(bucket, dimension, member) where bucket is ``all``, ``w<monday>`` or ``m<first of month>``
(UTC) and dimension ``*`` means every dimension but spending (``credits``). A trigger on
``ledger_entries`` adds each new entry to its six rows in the same transaction, so the totals
cannot drift from the append-only ledger; ``last_entry_id`` keeps the tie-break (who reached
the score first). Existing entries are summed in once here.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_board_totals"
down_revision = "0008_boards"
branch_labels = None
depends_on = None

SQLITE_WEEK = "'w' || date(substr({col}, 1, 19), '-6 days', 'weekday 1')"
SQLITE_MONTH = "'m' || strftime('%Y-%m-01', substr({col}, 1, 19))"
PG_WEEK = "'w' || to_char(date_trunc('week', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
PG_MONTH = "'m' || to_char(date_trunc('month', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"

PG_FUNCTION = f"""
CREATE FUNCTION kopa_board_totals() RETURNS trigger AS $$
DECLARE
  b text;
  d text;
BEGIN
  IF NEW.dimension = 'credits' THEN
    RETURN NEW;
  END IF;
  FOREACH b IN ARRAY ARRAY['all', {PG_WEEK.format(col="NEW.created_at")},
                           {PG_MONTH.format(col="NEW.created_at")}] LOOP
    FOREACH d IN ARRAY ARRAY['*', NEW.dimension] LOOP
      INSERT INTO board_totals (bucket, dimension, member_id, points, last_entry_id)
      VALUES (b, d, NEW.member_id, NEW.points, NEW.id)
      ON CONFLICT (bucket, dimension, member_id) DO UPDATE
        SET points = board_totals.points + EXCLUDED.points,
            last_entry_id = GREATEST(board_totals.last_entry_id, EXCLUDED.last_entry_id);
    END LOOP;
  END LOOP;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

SQLITE_TRIGGER = f"""
CREATE TRIGGER ledger_board_totals AFTER INSERT ON ledger_entries WHEN NEW.dimension <> 'credits'
BEGIN
  INSERT INTO board_totals (bucket, dimension, member_id, points, last_entry_id)
  SELECT b.bucket, d.dimension, NEW.member_id, NEW.points, NEW.id
  FROM (SELECT 'all' AS bucket
        UNION ALL SELECT {SQLITE_WEEK.format(col="NEW.created_at")}
        UNION ALL SELECT {SQLITE_MONTH.format(col="NEW.created_at")}) AS b,
       (SELECT '*' AS dimension UNION ALL SELECT NEW.dimension) AS d
  WHERE true
  ON CONFLICT (bucket, dimension, member_id) DO UPDATE
    SET points = points + excluded.points, last_entry_id = max(last_entry_id, excluded.last_entry_id);
END
"""


def backfill_statements(postgres: bool) -> list[str]:
    """The totals of the entries already in the ledger (the benchmark reuses them)."""
    week, month = (PG_WEEK, PG_MONTH) if postgres else (SQLITE_WEEK, SQLITE_MONTH)
    return [
        "INSERT INTO board_totals (bucket, dimension, member_id, points, last_entry_id) "
        f"SELECT {bucket}, {dimension}, member_id, sum(points), max(id) FROM ledger_entries "
        "WHERE dimension <> 'credits' GROUP BY 1, 2, 3"
        for bucket in ("'all'", week.format(col="created_at"), month.format(col="created_at"))
        for dimension in ("'*'", "dimension")
    ]


def upgrade() -> None:
    op.create_table(
        "board_totals",
        sa.Column("bucket", sa.String(length=12), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("last_entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_board_totals_member_id_users")),
        sa.PrimaryKeyConstraint("bucket", "dimension", "member_id", name=op.f("pk_board_totals")),
    )
    op.execute(
        "CREATE INDEX ix_board_totals_rank ON board_totals (bucket, dimension, points DESC, last_entry_id)"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    # Few members opt out: a member's own rank subtracts them, found through this index.
    op.execute("CREATE INDEX ix_users_board_opt_out ON users (id) WHERE board_opt_out = "
               + ("true" if postgres else "1"))
    for statement in backfill_statements(postgres):
        op.execute(statement)
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER ledger_board_totals AFTER INSERT ON ledger_entries "
            "FOR EACH ROW EXECUTE FUNCTION kopa_board_totals()"
        )
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_board_totals" +
               (" ON ledger_entries" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kopa_board_totals()")
    op.drop_index("ix_users_board_opt_out", table_name="users")
    op.drop_table("board_totals")
