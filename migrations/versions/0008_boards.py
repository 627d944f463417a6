"""boards: opt-out and pseudonym on users, board freezes, ledger indexes for boards

Revision ID: 0008_boards
Revises: 0002_outbox_kinds

The two user columns are nullable (NULL = visible under the display name), so adding them
needs no table rebuild. The ledger indexes serve the board query: period boards range over
``created_at``, all-time boards over ``dimension``; both carry member, points and id so the
aggregate can be answered from the index alone.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_boards"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("board_opt_out", sa.Boolean(), nullable=True))
    op.add_column("users", sa.Column("board_pseudonym", sa.String(length=40), nullable=True))
    op.create_table(
        "board_freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("frozen_by_id", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["frozen_by_id"], ["users.id"], name=op.f("fk_board_freezes_frozen_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_freezes")),
        sa.UniqueConstraint("scope", "period", "dimension", name="uq_board_freezes_board"),
    )
    op.create_index("ix_ledger_board_all", "ledger_entries", ["dimension", "member_id", "points", "id"])
    op.create_index("ix_ledger_board_period", "ledger_entries",
                    ["created_at", "dimension", "member_id", "points", "id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_board_period", table_name="ledger_entries")
    op.drop_index("ix_ledger_board_all", table_name="ledger_entries")
    op.drop_table("board_freezes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("board_pseudonym")
        batch.drop_column("board_opt_out")
