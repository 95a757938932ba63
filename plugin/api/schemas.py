"""Data models of the REST API: the OpenAPI document is generated from them, and every response is
serialised through them, so the document cannot drift from what the API really answers."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

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


class _WorkflowDocument(WorkflowSpec):
    """A workflow document as clients send it: the spec, plus ``active``, the ``revision`` it was based on and
    a version message."""

    active: bool | None = None
    revision: int | None = None
    message: str | None = Field(None, max_length=MAX_MESSAGE, description="version message, kept with the new version")


# What GET returns beyond the document: a client may send it back; it is ignored.
READ_ONLY_WORKFLOW_FIELDS = frozenset(WorkflowOut.model_fields) - frozenset(_WorkflowDocument.model_fields)

_READ_ONLY_INPUTS: dict[str, Any] = {
    name: (Any, Field(None, description="read-only: returned by GET, ignored when sent")) for name in sorted(READ_ONLY_WORKFLOW_FIELDS)}
WorkflowIn = create_model(
    "WorkflowIn", __base__=_WorkflowDocument,
    __doc__=f"{_WorkflowDocument.__doc__} Read-only fields returned by GET may be sent back and are ignored.",
    **_READ_ONLY_INPUTS)


@functools.cache  # one class per model, so the OpenAPI document names each once
def merge_patch_model(model: type[BaseModel], name: str | None = None) -> type[BaseModel]:
    """The model of a JSON merge patch (RFC 7386) of ``model``, derived from it so the two cannot drift: every
    field optional, ``null`` removes it, objects (nested models, maps of models) are patches themselves,
    lists and plain values replace what was there."""
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        tp: Any = Optional[_patch_type(info.annotation)]
        fields[field] = (Annotated[(tp, *info.metadata)] if info.metadata else tp, Field(None, description=info.description))
    return create_model(
        name or f"{model.__name__}Patch", __config__=ConfigDict(**model.model_config),
        __doc__=f"A JSON merge patch of {model.__name__}: only the fields to change; ``null`` removes a field.", **fields)


def _patch_type(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return merge_patch_model(tp)
    if get_origin(tp) is dict:
        key, value = get_args(tp)
        value_type: Any = Optional[_patch_type(value)]
        return dict[key, value_type]  # type: ignore[valid-type]
    return tp


WorkflowPatchIn = merge_patch_model(WorkflowIn, "WorkflowPatchIn")


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
    fields: list[Change] = Field(description="every other changed field of the task (from the spec model); an object "
                                             "setting such as `docker` is one field with its old and new objects")
    depends_on_added: list[str]
    depends_on_removed: list[str]
    code_diff: str = Field(description="unified diff of the code; empty when the code is unchanged")


class TaskDiff(_Out):
    added: list[str]
    removed: list[str]
    renamed: list[Rename] = Field(description="a task whose whole content but its name is unchanged")
    changed: list[TaskChange]


class SpecDiff(_Out):
    """Structured difference of two workflow specs: every field of the spec is compared."""

    identical: bool
    settings: list[Change] = Field(description="changed workflow fields other than tasks and params")
    params: ParamDiff
    tasks: TaskDiff


class DiffOut(SpecDiff):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    workflow_id: str
    from_: int = Field(alias="from")
    to: int


class OriginDiffOut(SpecDiff):
    workflow_id: str
    origin_workflow_id: str
    origin_version: int


class DraftDiffOut(SpecDiff):
    """The published version (old) against the draft (new)."""

    workflow_id: str


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(max_length=250)
    description: str = ""
    category: Literal[templates.CATEGORIES] = "general"  # type: ignore[valid-type]
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


# -- drafts ------------------------------------------------------------------------------------------
class DraftIn(WorkflowSpec):
    """A draft as the editor saves it: the workflow document (validated like a save), the draft revision it
    is based on when one exists (or If-Match), and ``rebase`` to move it onto the version published now."""

    revision: int | None = None
    rebase: bool = Field(False, description="base the draft on the currently published version")
    base_version: int | None = Field(None, description="creating a draft: the published version it was written "
                                                       "against; refused (409) if another was published since")


class DraftReviewOut(_Out):
    required: bool = Field(description="[mlops] require_review: publishing by a non-reviewer needs an approval")
    state: Literal["none", "requested", "approved", "rejected"]
    requested_by: str | None
    reviewed_by: str | None
    reviewed_at: str | None
    comment: str


class DraftOut(_Out):
    workflow_id: str
    spec: dict[str, Any]
    base_version: int = Field(description="the published version the draft was started from")
    published_version: int
    stale: bool = Field(description="another version was published since: rebase before publishing")
    revision: int
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    review: DraftReviewOut


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    message: str = Field(default="", max_length=MAX_MESSAGE, description="version message")
    revision: int | None = Field(None, description="the draft revision published (or If-Match)")


class ReviewRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    comment: str = Field(default="", max_length=MAX_MESSAGE)
    revision: int | None = Field(None, description="the draft revision to review (or If-Match)")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=MAX_MESSAGE)
    revision: int | None = Field(None, description="the draft revision reviewed (or If-Match)")


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


class TestRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    task: str | None = Field(default=None, max_length=250,
                             description="the task to test (with everything upstream of it unless upstream_run_id "
                                         "is given); omitted: the whole draft")
    params: dict[str, Any] = Field(default_factory=dict, description="values over the spec's defaults")
    upstream_run_id: str | None = Field(default=None, max_length=250,
                                        description="a run of the workflow whose task results feed the tested task")


class TestTaskResult(_Out):
    state: Literal["queued", "running", "success", "failed", "skipped"]
    result: Any = None
    metrics: dict[str, float] = Field(default_factory=dict)
    error: str | None = None
    log: str = Field(default="", description="what the task's code printed and logged (its end, if very long)")
    seconds: float | None = None


class UpstreamRunOut(_Out):
    dag_id: str
    dag_run_id: str


class TestRunOut(_Out):
    id: str
    workflow_id: str
    kind: Literal["test"]
    source: Literal["draft", "published"] = Field(description="what was tested: the draft or the published version")
    source_revision: int = Field(description="the draft revision, or the published version number")
    target: str | None
    tasks: list[str] = Field(description="the tasks run, in order")
    params: dict[str, Any]
    upstream_run: UpstreamRunOut | None
    dag_id: str
    dag_run_id: str | None
    created_by: str
    created_at: str
    state: str = Field(description="Airflow's state of the test's DAG run")
    started_at: str | None
    ended_at: str | None
    results: dict[str, TestTaskResult]


class TestRunList(_Out):
    items: list[TestRunOut]


class TaskTiming(_Out):
    state: str | None
    duration_seconds: float
    instances: int


class StepPoint(_Out):
    step: int
    value: float
    timestamp: datetime


class StepSeries(_Out):
    """One learning curve: what a task (one map index of a mapped task; -1 if unmapped) logged of one metric."""

    task: str
    map_index: int
    name: str
    points: list[StepPoint]


class StepMetricsOut(_Out):
    run_id: str
    series: list[StepSeries]


class VersionChange(_Out):
    """The structural diff between two consecutive versions of a workflow among the compared runs."""

    workflow_id: str
    workflow_name: str
    from_: int = Field(alias="from")
    to: int
    diff: SpecDiff


class CompareOut(_Out):
    runs: list[RunOut]
    params: dict[str, dict[str, Any]]
    differing_params: list[str]
    versions: dict[str, int]
    version_diffs: dict[str, SpecDiff]  # the first run's version against each other one of the same workflow
    version_changes: list[VersionChange]
    tasks: dict[str, dict[str, TaskTiming]]
    metrics: dict[str, dict[str, float | None]]
    differing_metrics: list[str]
    step_metrics: dict[str, list[StepSeries]]  # run id -> its learning curves


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
