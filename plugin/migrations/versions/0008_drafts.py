"""Drafts: a workflow's unpublished next version, with its review.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from airflow_mlops.models import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_draft",
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=250), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.Column("review_requested_by", sa.String(length=250), nullable=True),
        sa.Column("reviewed_by", sa.String(length=250), nullable=True),
        sa.Column("reviewed_at", UtcDateTime(), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["mlops_workflow.id"],
                                name=op.f("fk_mlops_draft_workflow_id_mlops_workflow"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_mlops_draft")),
    )


def downgrade() -> None:
    op.drop_table("mlops_draft")
