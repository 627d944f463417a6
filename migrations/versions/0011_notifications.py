"""notifications (#9): per-member preferences, e-mail state of each notification, digests

Revision ID: 0011_notifications
Revises: 0006_booking

``notifications`` (created by booking) learns how each one is mailed (``email``: immediate,
digest or NULL for in-app only, fixed when it is made), when it was claimed for sending
(``emailed_at``), how often sending was tried, and the digest that carried it.
``notification_preferences`` holds a member's choice per category (absent: the defaults).
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_notifications"
down_revision = "0006_booking"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_digests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_digests")),
    )
    op.create_index(op.f("ix_notification_digests_user_id"), "notification_digests", ["user_id"])
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "mode IN ('immediate', 'digest')", name=op.f("ck_notification_preferences_mode_known")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_notification_preferences")),
    )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("email", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("mail_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_notifications_digest_id_notification_digests"), "notification_digests",
            ["digest_id"], ["id"],
        )
        batch.create_check_constraint(
            op.f("ck_notifications_email_known"), "email IN ('immediate', 'digest')"
        )
    # The digest and retry runs look for rows still to be mailed.
    op.create_index("ix_notifications_mail_pending", "notifications", ["email", "emailed_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_mail_pending", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_email_known"), type_="check")
        batch.drop_constraint(op.f("fk_notifications_digest_id_notification_digests"), type_="foreignkey")
        batch.drop_column("digest_id")
        batch.drop_column("mail_attempts")
        batch.drop_column("emailed_at")
        batch.drop_column("email")
    op.drop_table("notification_preferences")
    op.drop_index(op.f("ix_notification_digests_user_id"), table_name="notification_digests")
    op.drop_table("notification_digests")
