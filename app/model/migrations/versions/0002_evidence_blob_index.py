"""Index evidence links by blob, for de-duplication and integrity checks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_link") as batch:
        batch.create_index("ix_evidence_link_sha256", ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("evidence_link") as batch:
        batch.drop_index("ix_evidence_link_sha256")
