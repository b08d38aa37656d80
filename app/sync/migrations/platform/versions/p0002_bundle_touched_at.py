"""p_bundle.touched_at: when a pending bundle was last negotiated or uploaded to

A negotiation nobody comes back to is abandoned after ``pending_expiry_seconds`` of quiet (its
rows, small files and unshared objects are removed by the service's housekeeping); a bundle still
being worked on must not look abandoned because it was first negotiated long ago.

Revision ID: p0002
Revises: p0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'p0002'
down_revision = 'p0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('p_bundle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('touched_at', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('p_bundle', schema=None) as batch_op:
        batch_op.drop_column('touched_at')
