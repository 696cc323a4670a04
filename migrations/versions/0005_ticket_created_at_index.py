"""index tickets by opening time, for the reports and the dashboard

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ticket_created_at', 'ticket', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_created_at', table_name='ticket')
