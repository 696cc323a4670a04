"""shared learning: "did you apply it?" outcomes; topic subscriptions and their digests

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision: str = '0008'
down_revision: str | None = '0007'
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
    op.create_table(
        'topic_subscription',
        sa.Column('person_id', BigId, nullable=False),
        sa.Column('queue_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_topic_subscription_person_id_person'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['queue_id'], ['queue.id'], name=op.f('fk_topic_subscription_queue_id_queue'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('person_id', 'queue_id', name=op.f('pk_topic_subscription')),
    )
    op.create_table(
        'digest_round',
        sa.Column('id', BigId, autoincrement=True, nullable=False),
        sa.Column('person_id', BigId, nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('listed', sa.Integer(), nullable=False),
        sa.Column('handled_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_digest_round_person_id_person'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_round')),
        sa.UniqueConstraint('person_id', 'period', name=op.f('uq_digest_round_person_id_period')),
    )


def downgrade() -> None:
    op.drop_table('digest_round')
    op.drop_table('topic_subscription')
    op.drop_table('knowledge_outcome')
