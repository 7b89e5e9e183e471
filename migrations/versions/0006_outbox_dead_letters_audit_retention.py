"""Outbox dead letters and retries; audit retention.

`outbox_messages.failed_at` marks a message Kafka refused for good (too large, invalid,
not authorized): the relay skips it and publishing goes on. `next_attempt_at` delays
the retry of a message whose delivery failed for a passing reason. The pending index
now leaves dead-lettered rows out; a small partial index finds them. An index on
`audit_events.occurred_at` lets the relays prune old events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PENDING = 'published_at IS NULL AND failed_at IS NULL'
FAILED = 'failed_at IS NOT NULL'


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index(
            'ix_outbox_pending', ['id'], unique=False,
            postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING),
        )
        batch_op.create_index(
            'ix_outbox_failed', ['id'], unique=False,
            postgresql_where=sa.text(FAILED), sqlite_where=sa.text(FAILED),
        )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_occurred_at', ['occurred_at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_occurred_at')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_failed')
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index(
            'ix_outbox_pending', ['id'], unique=False,
            postgresql_where=sa.text('published_at IS NULL'),
            sqlite_where=sa.text('published_at IS NULL'),
        )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('failed_at')
