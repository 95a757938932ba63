"""Spec -> Airflow DAG: one DAG per workflow, typed Params, one operator per task.

The Docker provider and the notification modules (Slack, SMTP) are imported only by workflows that use
them: every DAG file parse and every task start pays for what it imports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pendulum
from airflow.providers.standard.operators.python import (
    BranchPythonOperator,
    PythonOperator,
)
from airflow.sdk import DAG, BaseOperator, Param

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.bundle import folder_revision, is_version_folder, stray_copy
from airflow_mlops_dag_factory.notifications.channels import (
    Defaults,
    channels_for,
    defaults,
)
from airflow_mlops_dag_factory.params import param_schema
from airflow_mlops_dag_factory.runtime import run_task
from airflow_mlops_dag_factory.shards import shard_count, shard_index, shards_built_by
from airflow_mlops_dag_factory.spec import DockerSpec, NotificationEvent, ParamSpec, TaskSpec, WorkflowSpec
from airflow_mlops_dag_factory.store import (
    LoadResult,
    ShardFilter,
    StoredWorkflow,
    load_workflows,
)

if TYPE_CHECKING:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

log = logging.getLogger(__name__)

MLOPS_TAG = "mlops"
# Airflow's own DAG pages and trigger follow the plugin's roles. Only built-in roles are named: the DAG
# processor syncs these into FAB, and a role that does not exist would fail the whole DAG file.
_RUN = {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}
ACCESS_CONTROL = {"Viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}}, "User": _RUN, "Op": _RUN}
# How often a parse builds again when the bundle's revision moved while it built (see _build_at_marker).
MARKER_RETRIES = 3
# Fixed and in the past: with catchup off, a scheduled workflow starts with its latest interval.
START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


def dags_for_file(path: str, dag_id: str | None = None) -> dict[str, DAG]:
    """The DAGs the MLOps DAG file at ``path`` exposes: in a worker (``dag_id``) only that one, else its shard's.

    In the MLOps DAG bundle they are built as of the bundle version beside the file. A copy of the file
    outside that bundle builds nothing once the bundle is configured (the same DAG in two bundles would
    flap between them). Never raises: a shard setting that cannot be read makes shard 0 build everything
    and the others nothing.
    """
    folder = Path(path).parent
    revision = folder_revision(folder)
    if stray_copy(revision):
        log.info("MLOps: %s is outside the MLOps DAG bundle, which is configured; it builds no DAGs", path)
        return {}
    pinned = is_version_folder(folder)  # a run's bundle version: a worker, or the dag-processor for its callbacks
    if dag_id is not None:
        return build_dags(load_workflows(dag_id=dag_id, as_of=revision), pinned_by_bundle=pinned)
    try:
        count, index = shard_count(), shard_index(path)
        shard = ShardFilter(count, shards_built_by(path, count), index) if count > 1 else None
    except Exception:
        log.exception("MLOps: could not work out the shard of %s; shard 0 builds every workflow", path)
        index = shard_index(path) if isinstance(path, str) else 0
        count, shard = 1, None
    if shard is None and index > 0:
        return {}
    if shard is not None and not shard.built:
        return {}
    if pinned:  # an old revision: it must not replace the cache of the newest specs
        return build_dags(load_workflows(shard=shard, as_of=revision, cache=False), pinned_by_bundle=True)
    return _build_at_marker(folder, revision, shard)


def _build_at_marker(folder: Path, revision: int | None, shard: ShardFilter | None) -> dict[str, DAG]:
    """Build as of the folder's revision; if the bundle advanced it meanwhile, build again at the new one.

    Airflow labels a parse's DAGs with the bundle version it holds when it collects the result, so what is
    built should be as of the newest revision, not the one seen at the start of a long parse.
    """
    for _ in range(MARKER_RETRIES):
        dags = build_dags(load_workflows(shard=shard, as_of=revision))
        latest = folder_revision(folder)
        if latest == revision:
            break
        log.info("MLOps: the bundle moved from revision %s to %s during the parse; building again", revision, latest)
        revision = latest
    return dags


def build_dags(result: LoadResult, pinned_by_bundle: bool = False) -> dict[str, DAG]:
    """Build every loadable workflow; one that fails to build is logged and skipped, never raised.

    ``pinned_by_bundle``: built from a run's bundle version, whose tasks then execute exactly these versions.
    """
    dags: dict[str, DAG] = {}
    deployment, access_control = defaults(), settings.dag_access_control()  # read once per parse
    for workflow in result.workflows:
        if pinned_by_bundle:
            workflow = dataclasses.replace(workflow, pinned_by_bundle=True)
        try:
            dags[workflow.spec.name] = build_dag(workflow, deployment, access_control)
        except Exception:
            log.exception("MLOps workflow %r (id %s, version %s) could not be built into a DAG",
                          workflow.spec.name, workflow.workflow_id, workflow.version)
    return dags


def build_dag(workflow: StoredWorkflow, deployment: Defaults | None = None, access_control: bool | None = None) -> DAG:
    """``deployment`` (notification defaults) and ``access_control`` are read from config when not given."""
    spec = workflow.spec
    deployment = deployment or defaults()
    access_control = settings.dag_access_control() if access_control is None else access_control
    default_args = {
        "owner": spec.owner,
        "retries": spec.retries,
        "retry_delay": timedelta(seconds=spec.retry_delay_seconds),
    }
    if spec.execution_timeout_seconds:
        default_args["execution_timeout"] = timedelta(seconds=spec.execution_timeout_seconds)
    default_args.update(_task_callbacks(workflow, deployment))
    dag = DAG(
        dag_id=spec.name,
        description=spec.description.splitlines()[0][:200] if spec.description else None,
        doc_md=_dag_doc(workflow),
        schedule=spec.schedule,
        start_date=START_DATE,
        catchup=False,
        tags=sorted({MLOPS_TAG, *spec.tags}),
        params={name: to_param(p) for name, p in spec.params.items()},
        default_args=default_args,
        is_paused_upon_creation=not workflow.active,
        access_control=ACCESS_CONTROL if access_control else None,
        **_run_callbacks(workflow, deployment),
    )
    operators: dict[str, BaseOperator | MappedOperator] = {}
    for task in spec.upstream_first():
        operators[task.name] = _operator(dag, workflow, task, operators)
    for task in spec.tasks:
        for upstream in task.depends_on:
            operators[upstream] >> operators[task.name]
    return dag


def _run_callbacks(workflow: StoredWorkflow, deployment: Defaults) -> dict:
    """DAG-level callbacks, only for events with channels: Airflow sends one request per finished run."""
    callbacks = {}
    events: tuple[tuple[NotificationEvent, str], ...] = (("on_failure", "on_failure_callback"),
                                                        ("on_success", "on_success_callback"))
    for event, argument in events:
        if channels := channels_for(workflow.spec.notifications, event, deployment):
            from airflow_mlops_dag_factory.notifications.callbacks import (
                RunNotification,
            )

            callbacks[argument] = RunNotification(workflow.workflow_id, workflow.version, event, channels,
                                                  workflow.pinned_by_bundle)
    return callbacks


def _task_callbacks(workflow: StoredWorkflow, deployment: Defaults) -> dict:
    """Task-level callbacks: retry messages, and each failed task's error kept for the run's failure message."""
    callbacks: dict = {}
    if channels := channels_for(workflow.spec.notifications, "on_retry", deployment):
        from airflow_mlops_dag_factory.notifications.callbacks import RetryNotification

        callbacks["on_retry_callback"] = RetryNotification(workflow.workflow_id, workflow.version, "on_retry", channels,
                                                           workflow.pinned_by_bundle)
    if channels_for(workflow.spec.notifications, "on_failure", deployment):
        from airflow_mlops_dag_factory.notifications.report import record_task_error

        callbacks["on_failure_callback"] = record_task_error
    return callbacks


def to_param(param: ParamSpec) -> Param:
    """A typed Airflow Param: the trigger form shows the right widget and the server validates the value."""
    if param.required and param.default is None:
        return Param(description=param.description or None, **param_schema(param))
    return Param(param.default, description=param.description or None, **param_schema(param))


def _operator(dag: DAG, workflow: StoredWorkflow, task: TaskSpec,
              built: dict[str, BaseOperator | MappedOperator]) -> BaseOperator | MappedOperator:
    extra: dict = {}
    if task.retries is not None:
        extra["retries"] = task.retries
    if task.timeout_seconds:
        extra["execution_timeout"] = timedelta(seconds=task.timeout_seconds)
    if task.trigger_rule:
        extra["trigger_rule"] = task.trigger_rule
    if task.type == "docker" and task.docker is not None:
        from airflow_mlops_dag_factory.docker_task import (
            MLOpsDockerOperator,
            docker_arguments,
        )

        return MLOpsDockerOperator(
            dag=dag, task_id=task.name, workflow_id=workflow.workflow_id, task_name=task.name,
            built_version=workflow.version, secret_environment=task.docker.secret_environment,
            pinned_by_bundle=workflow.pinned_by_bundle,
            upstream=list(task.depends_on), doc_md=f"{task.description}\n\n{_docker_doc(task.docker)}",
            **docker_arguments(task.docker), **extra)
    operator_class = BranchPythonOperator if task.type == "branch" else PythonOperator
    arguments = dict(
        dag=dag,
        task_id=task.name,
        python_callable=run_task,
        op_kwargs={"workflow_id": workflow.workflow_id, "task_name": task.name, "built_version": workflow.version,
                   **({"pinned_by_bundle": True} if workflow.pinned_by_bundle else {})},
        doc_md=f"{task.description}\n\n{_code_block(task.code)}",
        **extra,
    )
    if task.map_over:
        # One task instance per item of the upstream result; the item arrives as the only positional arg.
        return operator_class.partial(**arguments).expand(op_args=built[task.map_over].output.map(as_single_argument))
    return operator_class(**arguments)


def as_single_argument(item: object) -> list[object]:
    return [item]


# The DAG's doc names the workflow version it was built from: Airflow keeps it with each DAG version, so the
# plugin can tell which of Airflow's DAG versions holds which workflow version's structure.
VERSION_LINE = "MLOps workflow `{workflow_id}`, version {version}."
_VERSION_IN_DOC = re.compile(r"^MLOps workflow `(?P<workflow_id>[^`]+)`, version (?P<version>\d+)\.$", re.MULTILINE)


def version_in_doc(doc_md: str | None, workflow_id: str) -> int | None:
    """The workflow version a DAG was built from, read from its doc (``None`` if it names none, or another)."""
    match = _VERSION_IN_DOC.search(doc_md or "")
    return int(match["version"]) if match and match["workflow_id"] == workflow_id else None


def _dag_doc(workflow: StoredWorkflow) -> str:
    spec: WorkflowSpec = workflow.spec
    lines = [f"# {spec.name}", "", spec.description, "",
             VERSION_LINE.format(workflow_id=workflow.workflow_id, version=workflow.version), "",
             "| task | depends on |", "|---|---|"]
    lines += [f"| `{t.name}` | {', '.join(f'`{d}`' for d in t.depends_on) or '-'} |" for t in spec.tasks]
    return "\n".join(lines)


def _docker_doc(docker: DockerSpec) -> str:
    """The container settings as JSON (secret references show names only: the values are never in the spec)."""
    return _code_block(json.dumps(docker.model_dump(mode="json", exclude_defaults=True), indent=2), "json")


def _code_block(code: str, language: str = "python") -> str:
    """A Markdown fence longer than any backtick run in the code, so user code cannot break out of it."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", code)), default=0))
    return f"{fence}{language}\n{code}\n{fence}"
