"""booking: resources, opening hours, blackouts, bookings, series, waitlist, suspensions,
feed keys, and in-app notifications (community.notifications, introduced by booking)

Revision ID: 0006_booking
Revises: 0002_outbox_kinds

On PostgreSQL an exclusion constraint (btree_gist) makes overlapping blocking bookings of one
resource impossible, whatever the application does; SQLite relies on BEGIN IMMEDIATE.
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_booking"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None

BLOCKING = "'pending', 'offered', 'confirmed', 'checked_in'"
STATES = "'pending', 'offered', 'confirmed', 'checked_in', 'cancelled', 'declined', 'expired', 'no_show'"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        _ts("created_at"),
        _ts("read_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"])

    op.create_table(
        "booking_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("max_hours_per_week", sa.Integer(), nullable=True),
        sa.Column("max_concurrent", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_booking_groups_name")),
    )
    op.create_table(
        "booking_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("photo_url", sa.String(length=2000), nullable=True),
        sa.Column("accessibility", sa.Text(), nullable=False),
        sa.Column("min_minutes", sa.Integer(), nullable=False),
        sa.Column("max_minutes", sa.Integer(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("price_per_hour", sa.Integer(), nullable=False),
        sa.Column("peak_price_per_hour", sa.Integer(), nullable=True),
        sa.Column("peak_from", sa.Time(), nullable=True),
        sa.Column("peak_until", sa.Time(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("kind IN ('space', 'equipment')", name=op.f("ck_booking_resources_kind_known")),
        sa.CheckConstraint("slot_minutes > 0 AND min_minutes > 0 AND min_minutes <= max_minutes",
                           name=op.f("ck_booking_resources_lengths_valid")),
        sa.CheckConstraint("price_per_hour >= 0 AND lead_minutes >= 0 AND horizon_days > 0",
                           name=op.f("ck_booking_resources_limits_valid")),
        sa.ForeignKeyConstraint(["group_id"], ["booking_groups.id"],
                                name=op.f("fk_booking_resources_group_id_booking_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_resources")),
    )
    op.create_index(op.f("ix_booking_resources_group_id"), "booking_resources", ["group_id"])
    op.create_table(
        "booking_opening_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_booking_opening_hours_weekday_valid")),
        sa.CheckConstraint("opens < closes", name=op.f("ck_booking_opening_hours_interval_valid")),
        sa.ForeignKeyConstraint(["resource_id"], ["booking_resources.id"],
                                name=op.f("fk_booking_opening_hours_resource_id_booking_resources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_opening_hours")),
    )
    op.create_index(op.f("ix_booking_opening_hours_resource_id"), "booking_opening_hours", ["resource_id"])
    op.create_table(
        "booking_blackouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_booking_blackouts_range_valid")),
        sa.ForeignKeyConstraint(["resource_id"], ["booking_resources.id"],
                                name=op.f("fk_booking_blackouts_resource_id_booking_resources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_blackouts")),
    )
    op.create_index(op.f("ix_booking_blackouts_resource_id"), "booking_blackouts", ["resource_id"])
    op.create_table(
        "booking_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("every_weeks", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("mode IN ('all', 'free')", name=op.f("ck_booking_series_mode_known")),
        sa.ForeignKeyConstraint(["resource_id"], ["booking_resources.id"],
                                name=op.f("fk_booking_series_resource_id_booking_resources")),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_booking_series_member_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_series")),
    )
    op.create_index(op.f("ix_booking_series_resource_id"), "booking_series", ["resource_id"])
    op.create_index(op.f("ix_booking_series_member_id"), "booking_series", ["member_id"])
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("spend_entry_id", sa.Integer(), nullable=True),
        sa.Column("refund_entry_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=False),
        _ts("created_at"),
        _ts("expires_at", True),
        _ts("decided_at", True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        _ts("cancelled_at", True),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        _ts("checked_in_at", True),
        _ts("reminded_at", True),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_bookings_range_valid")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_bookings_state_known")),
        sa.CheckConstraint("credits >= 0", name=op.f("ck_bookings_credits_valid")),
        sa.ForeignKeyConstraint(["resource_id"], ["booking_resources.id"],
                                name=op.f("fk_bookings_resource_id_booking_resources")),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_bookings_member_id_users")),
        sa.ForeignKeyConstraint(["series_id"], ["booking_series.id"],
                                name=op.f("fk_bookings_series_id_booking_series")),
        sa.ForeignKeyConstraint(["spend_entry_id"], ["ledger_entries.id"],
                                name=op.f("fk_bookings_spend_entry_id_ledger_entries")),
        sa.ForeignKeyConstraint(["refund_entry_id"], ["ledger_entries.id"],
                                name=op.f("fk_bookings_refund_entry_id_ledger_entries")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_bookings_decided_by_id_users")),
        sa.ForeignKeyConstraint(["cancelled_by_id"], ["users.id"],
                                name=op.f("fk_bookings_cancelled_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("code", name=op.f("uq_bookings_code")),
    )
    op.create_index(op.f("ix_bookings_member_id"), "bookings", ["member_id"])
    op.create_index(op.f("ix_bookings_series_id"), "bookings", ["series_id"])
    op.create_index(op.f("ix_bookings_state"), "bookings", ["state"])
    op.create_index("ix_bookings_resource_start", "bookings", ["resource_id", "starts_at"])
    op.create_table(
        "booking_waitlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_booking_waitlist_range_valid")),
        sa.CheckConstraint("state IN ('waiting', 'offered', 'booked', 'expired', 'left')",
                           name=op.f("ck_booking_waitlist_state_known")),
        sa.ForeignKeyConstraint(["resource_id"], ["booking_resources.id"],
                                name=op.f("fk_booking_waitlist_resource_id_booking_resources")),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"], name=op.f("fk_booking_waitlist_member_id_users")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"],
                                name=op.f("fk_booking_waitlist_booking_id_bookings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_waitlist")),
    )
    op.create_index(op.f("ix_booking_waitlist_resource_id"), "booking_waitlist", ["resource_id"])
    op.create_index(op.f("ix_booking_waitlist_member_id"), "booking_waitlist", ["member_id"])
    op.create_table(
        "booking_suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["users.id"],
                                name=op.f("fk_booking_suspensions_member_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_suspensions")),
    )
    op.create_index(op.f("ix_booking_suspensions_member_id"), "booking_suspensions", ["member_id"])
    op.create_table(
        "booking_feed_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_booking_feed_keys_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_booking_feed_keys")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ex_bookings_no_overlap EXCLUDE USING gist "
            "(resource_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            f"WHERE (state IN ({BLOCKING}))"
        )


def downgrade() -> None:
    for table in ("booking_feed_keys", "booking_suspensions", "booking_waitlist", "bookings", "booking_series",
                  "booking_blackouts", "booking_opening_hours", "booking_resources", "booking_groups",
                  "notifications"):
        op.drop_table(table)
