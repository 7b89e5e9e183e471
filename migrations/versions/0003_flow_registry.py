"""Create flows (the flow registry); record each run's flow origin (registry or inline).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:05:41.112903

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('flows',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('flow_id', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('tags', JSON, nullable=False),
    sa.Column('metadata', JSON, nullable=False),
    sa.Column('definition', JSON, nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.Column('deprecated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deprecated_by', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'flow_id', 'version', name='uq_flows_tenant_flow_version')
    )
    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.create_index('ix_flows_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_flows_tenant_flow_id', ['tenant_id', 'flow_id', 'id'], unique=False)

    # Every run before the registry existed had an inline flow definition.
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flow_origin', sa.String(length=16), server_default='inline', nullable=False))


def downgrade():
    with op.batch_alter_table('flow_runs_audit', schema=None) as batch_op:
        batch_op.drop_column('flow_origin')

    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.drop_index('ix_flows_tenant_flow_id')
        batch_op.drop_index('ix_flows_tenant_created')

    op.drop_table('flows')
