"""session_epoch: logout ends every page session of the member

Revision ID: 0014_session_epoch
Revises: 0013_user_locale

Page sessions are signed cookies, not rows: a copy of the cookie would outlive logout.
The session names the member's epoch; logout raises it. Existing sessions (which name no
epoch) end once at the upgrade: members sign in again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_session_epoch"
down_revision = "0013_user_locale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
