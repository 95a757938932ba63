"""Test runs: the editor runs one task, or the whole draft, on Airflow's workers before it is published.

One fixed DAG, ``mlops_test_runs``, with one task: a run of it executes the test run the plugin recorded
(``mlops_test_run``: the spec as the author saved it, the tasks to run in order, the parameters, and where
upstream results come from). Its conf carries only that record's id, so whoever may trigger the DAG can only
repeat a test an author with the right to write code recorded. Tasks run one after another in the worker,
each with its upstream results from the test's own earlier tasks or from a chosen earlier run of the
workflow; after each, the results so far (state, value, metrics, what the code printed or logged) are pushed as
the XCom ``mlops_test``, which the editor polls. A docker task's container runs as in a run (its settings,
templates, secrets and ``MLOPS_*`` environment), its output collected the same way.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, String, column, select, table

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.database import get_engine
from airflow_mlops_dag_factory.spec import TaskSpec, WorkflowSpec
from airflow_mlops_dag_factory.step_metrics import StepMetrics

log = logging.getLogger(__name__)

TEST_DAG_ID = "mlops_test_runs"
TEST_TASK_ID = "run"
RESULTS_KEY = "mlops_test"
CONF_KEY = "test_run_id"
MAX_LOG_CHARS = 20_000  # per task, the end kept
MAX_RESULT_CHARS = 20_000  # a result's JSON longer than this is shown as its truncated text

test_run_table = table(
    "mlops_test_run",
    column("id", String),
    column("workflow_id", String),
    column("spec", JSON),
    column("tasks", JSON),
    column("params", JSON),
    column("upstream_dag_id", String),
    column("upstream_run_id", String),
)


@dataclass(frozen=True)
class StoredTest:
    """What a test run executes, as the plugin recorded it."""

    id: str
    workflow_id: str
    spec: WorkflowSpec
    tasks: list[str]
    params: dict[str, Any]
    upstream_dag_id: str | None
    upstream_run_id: str | None


def build_test_dag(access_control: bool) -> Any:
    """The DAG whose runs are test runs: never scheduled, always unpaused, triggered by the plugin."""
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    from airflow_mlops_dag_factory.build import ACCESS_CONTROL, START_DATE

    dag = DAG(dag_id=TEST_DAG_ID, schedule=None, start_date=START_DATE, catchup=False, tags=["mlops-test"],
              description="Test runs of MLOps workflow drafts, started from the plugin's editor",
              doc_md=__doc__, is_paused_upon_creation=False, max_active_runs=16,
              # Only the plugin triggers it (it records who may); Airflow's roles may look.
              access_control={role: ACCESS_CONTROL["Viewer"] for role in ACCESS_CONTROL} if access_control else None)
    PythonOperator(task_id=TEST_TASK_ID, python_callable=execute, dag=dag, retries=0)
    return dag


def dags_for_test_file(path: str) -> dict[str, Any]:
    """What the test runs' DAG file exposes. A copy outside the MLOps DAG bundle builds nothing once the bundle
    is configured (the same DAG in two bundles would flap between them). Never raises."""
    try:
        from pathlib import Path

        from airflow_mlops_dag_factory.bundle import folder_revision, stray_copy

        if stray_copy(folder_revision(Path(path).parent)):
            return {}
        return {TEST_DAG_ID: build_test_dag(settings.dag_access_control())}
    except Exception:
        log.exception("MLOps: the DAG of test runs could not be built")
        return {}


def load_test(test_id: str, url: str | None = None) -> StoredTest:
    """The recorded test run (the worker's only input); raises when it does not exist or is invalid."""
    from airflow_mlops_dag_factory.validate import validate_document

    with get_engine(url or settings.database_url()).connect() as conn:
        row = conn.execute(select(test_run_table).where(test_run_table.c.id == test_id)).mappings().first()
    if row is None:
        raise LookupError(f"test run {test_id!r} does not exist")
    spec, errors = validate_document(row["spec"])
    if spec is None:
        raise ValueError(f"test run {test_id!r} holds an invalid spec: " + "; ".join(map(str, errors)))
    return StoredTest(row["id"], row["workflow_id"], spec, list(row["tasks"] or []), dict(row["params"] or {}),
                      row["upstream_dag_id"], row["upstream_run_id"])


def execute(**context: Any) -> dict[str, Any]:
    """``python_callable`` of the test DAG's task: run the recorded tasks in order, stop at the first failure."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airflow_mlops_dag_factory.runtime import _plain, metrics_of

    conf = getattr(context.get("dag_run"), "conf", None) or {}
    test = load_test(str(conf.get(CONF_KEY)))
    ti = context["ti"]
    results: dict[str, dict[str, Any]] = {name: {"state": "queued"} for name in test.tasks}
    values: dict[str, Any] = {}
    skipped: set[str] = set()
    for name in test.tasks:
        task = test.spec.task(name)
        if task is None:  # the service checked; a hand-made record cannot get further
            raise LookupError(f"task {name!r} is not in the tested spec")
        if skipped & set(task.depends_on) and not task.trigger_rule:  # as a run skips after a skipped upstream
            skipped.add(name)
            results[name] = {"state": "skipped", "error": "an upstream task was skipped"}
            ti.xcom_push(key=RESULTS_KEY, value={"tasks": results})
            continue
        upstream = {}
        for dep in task.depends_on:
            if dep in values:
                upstream[dep] = values[dep]
            elif test.upstream_run_id:
                upstream[dep] = _plain(ti.xcom_pull(task_ids=dep, dag_id=test.upstream_dag_id,
                                                    run_id=test.upstream_run_id))
            else:
                upstream[dep] = None
        results[name] = {"state": "running"}
        ti.xcom_push(key=RESULTS_KEY, value={"tasks": results})
        log.info("MLOps test run: task %r of workflow %r", name, test.spec.name)
        started, output, steps = time.monotonic(), _Capture(), StepMetrics()
        try:
            with output:
                value = _run_one(test, task, upstream, context, steps)
            values[name] = value
            results[name] = {"state": "success", "result": _shown(value), "metrics": metrics_of(value, steps.points)}
        except AirflowSkipException as exc:  # a container's skip_on_exit_code
            skipped.add(name)
            results[name] = {"state": "skipped", "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - recorded for the editor, then the task fails below
            results[name] = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
        results[name].update(log=_redacted(output.text()), seconds=round(time.monotonic() - started, 3))
        ti.xcom_push(key=RESULTS_KEY, value={"tasks": results})
        if results[name]["state"] == "failed":
            for rest in test.tasks[test.tasks.index(name) + 1:]:
                results[rest] = {"state": "skipped"}
            ti.xcom_push(key=RESULTS_KEY, value={"tasks": results})
            raise AirflowFailException(f"task {name!r} of the test run failed: {results[name]['error']}")
    return {"tasks": {name: r["state"] for name, r in results.items()}}


def _run_one(test: StoredTest, task: TaskSpec, upstream: dict[str, Any], context: dict[str, Any],
             steps: StepMetrics) -> Any:
    """One task of the test, as its run would execute it: its code (once per item of a mapped task's upstream
    list), or its container."""
    from airflow_mlops_dag_factory.runtime import call_task_code

    if task.type == "docker":
        from airflow_mlops_dag_factory.docker_task import run_container

        return run_container(test.spec.name, task, test.params, upstream, context)
    if task.map_over:
        return [call_task_code(test.spec, task, "test", upstream, context, item, test.params, steps)
                for item in list(upstream.get(task.map_over) or [])]
    return call_task_code(test.spec, task, "test", upstream, context, None, test.params, steps)


def _redacted(text: str) -> str:
    """The log with every secret the task registered (a container's Connections and Variables) masked, as
    Airflow masks its own task log."""
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # pragma: no cover - the masker moved: keep the text, Airflow's own log stays masked
        return text
    masked = redact(text)
    return masked if isinstance(masked, str) else text


def _shown(value: Any) -> Any:
    """The value as JSON the editor can show (text for what JSON cannot hold, cut when very long)."""
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = json.dumps(repr(value))
    return json.loads(text) if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + " …"


class _Capture(contextlib.AbstractContextManager["_Capture"]):
    """What the task's code prints and logs, kept for the editor and still written to the task's log."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.streams: list[contextlib.AbstractContextManager[Any]] = []

    def __enter__(self) -> _Capture:
        logging.getLogger().addHandler(self.handler)
        self.streams = [contextlib.redirect_stdout(_Tee(sys.stdout, self.buffer)),
                        contextlib.redirect_stderr(_Tee(sys.stderr, self.buffer))]
        for stream in self.streams:
            stream.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for stream in reversed(self.streams):
            stream.__exit__(*exc)
        logging.getLogger().removeHandler(self.handler)

    def text(self) -> str:
        text = self.buffer.getvalue()
        return text if len(text) <= MAX_LOG_CHARS else "… " + text[-MAX_LOG_CHARS:]


class _Tee(io.TextIOBase):
    def __init__(self, *targets: Any) -> None:
        self.targets = targets

    def write(self, text: str) -> int:
        for target in self.targets:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        for target in self.targets:
            with contextlib.suppress(Exception):
                target.flush()
