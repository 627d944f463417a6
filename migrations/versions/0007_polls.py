"""polls: questions, options, member votes and anonymous kiosk answers

Revision ID: 0007_polls
Revises: 0002_outbox_kinds

Member votes and kiosk answers share ``poll_answers``: exactly one of ``member_id`` and
``kiosk_session`` is set, and each is unique per poll (one vote per member, one answer per
kiosk session), so the database itself refuses a second vote.
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_polls"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=True),
        sa.Column("allow_text", sa.Boolean(), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("results_visibility", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("kiosk_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('single', 'multiple')", name=op.f("ck_polls_kind_known")),
        sa.CheckConstraint(
            "results_visibility IN ('after_vote', 'after_close')", name=op.f("ck_polls_visibility_known")
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_polls_closes_after_opening")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_polls_points_not_negative")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_polls_closed_by_id_users")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_polls_created_by_id_users")),
        sa.ForeignKeyConstraint(["process_id"], ["processes.id"], name=op.f("fk_polls_process_id_processes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    op.create_index(op.f("ix_polls_process_id"), "polls", ["process_id"], unique=False)

    op.create_table(
        "poll_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_options_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_options")),
    )
    op.create_index(op.f("ix_poll_options_poll_id"), "poll_options", ["poll_id"], unique=False)

    op.create_table(
        "poll_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kiosk_session", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(member_id IS NULL) <> (kiosk_session IS NULL)", name=op.f("ck_poll_answers_one_source")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_poll_answers_member_id_users")),
        sa.ForeignKeyConstraint(["poll_id"], ["polls.id"], name=op.f("fk_poll_answers_poll_id_polls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_answers")),
        sa.UniqueConstraint("poll_id", "kiosk_session", name="uq_poll_answers_kiosk_session"),
        sa.UniqueConstraint("poll_id", "member_id", name="uq_poll_answers_member"),
    )
    op.create_index(op.f("ix_poll_answers_member_id"), "poll_answers", ["member_id"], unique=False)
    op.create_index(op.f("ix_poll_answers_poll_id"), "poll_answers", ["poll_id"], unique=False)

    op.create_table(
        "poll_answer_choices",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["poll_answers.id"],
            name=op.f("fk_poll_answer_choices_answer_id_poll_answers"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["option_id"], ["poll_options.id"], name=op.f("fk_poll_answer_choices_option_id_poll_options")
        ),
        sa.PrimaryKeyConstraint("answer_id", "option_id", name=op.f("pk_poll_answer_choices")),
    )
    op.create_index(
        op.f("ix_poll_answer_choices_option_id"), "poll_answer_choices", ["option_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_poll_answer_choices_option_id"), table_name="poll_answer_choices")
    op.drop_table("poll_answer_choices")
    op.drop_index(op.f("ix_poll_answers_poll_id"), table_name="poll_answers")
    op.drop_index(op.f("ix_poll_answers_member_id"), table_name="poll_answers")
    op.drop_table("poll_answers")
    op.drop_index(op.f("ix_poll_options_poll_id"), table_name="poll_options")
    op.drop_table("poll_options")
    op.drop_index(op.f("ix_polls_process_id"), table_name="polls")
    op.drop_table("polls")
