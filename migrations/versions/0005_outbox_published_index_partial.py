"""Outbox: index only published rows by published_at.

`ix_outbox_published_at` serves `outbox prune` (published rows older than a cutoff).
As a full index it also got an entry, for NULL, from every accept; as a partial index
(`WHERE published_at IS NOT NULL`) an accept writes one index entry less.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_published_at')
        batch_op.create_index(
            'ix_outbox_published_at',
            ['published_at'],
            unique=False,
            postgresql_where=sa.text('published_at IS NOT NULL'),
            sqlite_where=sa.text('published_at IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_published_at')
        batch_op.create_index('ix_outbox_published_at', ['published_at'], unique=False)
