"""user_locale: the language a member chose for pages and e-mail

Revision ID: 0013_user_locale
Revises: 0001

A branch of its own off the spine (only ``users`` is touched). The column is nullable:
NULL means "no choice made", so the browser's Accept-Language decides; adding it needs no
table rebuild.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_user_locale"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
