"""Every rule a workflow spec must satisfy before it may become a DAG, each error with its field path.

The plugin runs this before any write (so bad input changes nothing) and the loader runs it again on
every row it reads (so a row that became invalid is skipped and reported instead of breaking the rest).
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.params import BOUND_KEYWORDS, param_schema
from airflow_mlops_dag_factory.spec import (
    EVENTS,
    KEY_PATTERN,
    ChannelSpec,
    NotificationSpec,
    ParamSpec,
    TaskSpec,
    WorkflowSpec,
    parse_spec,
)
from airflow_mlops_dag_factory.usercode import compile_task_code
from airflow_mlops_dag_factory.validate_docker import check_docker

KEY_MAX_LENGTH = 250
TAG_MAX_LENGTH = 100  # airflow.models.dag.TAG_MAX_LEN
PARAM_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Schedules Airflow accepts besides a cron expression (airflow.sdk.definitions.timetables._cron.CRON_PRESETS).
SCHEDULE_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
)
# A plain address (no display name): what SMTP needs in RCPT TO.
EMAIL_PATTERN = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+$")
SLACK_CHANNEL_PATTERN = re.compile(r"^[#@]?[\w.-]{1,80}$")
# Slack token prefixes: a value like this is a secret typed into the wrong field.
SECRET_PREFIXES = ("xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-", "hooks.slack.com")
# Names a task's code sees as globals; a task may not take one of them.
RESERVED_NAMES = frozenset({"params", "context", "upstream", "result", "item", "artifacts", "artifact_root",
                            "log_metric"})


def validate_document(data: Any) -> tuple[WorkflowSpec | None, list[FieldError]]:
    """Parse and validate a JSON document; the spec is returned only when there is no error."""
    spec, errors = parse_spec(data)
    if spec is None:
        return None, errors
    errors = validate_spec(spec)
    return (spec if not errors else None), errors


def validate_spec(spec: WorkflowSpec) -> list[FieldError]:
    """Every semantic error of a well-typed spec (all of them, not just the first)."""
    errors: list[FieldError] = []
    errors += _check_key(spec.name, "name", "workflow name")
    errors += _check_schedule(spec.schedule)
    errors += _check_tags(spec.tags)
    if not spec.owner.strip():
        errors.append(FieldError("owner", "must not be empty"))
    for name, param in spec.params.items():
        errors += _check_param(name, param)
    errors += _check_tasks(spec)
    errors += check_notifications(spec.notifications)
    return errors


def _check_key(value: str, path: str, what: str) -> list[FieldError]:
    if not value:
        return [FieldError(path, f"{what} must not be empty")]
    if len(value) > KEY_MAX_LENGTH:
        return [FieldError(path, f"{what} must be at most {KEY_MAX_LENGTH} characters, not {len(value)}")]
    if not KEY_PATTERN.match(value):
        return [FieldError(path, f"{what} {value!r} may contain only ASCII letters, digits, '_', '-' and '.'")]
    return []


def _check_schedule(schedule: str | None) -> list[FieldError]:
    if schedule is None or schedule in SCHEDULE_PRESETS:
        return []
    if schedule.startswith("@"):
        return [FieldError("schedule", f"unknown preset {schedule!r}; use one of {', '.join(sorted(SCHEDULE_PRESETS))}")]
    try:
        croniter(schedule)
    except (CroniterBadCronError, CroniterBadDateError, ValueError) as exc:
        return [FieldError("schedule", f"invalid cron expression {schedule!r}: {exc}")]
    return []


def _check_tags(tags: list[str]) -> list[FieldError]:
    errors = []
    for i, tag in enumerate(tags):
        if not tag.strip():
            errors.append(FieldError(f"tags[{i}]", "must not be empty"))
        elif len(tag) > TAG_MAX_LENGTH:
            errors.append(FieldError(f"tags[{i}]", f"must be at most {TAG_MAX_LENGTH} characters"))
    if len(set(tags)) != len(tags):
        errors.append(FieldError("tags", "tags must be unique"))
    return errors


def _check_param(name: str, param: ParamSpec) -> list[FieldError]:
    path = f"params.{name}"
    if not PARAM_NAME_PATTERN.match(name):
        return [FieldError(path, "parameter name must be a Python identifier (letters, digits, '_')")]
    if name.startswith("__"):
        return [FieldError(path, "parameter names starting with '__' are reserved")]
    errors: list[FieldError] = []
    if param.type == "enum":
        if not param.enum:
            errors.append(FieldError(f"{path}.enum", "an enum parameter needs a non-empty list of values"))
        elif len({repr(v) for v in param.enum}) != len(param.enum):
            errors.append(FieldError(f"{path}.enum", "values must be unique"))
    elif param.enum is not None:
        errors.append(FieldError(f"{path}.enum", "only parameters of type 'enum' take a list of values"))
    if param.items is not None and param.type != "array":
        errors.append(FieldError(f"{path}.items", "only parameters of type 'array' take an item type"))
    for bound in ("minimum", "maximum"):
        value = getattr(param, bound)
        if value is None:
            continue
        if param.type not in BOUND_KEYWORDS:
            errors.append(FieldError(f"{path}.{bound}", f"a parameter of type {param.type!r} takes no {bound}"))
        elif param.type != "number" and (value != int(value) or value < 0):
            errors.append(FieldError(f"{path}.{bound}", f"must be a whole number >= 0 for type {param.type!r}"))
    if param.minimum is not None and param.maximum is not None and param.minimum > param.maximum:
        errors.append(FieldError(f"{path}.minimum", f"minimum {param.minimum} is greater than maximum {param.maximum}"))
    if errors:
        return errors
    if param.default is not None:
        try:
            jsonschema.validate(param.default, param_schema(param))
        except jsonschema.ValidationError as exc:
            errors.append(FieldError(f"{path}.default", f"default does not fit the parameter: {exc.message}"))
    return errors


def _check_tasks(spec: WorkflowSpec) -> list[FieldError]:
    if not spec.tasks:
        return [FieldError("tasks", "a workflow needs at least one task")]
    errors: list[FieldError] = []
    first_index: dict[str, int] = {}
    for i, task in enumerate(spec.tasks):
        path = f"tasks[{i}]"
        name_errors = _check_key(task.name, f"{path}.name", "task name")
        if not name_errors and task.name in RESERVED_NAMES:
            name_errors = [FieldError(f"{path}.name", f"{task.name!r} is reserved for the task code's globals")]
        errors += name_errors
        if task.name in first_index:
            errors.append(FieldError(f"{path}.name", f"duplicate task name {task.name!r} (also tasks[{first_index[task.name]}])"))
        else:
            first_index[task.name] = i
        errors += _check_runnable(spec.name, task, path)
    for i, task in enumerate(spec.tasks):
        for j, dep in enumerate(task.depends_on):
            dep_path = f"tasks[{i}].depends_on[{j}]"
            if dep == task.name:
                errors.append(FieldError(dep_path, f"task {task.name!r} cannot depend on itself"))
            elif dep not in first_index:
                errors.append(FieldError(dep_path, f"unknown task {dep!r}"))
        if len(set(task.depends_on)) != len(task.depends_on):
            errors.append(FieldError(f"tasks[{i}].depends_on", "dependencies must be unique"))
    downstream = {d for t in spec.tasks for d in t.depends_on}
    for i, task in enumerate(spec.tasks):
        if task.map_over is not None:
            if task.map_over not in task.depends_on:
                errors.append(FieldError(f"tasks[{i}].map_over", f"{task.map_over!r} must also be in depends_on"))
            if task.type == "branch":
                errors.append(FieldError(f"tasks[{i}].map_over", "a branch task cannot be mapped"))
            if task.type == "docker":
                errors.append(FieldError(f"tasks[{i}].map_over", "a docker task cannot be mapped"))
        if task.type == "branch" and task.name not in downstream:
            errors.append(FieldError(f"tasks[{i}].type", "a branch task needs downstream tasks to choose from"))
    cycle = find_cycle({t.name: [d for d in t.depends_on if d in first_index and d != t.name] for t in spec.tasks})
    if cycle:
        errors.append(FieldError(f"tasks[{first_index[cycle[0]]}].depends_on", f"dependency cycle: {' -> '.join(cycle)}"))
    return errors


def check_notifications(notifications: NotificationSpec, prefix: str = "notifications") -> list[FieldError]:
    """Each channel names a connection (never a secret) and has exactly the fields its type uses."""
    errors: list[FieldError] = []
    for event in EVENTS:
        seen: dict[str, int] = {}
        for i, channel in enumerate(notifications.channels(event)):
            path = f"{prefix}.{event}[{i}]"
            errors += check_channel(channel, path)
            key = channel.model_dump_json()
            if key in seen:
                errors.append(FieldError(path, f"same channel as {prefix}.{event}[{seen[key]}]"))
            seen.setdefault(key, i)
    return errors


def check_channel(channel: ChannelSpec, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    conn_id = channel.connection_id
    if conn_id is not None:
        if "://" in conn_id or conn_id.lower().startswith(SECRET_PREFIXES):
            errors.append(FieldError(f"{path}.connection_id", "looks like a URL or token: give the id of an Airflow "
                                     "Connection that holds it (Admin -> Connections); secrets are never stored here"))
        elif not KEY_PATTERN.match(conn_id):
            errors.append(FieldError(f"{path}.connection_id", f"connection id {conn_id!r} may contain only ASCII "
                                     "letters, digits, '_', '-' and '.'"))
    if channel.type == "slack":
        if not channel.channel:
            errors.append(FieldError(f"{path}.channel", "a Slack (Web API) channel needs the channel to post to, "
                                     "e.g. '#ml-alerts' or a channel id"))
        elif not SLACK_CHANNEL_PATTERN.match(channel.channel):
            errors.append(FieldError(f"{path}.channel", f"{channel.channel!r} is not a Slack channel name or id"))
    elif channel.channel is not None:
        errors.append(FieldError(f"{path}.channel", f"only 'slack' channels take a channel, not {channel.type!r}"))
    if channel.type == "email":
        if not channel.to:
            errors.append(FieldError(f"{path}.to", "an email channel needs at least one recipient"))
        for j, address in enumerate(channel.to):
            if not EMAIL_PATTERN.match(address):
                errors.append(FieldError(f"{path}.to[{j}]", f"{address!r} is not an email address"))
        if len({a.lower() for a in channel.to}) != len(channel.to):
            errors.append(FieldError(f"{path}.to", "recipients must be unique"))
    elif channel.to:
        errors.append(FieldError(f"{path}.to", f"only 'email' channels take recipients, not {channel.type!r}"))
    return errors


def _check_runnable(workflow: str, task: TaskSpec, path: str) -> list[FieldError]:
    """Python/branch tasks run their code; docker tasks run their image (and have no code)."""
    if task.type == "docker":
        if task.docker is None:
            return [FieldError(f"{path}.docker", "a docker task needs its docker settings (at least an image)")]
        errors = check_docker(task.docker, f"{path}.docker")
        if task.code.strip():
            errors.append(FieldError(f"{path}.code", "a docker task runs its image's command; leave code empty"))
        return errors
    if task.docker is not None:
        return [FieldError(f"{path}.docker", f"only docker tasks take docker settings, not {task.type!r}")]
    return _check_code(workflow, task.name, task.code, f"{path}.code")


def _check_code(workflow: str, task: str, code: str, path: str) -> list[FieldError]:
    if not code.strip():
        return [FieldError(path, "task code must not be empty")]
    try:
        compile_task_code(code, f"<mlops {workflow}.{task}>")
    except SyntaxError as exc:
        return [FieldError(path, f"line {exc.lineno}, column {exc.offset}: {exc.msg}")]
    except ValueError as exc:  # e.g. a NUL byte in the source
        return [FieldError(path, str(exc))]
    return []


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle as a closed path (``['a', 'b', 'a']``) or ``None``; ``graph`` maps task -> upstreams.

    Iterative DFS in spec order, so the reported cycle is stable and deep graphs cannot hit the recursion limit.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        path: list[str] = [root]
        iterators = [iter(graph[root])]
        colour[root] = grey
        while iterators:
            nxt = next(iterators[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                iterators.pop()
            elif colour[nxt] == grey:
                start = path.index(nxt)
                return [*path[start:], nxt]
            elif colour[nxt] == white:
                colour[nxt] = grey
                path.append(nxt)
                iterators.append(iter(graph[nxt]))
    return None
