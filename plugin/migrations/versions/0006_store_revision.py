"""Every version gets the store revision it was written at: the version of the MLOps DAG bundle.

The bundle's version is one number for the whole store, bumped by every write of a workflow version
(``mlops_store_revision``, one row). A worker builds a workflow "as of" a revision: its newest version
whose ``store_revision`` is at or below it. Existing versions are numbered in the order they were written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlops_store_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlops_store_revision")),
    )
    with op.batch_alter_table("mlops_workflow_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_revision", sa.Integer(), nullable=True))
    versions = sa.table("mlops_workflow_version", sa.column("id", sa.String), sa.column("created_at", sa.DateTime),
                        sa.column("number", sa.Integer), sa.column("store_revision", sa.Integer))
    conn = op.get_bind()
    ids = conn.execute(sa.select(versions.c.id).order_by(versions.c.created_at, versions.c.number, versions.c.id))
    count = 0
    for count, (version_id,) in enumerate(list(ids), start=1):
        conn.execute(versions.update().where(versions.c.id == version_id).values(store_revision=count))
    op.bulk_insert(sa.table("mlops_store_revision", sa.column("id", sa.Integer), sa.column("value", sa.Integer)),
                   [{"id": 1, "value": count}])
    with op.batch_alter_table("mlops_workflow_version", schema=None) as batch_op:
        batch_op.alter_column("store_revision", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index("ix_mlops_workflow_version_workflow_id_store_revision",
                              ["workflow_id", "store_revision"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mlops_workflow_version", schema=None) as batch_op:
        batch_op.drop_index("ix_mlops_workflow_version_workflow_id_store_revision")
        batch_op.drop_column("store_revision")
    op.drop_table("mlops_store_revision")
