"""audit: ledger epochs and their leaves, the hash-chained audit log, erasures

Revision ID: 0009_audit
Revises: 0002_outbox_kinds

Epoch membership lives in its own table because ``ledger_entries`` is append-only (and
must never be batch-altered on SQLite: that would drop its triggers).
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_audit"
down_revision = "0002_outbox_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_epochs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_audit_epochs_outbox_id_outbox")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_audit_epochs_closed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_epochs")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_audit_epochs_outbox_id")),
    )
    op.create_table(
        "audit_epoch_entries",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("epoch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_audit_epoch_entries_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["epoch_id"], ["audit_epochs.id"], name=op.f("fk_audit_epoch_entries_epoch_id_audit_epochs")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_epoch_entries")),
        sa.UniqueConstraint("epoch_id", "position", name="uq_audit_epoch_position"),
    )
    op.create_index(op.f("ix_audit_epoch_entries_epoch_id"), "audit_epoch_entries", ["epoch_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "erasures",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_erasures_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_erasures")),
    )


def downgrade() -> None:
    op.drop_table("erasures")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_audit_epoch_entries_epoch_id"), table_name="audit_epoch_entries")
    op.drop_table("audit_epoch_entries")
    op.drop_table("audit_epochs")
