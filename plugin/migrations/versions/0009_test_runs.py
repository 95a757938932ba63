"""Test runs from the editor: what each one executes, read by the worker of the ``mlops_test_runs`` DAG.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from airflow_mlops.models import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_test_run",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_revision", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("target", sa.String(length=250), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("upstream_dag_id", sa.String(length=250), nullable=True),
        sa.Column("upstream_run_id", sa.String(length=250), nullable=True),
        sa.Column("dag_run_id", sa.String(length=250), nullable=True),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["mlops_workflow.id"],
                                name=op.f("fk_mlops_test_run_workflow_id_mlops_workflow"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlops_test_run")),
    )
    with op.batch_alter_table("mlops_test_run", schema=None) as batch_op:
        batch_op.create_index("ix_mlops_test_run_workflow_id_created_at", ["workflow_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("mlops_test_run")
