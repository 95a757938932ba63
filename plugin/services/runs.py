"""Triggering workflows with parameters and a description, run records, presets, and comparing runs.

A run triggered here runs the DAG version Airflow parsed from the chosen workflow version, with that bundle
version (the MLOps DAG bundle), so the workers build exactly that version's structure and code; it also names
the version in its conf (``__mlops__.version``, what runs from before the bundle follow). It carries the
description as the Airflow run's note, and is recorded with who
triggered it and the parameters actually used (defaults merged). Runs started anywhere else (Airflow's
trigger dialog, its REST API, the schedule) are recorded the same way the first time runs are listed:
Airflow is the source of truth for what ran.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_mlops.db import transaction
from airflow_mlops.models import ParamPreset, Run, Workflow, WorkflowVersion
from airflow_mlops.services import airflow_dags, audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.diff import diff_specs
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound
from airflow_mlops.services.templates import check_param_values
from airflow_mlops.services.workflows import Page
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.notifications.report import run_path
from airflow_mlops_dag_factory.runtime import PIN_CONF_KEY, user_params, version_for
from airflow_mlops_dag_factory.spec import WorkflowSpec

OBJECT_TYPE = "run"
MAX_DESCRIPTION = 1000  # Airflow's dag_run_note.content
MAX_COMPARE = 10
FINISHED = frozenset({"success", "failed"})
# How long a trigger waits for the version just saved to be parsed into Airflow (the save asked for a re-parse).
TRIGGER_WAIT_SECONDS = 15.0


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
    source: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    metrics: dict[str, dict[str, float]] | None
    tasks: dict[str, str | None] = {}  # task -> state, from Airflow

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.started_at and self.ended_at else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def airflow_url(self) -> str:
        """The run in Airflow's own UI (Grid; its Graph tab is one click away)."""
        return run_path(self.dag_id, self.dag_run_id)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- trigger -----------------------------------------------------------------------------------------
def trigger(workflow_id: str, params: Any, description: Any, actor: Actor, *, unpause: bool = False,
            preset: str | None = None, version: int | None = None) -> RunRecord:
    """Validate params (a preset's values first, then ``params`` over them), pin the version, create the run."""
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
    if preset is not None:
        params = {**get_preset(workflow_id, preset), **params}
    pinned = version or record.version
    spec = WorkflowSpec.model_validate(record.spec if pinned == record.version
                                       else workflows.get_version(workflow_id, pinned).spec)
    errors += check_param_values(dict(spec.params), params)
    if errors:
        raise InvalidInput(errors)
    used = {**{k: p.default for k, p in spec.params.items()}, **params}

    status = airflow_dags.dag_status(record.name)
    if not status.exists or status.is_stale:
        raise Conflict(f"the DAG of workflow {record.name!r} is not loaded in Airflow yet; retry in a few seconds")
    loaded = _loaded_version(record, pinned, status)  # before anything changes: it may refuse
    if status.is_paused or not record.active:
        if not unpause:
            raise Conflict(f"workflow {record.name!r} is paused (inactive); activate it or pass \"unpause\": true")
        record = workflows.set_active(workflow_id, True, actor)
        airflow_dags.set_paused(record.name, paused=False)
    conf = {**used, PIN_CONF_KEY: {"version": pinned, "workflow_id": record.id}}
    try:
        dag_run_id = airflow_dags.trigger(record.name, conf, description, actor.name, pin=loaded)
    except Exception as exc:  # ParamValidationError, DagNotFound... : Airflow refused; nothing was created
        if type(exc).__name__ == "ParamValidationError":
            raise InvalidInput([FieldError("params", str(exc))]) from exc
        if type(exc).__name__ == "DagNotFound":
            raise Conflict(f"the DAG of workflow {record.name!r} is not loaded in Airflow yet") from exc
        raise
    with transaction() as session:
        run = Run(workflow_id=record.id, version=pinned, dag_id=record.name, dag_run_id=dag_run_id, params=used,
                  description=description, state="queued", triggered_by=actor.name, source="plugin")
        session.add(run)
        session.flush()
        audit.record(session, actor.name, "trigger", "workflow", record.id, record.name, run_id=run.id,
                     dag_run_id=dag_run_id, version=pinned, preset=preset)
        return _record(run, record.name)


def _loaded_version(record: workflows.WorkflowRecord, number: int,
                    status: airflow_dags.DagStatus) -> airflow_dags.LoadedVersion | None:
    """The DAG version Airflow parsed from version ``number`` of the workflow, with the bundle version of that
    workflow version (its store revision): the run gets both, so its task instances and what its workers build
    are the same version.

    ``None`` for a DAG outside the MLOps DAG bundle (no bundle version): its runs follow the conf pin. The
    current version may still be on its way into Airflow (the save asked for a re-parse): wait for it a few
    seconds. An older version runs only if Airflow ever parsed it (a version that was never loaded has no DAG
    structure in Airflow; restoring it makes it current). Airflow's DAG versions are told apart by what they
    were built from; their bundle versions only say which to look at first.
    """
    if not str(status.bundle_version or "").isdigit():
        return None
    versions = _VersionMap.of([record.id])[record.id]
    revision = versions.revision_of(number)
    deadline = time.monotonic() + TRIGGER_WAIT_SECONDS
    while True:
        loaded = airflow_dags.loaded_versions(record.name)
        likely = [v for v in loaded if versions.at(v.bundle_version) == number] + loaded[:1]
        for candidate in dict.fromkeys(likely + (loaded if number != record.version else [])):
            if airflow_dags.built_version(candidate.id, record.id) == number:
                return dataclasses.replace(candidate, bundle_version=str(revision))
        if number != record.version:
            raise Conflict(f"version {number} of workflow {record.name!r} was never loaded into Airflow, so there "
                           "is no DAG of its structure to run; restore it to run it")
        if time.monotonic() > deadline:
            raise Conflict(f"version {number} of workflow {record.name!r} is not loaded in Airflow yet; "
                           "retry in a few seconds")
        time.sleep(0.25)


class _VersionMap:
    """A workflow's versions by the store revision they were written at: which version a bundle version ran."""

    def __init__(self, rows: list[tuple[int, int]]):
        self.revisions = [revision for revision, _ in rows]
        self.numbers = [number for _, number in rows]

    @classmethod
    def of(cls, workflow_ids: list[str]) -> dict[str, _VersionMap]:
        """The maps of several workflows, in one query."""
        rows: dict[str, list[tuple[int, int]]] = {wid: [] for wid in workflow_ids}
        with transaction() as session:
            for wid, revision, number in session.execute(
                    select(WorkflowVersion.workflow_id, WorkflowVersion.store_revision, WorkflowVersion.number)
                    .where(WorkflowVersion.workflow_id.in_(workflow_ids)).order_by(WorkflowVersion.store_revision)):
                rows[wid].append((revision, number))
        return {wid: cls(found) for wid, found in rows.items()}

    def revision_of(self, number: int) -> int:
        return self.revisions[self.numbers.index(number)]

    def at(self, bundle_version: str | None) -> int | None:
        if not str(bundle_version or "").isdigit():
            return None
        index = bisect.bisect_right(self.revisions, int(str(bundle_version)))
        return self.numbers[index - 1] if index else None


def rerun(run_id: str, params: Any, description: Any, actor: Actor, *, same_version: bool = False) -> RunRecord:
    """Trigger again with a past run's parameters, optionally edited (and optionally on its old version)."""
    past = get_run(run_id)
    if not isinstance(params, dict):
        raise InvalidInput([FieldError("params", "must be a JSON object")])
    text = description if description else f"re-run of {past.dag_run_id}"
    return trigger(past.workflow_id, {**past.params, **params}, text, actor,
                   version=past.version if same_version else None)


# -- records -----------------------------------------------------------------------------------------
def list_runs(*, workflow_id: str | None = None, state: str | None = None, version: int | None = None,
              params: dict[str, Any] | None = None, since: datetime | None = None, until: datetime | None = None,
              limit: int = 50, offset: int = 0) -> Page:
    """Run records, newest first; ``params`` keeps runs whose parameters have all these values."""
    sync_airflow_runs(workflow_id)
    query = select(Run, Workflow.name).join(Workflow, Workflow.id == Run.workflow_id)
    if workflow_id:
        query = query.where(Run.workflow_id == workflow_id)
    if version is not None:
        query = query.where(Run.version == version)
    if since:
        query = query.where(Run.created_at >= since)
    if until:
        query = query.where(Run.created_at < until)
    with transaction() as session:
        rows = list(session.execute(query.order_by(Run.created_at.desc(), Run.id)))
    records = [_record(run, name) for run, name in rows]
    if params:  # stored with the run: no need to ask Airflow
        records = [r for r in records if all(k in r.params and r.params[k] == v for k, v in params.items())]
    if state:  # the state lives in Airflow: every candidate must be refreshed before filtering
        records = [r for r in _refreshed(records) if r.state == state]
        return Page(records[offset:offset + limit], len(records), limit, offset)
    # Only the page is refreshed from Airflow, so the live runs page costs the same with 10 or 10,000 runs.
    return Page(_refreshed(records[offset:offset + limit]), len(records), limit, offset)


def get_run(run_id: str) -> RunRecord:
    with transaction() as session:
        row = session.execute(select(Run, Workflow.name).join(Workflow, Workflow.id == Run.workflow_id)
                              .where(Run.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id} does not exist")
        record = _record(row[0], row[1])
    return _refreshed([record])[0]


def sync_airflow_runs(workflow_id: str | None = None) -> int:
    """Record the runs Airflow has that the plugin did not start (its trigger dialog, REST API, schedule)."""
    with transaction() as session:
        query = select(Workflow.id, Workflow.name)
        if workflow_id:
            query = query.where(Workflow.id == workflow_id)
        names = {name: wid for wid, name in session.execute(query)}
        known = {(d, r) for d, r in session.execute(select(Run.dag_id, Run.dag_run_id).where(Run.dag_id.in_(names)))}
    new_runs = [run for run in airflow_dags.dag_runs(list(names)) if (run.dag_id, run.run_id) not in known]
    if not new_runs:
        return 0
    with transaction() as session:
        for run in new_runs:
            wid = names[run.dag_id]
            number = _version_of(wid, run)
            session.add(Run(workflow_id=wid, version=number, dag_id=run.dag_id, dag_run_id=run.run_id,
                            params=_params_used(session, wid, number, run.conf), description=run.note or "",
                            state=run.state, triggered_by=run.user or run.run_type, source=run.run_type,
                            created_at=run.run_after or run.start_date))
    return len(new_runs)


def _version_of(workflow_id: str, run: airflow_dags.AirflowRun) -> int:
    """The version the runtime executed for this run (``runtime.version_for``, the rule tasks follow)."""
    return (version_for(workflow_id, run.conf, run.run_after, run.bundle_version)
            or workflows.get_workflow(workflow_id).version)


def _params_used(session: Session, workflow_id: str, number: int, conf: dict[str, Any]) -> dict[str, Any]:
    from airflow_mlops.models import WorkflowVersion

    spec = session.scalar(select(WorkflowVersion.spec).where(
        WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number)) or {}
    defaults = {k: p.get("default") for k, p in (spec.get("params") or {}).items()}
    return {**defaults, **user_params(conf or {})}


def _refreshed(records: list[RunRecord]) -> list[RunRecord]:
    """Airflow's current state for each run (one query); metrics are collected and kept once a run finished.

    The version follows the run's bundle version, which Airflow moves when it clears a run onto the latest one.
    """
    keys = [(r.dag_id, r.dag_run_id) for r in records]
    statuses, tasks = airflow_dags.run_statuses(keys), airflow_dags.task_states(keys)
    versions = _VersionMap.of(sorted({r.workflow_id for r in records if statuses.get((r.dag_id, r.dag_run_id))}))
    out, changed = [], {}
    for r in records:
        status = statuses.get((r.dag_id, r.dag_run_id))
        r = r.model_copy(update={"tasks": tasks.get((r.dag_id, r.dag_run_id), {})})
        if status is not None:
            r = r.model_copy(update={"state": status.state, "started_at": status.start_date, "ended_at": status.end_date})
            ran = versions[r.workflow_id].at(status.bundle_version)
            if ran is not None and ran != r.version:
                r = r.model_copy(update={"version": ran})
                changed[r.id] = r
            if r.metrics is None and r.state in FINISHED:
                r = r.model_copy(update={"metrics": collect_metrics(r.dag_id, r.dag_run_id)})
                changed[r.id] = r
        out.append(r)
    if changed:
        with transaction() as session:
            for run in session.scalars(select(Run).where(Run.id.in_(changed))):
                record = changed[run.id]
                run.state, run.metrics, run.version = record.state, record.metrics, record.version
                run.started_at, run.ended_at = record.started_at, record.ended_at
    return out


def collect_metrics(dag_id: str, run_id: str) -> dict[str, dict[str, float]]:
    """``{task: {name: value}}`` from every task that returned ``{"metrics": {name: number, ...}}``."""
    found = {}
    for task_id, value in airflow_dags.return_values(dag_id, run_id).items():
        metrics = value.get("metrics") if isinstance(value, dict) else None
        if isinstance(metrics, dict):
            numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if numeric:
                found[task_id] = numeric
    return found


def compare(run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: parameters (differing ones named), versions and their diffs, task durations, metrics."""
    if not 2 <= len(run_ids) <= MAX_COMPARE or len(set(run_ids)) != len(run_ids):
        raise InvalidInput([FieldError("query.ids", f"give 2 to {MAX_COMPARE} distinct run ids, comma-separated")])
    runs = [get_run(run_id) for run_id in run_ids]
    names = sorted({k for r in runs for k in r.params})
    params = {name: {r.id: r.params.get(name) for r in runs} for name in names}
    differing = [n for n in names if len({repr(v) for v in params[n].values()}) > 1]
    base = runs[0]
    version_diffs = {}
    for other in runs[1:]:
        if other.workflow_id == base.workflow_id and other.version != base.version:
            key = f"v{base.version}->v{other.version}"
            old = workflows.get_version(base.workflow_id, base.version).spec
            new = workflows.get_version(other.workflow_id, other.version).spec
            version_diffs[key] = diff_specs(old, new)
    metric_names = sorted({f"{task}.{name}" for r in runs for task, values in (r.metrics or {}).items() for name in values})
    return {
        "runs": [r.to_dict() for r in runs],
        "params": params,
        "differing_params": differing,
        "versions": {r.id: r.version for r in runs},
        "version_diffs": version_diffs,
        "tasks": {r.id: airflow_dags.task_timings(r.dag_id, r.dag_run_id) for r in runs},
        "metrics": {m: {r.id: (r.metrics or {}).get(m.split(".", 1)[0], {}).get(m.split(".", 1)[1]) for r in runs}
                    for m in metric_names},
    }


def _record(run: Run, workflow_name: str) -> RunRecord:
    return RunRecord(id=run.id, workflow_id=run.workflow_id, workflow_name=workflow_name, version=run.version,
                     dag_id=run.dag_id, dag_run_id=run.dag_run_id, params=run.params, description=run.description,
                     state=run.state, triggered_by=run.triggered_by, source=run.source or "plugin",
                     created_at=run.created_at, started_at=run.started_at, ended_at=run.ended_at, metrics=run.metrics)


# -- presets -----------------------------------------------------------------------------------------
def list_presets(workflow_id: str) -> list[dict[str, Any]]:
    workflows.get_workflow(workflow_id)
    with transaction() as session:
        rows = session.scalars(select(ParamPreset).where(ParamPreset.workflow_id == workflow_id).order_by(ParamPreset.name))
        return [{"name": p.name, "params": p.params, "created_by": p.created_by} for p in rows]


def get_preset(workflow_id: str, name: str) -> dict[str, Any]:
    with transaction() as session:
        params = session.scalar(select(ParamPreset.params).where(ParamPreset.workflow_id == workflow_id,
                                                                 ParamPreset.name == name))
    if params is None:
        raise InvalidInput([FieldError("preset", f"workflow {workflow_id} has no preset named {name!r}")])
    return params


def save_preset(workflow_id: str, name: Any, params: Any, actor: Actor) -> dict[str, Any]:
    """Create or replace a named parameter set; it must validate against the workflow's schema."""
    record = workflows.get_workflow(workflow_id)
    workflows.check_owner(record.created_by, actor, f"workflow {record.name!r}")
    errors = []
    if not isinstance(name, str) or not name.strip() or len(name) > 250:
        errors.append(FieldError("name", "must be a non-empty string of at most 250 characters"))
    if not isinstance(params, dict):
        errors.append(FieldError("params", "must be a JSON object"))
    else:
        spec = WorkflowSpec.model_validate(record.spec)
        errors += [e for e in check_param_values(dict(spec.params), params) if e.message != "required parameter is missing"]
    if errors:
        raise InvalidInput(errors)
    with transaction() as session:
        preset = session.scalar(select(ParamPreset).where(ParamPreset.workflow_id == workflow_id, ParamPreset.name == name))
        if preset is None:
            preset = ParamPreset(workflow_id=workflow_id, name=name, params=params, created_by=actor.name)
            session.add(preset)
        else:
            preset.params = params
        session.flush()
        audit.record(session, actor.name, "save_preset", "workflow", workflow_id, record.name, preset=name)
    return {"name": name, "params": params, "created_by": preset.created_by}


def delete_preset(workflow_id: str, name: str, actor: Actor) -> None:
    record = workflows.get_workflow(workflow_id)
    workflows.check_owner(record.created_by, actor, f"workflow {record.name!r}")
    with transaction() as session:
        preset = session.scalar(select(ParamPreset).where(ParamPreset.workflow_id == workflow_id, ParamPreset.name == name))
        if preset is None:
            raise NotFound(f"workflow {workflow_id} has no preset named {name!r}")
        session.delete(preset)
        audit.record(session, actor.name, "delete_preset", "workflow", workflow_id, record.name, preset=name)
