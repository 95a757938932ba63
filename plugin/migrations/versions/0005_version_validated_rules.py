"""Versions remember the validation rules they were checked under, so reads need not re-validate them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows stay NULL: they are validated when read, as before.
    with op.batch_alter_table("mlops_workflow_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validated_rules", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mlops_workflow_version", schema=None) as batch_op:
        batch_op.drop_column("validated_rules")
