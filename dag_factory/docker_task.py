"""``docker`` tasks: the Docker provider's ``DockerOperator`` with what an MLOps task adds.

Like python tasks, a container runs the settings of the version **pinned for the run**; it gets the run's
params and upstream results as ``MLOPS_*`` environment variables (and through Jinja in command and
environment: ``{{ params.epochs }}``, ``{{ ti.xcom_pull('prepare') }}``); secrets come from Airflow
Connections or Variables when the task runs and travel only in the provider's ``private_environment``;
the container's last output line is the task's result (parsed when it is JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator

from airflow_mlops_dag_factory import settings, store
from airflow_mlops_dag_factory.runtime import pinned_version, user_params
from airflow_mlops_dag_factory.spec import DockerSpec, SecretRef, TaskSpec
from airflow_mlops_dag_factory.validate_docker import bind_allowed

RENDERED_FIELDS = ("image", "command", "environment", "mounts")


def docker_arguments(docker: DockerSpec) -> dict[str, Any]:
    """``DockerOperator`` keyword arguments for a task's docker settings (names and rules of provider 4.6)."""
    arguments: dict[str, Any] = {
        "image": docker.image,
        "command": docker.command,
        "environment": dict(docker.environment),
        "mounts": [{"target": m.target, "source": m.source, "type": m.type, "read_only": m.read_only}
                   for m in docker.mounts],
        "working_dir": docker.working_dir,
        "mem_limit": docker.mem_limit,
        "network_mode": docker.network_mode,
        "auto_remove": docker.auto_remove,
        "skip_on_exit_code": docker.skip_on_exit_code,
        "docker_url": docker.docker_url or settings.get("docker_url") or None,
        # The engine may be remote: no host temp folder is mounted unless the workflow asks for one.
        "mount_tmp_dir": False,
    }
    if docker.cpus is not None:
        arguments["cpus"] = docker.cpus
    return arguments


class MLOpsDockerOperator(DockerOperator):
    """A ``DockerOperator`` running the pinned version's container settings with the run's params."""

    # A command such as "run.sh" is a command, not the path of a template file.
    template_ext = ()

    def __init__(self, *, workflow_id: str, task_name: str, built_version: int,
                 secret_environment: dict[str, SecretRef], upstream: list[str], pinned_by_bundle: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.workflow_id, self.task_name, self.built_version = workflow_id, task_name, built_version
        self.pinned_by_bundle = pinned_by_bundle
        self.secret_environment = dict(secret_environment)
        self.upstream = list(upstream)

    def execute(self, context: Any) -> Any:
        version = pinned_version(self.workflow_id, self.built_version, context.get("dag_run"), self.pinned_by_bundle)
        if version != self.built_version:
            self._apply_version(version, context)
        check_bind_mounts(self.mounts)
        upstream = {name: context["ti"].xcom_pull(task_ids=name) for name in self.upstream}
        self.environment = {**self.environment, **mlops_environment(
            self.dag_id, self.task_name, str(version), str(context["run_id"]),
            user_params(context.get("params") or {}), upstream)}
        self._private_environment = {**(self._private_environment or {}), **resolve_secrets(self.secret_environment)}
        self.log.info("MLOps: running docker task %r of workflow %r at version %d in %s",
                      self.task_name, self.dag_id, version, self.image)
        return parse_output(super().execute(context))

    def _apply_version(self, version: int, context: Any) -> None:
        """The run is pinned to another version than the DAG was built from: use that version's settings."""
        spec = store.load_version_spec(self.workflow_id, version)
        task = spec.task(self.task_name)
        if task is None or task.type != "docker" or task.docker is None:
            raise LookupError(f"docker task {self.task_name!r} does not exist in version {version} of {spec.name!r}")
        for name, value in docker_arguments(task.docker).items():
            setattr(self, name, value)
        self.skip_on_exit_code = _exit_codes(task.docker.skip_on_exit_code)
        self.secret_environment = dict(task.docker.secret_environment)
        self.upstream = list(task.depends_on)
        for name in RENDERED_FIELDS:
            setattr(self, name, self.render_template(getattr(self, name), context))



def check_bind_mounts(mounts: list[Any]) -> None:
    """The worker's own ``[mlops] docker_bind_roots`` decide, whatever the spec says."""
    for mount in mounts:
        source = mount.get("source") if isinstance(mount, dict) else getattr(mount, "Source", None)
        kind = mount.get("type") if isinstance(mount, dict) else mount.get("Type")
        if kind == "bind" and not bind_allowed(str(source)):
            raise PermissionError(f"bind mount of {source!r} is outside [mlops] docker_bind_roots")


def mlops_environment(workflow: str, task: str, version: str, run_id: str, params: dict[str, Any],
                      upstream: dict[str, Any]) -> dict[str, str]:
    """What every container gets: the workflow, task, version, run, parameters and upstream results."""
    env = {"MLOPS_WORKFLOW": workflow, "MLOPS_TASK": task, "MLOPS_VERSION": version, "MLOPS_RUN_ID": run_id,
           "MLOPS_PARAMS": json.dumps(params, default=str)}
    env.update({f"MLOPS_PARAM_{env_name(name)}": as_env(value) for name, value in params.items()})
    env.update({f"MLOPS_UPSTREAM_{env_name(name)}": as_env(value) for name, value in upstream.items()})
    return env


def run_container(workflow: str, task: TaskSpec, params: dict[str, Any], upstream: dict[str, Any],
                  context: Any) -> Any:
    """A docker task's container run outside its DAG, as a test run does: the same settings, templates, checks,
    environment and secrets as in a run; its output goes to the standard ``logging`` tree (where a test run
    collects it); its last line is the result."""
    if task.docker is None:
        raise LookupError(f"task {task.name!r} has no docker settings")
    operator = DockerOperator(task_id=f"mlops_test_{task.name}", **docker_arguments(task.docker))
    templating: Any = {**context, "params": params}  # Airflow's Context, with the test's params
    for name in RENDERED_FIELDS:
        setattr(operator, name, operator.render_template(getattr(operator, name), templating))
    check_bind_mounts(operator.mounts)
    operator.environment = {**operator.environment, **mlops_environment(
        workflow, task.name, "test", str(context["run_id"]), params, upstream)}
    operator._private_environment = resolve_secrets(task.docker.secret_environment)
    operator._cached_logger = _PrintedLog()  # type: ignore[assignment]  # what `operator.log` returns
    return parse_output(operator.execute(templating))


class _PrintedLog:
    """The operator's log as printed lines: a test run collects what its tasks print (the task log shows it too),
    and the task process's logging setup decides nothing about what the editor sees of a container."""

    def _print(self, level: str, msg: Any, *args: Any) -> None:
        print(f"{level} {msg % args if args else msg}", flush=True)

    def info(self, msg: Any, *args: Any, **_: Any) -> None:
        self._print("INFO", msg, *args)

    def warning(self, msg: Any, *args: Any, **_: Any) -> None:
        self._print("WARNING", msg, *args)

    def error(self, msg: Any, *args: Any, **_: Any) -> None:
        self._print("ERROR", msg, *args)

    exception = error

    def debug(self, msg: Any, *args: Any, **_: Any) -> None:
        pass


def resolve_secrets(references: dict[str, SecretRef]) -> dict[str, str]:
    """Each referenced secret's value, registered with Airflow's masker so no log line shows it."""
    from airflow.sdk import BaseHook, Variable
    from airflow.sdk.log import mask_secret

    values = {}
    for name, ref in references.items():
        if ref.connection is not None:
            conn = BaseHook.get_connection(ref.connection)
            value = conn.get_uri() if ref.field == "uri" else getattr(conn, ref.field)
        else:  # the spec requires exactly one of connection and variable
            value = Variable.get(ref.variable or "")
        value = "" if value is None else str(value)
        mask_secret(value)
        values[name] = value
    return values


def env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def as_env(value: Any) -> str:
    """Strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def parse_output(output: Any) -> Any:
    """The container's last line: JSON becomes data for the next task, anything else stays text."""
    if isinstance(output, str):
        try:
            return json.loads(output)
        except ValueError:
            return output
    return output


def _exit_codes(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)
