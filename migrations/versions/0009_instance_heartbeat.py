"""drainer instances with a heartbeat; outbox rows name the instance leasing them; shared send budgets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'instance',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('started_at', bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_instance')),
    )
    op.create_table(
        'send_budget',
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('tat', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_send_budget')),
    )
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('leased_by', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('leased_by')
    op.drop_table('send_budget')
    op.drop_table('instance')
