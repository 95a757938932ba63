"""Triggering workflows with parameters and a description, run records, presets, and comparing runs.

A run triggered here runs the DAG version Airflow parsed from the chosen workflow version, with that bundle
version (the MLOps DAG bundle), so the workers build exactly that version's structure and code; it also names
the version in its conf (``__mlops__.version``, what runs from before the bundle follow). It carries the
description as the Airflow run's note, and is recorded with who
triggered it and the parameters actually used (defaults merged). Runs started anywhere else (Airflow's
trigger dialog, its REST API, the schedule) are listed from Airflow's own ``dag_run``, the version and
parameters they used worked out on read: Airflow is the source of truth for what ran and its state, and
reading never writes.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from airflow_mlops.db import transaction
from airflow_mlops.models import ParamPreset, Run, TrackedRun, Workflow, WorkflowVersion
from airflow_mlops.services import airflow_dags, audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.airflow_dags import TaskOutputs
from airflow_mlops.services.diff import diff_specs
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound
from airflow_mlops.services.templates import check_param_values
from airflow_mlops.services.workflows import Page
from airflow_mlops_dag_factory import step_metrics
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.notifications.report import run_path
from airflow_mlops_dag_factory.runtime import PIN_CONF_KEY, metrics_of, user_params
from airflow_mlops_dag_factory.spec import WorkflowSpec

OBJECT_TYPE = "run"
MAX_DESCRIPTION = 1000  # Airflow's dag_run_note.content
MAX_COMPARE = 50
FINISHED = frozenset({"success", "failed"})
# How long a trigger waits for the version just saved to be parsed into Airflow (the save asked for a re-parse).
TRIGGER_WAIT_SECONDS = 15.0
CHUNK = 500  # keys per query (SQLite binds at most 32,766 parameters)


class TrackingLink(BaseModel):
    """Where a run stands with MLflow (``[mlops] mlflow_tracking_uri``): ``pending`` (queued), ``failed`` (the
    last try failed, ``error`` says why; retried) or ``exported`` (``url`` is its MLflow page)."""

    model_config = ConfigDict(frozen=True)
    state: str
    run_id: str | None
    url: str | None
    error: str | None
    attempts: int


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
    mlflow: TrackingLink | None = None  # None: tracking is off, or the run was never queued for it

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

    def __init__(self, rows: list[tuple[int, int, datetime]]):
        self.revisions = [revision for revision, _, _ in rows]
        self.numbers = [number for _, number, _ in rows]
        self.saved = sorted((number, created) for _, number, created in rows)

    @classmethod
    def of(cls, workflow_ids: list[str], session: Session | None = None) -> dict[str, _VersionMap]:
        """The maps of several workflows, in one query."""
        if session is None:
            with transaction() as own:
                return cls.of(workflow_ids, own)
        rows: dict[str, list[tuple[int, int, datetime]]] = {wid: [] for wid in workflow_ids}
        for wid, revision, number, created in session.execute(
                select(WorkflowVersion.workflow_id, WorkflowVersion.store_revision, WorkflowVersion.number,
                       WorkflowVersion.created_at)
                .where(WorkflowVersion.workflow_id.in_(workflow_ids)).order_by(WorkflowVersion.store_revision)):
            rows[wid].append((revision, number, created))
        return {wid: cls(found) for wid, found in rows.items()}

    @property
    def latest(self) -> int:
        return self.saved[-1][0] if self.saved else 1

    def revision_of(self, number: int) -> int:
        return self.revisions[self.numbers.index(number)]

    def at(self, bundle_version: str | None) -> int | None:
        if not str(bundle_version or "").isdigit():
            return None
        index = bisect.bisect_right(self.revisions, int(str(bundle_version)))
        return self.numbers[index - 1] if index else None

    def in_effect(self, moment: datetime) -> int | None:
        """The newest version saved at or before ``moment`` (``store.version_in_effect``)."""
        return next((number for number, created in reversed(self.saved) if created <= moment), None)


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
    """Runs of the workflows, started anywhere, newest first; ``params`` keeps runs whose parameters have all
    these values. A read: it writes nothing.

    Airflow's ``dag_run`` holds every run whoever started it, with its current state, so it is what is counted,
    filtered (workflow, state, time) and paged, in Airflow's database; only the page is then read with its
    plugin records. ``version`` and ``params`` follow the runtime's pinning rule and each version's defaults,
    which live in the plugin's database: those two filters read the runs the other filters leave (one
    workflow's, as the runs page asks), and page what matches.
    """
    if workflow_id:
        names = _workflow_ids(workflow_id=workflow_id)
        if not names:
            return Page([], 0, limit, offset)
        where = airflow_dags.RunFilter(list(names), state=state, since=since, until=until)
    else:  # every DAG the MLOps DAG file made, but those of purged workflows (no longer in it, nor workflows)
        stale = airflow_dags.stale_mlops_dags()
        purged = sorted(set(stale) - set(_workflow_ids(dag_ids=stale)))
        where = airflow_dags.RunFilter(None, purged, state=state, since=since, until=until)
    if version is None and not params:
        total, rows = airflow_dags.page_runs(where, limit, offset)
        return Page(_records(_Resolved.of(rows)), total, limit, offset)
    found = _Resolved.of(airflow_dags.find_runs(where))
    kept = [r for r in found if (version is None or r.version == version)
            and all(k in r.params and r.params[k] == v for k, v in (params or {}).items())]
    return Page(_records(kept[offset:offset + limit]), len(kept), limit, offset)


def get_run(run_id: str) -> RunRecord:
    """A run by its id: its plugin record's, or ``airflow-<key>`` for a run started elsewhere (never recorded)."""
    return get_runs([run_id])[0]


def get_runs(run_ids: list[str]) -> list[RunRecord]:
    """Runs by id, in that order, with the same few queries however many (compare reads up to 50). A run the
    plugin triggered that Airflow no longer has is what the plugin recorded when it triggered it."""
    return [record for record, _ in runs_with_outputs(run_ids, outputs=False)]


def runs_with_outputs(run_ids: list[str], outputs: bool = True) -> list[tuple[RunRecord, TaskOutputs]]:
    """:func:`get_runs`, each with what its tasks returned and logged (read once, for the metrics and the
    learning curves alike; empty without ``outputs`` and for a run Airflow no longer has)."""
    pks: dict[str, int] = {}
    plugin_ids: list[str] = []
    for run_id in run_ids:
        key = run_id.removeprefix(AIRFLOW_ID)
        if key == run_id:
            plugin_ids.append(run_id)
        elif key.isascii() and key.isdigit() and int(key) < 2**31:  # Airflow's key is an INTEGER
            pks[run_id] = int(key)
    stored: dict[str, RunRecord] = {}
    if plugin_ids:
        with transaction() as session:
            found = session.execute(select(Run, Workflow.name).join(Workflow, Workflow.id == Run.workflow_id)
                                    .where(Run.id.in_(plugin_ids)))
            stored = {run.id: _record(run, name) for run, name in found}
    rows = airflow_dags.runs_by_key(list(pks.values()), [(r.dag_id, r.dag_run_id) for r in stored.values()])
    resolved = _Resolved.of(rows)
    read = airflow_dags.task_outputs([r.run.id for r in resolved]) if outputs else None
    records = _records(resolved, read)
    by_pk = {r.run.id: (record, (read or {}).get(r.run.id, TaskOutputs()))
             for r, record in zip(resolved, records, strict=True)}
    by_key = {(pair[0].dag_id, pair[0].dag_run_id): pair for pair in by_pk.values()}
    out = []
    for run_id in run_ids:
        if run_id in pks:
            pair = by_pk.get(pks[run_id])
        else:
            earlier = stored.get(run_id)
            pair = by_key.get((earlier.dag_id, earlier.dag_run_id), (earlier, TaskOutputs())) if earlier else None
        if pair is None:
            raise NotFound(f"run {run_id} does not exist")
        out.append(pair)
    return out


AIRFLOW_ID = "airflow-"  # id prefix of a run the plugin did not trigger: Airflow's key of the run follows


def _workflow_ids(*, workflow_id: str | None = None, dag_ids: list[str] | None = None,
                  session: Session | None = None) -> dict[str, str]:
    """dag_id -> workflow id, of one workflow, of these DAG ids, or of all (archived ones too: their runs stay
    listed)."""
    if dag_ids is not None and not dag_ids:
        return {}
    if session is None:
        with transaction() as own:
            return _workflow_ids(workflow_id=workflow_id, dag_ids=dag_ids, session=own)
    query = select(Workflow.name, Workflow.id)
    if workflow_id:
        query = query.where(Workflow.id == workflow_id)
    if dag_ids is None or len(dag_ids) > CHUNK:
        found = {name: wid for name, wid in session.execute(query)}
        return found if dag_ids is None else {name: found[name] for name in set(dag_ids) & found.keys()}
    return {name: wid for name, wid in session.execute(query.where(Workflow.name.in_(set(dag_ids))))}


@dataclasses.dataclass(frozen=True)
class _Resolved:
    """An Airflow run with what the plugin adds: its workflow, its record (if the plugin triggered it), the
    version it ran and the parameters it used (the version's defaults under what it was given)."""

    run: airflow_dags.AirflowRun
    workflow_id: str
    stored: Row[Any] | None  # the mlops_run row
    version: int
    params: dict[str, Any]
    tracked: TrackingLink | None  # where it stands with MLflow

    @classmethod
    def of(cls, rows: list[airflow_dags.AirflowRun]) -> list[_Resolved]:
        """Resolve many runs with five queries of the plugin database, whatever their number. A run whose DAG is
        no workflow (one purged a moment ago) is left out."""
        with transaction() as session:
            names = _workflow_ids(dag_ids=sorted({r.dag_id for r in rows}), session=session)
            rows = [r for r in rows if r.dag_id in names]
            if not rows:
                return []
            stored = _stored(session, [(r.dag_id, r.run_id) for r in rows])
            versions = _VersionMap.of(sorted({names[r.dag_id] for r in rows}), session)
            numbers = [_version_ran(r, stored.get((r.dag_id, r.run_id)), versions[names[r.dag_id]]) for r in rows]
            unrecorded = {(names[r.dag_id], n) for r, n in zip(rows, numbers, strict=True)
                          if (r.dag_id, r.run_id) not in stored}
            defaults = _defaults(session, unrecorded)
            tracked = tracking_links(session, [(r.dag_id, r.run_id) for r in rows])
        out = []
        for row, number in zip(rows, numbers, strict=True):
            record, wid = stored.get((row.dag_id, row.run_id)), names[row.dag_id]
            used = record.params if record else {**defaults.get((wid, number), {}), **user_params(row.conf)}
            out.append(cls(row, wid, record, number, used, tracked.get((row.dag_id, row.run_id))))
        return out


def _version_ran(run: airflow_dags.AirflowRun, stored: Row[Any] | None, versions: _VersionMap) -> int:
    """``runtime.version_for``'s rule on a map read once per page: the run's bundle version (which Airflow moves
    when it clears a run onto the latest), else its pin, else the version in effect when it was due."""
    pin = run.conf.get(PIN_CONF_KEY)
    if str(run.bundle_version or "").isdigit():
        number = versions.at(run.bundle_version)
    elif isinstance(pin, dict) and isinstance(pin.get("version"), int):
        number = pin["version"]
    else:
        number = versions.in_effect(run.run_after)
    return number or (stored.version if stored else None) or versions.latest


def _stored(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Row[Any]]:
    """The plugin's records of these runs (those it triggered), as rows, in chunks of bound parameters."""
    out: dict[tuple[str, str], Row[Any]] = {}
    table = Run.__table__
    for i in range(0, len(keys), CHUNK):
        query = select(table).where(tuple_(table.c.dag_id, table.c.dag_run_id).in_(keys[i:i + CHUNK]))
        out.update(((run.dag_id, run.dag_run_id), run) for run in session.execute(query))
    return out


def _defaults(session: Session, versions: set[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The parameters' defaults of these (workflow, version)s: what a run given none of them used."""
    pairs, out = sorted(versions), {}
    for i in range(0, len(pairs), CHUNK):
        for wid, number, spec in session.execute(
                select(WorkflowVersion.workflow_id, WorkflowVersion.number, WorkflowVersion.spec)
                .where(tuple_(WorkflowVersion.workflow_id, WorkflowVersion.number).in_(pairs[i:i + CHUNK]))):
            out[(wid, number)] = {k: p.get("default") for k, p in ((spec or {}).get("params") or {}).items()}
    return out


def _records(page: list[_Resolved], outputs: dict[int, TaskOutputs] | None = None) -> list[RunRecord]:
    """The page as records: Airflow's state and tasks, metrics from what finished runs' tasks returned or logged
    (``outputs``, when the caller read them already)."""
    keys = [(r.run.dag_id, r.run.run_id) for r in page]
    tasks = airflow_dags.task_states(keys)
    if outputs is None:
        outputs = airflow_dags.task_outputs(
            [r.run.id for r in page if r.run.state in FINISHED and (r.stored is None or r.stored.metrics is None)])
    out = []
    for r in page:
        run, stored = r.run, r.stored
        metrics = stored.metrics if stored is not None and stored.metrics is not None else (
            collect_metrics(outputs.get(run.id, TaskOutputs())) if run.state in FINISHED else None)
        out.append(RunRecord(
            id=stored.id if stored else f"{AIRFLOW_ID}{run.id}", workflow_id=r.workflow_id, workflow_name=run.dag_id,
            version=r.version, dag_id=run.dag_id, dag_run_id=run.run_id, params=r.params,
            description=stored.description if stored else run.note or "",
            state=run.state, triggered_by=stored.triggered_by if stored else run.user or run.run_type,
            source=(stored.source or "plugin") if stored else run.run_type, created_at=run.run_after,
            started_at=run.start_date, ended_at=run.end_date, metrics=metrics,
            tasks=tasks.get((run.dag_id, run.run_id), {}), mlflow=r.tracked))
    return out


def tracking_links(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], TrackingLink]:
    """Where each of these runs (dag_id, run_id) stands with MLflow; runs never queued for it are absent."""
    out: dict[tuple[str, str], TrackingLink] = {}
    for i in range(0, len(keys), CHUNK):
        for row in session.scalars(select(TrackedRun).where(
                tuple_(TrackedRun.dag_id, TrackedRun.dag_run_id).in_(keys[i:i + CHUNK]))):
            out[(row.dag_id, row.dag_run_id)] = TrackingLink(
                state=row.state, run_id=row.mlflow_run_id, url=row.url if row.state == "exported" else None,
                error=row.error, attempts=row.attempts)
    return out


def collect_metrics(outputs: TaskOutputs) -> dict[str, dict[str, float]]:
    """``{task: {name: value}}`` of every unmapped task that returned ``{"metrics": {name: number, ...}}`` or
    logged step metrics (their last values)."""
    names = set(outputs.returned) | {task for task, index in outputs.steps if index == -1}
    found = {task: metrics_of(outputs.returned.get(task), outputs.steps.get((task, -1))) for task in names}
    return {task: numeric for task, numeric in sorted(found.items()) if numeric}


def step_series(outputs: TaskOutputs) -> list[dict[str, Any]]:
    """The step metrics the tasks logged, one series per (task, map index, name), points in step order."""
    out = []
    for (task, index), stored in sorted(outputs.steps.items()):
        for name, points in sorted(step_metrics.valid(stored).items()):
            ordered = sorted(enumerate(points), key=lambda item: (item[1][0], item[0]))
            out.append({"task": task, "map_index": index, "name": name, "points": [
                {"step": int(step), "value": value, "timestamp": datetime.fromtimestamp(ts / 1000, timezone.utc)}
                for _, (step, value, ts) in ordered]})
    return out


def get_step_metrics(run_id: str) -> dict[str, Any]:
    """A run's learning curves: every series its tasks logged with ``log_metric``."""
    [(record, outputs)] = runs_with_outputs([run_id])
    return {"run_id": record.id, "series": step_series(outputs)}


def compare(run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: parameters and metrics (differing ones named), versions and the structural diffs
    between them, task durations, learning curves."""
    if not 2 <= len(run_ids) <= MAX_COMPARE or len(set(run_ids)) != len(run_ids):
        raise InvalidInput([FieldError("query.ids", f"give 2 to {MAX_COMPARE} distinct run ids, comma-separated")])
    found = runs_with_outputs(run_ids)
    runs = [record for record, _ in found]
    names = sorted({k for r in runs for k in r.params})
    params = {name: {r.id: r.params.get(name) for r in runs} for name in names}
    base = runs[0]
    specs: dict[tuple[str, int], dict[str, Any]] = {}

    def spec(workflow_id: str, version: int) -> dict[str, Any]:
        if (workflow_id, version) not in specs:
            specs[(workflow_id, version)] = workflows.get_version(workflow_id, version).spec
        return specs[(workflow_id, version)]

    version_diffs = {f"v{base.version}->v{other.version}": diff_specs(spec(base.workflow_id, base.version),
                                                                     spec(other.workflow_id, other.version))
                     for other in runs[1:] if other.workflow_id == base.workflow_id and other.version != base.version}
    changes = []
    for workflow_id, name in sorted({(r.workflow_id, r.workflow_name) for r in runs}, key=lambda x: x[1]):
        numbers = sorted({r.version for r in runs if r.workflow_id == workflow_id})
        changes += [{"workflow_id": workflow_id, "workflow_name": name, "from": old, "to": new,
                     "diff": diff_specs(spec(workflow_id, old), spec(workflow_id, new))}
                    for old, new in itertools.pairwise(numbers)]
    metric_names = sorted({f"{task}.{name}" for r in runs for task, values in (r.metrics or {}).items() for name in values})
    metrics = {m: {r.id: (r.metrics or {}).get(m.split(".", 1)[0], {}).get(m.split(".", 1)[1]) for r in runs}
               for m in metric_names}
    timings = airflow_dags.task_timings([(r.dag_id, r.dag_run_id) for r in runs])
    return {
        "runs": [r.to_dict() for r in runs],
        "params": params,
        "differing_params": [n for n in names if _differs(params[n])],
        "versions": {r.id: r.version for r in runs},
        "version_diffs": version_diffs,
        "version_changes": changes,
        "tasks": {r.id: timings[(r.dag_id, r.dag_run_id)] for r in runs},
        "metrics": metrics,
        "differing_metrics": [m for m in metric_names if _differs(metrics[m])],
        "step_metrics": {record.id: step_series(outputs) for record, outputs in found},
    }


def _differs(values: dict[str, Any]) -> bool:
    return len({repr(v) for v in values.values()}) > 1


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
