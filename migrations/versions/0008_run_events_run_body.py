"""Keep the run's body with each status change in run_events (event stream replay).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('run_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_body', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('run_events', schema=None) as batch_op:
        batch_op.drop_column('run_body')
