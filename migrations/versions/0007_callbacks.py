"""Callbacks: per-run callback URLs, the tenant's signing secret, subscriptions,
deliveries and their attempts.

A delivery row is written in the transaction that changes a run's status (an
outbox of HTTP calls); the relays send it and record each attempt.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
STAMP = sa.DateTime(timezone=True)
PENDING = "state = 'pending'"
FAILED = "state = 'failed'"


def upgrade():
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('callback_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('callback_events', JSON, nullable=True))
    op.create_table(
        'callback_secrets',
        sa.Column('tenant_id', sa.String(255), primary_key=True),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('previous_secret', sa.Text(), nullable=True),
        sa.Column('previous_secret_expires_at', STAMP, nullable=True),
        sa.Column('created_at', STAMP, nullable=False),
        sa.Column('rotated_at', STAMP, nullable=True),
    )
    op.create_table(
        'callback_subscriptions',
        sa.Column('id', BIGID, primary_key=True, autoincrement=True),
        sa.Column('subscription_id', sa.String(36), nullable=False, unique=True),
        sa.Column('tenant_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255), nullable=False),
        sa.Column('target_url', sa.Text(), nullable=False),
        sa.Column('events', JSON, nullable=False),
        sa.Column('flow_id', sa.String(255), nullable=True),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('created_at', STAMP, nullable=False),
    )
    op.create_index(
        'ix_callback_subscriptions_tenant', 'callback_subscriptions',
        ['tenant_id', 'created_at', 'id'],
    )
    op.create_table(
        'callback_deliveries',
        sa.Column('id', BIGID, primary_key=True, autoincrement=True),
        sa.Column('message_id', sa.String(64), nullable=False, unique=True),
        sa.Column('tenant_id', sa.String(255), nullable=False),
        sa.Column('run_id', sa.String(255), nullable=False),
        sa.Column('subscription_id', sa.String(36), nullable=True),
        sa.Column('event_type', sa.String(64), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('target_host', sa.String(300), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False, server_default='pending'),
        sa.Column('created_at', STAMP, nullable=False),
        sa.Column('next_attempt_at', STAMP, nullable=False),
        sa.Column('expires_at', STAMP, nullable=False),
        sa.Column('finished_at', STAMP, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
    )
    op.create_index(
        'ix_callback_deliveries_due', 'callback_deliveries', ['next_attempt_at'],
        postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING),
    )
    op.create_index(
        'ix_callback_deliveries_failed', 'callback_deliveries', ['id'],
        postgresql_where=sa.text(FAILED), sqlite_where=sa.text(FAILED),
    )
    op.create_index('ix_callback_deliveries_run', 'callback_deliveries', ['run_id', 'id'])
    op.create_index('ix_callback_deliveries_finished', 'callback_deliveries', ['finished_at'])
    op.create_table(
        'callback_attempts',
        sa.Column('id', BIGID, primary_key=True, autoincrement=True),
        sa.Column('delivery_id', BIGID, nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', STAMP, nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=True),
        sa.Column('next_attempt_at', STAMP, nullable=True),
    )
    op.create_index(
        'ix_callback_attempts_delivery', 'callback_attempts', ['delivery_id', 'attempt']
    )


def downgrade():
    op.drop_table('callback_attempts')
    op.drop_table('callback_deliveries')
    op.drop_table('callback_subscriptions')
    op.drop_table('callback_secrets')
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.drop_column('callback_events')
        batch_op.drop_column('callback_url')
