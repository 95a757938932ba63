"""What runs inside an MLOps task on an Airflow worker.

The code executed is that of the workflow version **pinned for the run**, not whatever the workflow
holds now, so editing a workflow never changes a run that already started. A run of the MLOps DAG bundle
(it has a bundle version) executes the version its DAG was built from: the worker built the whole DAG as of
the run's bundle version, structure and code alike (``pinned_by_bundle``: the DAG file was in that
version's folder; the task's context does not carry the bundle version). A run from before the bundle
(no bundle version) keeps the earlier rule: the version in its conf (``__mlops__.version``), else the newest
version saved at or before its ``run_after``, else the version the DAG was built from.
"""

from __future__ import annotations

import builtins
import keyword
import logging
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_mlops_dag_factory import settings, store
from airflow_mlops_dag_factory.spec import TaskSpec, WorkflowSpec
from airflow_mlops_dag_factory.step_metrics import StepMetrics, last_values
from airflow_mlops_dag_factory.usercode import FUNCTION_NAME, compile_task_code

log = logging.getLogger(__name__)

PIN_CONF_KEY = "__mlops__"


def run_task(*mapped: Any, workflow_id: str, task_name: str, built_version: int, pinned_by_bundle: bool = False,
             **context: Any) -> Any:
    """``python_callable`` of every MLOps task; its return value becomes the task's XCom.

    A mapped task gets its item as the only positional argument; a branch task returns task names.
    """
    version = pinned_version(workflow_id, built_version, context.get("dag_run"), pinned_by_bundle)
    spec = store.load_version_spec(workflow_id, version)
    task = spec.task(task_name)
    if task is None:
        raise LookupError(f"task {task_name!r} does not exist in version {version} of workflow {spec.name!r}")
    upstream = {name: _plain(context["ti"].xcom_pull(task_ids=name)) for name in task.depends_on}
    log.info("MLOps: running task %r of workflow %r at version %d", task_name, spec.name, version)
    steps = StepMetrics()
    try:
        return call_task_code(spec, task, f"v{version}", upstream, context, mapped[0] if mapped else None,
                              user_params(context.get("params") or {}), steps)
    finally:
        _store_steps(steps, context["ti"])


def _store_steps(steps: StepMetrics, ti: Any) -> None:
    """Keep what the task logged with the run, also when it failed; losing the curves never fails the task."""
    try:
        steps.push(ti)
    except Exception:  # noqa: BLE001 - the task's own outcome stands; the log says what was lost
        log.exception("MLOps: could not store the step metrics the task logged")


def call_task_code(spec: WorkflowSpec, task: TaskSpec, label: str, upstream: dict[str, Any], context: dict[str, Any],
                   item: Any, params: dict[str, Any], steps: StepMetrics | None = None) -> Any:
    """Run a task's code with its globals (``params``, ``upstream`` and each upstream result by name,
    ``log_metric`` into ``steps``, ...) and return its value; a failure is logged with the user's own lines.
    Shared by runs and test runs."""
    filename = f"<mlops {spec.name}.{task.name} {label}>"
    code = compile_task_code(task.code, filename)
    namespace: dict[str, Any] = {
        "__name__": f"mlops.{spec.name}.{task.name}",
        "__builtins__": builtins,
        **{name: value for name, value in upstream.items() if name.isidentifier() and not keyword.iskeyword(name)},
        "params": params,
        "context": context,
        "upstream": upstream,
        "item": item,
        "artifact_root": settings.artifact_root(),
        "artifacts": run_artifacts(spec.name, context),
        "log_metric": (steps or StepMetrics()).log_metric,
    }
    exec(code, namespace)  # defines the function only; the user's code runs on the next line
    try:
        return namespace[FUNCTION_NAME]()
    except Exception as exc:
        log.error("MLOps task %r failed in the workflow's code:\n%s", task.name, user_traceback(exc, filename))
        raise


def metrics_of(value: Any, steps: Any = None) -> dict[str, float]:
    """A task's metrics: the last value of each metric it logged per step (``steps``, as stored), then the
    numbers of its ``{"metrics": {name: number, ...}}`` result, which win (runs compared, test runs shown)."""
    metrics = value.get("metrics") if isinstance(value, dict) else None
    returned = {str(k): float(v) for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)} if isinstance(metrics, dict) else {}
    return {**last_values(steps), **returned}


def user_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the user's first frame on, with their line numbers and source lines."""
    tb = traceback.TracebackException.from_exception(exc)
    first = next((i for i, frame in enumerate(tb.stack) if frame.filename == filename), 0)
    tb.stack = traceback.StackSummary.from_list(tb.stack[first:])
    return "".join(tb.format())


def run_artifacts(dag_id: str, context: dict[str, Any]) -> Path:
    """This run's artifact folder, ``<artifact_root>/<dag_id>/<run_id>/`` (created on first use)."""
    folder = artifact_folder(dag_id, getattr(context.get("dag_run"), "run_id", None) or "no-run")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def artifact_folder(dag_id: str, run_id: str) -> Path:
    """Where a run's tasks write their artifacts (what MLflow tracking uploads with the run)."""
    return settings.artifact_root() / dag_id / "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


def _plain(value: Any) -> Any:
    """Results of a mapped upstream task arrive as a lazy sequence; the code gets a plain list."""
    if value is None or isinstance(value, (str, bytes, dict, list, tuple, int, float, bool)):
        return value
    try:
        return list(value)
    except TypeError:
        return value


def version_for(workflow_id: str, conf: Any, run_after: datetime | None, bundle_version: str | None = None) -> int | None:
    """The version a run executes: the workflow as of the run's bundle version (MLOps DAG bundle); for a run
    without one, the pin ``__mlops__.version`` in its conf, else the version in effect at its ``run_after``;
    ``None`` when nothing tells. The one statement of the rule: run records and the version-delete guard call
    it, and tasks follow it (:func:`pinned_version`)."""
    if bundle_version is not None and str(bundle_version).isdigit():
        return store.version_as_of(workflow_id, int(bundle_version))
    pin = conf.get(PIN_CONF_KEY) if isinstance(conf, dict) else None
    if isinstance(pin, dict) and isinstance(pin.get("version"), int):
        return pin["version"]
    return store.version_in_effect(workflow_id, run_after) if run_after is not None else None


def pinned_version(workflow_id: str, built_version: int, dag_run: Any, pinned_by_bundle: bool = False) -> int:
    """The version a task or callback of ``dag_run`` executes. A DAG built from the run's bundle version is that
    version, structure and code (no lookup); otherwise :func:`version_for`'s rule for older runs."""
    if pinned_by_bundle:
        return built_version
    number = version_for(workflow_id, getattr(dag_run, "conf", None) or {}, getattr(dag_run, "run_after", None))
    return built_version if number is None else number


def user_params(params: Any) -> dict[str, Any]:
    """The run's params as a plain dict, without the plugin's own pin."""
    return {k: v for k, v in dict(params).items() if k != PIN_CONF_KEY}
