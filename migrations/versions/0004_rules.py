"""scoring rules: rules, immutable versions, and the scored-event history previews replay

Revision ID: 0004_rules
Revises: 0002_outbox_kinds

Only new tables. Ledger entries already carry rule id and version (0001).
"""
from alembic import op
import sqlalchemy as sa


revision = "0004_rules"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scoring_rules",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_scoring_rules_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_rules")),
    )
    op.create_table(
        "scoring_rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("cap_period", sa.String(length=8), nullable=True),
        sa.Column("cap_points", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("version > 0", name=op.f("ck_scoring_rule_versions_version_positive")),
        sa.CheckConstraint(
            "cap_period IN ('day', 'week', 'month')", name=op.f("ck_scoring_rule_versions_cap_period_known")
        ),
        sa.CheckConstraint(
            "cap_points IS NULL OR cap_points > 0", name=op.f("ck_scoring_rule_versions_cap_points_positive")
        ),
        sa.CheckConstraint(
            "(cap_period IS NULL) = (cap_points IS NULL)", name=op.f("ck_scoring_rule_versions_cap_complete")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["scoring_rules.id"], name=op.f("fk_scoring_rule_versions_rule_id_scoring_rules")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_scoring_rule_versions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["users.id"], name=op.f("fk_scoring_rule_versions_published_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_rule_versions")),
        sa.UniqueConstraint("rule_id", "version", name="uq_scoring_rule_versions_rule_version"),
    )
    op.create_index(op.f("ix_scoring_rule_versions_rule_id"), "scoring_rule_versions", ["rule_id"])
    op.create_index(op.f("ix_scoring_rule_versions_event"), "scoring_rule_versions", ["event"])
    op.create_table(
        "scoring_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("default_award", sa.JSON(), nullable=True),
        sa.Column("awards", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_scoring_events_member_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_events")),
    )
    op.create_index(op.f("ix_scoring_events_member_id"), "scoring_events", ["member_id"])
    op.create_index("ix_scoring_events_kind_occurred_at", "scoring_events", ["kind", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_scoring_events_kind_occurred_at", table_name="scoring_events")
    op.drop_index(op.f("ix_scoring_events_member_id"), table_name="scoring_events")
    op.drop_table("scoring_events")
    op.drop_index(op.f("ix_scoring_rule_versions_event"), table_name="scoring_rule_versions")
    op.drop_index(op.f("ix_scoring_rule_versions_rule_id"), table_name="scoring_rule_versions")
    op.drop_table("scoring_rule_versions")
    op.drop_table("scoring_rules")
