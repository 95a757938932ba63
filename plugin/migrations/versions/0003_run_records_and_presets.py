"""Every run is recorded (source, metrics, one row per Airflow run) and parameter presets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mlops_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=False, server_default="plugin"))
        batch_op.add_column(sa.Column("metrics", sa.JSON(), nullable=True))
        batch_op.create_unique_constraint("uq_mlops_run_dag_id_dag_run_id", ["dag_id", "dag_run_id"])
    op.create_table(
        "mlops_param_preset",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["mlops_workflow.id"],
                                name=op.f("fk_mlops_param_preset_workflow_id_mlops_workflow"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlops_param_preset")),
        sa.UniqueConstraint("workflow_id", "name", name="uq_mlops_param_preset_workflow_id_name"),
    )
    with op.batch_alter_table("mlops_param_preset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mlops_param_preset_workflow_id"), ["workflow_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mlops_param_preset")
    with op.batch_alter_table("mlops_run", schema=None) as batch_op:
        batch_op.drop_constraint("uq_mlops_run_dag_id_dag_run_id", type_="unique")
        batch_op.drop_column("metrics")
        batch_op.drop_column("source")
