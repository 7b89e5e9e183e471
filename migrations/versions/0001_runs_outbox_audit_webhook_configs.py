"""Create flow_runs_audit and webhook_configs (the seed's tables), outbox_messages, audit_events.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 14:22:13.718843

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite; BIGINT ids except where SQLite needs INTEGER
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('correlation_id', sa.String(length=255), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', JSON, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_tenant_resource', ['tenant_id', 'resource_id'], unique=False)
        batch_op.create_index('ix_audit_tenant_time', ['tenant_id', 'occurred_at', 'id'], unique=False)

    op.create_table('flow_runs_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=255), nullable=False),
    sa.Column('correlation_id', sa.String(length=255), nullable=False),
    sa.Column('flow_id', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('input_data', JSON, nullable=False),
    sa.Column('flow_definition', JSON, nullable=True),
    sa.Column('status', sa.String(length=50), server_default='PENDING', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('output_data', JSON, nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('flow_version', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), server_default='api', nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('policy_modifications', JSON, nullable=True),
    sa.Column('tasks', JSON, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id'),
    sa.UniqueConstraint('tenant_id', 'request_id', name='uq_flow_runs_tenant_request')
    )
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('headers', JSON, nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL'), sqlite_where=sa.text('published_at IS NULL'))
        batch_op.create_index('ix_outbox_published_at', ['published_at'], unique=False)

    op.create_table('webhook_configs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('webhook_id', sa.String(length=255), nullable=False),
    sa.Column('flow_id', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('webhook_config', JSON, nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webhook_id')
    )
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_configs_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_configs_tenant_id'))

    op.drop_table('webhook_configs')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_published_at')
        batch_op.drop_index('ix_outbox_pending', postgresql_where=sa.text('published_at IS NULL'), sqlite_where=sa.text('published_at IS NULL'))

    op.drop_table('outbox_messages')
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_tenant_created')

    op.drop_table('flow_runs_audit')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_tenant_time')
        batch_op.drop_index('ix_audit_tenant_resource')

    op.drop_table('audit_events')
