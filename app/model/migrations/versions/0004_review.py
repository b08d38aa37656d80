"""Technical panel review (imported bundles, verdicts) and the feedback a city receives.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_submission",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("previous_bundle_id", sa.String(64), nullable=True),
        sa.Column("sums_sha256", sa.String(64), nullable=False),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("city_name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("panel_id", sa.String(64), nullable=False),
        sa.Column("signer_fingerprint", sa.String(32), nullable=False),
        sa.Column("city_age_recipient", sa.String(100), nullable=False),
        sa.Column("demo", sa.Integer(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("opened_path", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("bundle_id", name="uq_review_submission_bundle_id"),
        sa.UniqueConstraint("submission_id", "revision", name="uq_review_submission_submission_id"),
    )
    op.create_index("ix_review_submission_submission_id", "review_submission", ["submission_id"])
    op.create_table(
        "review_verdict",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("requirement_id", sa.String(64), nullable=False),
        sa.Column("member", sa.String(64), nullable=False),
        sa.Column("member_name", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("bundle_id", "requirement_id", "member", name="uq_review_verdict_bundle_id"),
    )
    op.create_table(
        "feedback_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("results_bundle_id", sa.String(64), nullable=False),
        sa.Column("submission_bundle_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("requirement_id", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("results_bundle_id", "requirement_id", name="uq_feedback_item_results_bundle_id"),
    )


def downgrade() -> None:
    op.drop_table("feedback_item")
    op.drop_table("review_verdict")
    op.drop_index("ix_review_submission_submission_id", table_name="review_submission")
    op.drop_table("review_submission")
