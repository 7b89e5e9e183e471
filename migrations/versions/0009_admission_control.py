"""Admission control: counters of runs in flight, and which runs they count.

`active_runs` holds one row per tenant (flow_id '') and per tenant and flow that has a
limit on runs in flight; the accept transaction locks and increments them, a terminal
status decrements them. `flow_runs_audit.counted_in_flight` says a run was counted (and
so must be released). `webhook_configs.filter` is a JMESPath expression that decides
which deliveries start runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'active_runs',
        sa.Column('tenant_id', sa.String(255), primary_key=True),
        # '' is the tenant-wide row (a flow id is never empty)
        sa.Column('flow_id', sa.String(255), primary_key=True),
        sa.Column('active', sa.Integer(), nullable=False, server_default='0'),
    )
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('counted_in_flight', sa.Boolean(), nullable=False,
                      server_default=sa.false())
        )
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filter', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_configs', schema=None) as batch_op:
        batch_op.drop_column('filter')
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.drop_column('counted_in_flight')
    op.drop_table('active_runs')
