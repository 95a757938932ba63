"""Test runs from the editor: one task, or the whole draft, run on Airflow's workers before publishing.

A test runs the workflow's draft (or, without one, its published version) as the author has it now: it is
recorded (``mlops_test_run``) with the tasks to run in dependency order, the parameters (the spec's defaults
under the form's values) and, optionally, an earlier run of the workflow whose results feed the tested
task's upstream; then the fixed ``mlops_test_runs`` DAG is triggered with only the record's id
(``airflow_mlops_dag_factory.test_runs`` executes it). A test of one task without an earlier run also runs
everything upstream of it. Test runs are not runs of the workflow's DAG: the runs list, metrics and
comparisons never see them. Starting one writes code to be executed on workers: it needs the right to edit
the workflow (its owner, or Op/Admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from airflow_mlops.db import transaction
from airflow_mlops.models import Draft, TestRun, Workflow
from airflow_mlops.services import airflow_dags, audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound
from airflow_mlops.services.templates import check_param_values
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.spec import WorkflowSpec
from airflow_mlops_dag_factory.test_runs import CONF_KEY, RESULTS_KEY, TEST_DAG_ID, TEST_TASK_ID

OBJECT_TYPE = "workflow"
MAX_LISTED = 100


@dataclass(frozen=True)
class TestRunRecord:
    id: str
    workflow_id: str
    source: str
    source_revision: int
    target: str | None
    tasks: list[str]
    params: dict[str, Any]
    upstream_run: dict[str, str] | None
    dag_id: str
    dag_run_id: str | None
    created_by: str
    created_at: datetime
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    results: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "workflow_id": self.workflow_id, "kind": "test", "source": self.source,
                "source_revision": self.source_revision, "target": self.target, "tasks": self.tasks,
                "params": self.params, "upstream_run": self.upstream_run, "dag_id": self.dag_id,
                "dag_run_id": self.dag_run_id, "created_by": self.created_by,
                "created_at": self.created_at.isoformat(), "state": self.state,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "results": {name: self.results.get(name, {"state": "queued"}) for name in self.tasks}}


def start_test(workflow_id: str, task: str | None, params: Any, upstream_run_id: str | None,
               actor: Actor) -> TestRunRecord:
    """Record a test of ``task`` (``None``: every task) of the draft, or of the published version without a
    draft, and start it on Airflow's workers."""
    from airflow_mlops.services import runs

    with transaction() as session:
        workflow = workflows.load_for_change(session, workflow_id, actor, None)  # the owner, or Op/Admin
        draft = session.get(Draft, workflow_id)
        source, revision, document = (("draft", draft.revision, draft.spec) if draft is not None
                                      else ("published", workflow.current_version, None))
        name = workflow.name
    spec = workflows.validate_spec(document) if document is not None else WorkflowSpec.model_validate(
        workflows.get_workflow(workflow_id).spec)
    if not isinstance(params, dict):
        raise InvalidInput([FieldError("params", "must be a JSON object")])
    errors = check_param_values(dict(spec.params), params)
    upstream = None
    if upstream_run_id is not None:
        try:
            earlier = runs.get_run(upstream_run_id)
        except NotFound:
            earlier = None
        if earlier is None or earlier.workflow_id != workflow_id:
            errors.append(FieldError("upstream_run_id", f"no run {upstream_run_id!r} of workflow {name!r}"))
        else:
            upstream = {"dag_id": earlier.dag_id, "dag_run_id": earlier.dag_run_id}
    tasks, task_errors = _tasks_to_run(spec, task, with_upstream=upstream is None)
    if errors or task_errors:
        raise InvalidInput(errors + task_errors)
    status = airflow_dags.dag_status(TEST_DAG_ID)
    if not status.exists or status.is_stale:
        raise Conflict(f"Airflow has not loaded the DAG {TEST_DAG_ID!r} of test runs yet; retry in a few seconds")
    used = {**{k: p.default for k, p in spec.params.items()}, **params}
    with transaction() as session:
        record = TestRun(workflow_id=workflow_id, source=source, source_revision=revision, spec=spec.to_dict(),
                         tasks=tasks, target=task, params=used, upstream_dag_id=upstream and upstream["dag_id"],
                         upstream_run_id=upstream and upstream["dag_run_id"], created_by=actor.name)
        session.add(record)
        session.flush()
        test_id = record.id
    try:  # the worker reads the record: it is committed before the run exists
        dag_run_id = airflow_dags.trigger(TEST_DAG_ID, {CONF_KEY: test_id}, f"test of {name}: {task or 'all tasks'}",
                                          actor.name)
    except Exception:
        with transaction() as session:
            session.execute(delete(TestRun).where(TestRun.id == test_id))
        raise
    with transaction() as session:
        started = session.get_one(TestRun, test_id)
        started.dag_run_id = dag_run_id
        audit.record(session, actor.name, "test_run", OBJECT_TYPE, workflow_id, name, test_run_id=test_id,
                     dag_run_id=dag_run_id, source=source, source_revision=revision, target=task, tasks=tasks,
                     upstream_run=upstream)
        return _record(started)


def get_test(test_id: str) -> TestRunRecord:
    with transaction() as session:
        record = session.get(TestRun, test_id)
        if record is None:
            raise NotFound(f"test run {test_id} does not exist")
        return _record(record)


def list_tests(workflow_id: str, limit: int = 20) -> list[TestRunRecord]:
    """The workflow's latest test runs, newest first."""
    with transaction() as session:
        if session.get(Workflow, workflow_id) is None:
            raise NotFound(f"workflow {workflow_id} does not exist")
        found = session.scalars(select(TestRun).where(TestRun.workflow_id == workflow_id)
                                .order_by(TestRun.created_at.desc()).limit(min(limit, MAX_LISTED)))
        return [_record(record) for record in found]


def _tasks_to_run(spec: WorkflowSpec, task: str | None, *, with_upstream: bool) -> tuple[list[str], list[FieldError]]:
    """The tasks a test runs, in dependency order, and why it cannot run them."""
    if task is not None and spec.task(task) is None:
        return [], [FieldError("task", f"there is no task {task!r} in the workflow as tested")]
    wanted = ({t.name for t in spec.tasks} if task is None
              else {task} | (spec.upstream_of(task) if with_upstream else set()))
    return [t.name for t in spec.upstream_first() if t.name in wanted], []


def _record(record: TestRun) -> TestRunRecord:
    status = (airflow_dags.test_run_status(TEST_DAG_ID, record.dag_run_id, TEST_TASK_ID, RESULTS_KEY)
              if record.dag_run_id else None)
    upstream = ({"dag_id": record.upstream_dag_id, "dag_run_id": record.upstream_run_id}
                if record.upstream_run_id and record.upstream_dag_id else None)
    return TestRunRecord(
        id=record.id, workflow_id=record.workflow_id, source=record.source, source_revision=record.source_revision,
        target=record.target, tasks=list(record.tasks), params=dict(record.params), upstream_run=upstream,
        dag_id=TEST_DAG_ID, dag_run_id=record.dag_run_id, created_by=record.created_by, created_at=record.created_at,
        state=status.state if status else "queued", started_at=status.start_date if status else None,
        ended_at=status.end_date if status else None,
        results=(status.results.get("tasks") or {}) if status else {})
