"""Create, read, update and delete workflows: the only code that writes them.

Each operation is one transaction: the workflow row, its task rows, a new immutable version (only when
the spec changed) and the audit row commit together or not at all. Concurrent writers are serialised
by the row's ``revision`` (compare-and-swap), so an edit based on a stale read fails with
:class:`Conflict` instead of silently overwriting. After the commit Airflow is asked to re-parse the
DAG file, so the change shows up in seconds rather than after the parse interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from airflow_mlops.db import transaction
from airflow_mlops.models import Task, Workflow, WorkflowVersion, utcnow
from airflow_mlops.services import airflow_dags, audit
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.spec import WorkflowSpec
from airflow_mlops_dag_factory.validate import validate_document

OBJECT_TYPE = "workflow"


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow as callers see it: its state plus the spec of its current version."""

    id: str
    name: str
    active: bool
    revision: int
    version: int
    spec: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    archived_at: datetime | None
    errors: list[FieldError]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "active": self.active, "revision": self.revision,
            "version": self.version, **{k: v for k, v in self.spec.items() if k != "name"},
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "updated_by": self.updated_by, "updated_at": self.updated_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
            "valid": not self.errors, "errors": [e.to_dict() for e in self.errors],
        }


def create_workflow(document: dict[str, Any], actor: str, *, active: bool = True, message: str = "") -> WorkflowRecord:
    spec = _valid_spec(document)
    _check_dag_id_free(spec.name)
    try:
        with transaction() as session:
            _check_name_free(session, spec.name)
            workflow = Workflow(name=spec.name, description=spec.description, owner=spec.owner, tags=list(spec.tags),
                                active=active, current_version=1, created_by=actor, updated_by=actor)
            workflow.tasks = _task_rows(spec)
            session.add(workflow)
            session.flush()
            _add_version(session, workflow, spec, 1, actor, message or "created")
            audit.record(session, actor, "create", OBJECT_TYPE, workflow.id, spec.name, version=1, active=active)
            record = _record(session, workflow)
    except IntegrityError as exc:
        raise Conflict(f"a workflow named {spec.name!r} already exists") from exc
    airflow_dags.request_reparse()
    return record


def get_workflow(workflow_id: str) -> WorkflowRecord:
    with transaction() as session:
        return _record(session, _load(session, workflow_id))


def list_workflows(include_archived: bool = False) -> list[WorkflowRecord]:
    query = select(Workflow).order_by(Workflow.name)
    if not include_archived:
        query = query.where(Workflow.archived_at.is_(None))
    with transaction() as session:
        return [_record(session, w) for w in session.scalars(query)]


def update_workflow(
    workflow_id: str, document: dict[str, Any], actor: str, *, expected_revision: int | None = None,
    active: bool | None = None, message: str = "",
) -> WorkflowRecord:
    """Replace the workflow's spec (and optionally its active flag); a no-op save writes nothing."""
    spec = _valid_spec(document)
    renamed_from = None
    try:
        with transaction() as session:
            workflow = _load(session, workflow_id)
            _check_revision(workflow, expected_revision)
            _check_not_archived(workflow)
            current = _current_spec(session, workflow)
            spec_changed = spec.to_dict() != current
            active_changed = active is not None and active != workflow.active
            if not spec_changed and not active_changed:
                return _record(session, workflow)
            if spec.name != workflow.name:
                _check_name_free(session, spec.name)
                _check_dag_id_free(spec.name)
                renamed_from = workflow.name
            details: dict[str, Any] = {}
            number = _next_version_number(session, workflow.id) if spec_changed else workflow.current_version
            # All column changes go in one UPDATE: its flush is the compare-and-swap on ``revision`` and, on
            # PostgreSQL, takes the row lock, so a concurrent writer waits here and then fails.
            workflow.updated_by, workflow.updated_at = actor, utcnow()
            if active_changed:
                workflow.active = bool(active)
                details["active"] = workflow.active
            if spec_changed:
                workflow.name, workflow.description, workflow.owner = spec.name, spec.description, spec.owner
                workflow.tags = list(spec.tags)
                workflow.current_version = number
            session.flush()
            if spec_changed:
                workflow.tasks.clear()
                session.flush()  # old task rows go before new ones with the same names arrive
                workflow.tasks = _task_rows(spec)
                _add_version(session, workflow, spec, number, actor, message)
                new = spec.to_dict()
                details.update(from_version=number - 1, to_version=number,
                               changed=sorted(k for k in new if new[k] != current.get(k)))
            session.flush()
            audit.record(session, actor, "update", OBJECT_TYPE, workflow.id, workflow.name, **details)
            record = _record(session, workflow)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} was changed by someone else; reload and try again") from exc
    except IntegrityError as exc:
        raise Conflict(f"workflow {workflow_id} was changed concurrently, or the name {spec.name!r} is taken") from exc
    if active_changed:
        airflow_dags.set_paused(record.name, paused=not record.active)
    if renamed_from:
        airflow_dags.set_paused(renamed_from, paused=True)
    airflow_dags.request_reparse()
    return record


def delete_workflow(workflow_id: str, actor: str, *, expected_revision: int | None = None) -> WorkflowRecord:
    """Archive the workflow: its DAG goes away, its versions, runs and audit rows stay readable."""
    try:
        with transaction() as session:
            workflow = _load(session, workflow_id)
            _check_revision(workflow, expected_revision)
            _check_not_archived(workflow)
            workflow.archived_at = workflow.updated_at = utcnow()
            workflow.updated_by = actor
            session.flush()
            audit.record(session, actor, "delete", OBJECT_TYPE, workflow.id, workflow.name,
                         version=workflow.current_version)
            record = _record(session, workflow)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} was changed by someone else; reload and try again") from exc
    airflow_dags.set_paused(record.name, paused=True)
    airflow_dags.request_reparse()
    return record


def _valid_spec(document: dict[str, Any]) -> WorkflowSpec:
    spec, errors = validate_document(document)
    if spec is None:
        raise InvalidInput(errors)
    return spec


def _check_dag_id_free(name: str) -> None:
    other = airflow_dags.foreign_dag_file(name)
    if other:
        raise InvalidInput([FieldError("name", f"DAG id {name!r} is already used by {other}")])


def _check_name_free(session: Session, name: str) -> None:
    if session.scalar(select(Workflow.id).where(Workflow.name == name)) is not None:
        raise Conflict(f"a workflow named {name!r} already exists")


def _check_revision(workflow: Workflow, expected: int | None) -> None:
    if expected is not None and expected != workflow.revision:
        raise Conflict(f"workflow {workflow.id} is at revision {workflow.revision}, not {expected}; reload and try again")


def _check_not_archived(workflow: Workflow) -> None:
    if workflow.archived_at is not None:
        raise Conflict(f"workflow {workflow.id} is archived (deleted); it can no longer be changed")


def _load(session: Session, workflow_id: str) -> Workflow:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"workflow {workflow_id} does not exist")
    return workflow


def _current_spec(session: Session, workflow: Workflow) -> dict[str, Any]:
    return session.scalar(
        select(WorkflowVersion.spec).where(
            WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number == workflow.current_version
        )
    ) or {}


def _next_version_number(session: Session, workflow_id: str) -> int:
    return (session.scalar(select(func.max(WorkflowVersion.number)).where(WorkflowVersion.workflow_id == workflow_id)) or 0) + 1


def _add_version(session: Session, workflow: Workflow, spec: WorkflowSpec, number: int, actor: str, message: str) -> None:
    session.add(WorkflowVersion(workflow_id=workflow.id, number=number, spec=spec.to_dict(),
                                message=message, created_by=actor))


def _task_rows(spec: WorkflowSpec) -> list[Task]:
    return [Task(position=i, name=t.name, type=t.type, code=t.code, depends_on=list(t.depends_on))
            for i, t in enumerate(spec.tasks)]


def _record(session: Session, workflow: Workflow) -> WorkflowRecord:
    spec = _current_spec(session, workflow)
    _, errors = validate_document(spec)
    return WorkflowRecord(
        id=workflow.id, name=workflow.name, active=workflow.active, revision=workflow.revision,
        version=workflow.current_version, spec=spec, created_by=workflow.created_by, created_at=workflow.created_at,
        updated_by=workflow.updated_by, updated_at=workflow.updated_at, archived_at=workflow.archived_at,
        errors=errors,
    )

