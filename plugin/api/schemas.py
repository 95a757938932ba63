"""Data models of the REST API: the OpenAPI document is generated from them, and every response is
serialised through them, so the document cannot drift from what the API really answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_mlops.services import runs, templates, workflows
from airflow_mlops_dag_factory.spec import (
    EVENTS,
    ChannelSpec,
    NotificationEvent,
    NotificationSpec,
    ParamSpec,
    TaskSpec,
    WorkflowSpec,
)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldErrorOut(_Out):
    path: str
    message: str


class Problem(_Out):
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] = Field(default_factory=list)


MAX_MESSAGE = 1000  # characters of a version message


class WorkflowIn(WorkflowSpec):
    """A workflow document as clients send it: the spec, plus ``active`` and optionally the ``revision``
    it was based on. Read-only fields returned by GET may be sent back and are ignored."""

    active: bool | None = None
    revision: int | None = None
    message: str | None = Field(None, max_length=MAX_MESSAGE, description="version message, kept with the new version")


READ_ONLY_WORKFLOW_FIELDS = frozenset({
    "id", "version", "created_by", "created_at", "updated_by", "updated_at", "archived_at", "template_id",
    "template_revision", "origin_workflow_id", "origin_version", "valid", "errors",
})


class ValidationOut(_Out):
    valid: bool
    errors: list[FieldErrorOut]


class AnyDocument(BaseModel):
    """Any JSON object: validation reports what is wrong with it instead of refusing it."""

    model_config = ConfigDict(extra="allow")


class LastRunOut(_Out):
    run_id: str
    state: str
    run_after: str | None


class WorkflowOut(_Out):
    id: str
    name: str
    active: bool
    revision: int
    version: int
    schema_version: int
    description: str
    schedule: str | None
    tags: list[str]
    owner: str
    params: dict[str, ParamSpec]
    retries: int
    retry_delay_seconds: int
    execution_timeout_seconds: int | None
    tasks: list[TaskSpec]
    notifications: NotificationSpec = Field(default_factory=NotificationSpec)
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    archived_at: str | None
    template_id: str | None
    template_revision: int | None
    origin_workflow_id: str | None
    origin_version: int | None
    valid: bool
    errors: list[FieldErrorOut]
    last_run: LastRunOut | None = None


class _PageOut(_Out):
    total: int
    limit: int
    offset: int


class WorkflowPage(_PageOut):
    items: list[WorkflowOut]


class CloneIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    description: str = Field(default="", max_length=10_000)


VersionOut = workflows.VersionRecord


class VersionPage(_PageOut):
    items: list[VersionOut]


class Change(_Out):
    field: str
    old: Any = None
    new: Any = None


class ParamChange(_Out):
    name: str
    old: Any = None
    new: Any = None


class ParamDiff(_Out):
    added: list[str]
    removed: list[str]
    changed: list[ParamChange]


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from")
    to: str


class TaskChange(_Out):
    name: str
    fields: list[Change]
    depends_on_added: list[str]
    depends_on_removed: list[str]
    code_diff: str


class TaskDiff(_Out):
    added: list[str]
    removed: list[str]
    renamed: list[Rename]
    changed: list[TaskChange]


class DiffOut(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    workflow_id: str
    from_: int = Field(alias="from")
    to: int
    identical: bool
    settings: list[Change]
    params: ParamDiff
    tasks: TaskDiff


class OriginDiffOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: str
    origin_workflow_id: str
    origin_version: int
    identical: bool
    settings: list[Change]
    params: ParamDiff
    tasks: TaskDiff


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=250)
    description: str = ""
    category: str = "general"
    public: bool = False
    spec: dict[str, Any]
    revision: int | None = None


TemplateOut = templates.TemplateRecord


class TemplatePage(_PageOut):
    items: list[TemplateOut]


class InstantiateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    workflow_name: str
    params: dict[str, Any] = Field(default_factory=dict)


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=1000)
    unpause: bool = False
    preset: str | None = Field(default=None, description="a saved parameter preset; `params` override its values")


class NotificationTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    event: NotificationEvent = Field(default="on_failure", description=f"one of {', '.join(EVENTS)}")


class DeliveryOut(_Out):
    type: str
    connection_id: str
    target: str | None = Field(description="the Slack channel or the email recipients")
    ok: bool
    error: str | None


class NotificationTestOut(_Out):
    event: NotificationEvent
    results: list[DeliveryOut]


class NotificationDefaultsOut(_Out):
    events: list[NotificationEvent] = Field(description="events the default channels hear about")
    channels: list[ChannelSpec]
    connections: dict[str, str] = Field(description="connection used by each channel type that names none")
    timeout_seconds: int


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    params: dict[str, Any] = Field(default_factory=dict, description="values that change from the past run")
    description: str = Field(default="", max_length=1000)
    same_version: bool = Field(default=False, description="run the past run's version instead of the current one")


class PresetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(max_length=250)
    params: dict[str, Any]


class PresetOut(_Out):
    name: str
    params: dict[str, Any]
    created_by: str


class PresetList(_Out):
    items: list[PresetOut]


RunOut = runs.RunRecord


class RunPage(_PageOut):
    items: list[RunOut]


class TaskTiming(_Out):
    state: str | None
    duration_seconds: float
    instances: int


class CompareOut(_Out):
    runs: list[RunOut]
    params: dict[str, dict[str, Any]]
    differing_params: list[str]
    versions: dict[str, int]
    version_diffs: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, TaskTiming]]
    metrics: dict[str, dict[str, float | None]]


class AuditEventOut(_Out):
    id: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    object_name: str
    details: dict[str, Any]


class AuditPage(_PageOut):
    items: list[AuditEventOut]


class CsrfOut(_Out):
    csrf_token: str


class WorkflowPatchIn(BaseModel):
    """A JSON merge patch of a workflow document: only the fields to change; ``null`` removes a field."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    schedule: str | None = None
    tags: list[str] | None = None
    owner: str | None = None
    params: dict[str, ParamSpec] | None = None
    retries: int | None = None
    retry_delay_seconds: int | None = None
    execution_timeout_seconds: int | None = None
    tasks: list[TaskSpec] | None = None
    active: bool | None = None
    revision: int | None = None


class SaveAsTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(max_length=250)
    description: str = ""
    category: str = "general"
    public: bool = False
    parameters: list[str] | None = None


class Instance(_Out):
    workflow_id: str
    name: str
    template_revision: int | None
    outdated: bool
    archived: bool


class InstanceList(_Out):
    items: list[Instance]


class ImportOut(_Out):
    kind: str
    id: str
    name: str
