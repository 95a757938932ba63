"""Gather what a notification says from Airflow's callback context.

Run-level callbacks run in the dag-processor, which cannot reach Airflow's database: task states come
through the Task SDK (``get_task_states``) and each failed task's error from the XCom its own failure
callback left (``ERROR_XCOM_KEY``), since only the worker saw the exception.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from airflow_mlops_dag_factory import store
from airflow_mlops_dag_factory.notifications.message import FailedTask, RunReport
from airflow_mlops_dag_factory.runtime import pinned_version, user_params
from airflow_mlops_dag_factory.spec import NotificationEvent

log = logging.getLogger(__name__)

ERROR_XCOM_KEY = "mlops_error"
MAX_ERROR_LINES = 8
MAX_ERROR_CHARS = 1200
FAILED_STATES = {"failed"}


def run_path(dag_id: str, run_id: str) -> str:
    """A run in Airflow's own UI, relative to its base URL."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def run_url(dag_id: str, run_id: str) -> str:
    return airflow_base_url() + run_path(dag_id, run_id)


def dag_url(dag_id: str) -> str:
    return f"{airflow_base_url()}/dags/{quote(dag_id, safe='')}"


def airflow_base_url() -> str:
    """Where people reach Airflow's UI: ``[api] base_url``."""
    from airflow.sdk.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def error_summary(exc: BaseException | None) -> str | None:
    """The first lines worth reading: the exception, and where in the user's task code it was raised."""
    if exc is None:
        return None
    lines = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    user_frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<mlops ")]
    if user_frames:
        frame = user_frames[-1]
        lines.append(f"at line {frame.lineno} of the task code: {(frame.line or '').strip()}")
    text = "\n".join(lines[:MAX_ERROR_LINES])
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"


def run_report(context: dict[str, Any], event: NotificationEvent, workflow_id: str, built_version: int,
               pinned_by_bundle: bool = False) -> RunReport:
    """The report of a finished run (on_failure / on_success), from a DAG-level callback's context."""
    dag = context["dag"]
    dag_run = context.get("dag_run")
    run_id: str = context.get("run_id") or getattr(dag_run, "run_id", "") or ""
    conf = getattr(dag_run, "conf", None) or {}
    return RunReport(
        event=event, workflow=dag.dag_id, run_id=run_id,
        state="failed" if event == "on_failure" else "success",
        triggered_by=_trigger(dag_run), description=_description(dag.dag_id, run_id, dag_run),
        params=user_params(context.get("params") or conf),
        version=_version(workflow_id, built_version, dag_run, pinned_by_bundle),
        duration_seconds=_duration(getattr(dag_run, "start_date", None), getattr(dag_run, "end_date", None)),
        failed_tasks=tuple(failed_tasks(dag, run_id)) if event == "on_failure" else (),
        url=run_url(dag.dag_id, run_id), reason=context.get("reason"),
    )


def retry_report(context: dict[str, Any], workflow_id: str, built_version: int,
                 pinned_by_bundle: bool = False) -> RunReport:
    """The report of a task that failed and will be retried, from its on_retry callback (in the worker)."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    map_index = getattr(ti, "map_index", -1)
    return RunReport(
        event="on_retry", workflow=ti.dag_id, run_id=ti.run_id, state="up_for_retry",
        triggered_by=_trigger(dag_run), description=_description(ti.dag_id, ti.run_id, dag_run),
        params=user_params(context.get("params") or {}),
        version=_version(workflow_id, built_version, dag_run, pinned_by_bundle),
        duration_seconds=_duration(getattr(dag_run, "start_date", None), None),
        failed_tasks=(FailedTask(ti.task_id, error_summary(context.get("exception")),
                                 map_index if map_index is not None and map_index >= 0 else None),),
        url=run_url(ti.dag_id, ti.run_id), retry_of=ti.task_id,
        try_number=getattr(ti, "try_number", None), max_tries=_max_tries(context),
    )


def failed_tasks(dag: Any, run_id: str) -> list[FailedTask]:
    """The run's failed task instances with the error each one recorded."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from airflow.sdk.execution_time.xcom import XCom

    states = RuntimeTaskInstance.get_task_states(dag_id=dag.dag_id, run_ids=[run_id]).get(run_id, {})
    failed = []
    for key, state in sorted(states.items()):
        if state not in FAILED_STATES:
            continue
        task_id, map_index = _split_state_key(key, set(dag.task_ids))
        try:
            error = XCom.get_one(key=ERROR_XCOM_KEY, dag_id=dag.dag_id, task_id=task_id, run_id=run_id,
                                 map_index=-1 if map_index is None else map_index)
        except Exception:  # noqa: BLE001 - the message goes out without the error lines
            log.warning("MLOps: could not read the recorded error of %s", key, exc_info=True)
            error = None
        failed.append(FailedTask(task_id, error if isinstance(error, str) else None, map_index))
    return failed


def record_task_error(context: dict[str, Any]) -> None:
    """Task on_failure callback (in the worker): keep the error's first lines for the run's notification."""
    try:
        summary = error_summary(context.get("exception"))
        if summary:
            context["ti"].xcom_push(ERROR_XCOM_KEY, summary)
    except Exception:  # noqa: BLE001 - never change the task's outcome
        log.warning("MLOps: could not record the task's error for the failure notification", exc_info=True)


def _split_state_key(key: str, task_ids: set[str]) -> tuple[str, int | None]:
    """Airflow names a mapped instance ``<task_id>_<map_index>`` in task-state maps."""
    if key in task_ids:
        return key, None
    task_id, _, index = key.rpartition("_")
    return (task_id, int(index)) if task_id in task_ids and index.isdigit() else (key, None)


def _trigger(dag_run: Any) -> str | None:
    user = getattr(dag_run, "triggering_user_name", None)
    if user:
        return user
    run_type = getattr(dag_run, "run_type", None)
    return str(getattr(run_type, "value", run_type)) if run_type else None


def _description(dag_id: str, run_id: str, dag_run: Any) -> str:
    if note := getattr(dag_run, "note", None):
        return note
    try:
        return store.run_description(dag_id, run_id) or ""
    except Exception:  # noqa: BLE001 - the plugin database may be unreachable; the message goes out without it
        log.warning("MLOps: could not read the run's description", exc_info=True)
        return ""


def _version(workflow_id: str, built_version: int, dag_run: Any, pinned_by_bundle: bool) -> int:
    try:
        return pinned_version(workflow_id, built_version, dag_run, pinned_by_bundle)
    except Exception:  # noqa: BLE001 - the plugin database may be unreachable; the DAG's own version then
        log.warning("MLOps: could not look up the run's pinned version", exc_info=True)
        return built_version


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or datetime.now(timezone.utc)) - start).total_seconds()


def _max_tries(context: dict[str, Any]) -> int | None:
    task = context.get("task")
    retries = getattr(task, "retries", None)
    return retries + 1 if isinstance(retries, int) else None
