"""Triggering workflows with parameters and a description, run records, and comparing runs.

A run triggered here pins the workflow version in its conf (``__mlops__.version``) so the tasks execute
exactly that version's code, carries the description as the Airflow run's note, and is recorded with who
triggered it and the parameters actually used (defaults merged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import select

from airflow_mlops.db import transaction
from airflow_mlops.models import Run, Workflow
from airflow_mlops.services import airflow_dags, audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound
from airflow_mlops.services.templates import check_param_values
from airflow_mlops.services.workflows import Page
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.runtime import PIN_CONF_KEY
from airflow_mlops_dag_factory.spec import WorkflowSpec

OBJECT_TYPE = "run"
MAX_DESCRIPTION = 1000  # Airflow's dag_run_note.content
MAX_COMPARE = 10


class RunRecord(BaseModel):
    """A run as callers see it; also the API's response model for it."""

    model_config = ConfigDict(frozen=True)
    id: str
    workflow_id: str
    workflow_name: str
    version: int
    dag_id: str
    dag_run_id: str
    params: dict[str, Any]
    description: str
    state: str
    triggered_by: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.started_at and self.ended_at else None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def trigger(workflow_id: str, params: Any, description: Any, actor: Actor, *, unpause: bool = False) -> RunRecord:
    """Validate params, pin the current version, create the DAG run with conf and note, record it."""
    record = workflows.get_workflow(workflow_id)
    if record.archived_at is not None:
        raise Conflict(f"workflow {record.name!r} is archived (deleted) and cannot run")
    workflows.check_owner(record.created_by, actor, f"workflow {record.name!r}")
    errors: list[FieldError] = []
    if not isinstance(params, dict):
        errors.append(FieldError("params", "must be a JSON object"))
        params = {}
    if not isinstance(description, str):
        errors.append(FieldError("description", "must be a string"))
    elif len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", f"must be at most {MAX_DESCRIPTION} characters"))
    spec = WorkflowSpec.model_validate(record.spec)
    errors += check_param_values(dict(spec.params), params)
    if errors:
        raise InvalidInput(errors)
    used = {**{k: p.default for k, p in spec.params.items()}, **params}

    status = airflow_dags.dag_status(record.name)
    if not status.exists or status.is_stale:
        raise Conflict(f"the DAG of workflow {record.name!r} is not loaded in Airflow yet; retry in a few seconds")
    if status.is_paused or not record.active:
        if not unpause:
            raise Conflict(f"workflow {record.name!r} is paused (inactive); activate it or pass \"unpause\": true")
        record = workflows.set_active(workflow_id, True, actor)
        airflow_dags.set_paused(record.name, paused=False)
    conf = {**used, PIN_CONF_KEY: {"version": record.version, "workflow_id": record.id}}
    try:
        dag_run_id = airflow_dags.trigger(record.name, conf, description, actor.name)
    except Exception as exc:  # ParamValidationError, DagNotFound... : Airflow refused; nothing was created
        if type(exc).__name__ == "ParamValidationError":
            raise InvalidInput([FieldError("params", str(exc))]) from exc
        if type(exc).__name__ == "DagNotFound":
            raise Conflict(f"the DAG of workflow {record.name!r} is not loaded in Airflow yet") from exc
        raise
    with transaction() as session:
        run = Run(workflow_id=record.id, version=record.version, dag_id=record.name, dag_run_id=dag_run_id,
                  params=used, description=description, state="queued", triggered_by=actor.name)
        session.add(run)
        session.flush()
        audit.record(session, actor.name, "trigger", "workflow", record.id, record.name, run_id=run.id,
                     dag_run_id=dag_run_id, version=record.version)
        return _record(run, record.name)


def list_runs(*, workflow_id: str | None = None, state: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    query = select(Run, Workflow.name).join(Workflow, Workflow.id == Run.workflow_id)
    if workflow_id:
        query = query.where(Run.workflow_id == workflow_id)
    with transaction() as session:
        rows = list(session.execute(query.order_by(Run.created_at.desc(), Run.id)))
        records = _refreshed([_record(run, name) for run, name in rows])
    if state:
        records = [r for r in records if r.state == state]
    return Page(records[offset:offset + limit], len(records), limit, offset)


def get_run(run_id: str) -> RunRecord:
    with transaction() as session:
        row = session.execute(select(Run, Workflow.name).join(Workflow, Workflow.id == Run.workflow_id)
                              .where(Run.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id} does not exist")
        return _refreshed([_record(row[0], row[1])])[0]


def compare(run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: parameters (with the differing ones named), versions, states, durations, task states."""
    if not 2 <= len(run_ids) <= MAX_COMPARE or len(set(run_ids)) != len(run_ids):
        raise InvalidInput([FieldError("query.ids", f"give 2 to {MAX_COMPARE} distinct run ids, comma-separated")])
    runs = [get_run(run_id) for run_id in run_ids]
    names = sorted({k for r in runs for k in r.params})
    params = {name: {r.id: r.params.get(name) for r in runs} for name in names}
    differing = [n for n in names if len({repr(v) for v in params[n].values()}) > 1]
    return {
        "runs": [r.to_dict() for r in runs],
        "params": params,
        "differing_params": differing,
        "versions": {r.id: r.version for r in runs},
        "tasks": {r.id: airflow_dags.task_states(r.dag_id, r.dag_run_id) for r in runs},
    }


def _refreshed(records: list[RunRecord]) -> list[RunRecord]:
    """Replace the stored state with Airflow's current one (one query for all)."""
    statuses = airflow_dags.run_statuses([(r.dag_id, r.dag_run_id) for r in records])
    out = []
    for r in records:
        status = statuses.get((r.dag_id, r.dag_run_id))
        if status is not None:
            r = r.model_copy(update={"state": status.state, "started_at": status.start_date,
                                     "ended_at": status.end_date})
        out.append(r)
    return out


def _record(run: Run, workflow_name: str) -> RunRecord:
    return RunRecord(id=run.id, workflow_id=run.workflow_id, workflow_name=workflow_name, version=run.version,
                     dag_id=run.dag_id, dag_run_id=run.dag_run_id, params=run.params, description=run.description,
                     state=run.state, triggered_by=run.triggered_by, created_at=run.created_at,
                     started_at=run.started_at, ended_at=run.ended_at)

