"""initial tables

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('mlops_audit_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=250), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('object_name', sa.String(length=250), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_audit_event'))
    )
    with op.batch_alter_table('mlops_audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mlops_audit_event_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_mlops_audit_event_at'), ['at'], unique=False)
        batch_op.create_index('ix_mlops_audit_event_object', ['object_type', 'object_id'], unique=False)

    op.create_table('mlops_template',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('usage_count', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=250), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_template')),
    sa.UniqueConstraint('name', name=op.f('uq_mlops_template_name'))
    )
    op.create_table('mlops_workflow',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=250), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=250), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('template_id', sa.String(length=36), nullable=True),
    sa.Column('template_revision', sa.Integer(), nullable=True),
    sa.Column('origin_workflow_id', sa.String(length=36), nullable=True),
    sa.Column('origin_version', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_workflow')),
    sa.UniqueConstraint('name', name=op.f('uq_mlops_workflow_name'))
    )
    with op.batch_alter_table('mlops_workflow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mlops_workflow_template_id'), ['template_id'], unique=False)

    op.create_table('mlops_run',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workflow_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('dag_run_id', sa.String(length=250), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('triggered_by', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workflow_id'], ['mlops_workflow.id'], name=op.f('fk_mlops_run_workflow_id_mlops_workflow'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_run'))
    )
    with op.batch_alter_table('mlops_run', schema=None) as batch_op:
        batch_op.create_index('ix_mlops_run_workflow_id_created_at', ['workflow_id', 'created_at'], unique=False)

    op.create_table('mlops_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workflow_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('depends_on', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['workflow_id'], ['mlops_workflow.id'], name=op.f('fk_mlops_task_workflow_id_mlops_workflow'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_task')),
    sa.UniqueConstraint('workflow_id', 'name', name='uq_mlops_task_workflow_id_name')
    )
    with op.batch_alter_table('mlops_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mlops_task_workflow_id'), ['workflow_id'], unique=False)

    op.create_table('mlops_workflow_version',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workflow_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workflow_id'], ['mlops_workflow.id'], name=op.f('fk_mlops_workflow_version_workflow_id_mlops_workflow'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mlops_workflow_version')),
    sa.UniqueConstraint('workflow_id', 'number', name='uq_mlops_workflow_version_workflow_id_number')
    )
    with op.batch_alter_table('mlops_workflow_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mlops_workflow_version_workflow_id'), ['workflow_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('mlops_workflow_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mlops_workflow_version_workflow_id'))

    op.drop_table('mlops_workflow_version')
    with op.batch_alter_table('mlops_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mlops_task_workflow_id'))

    op.drop_table('mlops_task')
    with op.batch_alter_table('mlops_run', schema=None) as batch_op:
        batch_op.drop_index('ix_mlops_run_workflow_id_created_at')

    op.drop_table('mlops_run')
    with op.batch_alter_table('mlops_workflow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mlops_workflow_template_id'))

    op.drop_table('mlops_workflow')
    op.drop_table('mlops_template')
    with op.batch_alter_table('mlops_audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_mlops_audit_event_object')
        batch_op.drop_index(batch_op.f('ix_mlops_audit_event_at'))
        batch_op.drop_index(batch_op.f('ix_mlops_audit_event_actor'))

    op.drop_table('mlops_audit_event')

