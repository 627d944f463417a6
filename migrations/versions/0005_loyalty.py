"""loyalty: tiers, badges with levels and awards, catalogue items, redemptions

Revision ID: 0005_loyalty
Revises: 0002_outbox_kinds

Only new tables: a member's tier, badge counts and balances are derived from the ledger.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_loyalty"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("discount_percent BETWEEN 0 AND 100", name=op.f("ck_loyalty_tiers_discount_range")),
        sa.CheckConstraint("min_points >= 0", name=op.f("ck_loyalty_tiers_min_points_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tiers")),
        sa.UniqueConstraint("min_points", name=op.f("uq_loyalty_tiers_min_points")),
        sa.UniqueConstraint("name", name=op.f("uq_loyalty_tiers_name")),
        sa.UniqueConstraint("rank", name=op.f("uq_loyalty_tiers_rank")),
    )
    op.create_table(
        "badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "metric IN ('approved_contributions', 'points', 'week_streak')", name=op.f("ck_badges_metric_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
        sa.UniqueConstraint("name", name=op.f("uq_badges_name")),
    )
    op.create_table(
        "badge_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("level > 0", name=op.f("ck_badge_levels_level_positive")),
        sa.CheckConstraint("threshold > 0", name=op.f("ck_badge_levels_threshold_positive")),
        sa.CheckConstraint("token_id > 0", name=op.f("ck_badge_levels_token_id_positive")),
        sa.ForeignKeyConstraint(["badge_id"], ["badges.id"], name=op.f("fk_badge_levels_badge_id_badges")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_levels")),
        sa.UniqueConstraint("badge_id", "level", name="uq_badge_levels_badge_level"),
        sa.UniqueConstraint("token_id", name=op.f("uq_badge_levels_token_id")),
    )
    op.create_index(op.f("ix_badge_levels_badge_id"), "badge_levels", ["badge_id"], unique=False)
    op.create_table(
        "badge_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("badge_level_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=66), nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_level_id"], ["badge_levels.id"], name=op.f("fk_badge_awards_badge_level_id_badge_levels")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_badge_awards_member_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_awards")),
        sa.UniqueConstraint("member_id", "badge_level_id", name="uq_badge_awards_member_level"),
        sa.UniqueConstraint("ref", name=op.f("uq_badge_awards_ref")),
    )
    op.create_index(op.f("ix_badge_awards_member_id"), "badge_awards", ["member_id"], unique=False)
    op.create_index(op.f("ix_badge_awards_badge_level_id"), "badge_awards", ["badge_level_id"], unique=False)
    op.create_table(
        "catalogue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("per_member_limit", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "per_member_limit IS NULL OR per_member_limit > 0", name=op.f("ck_catalogue_items_limit_positive")
        ),
        sa.CheckConstraint("price > 0", name=op.f("ck_catalogue_items_price_positive")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_catalogue_items_stock_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_items")),
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("list_price", sa.Integer(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("spend_entry_id", sa.Integer(), nullable=True),
        sa.Column("refund_entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("price >= 0", name=op.f("ck_redemptions_price_nonnegative")),
        sa.CheckConstraint(
            "state IN ('requested', 'fulfilled', 'cancelled')", name=op.f("ck_redemptions_state_known")
        ),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_redemptions_decided_by_id_users")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["catalogue_items.id"], name=op.f("fk_redemptions_item_id_catalogue_items")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_redemptions_member_id_users")),
        sa.ForeignKeyConstraint(
            ["refund_entry_id"], ["ledger_entries.id"], name=op.f("fk_redemptions_refund_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["spend_entry_id"], ["ledger_entries.id"], name=op.f("fk_redemptions_spend_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    op.create_index(op.f("ix_redemptions_item_id"), "redemptions", ["item_id"], unique=False)
    op.create_index(op.f("ix_redemptions_member_id"), "redemptions", ["member_id"], unique=False)
    op.create_index(op.f("ix_redemptions_state"), "redemptions", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("redemptions")
    op.drop_table("catalogue_items")
    op.drop_table("badge_awards")
    op.drop_table("badge_levels")
    op.drop_table("badges")
    op.drop_table("loyalty_tiers")
