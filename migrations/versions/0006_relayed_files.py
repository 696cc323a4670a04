"""files relayed from another channel: where a stored file's bytes are fetched from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stored_file') as batch:
        batch.add_column(sa.Column('source_channel', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('source_file_id', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stored_file') as batch:
        batch.drop_column('source_file_id')
        batch.drop_column('source_channel')
