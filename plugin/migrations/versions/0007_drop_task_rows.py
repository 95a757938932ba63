"""Drop ``mlops_task``: the current version's tasks as rows, written on every save and read by nothing.

Every reader (the DAG file, diff, restore, the API) reads a version's spec; the rows only cost each save
a delete and an insert per task. A downgrade brings the table back filled from each workflow's current
version, as the code of that time expects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mlops_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlops_task_workflow_id"))
    op.drop_table("mlops_task")


def downgrade() -> None:
    import uuid

    task = op.create_table(
        "mlops_task",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("depends_on", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["mlops_workflow.id"],
                                name=op.f("fk_mlops_task_workflow_id_mlops_workflow"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlops_task")),
        sa.UniqueConstraint("workflow_id", "name", name="uq_mlops_task_workflow_id_name"),
    )
    with op.batch_alter_table("mlops_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mlops_task_workflow_id"), ["workflow_id"], unique=False)
    current = sa.text("SELECT v.workflow_id, v.spec FROM mlops_workflow_version v JOIN mlops_workflow w "
                      "ON w.id = v.workflow_id AND w.current_version = v.number")
    rows = []
    for workflow_id, stored in op.get_bind().execute(current):
        spec: dict[str, Any] = json.loads(stored) if isinstance(stored, str) else stored or {}
        for position, t in enumerate(spec.get("tasks") or []):
            rows.append({"id": str(uuid.uuid4()), "workflow_id": workflow_id, "position": position, "name": t["name"],
                         "type": t.get("type", "python"), "code": t.get("code", ""),
                         "depends_on": list(t.get("depends_on") or [])})
    if rows:
        op.bulk_insert(task, rows)
