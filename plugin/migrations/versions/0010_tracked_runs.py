"""MLflow tracking: the outbox of finished runs on their way to MLflow and where each landed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from airflow_mlops.models import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_tracked_run",
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("dag_run_id", sa.String(length=250), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("experiment_id", sa.String(length=64), nullable=True),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "dag_run_id", name=op.f("pk_mlops_tracked_run")),
    )
    with op.batch_alter_table("mlops_tracked_run", schema=None) as batch_op:
        batch_op.create_index("ix_mlops_tracked_run_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_mlops_tracked_run_ended_at", ["ended_at"], unique=False)


def downgrade() -> None:
    op.drop_table("mlops_tracked_run")
