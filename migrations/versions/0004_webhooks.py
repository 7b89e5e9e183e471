"""Webhooks: configuration columns on webhook_configs; webhook_deliveries (dedupe, history).

webhook_configs keeps the seed's columns; the new scalar settings are columns, the
JSON-shaped ones (auth options, input mapping, inline flow) live in `webhook_config`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 17:40:12.503114

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), server_default='generic', nullable=False))
        batch_op.add_column(sa.Column('flow_version', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('auth_type', sa.String(length=32), server_default='standard-webhooks', nullable=False))
        batch_op.add_column(sa.Column('secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_webhook_configs_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('webhook_id', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=255), nullable=True),
    sa.Column('correlation_id', sa.String(length=255), nullable=True),
    sa.Column('detail', JSON, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webhook_id', 'delivery_id', name='uq_webhook_deliveries_delivery')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_webhook_received', ['webhook_id', 'received_at', 'id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_received', ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_received')
        batch_op.drop_index('ix_webhook_deliveries_webhook_received')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_configs_tenant_created')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('description')
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret')
        batch_op.drop_column('secret')
        batch_op.drop_column('auth_type')
        batch_op.drop_column('flow_version')
        batch_op.drop_column('source')
