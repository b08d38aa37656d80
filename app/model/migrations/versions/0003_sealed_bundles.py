"""Sealed submission bundles and their reusable encrypted objects, in the shape sealing needs.

The tables of the same names in 0001 were placeholders that no release ever wrote to; they are
replaced (dropped only when empty, so no store can lose a row).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _drop_if_empty(name: str) -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table(name):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one():
            raise RuntimeError(f"table {name} is not empty; refusing to replace it")
        op.drop_table(name)


def upgrade() -> None:
    _drop_if_empty("sealed_object")
    _drop_if_empty("sealed_bundle")
    op.create_table(
        "sealed_bundle",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.String(64), nullable=True),
        sa.Column("sums_sha256", sa.String(64), nullable=False),
        sa.Column("recipients_sha256", sa.String(64), nullable=False),
        sa.Column("panel_id", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("demo", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("sealed_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("bundle_id", name="uq_sealed_bundle_bundle_id"),
        sa.UniqueConstraint("submission_id", "revision", name="uq_sealed_bundle_submission_id"),
    )
    op.create_index("ix_sealed_bundle_submission_id", "sealed_bundle", ["submission_id"])
    op.create_table(
        "sealed_object",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_key", sa.String(64), nullable=False),
        sa.Column("recipients_sha256", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_sealed_object_key", "sealed_object", ["content_key", "recipients_sha256"])


def downgrade() -> None:
    op.drop_index("ix_sealed_object_key", table_name="sealed_object")
    op.drop_table("sealed_object")
    op.drop_index("ix_sealed_bundle_submission_id", table_name="sealed_bundle")
    op.drop_table("sealed_bundle")
