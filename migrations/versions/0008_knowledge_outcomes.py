"""knowledge outcomes: "did you apply it?" asked once per resolved ticket or helpful FAQ answer

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision: str = '0008'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'knowledge_outcome',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('person_id', BigId, nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('basis_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('ticket_id', BigId, nullable=True),
        sa.Column('entry_id', sa.String(length=96), nullable=True),
        sa.Column('queue_id', sa.String(length=32), nullable=True),
        sa.Column('asked_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.String(length=8), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('answered_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_knowledge_outcome_person_id_person'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_knowledge_outcome_ticket_id_ticket'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_outcome')),
        sa.UniqueConstraint('source', 'source_id', 'basis_at',
                            name=op.f('uq_knowledge_outcome_source_source_id_basis_at')),
    )
    op.create_index(op.f('ix_knowledge_outcome_person_id'), 'knowledge_outcome', ['person_id'], unique=False)
    op.create_index(op.f('ix_knowledge_outcome_entry_id'), 'knowledge_outcome', ['entry_id'], unique=False)
    op.create_index(op.f('ix_knowledge_outcome_asked_at'), 'knowledge_outcome', ['asked_at'], unique=False)


def downgrade() -> None:
    op.drop_table('knowledge_outcome')
