"""The plugin's tables (all prefixed ``mlops_``), in the plugin's own database ``[mlops] sql_alchemy_conn``.

``mlops_workflow`` holds what a workflow is now; every save that changes it adds an immutable
``mlops_workflow_version`` row with the whole spec, which is what runs execute and what history,
diff and restore read.
Migrations live in ``migrations/``; a test keeps them equal to these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = metadata


class Workflow(Base):
    __tablename__ = "mlops_workflow"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(250), unique=True)  # the Airflow dag_id
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(250))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Optimistic concurrency: bumped by every change; writers compare-and-swap on it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(250))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Deleting archives: the DAG goes away, history stays readable, the name stays taken until a purge.
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Lineage: the template (and its revision) or the workflow version this one was made from.
    template_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    template_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    origin_workflow_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    origin_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    # SQLAlchemy adds "WHERE revision = <read value>" to every UPDATE/DELETE and raises StaleDataError
    # when another writer got there first: no lost updates, whatever the backend.
    __mapper_args__ = {"version_id_col": revision}


class WorkflowVersion(Base):
    """Immutable: written once per changing save, never updated."""

    __tablename__ = "mlops_workflow_version"
    __table_args__ = (
        UniqueConstraint("workflow_id", "number", name="uq_mlops_workflow_version_workflow_id_number"),
        Index("ix_mlops_workflow_version_workflow_id_store_revision", "workflow_id", "store_revision"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("mlops_workflow.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical JSON of ``spec``
    # The validation rules' fingerprint (airflow_mlops_dag_factory.store.rules_fingerprint) the write checked
    # ``spec`` under: readers trust a spec still matching ``spec_hash`` under the same rules, without
    # re-validating it. NULL (older rows) means "validate when read".
    validated_rules: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The store revision this version was written at (see StoreRevision): what the MLOps DAG bundle's version
    # resolves to. A workflow "as of" revision R is its version with the greatest store_revision <= R.
    store_revision: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Draft(Base):
    """A workflow's unpublished next version: what the editor saves. Runs use the published version until the
    draft is published (a normal new version, in one transaction); a review may be required first."""

    __tablename__ = "mlops_draft"

    workflow_id: Mapped[str] = mapped_column(ForeignKey("mlops_workflow.id", ondelete="CASCADE"), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The published version the draft was started from: publishing over a newer one would undo its changes.
    base_version: Mapped[int] = mapped_column(Integer)
    # Optimistic concurrency, as on workflows: every change compares and swaps it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(250))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # "none", "requested", "approved" or "rejected"; any change of the spec starts over at "none".
    review_state: Mapped[str] = mapped_column(String(16), default="none")
    review_requested_by: Mapped[str | None] = mapped_column(String(250), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(250), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    review_comment: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": revision}


class StoreRevision(Base):
    """One row: the store's revision, bumped in the same transaction as every version write.

    It is the version of the MLOps DAG bundle (``airflow_mlops_dag_factory.bundle``). The bump is an UPDATE of
    this row, so concurrent writers take its lock in turn and revisions become visible in the order they were
    given: a reader that sees revision R sees every version written at or below R.
    """

    __tablename__ = "mlops_store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(Integer)


class Template(Base):
    """A reusable workflow spec; ``revision`` counts its changes so instances can tell they are behind."""

    __tablename__ = "mlops_template"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(250), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="general")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # For built-ins: hash of the content last shipped; differs from the row's content once a user edited it.
    shipped_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(250))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": revision}


class Run(Base):
    """A run triggered through the plugin: the Airflow DAG run plus the version, params and description."""

    __tablename__ = "mlops_run"
    __table_args__ = (
        Index("ix_mlops_run_workflow_id_created_at", "workflow_id", "created_at"),
        UniqueConstraint("dag_id", "dag_run_id", name="uq_mlops_run_dag_id_dag_run_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("mlops_workflow.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    dag_id: Mapped[str] = mapped_column(String(250))
    dag_run_id: Mapped[str] = mapped_column(String(250))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default="queued")
    triggered_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # "plugin" (our trigger) or how Airflow started it ("manual", "scheduled", ...): every run is recorded.
    source: Mapped[str] = mapped_column(String(32), default="plugin")
    # {task: {metric: number}} from tasks that returned {"metrics": {...}}; kept once the run finished.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class TestRun(Base):
    """A test run from the editor: the spec as the author had it, the tasks to run in order and their inputs.

    The worker of the ``mlops_test_runs`` DAG reads it by id (the DAG run's conf holds nothing else), so the
    code a test executes is only ever what an author allowed to write code recorded here.
    """

    __tablename__ = "mlops_test_run"
    __table_args__ = (Index("ix_mlops_test_run_workflow_id_created_at", "workflow_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("mlops_workflow.id", ondelete="CASCADE"))
    # "draft" (the draft at draft_revision) or "published" (the current version, when there is no draft).
    source: Mapped[str] = mapped_column(String(16))
    source_revision: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    tasks: Mapped[list[str]] = mapped_column(JSON)
    target: Mapped[str | None] = mapped_column(String(250), nullable=True)  # the task tested; None: the whole spec
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    upstream_dag_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    upstream_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    dag_run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ParamPreset(Base):
    """A named set of parameter values for one workflow, usable when triggering."""

    __tablename__ = "mlops_param_preset"
    __table_args__ = (UniqueConstraint("workflow_id", "name", name="uq_mlops_param_preset_workflow_id_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("mlops_workflow.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(250))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEvent(Base):
    """One row per mutation, written in the same transaction as the mutation itself."""

    __tablename__ = "mlops_audit_event"
    __table_args__ = (Index("ix_mlops_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(250), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(36))
    object_name: Mapped[str] = mapped_column(String(250), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StateEvent(Base):
    """One run or task state change seen in Airflow's database: the live stream's log (ids are the stream's
    event ids, so a reconnecting page asks for everything after the last id it saw)."""

    __tablename__ = "mlops_state_event"
    __table_args__ = (Index("ix_mlops_state_event_run", "dag_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    # When Airflow recorded the change (its row's updated_at); what delivery latency is measured from.
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    workflow_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250), nullable=True)  # None: the run itself
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    previous_state: Mapped[str | None] = mapped_column(String(32), nullable=True)


class TrackedRun(Base):
    """A finished run of a workflow on its way to MLflow (the exporter's outbox), and where it landed.

    ``state`` is ``pending`` (not sent yet), ``failed`` (the last try failed: ``error`` says why, retried at
    ``next_attempt_at``) or ``exported``. The MLflow run id is kept as soon as MLflow created the run, so a
    retry completes that run instead of creating a second one.
    """

    __tablename__ = "mlops_tracked_run"
    __table_args__ = (Index("ix_mlops_tracked_run_state_next_attempt_at", "state", "next_attempt_at"),
                      Index("ix_mlops_tracked_run_ended_at", "ended_at"))

    dag_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    dag_run_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)  # Airflow's end date of the run: the discovery cursor
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    experiment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Lease(Base):
    """A named lease held by one process at a time (e.g. which api-server process reads Airflow's states)."""

    __tablename__ = "mlops_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(250))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
