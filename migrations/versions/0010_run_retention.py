"""Run retention: an index on `flow_runs_audit.created_at`.

The relays' prune deletes finished runs created more than RUN_RETENTION_DAYS ago (with
their status events); the index lets it find the oldest ones without scanning the table.
`created_at` never changes after the insert, so status updates stay heap-only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:00:00.000000

"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_created', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_created')
