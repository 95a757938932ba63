"""Run and task state events for the live stream, and leases between api-server processes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_state_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workflow_id", sa.String(length=36), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("previous_state", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlops_state_event")),
    )
    with op.batch_alter_table("mlops_state_event", schema=None) as batch_op:
        batch_op.create_index("ix_mlops_state_event_run", ["dag_id", "run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mlops_state_event_seen_at"), ["seen_at"], unique=False)
    op.create_table(
        "mlops_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=250), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mlops_lease")),
    )


def downgrade() -> None:
    op.drop_table("mlops_lease")
    op.drop_table("mlops_state_event")
