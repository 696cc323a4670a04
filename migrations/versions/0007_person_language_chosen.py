"""remember whether a person chose their language with /language (then it wins over detection)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('language_chosen', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('person') as batch:
        batch.drop_column('language_chosen')
