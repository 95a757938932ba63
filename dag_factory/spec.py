"""The workflow spec: the contract between the plugin (which writes it) and the DAG factory (which reads it).

A spec is plain JSON once serialised, carries ``schema_version`` and is stored whole in every immutable
version row, so a run pinned to a version can always rebuild exactly the code it started with.
Parsing is strict (unknown fields and wrong types are errors, never silently coerced); the semantic rules
(cycles, names, code syntax, cron...) live in :mod:`validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from airflow_mlops_dag_factory.errors import FieldError

SCHEMA_VERSION: Literal[1] = 1

ParamType = Literal["string", "integer", "number", "boolean", "enum", "array", "object"]
# python: run the code; branch: the code returns the name(s) of the downstream task(s) to follow;
# docker: run a container image (the task's ``docker`` settings) through the Docker provider.
TaskType = Literal["python", "branch", "docker"]
TriggerRule = Literal[
    "all_success", "all_failed", "all_done", "all_done_min_one_success", "all_skipped", "one_success",
    "one_failed", "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always",
]

# Airflow's own rule for dag_id / task_id / connection ids (airflow.sdk.definitions._internal.node.validate_key).
KEY_PATTERN = re.compile(r"^[\w.-]+$", re.ASCII)
NonNegativeInt = Annotated[int, Field(ge=0)]
# Per-field limits: generous for real pipelines, small enough that one document cannot exhaust the server.
MAX_TEXT = 10_000
MAX_CODE = 200_000
MAX_TASKS = 500
MAX_PARAMS = 200
MAX_TAGS = 50
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(max_length=250)]


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParamSpec(_StrictModel):
    """One typed run parameter; becomes an Airflow ``Param`` (and so a typed field in the trigger form)."""

    type: ParamType
    default: Any = None
    description: Text = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: list[Any] | None = None
    items: Literal["string", "integer", "number", "boolean"] | None = None


MAX_ENV = 100
MAX_MOUNTS = 20
Short = Annotated[str, Field(max_length=1000)]


class SecretRef(_StrictModel):
    """A secret a container gets as an environment variable, looked up when the task runs: a field of an
    Airflow Connection, or an Airflow Variable. Only the reference is stored."""

    connection: Name | None = None
    field: Literal["password", "login", "host", "schema", "port", "extra", "uri"] = "password"
    variable: Name | None = None


class MountSpec(_StrictModel):
    """A ``docker.types.Mount``: a host folder (bind, under ``[mlops] docker_bind_roots``), a named volume or tmpfs."""

    target: Short
    source: Short | None = None
    type: Literal["bind", "volume", "tmpfs"] = "bind"
    read_only: bool = False


ExitCode = Annotated[int, Field(ge=0, le=255)]


class DockerSpec(_StrictModel):
    """How a ``docker`` task runs its container (the Docker provider's ``DockerOperator`` arguments)."""

    image: Annotated[str, Field(max_length=500)]
    # A list is the argv; a string is run as the image's command line. Both may use Jinja ({{ params.x }}).
    command: Annotated[list[Short], Field(max_length=200)] | Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    environment: Annotated[dict[str, Short], Field(max_length=MAX_ENV)] = Field(default_factory=dict)
    secret_environment: Annotated[dict[str, SecretRef], Field(max_length=MAX_ENV)] = Field(default_factory=dict)
    mounts: Annotated[list[MountSpec], Field(max_length=MAX_MOUNTS)] = Field(default_factory=list)
    working_dir: Short | None = None
    cpus: Annotated[float, Field(gt=0, le=1024)] | None = None
    mem_limit: Annotated[str, Field(max_length=20)] | None = None
    network_mode: Annotated[str, Field(max_length=250)] | None = None
    auto_remove: Literal["never", "success", "force"] = "success"
    skip_on_exit_code: ExitCode | Annotated[list[ExitCode], Field(max_length=50)] | None = None
    docker_url: Annotated[str, Field(max_length=500)] | None = None


class TaskSpec(_StrictModel):
    """One task of a workflow: its code runs on an Airflow worker."""

    name: Name
    type: TaskType = "python"
    code: Annotated[str, Field(max_length=MAX_CODE)] = ""
    depends_on: Annotated[list[Name], Field(max_length=MAX_TASKS)] = Field(default_factory=list)
    retries: NonNegativeInt | None = None
    timeout_seconds: NonNegativeInt | None = None
    description: Text = ""
    # Run once per item of this upstream task's result (a list), in parallel (Airflow dynamic task mapping).
    map_over: Name | None = None
    # When to run given the upstream states, e.g. "none_failed_min_one_success" after a branch.
    trigger_rule: TriggerRule | None = None
    docker: DockerSpec | None = None  # required for (and only for) type "docker"


NotificationEvent = Literal["on_failure", "on_success", "on_retry"]
EVENTS: tuple[NotificationEvent, ...] = ("on_failure", "on_success", "on_retry")
ChannelType = Literal["slack_webhook", "slack", "email"]
MAX_CHANNELS = 20
MAX_RECIPIENTS = 50


class ChannelSpec(_StrictModel):
    """Where one notification goes. Secrets are never here: only the id of an Airflow Connection.

    ``slack_webhook``: an incoming-webhook connection; ``slack``: the Web API (bot token connection) and a
    ``channel``; ``email``: an SMTP connection and the ``to`` addresses. A missing ``connection_id`` means
    the ``[mlops]`` default connection for the type.
    """

    type: ChannelType
    connection_id: Name | None = None
    channel: Annotated[str, Field(max_length=250)] | None = None
    to: Annotated[list[Annotated[str, Field(max_length=320)]], Field(max_length=MAX_RECIPIENTS)] = Field(
        default_factory=list)


Channels = Annotated[list[ChannelSpec], Field(max_length=MAX_CHANNELS)]


class NotificationSpec(_StrictModel):
    """Who hears about a run: on failure and success (once per run), on retry (once per task retry)."""

    on_failure: Channels = Field(default_factory=list)
    on_success: Channels = Field(default_factory=list)
    on_retry: Channels = Field(default_factory=list)
    # Also send to the deployment's default channels ([mlops] default_* options) for their events.
    use_defaults: bool = True

    def channels(self, event: NotificationEvent) -> list[ChannelSpec]:
        return list(getattr(self, event))


class WorkflowSpec(_StrictModel):
    """A whole workflow: the name becomes the Airflow dag_id."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: Name
    description: Text = ""
    schedule: Annotated[str, Field(max_length=250)] | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=250)]], Field(max_length=MAX_TAGS)] = Field(default_factory=list)
    owner: Name = "airflow"
    params: Annotated[dict[str, ParamSpec], Field(max_length=MAX_PARAMS)] = Field(default_factory=dict)
    retries: NonNegativeInt = 0
    retry_delay_seconds: NonNegativeInt = 300
    execution_timeout_seconds: NonNegativeInt | None = None
    tasks: Annotated[list[TaskSpec], Field(max_length=MAX_TASKS)] = Field(default_factory=list)
    notifications: NotificationSpec = Field(default_factory=NotificationSpec)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the stored form of a version."""
        return self.model_dump(mode="json")

    def task(self, name: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.name == name), None)

    def upstream_first(self) -> list[TaskSpec]:
        """Tasks in dependency order (a validated spec is acyclic): each after every task it depends on."""
        done: set[str] = set()
        ordered: list[TaskSpec] = []
        pending = list(self.tasks)
        while pending:
            ready = [t for t in pending if set(t.depends_on) <= done] or pending  # a cycle: the rest as written
            ordered += ready
            done |= {t.name for t in ready}
            pending = [t for t in pending if t.name not in done]
        return ordered

    def upstream_of(self, name: str) -> set[str]:
        """Every task ``name`` depends on, directly or through others."""
        found: set[str] = set()
        stack = list(task.depends_on) if (task := self.task(name)) else []
        while stack:
            if (dep := stack.pop()) not in found:
                found.add(dep)
                stack += list(task.depends_on) if (task := self.task(dep)) else []
        return found


def error_path(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location ``('tasks', 2, 'code')`` into the path users read: ``tasks[2].code``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "$"


def field_errors(exc: PydanticValidationError) -> list[FieldError]:
    """Pydantic's errors in the form users read everywhere: a path and a message."""
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        errors.append(FieldError(error_path(loc), message))
    return errors


def parse_spec(data: Any) -> tuple[WorkflowSpec | None, list[FieldError]]:
    """Parse a JSON document into a :class:`WorkflowSpec`, returning every type error with its path."""
    if not isinstance(data, dict):
        return None, [FieldError("$", "a workflow must be a JSON object")]
    try:
        return WorkflowSpec.model_validate(data), []
    except PydanticValidationError as exc:
        return None, field_errors(exc)
