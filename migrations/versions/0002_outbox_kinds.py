"""outbox carries burns, badges and anchors, not only mints

Revision ID: 0002_outbox_kinds
Revises: 0001

A burn (revocation, redemption, booking payment) has a ledger entry like a mint; a badge or
an epoch anchor has none, so ``ledger_entry_id`` becomes optional and badges get a token id.
Feature revisions branch from here; ``web.migrate.upgrade`` applies every head.
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_outbox_kinds"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("ledger_entry_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("token_id", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            "kind_known", "kind IN ('mint', 'burn', 'badge', 'anchor')"
        )
        batch_op.create_index(batch_op.f("ix_outbox_kind"), ["kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_kind"))
        batch_op.drop_constraint("kind_known", type_="check")
        batch_op.drop_column("token_id")
        batch_op.alter_column("ledger_entry_id", existing_type=sa.Integer(), nullable=False)
