"""Every REST endpoint: parse input, check permission, call one service, serialise through the schema."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, NamedTuple

from flask import Blueprint, Response, request
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from airflow_mlops import security as sec
from airflow_mlops.api import inputs, schemas
from airflow_mlops.api.auth import authenticated_caller, demand
from airflow_mlops.api.openapi import Api, json_response, request_body, request_document
from airflow_mlops.api.problems import ApiError, from_service_error, problem
from airflow_mlops.services import audit, drafts, notifications, portable, runs, templates, test_runs, workflows
from airflow_mlops.services.errors import ServiceError
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.validate import validate_document

log = logging.getLogger(__name__)
URL_PREFIX = "/mlops/api/v1"
blueprint = Blueprint("mlops_api", __name__, url_prefix=URL_PREFIX)
api = Api(blueprint)

PAGING = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": inputs.MAX_LIMIT}},
          {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": inputs.MAX_INT}}]


def _q(name: str, schema: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema or {"type": "string"}, "description": description}


@blueprint.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.detail, exc.errors)


@blueprint.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return from_service_error(exc)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return problem(exc.code or 500, exc.description or exc.name)


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("MLOps API: unexpected error on %s %s", request.method, request.path)
    return problem(500, "unexpected server error; it was logged")


def _etag(record: workflows.WorkflowRecord | templates.TemplateRecord | drafts.DraftRecord) -> dict[str, str]:
    return {"ETag": f'"{record.revision}"'}


# -- workflows ---------------------------------------------------------------------------------------
WORKFLOW_FILTERS = [
    _q("q", description="text in name or description"), _q("tag"), _q("owner"), _q("template_id"),
    _q("active", {"type": "boolean"}), _q("include_archived", {"type": "boolean"}),
    _q("last_run_state", {"type": "string", "enum": list(workflows.LAST_RUN_STATES)},
       "state of the newest Airflow run; 'none': never ran"),
    _q("sort", {"type": "string", "enum": sorted([*workflows.SORTABLE, *(f"-{k}" for k in workflows.SORTABLE)])}),
    *PAGING,
]


@api.route("GET", "/workflows", summary="List workflows", tag="workflows", response=schemas.WorkflowPage,
           permission=(sec.READ, sec.RESOURCE_WORKFLOWS), query=WORKFLOW_FILTERS)
def list_workflows() -> Response:
    limit, offset = inputs.paging()
    sort = inputs.query_choice("sort", "name", {*workflows.SORTABLE, *(f"-{k}" for k in workflows.SORTABLE)})
    last_run_state = request.args.get("last_run_state")
    if last_run_state is not None:
        inputs.query_choice("last_run_state", last_run_state, set(workflows.LAST_RUN_STATES))
    page = workflows.list_workflows(last_run_state=last_run_state,
        q=request.args.get("q"), tag=request.args.get("tag"), owner=request.args.get("owner"),
        template_id=request.args.get("template_id"), active=inputs.query_bool("active"),
        include_archived=bool(inputs.query_bool("include_archived")), sort=sort, limit=limit, offset=offset)
    return json_response(schemas.WorkflowPage, {"items": [w.to_dict() for w in page.items], "total": page.total,
                                                "limit": page.limit, "offset": page.offset})


class _Document(NamedTuple):
    spec: dict[str, Any]
    active: bool | None
    revision: Any
    message: str


def _workflow_document(body: dict[str, Any]) -> _Document:
    """Split a client document into the spec, ``active``, ``revision`` and the version message; read-only
    fields are dropped."""
    active, message = body.get("active"), body.get("message")
    if active is not None and not isinstance(active, bool):
        raise ApiError(400, "invalid field", [FieldError("active", "must be true or false")])
    if message is not None and (not isinstance(message, str) or len(message) > schemas.MAX_MESSAGE):
        raise ApiError(400, "invalid field",
                       [FieldError("message", f"must be text of at most {schemas.MAX_MESSAGE} characters")])
    spec = {k: v for k, v in body.items()
            if k not in schemas.READ_ONLY_WORKFLOW_FIELDS | {"active", "revision", "message"}}
    return _Document(spec, active, body.get("revision"), message or "")


@api.route("POST", "/validate", summary="Check a workflow document without saving it", tag="workflows",
           body=schemas.AnyDocument, response=schemas.ValidationOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS))
def validate_workflow() -> Response:
    """What a save would refuse, field by field (the editor calls this as the user types); nothing runs."""
    doc = _workflow_document(request_document())
    _, errors = validate_document(doc.spec)
    return json_response(schemas.ValidationOut, {"valid": not errors, "errors": [e.to_dict() for e in errors]})


@api.route("POST", "/workflows", summary="Create a workflow", tag="workflows", body=schemas.WorkflowIn,
           response=schemas.WorkflowOut, status=201, permission=(sec.CREATE, sec.RESOURCE_WORKFLOWS), errors=(409,))
def create_workflow() -> Response:
    doc = _workflow_document(request_document())
    record = workflows.create_workflow(doc.spec, authenticated_caller().actor(),
                                       active=True if doc.active is None else doc.active, message=doc.message)
    return json_response(schemas.WorkflowOut, record.to_dict(), 201, _etag(record))


@api.route("GET", "/workflows/{workflow_id}", summary="Get a workflow", tag="workflows", response=schemas.WorkflowOut,
           permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def get_workflow(workflow_id: str) -> Response:
    record = workflows.get_workflow(workflow_id)
    return json_response(schemas.WorkflowOut, record.to_dict(), headers=_etag(record))


@api.route("PUT", "/workflows/{workflow_id}", summary="Replace a workflow (whole document)", tag="workflows",
           body=schemas.WorkflowIn, response=schemas.WorkflowOut, permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS),
           errors=(404, 409, 428))
def replace_workflow(workflow_id: str) -> Response:
    doc = _workflow_document(request_document())
    record = workflows.update_workflow(workflow_id, doc.spec, authenticated_caller().actor(),
                                       expected_revision=inputs.required_revision(doc.revision), active=doc.active,
                                       message=doc.message)
    return json_response(schemas.WorkflowOut, record.to_dict(), headers=_etag(record))


@api.route("PATCH", "/workflows/{workflow_id}", summary="Change some fields of a workflow (JSON merge patch)",
           tag="workflows", body=schemas.WorkflowPatchIn, response=schemas.WorkflowOut,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404, 409, 428))
def patch_workflow(workflow_id: str) -> Response:
    doc = _workflow_document(request_document())
    revision = inputs.required_revision(doc.revision)
    current = workflows.get_workflow(workflow_id)
    record = workflows.update_workflow(workflow_id, merge_patch(current.spec, doc.spec), authenticated_caller().actor(),
                                       expected_revision=revision, active=doc.active, message=doc.message)
    return json_response(schemas.WorkflowOut, record.to_dict(), headers=_etag(record))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@api.route("DELETE", "/workflows/{workflow_id}", summary="Delete (archive) a workflow", tag="workflows",
           response=schemas.WorkflowOut, permission=(sec.DELETE, sec.RESOURCE_WORKFLOWS), errors=(404, 409))
def delete_workflow(workflow_id: str) -> Response:
    record = workflows.delete_workflow(workflow_id, authenticated_caller().actor(),
                                       expected_revision=inputs.expected_revision())
    return json_response(schemas.WorkflowOut, record.to_dict())


@api.route("POST", "/workflows/{workflow_id}/clone", summary="Clone a workflow under a new name", tag="workflows",
           body=schemas.CloneIn, response=schemas.WorkflowOut, status=201,
           permission=(sec.CREATE, sec.RESOURCE_WORKFLOWS), errors=(404, 409))
def clone_workflow(workflow_id: str) -> Response:
    body = request_body(schemas.CloneIn)
    record = workflows.clone_workflow(workflow_id, body.name, authenticated_caller().actor())
    return json_response(schemas.WorkflowOut, record.to_dict(), 201, _etag(record))


@api.route("POST", "/workflows/{workflow_id}/purge", summary="Remove a deleted (archived) workflow for good (Admin)",
           tag="workflows", status=204, permission=(sec.DELETE, sec.RESOURCE_ALL_WORKFLOWS), errors=(404, 409))
def purge_workflow(workflow_id: str) -> Response:
    workflows.purge_workflow(workflow_id, authenticated_caller().actor())
    return Response(status=204)


@api.route("GET", "/workflows/{workflow_id}/origin-diff", summary="Diff of a clone against the version it was copied from",
           tag="versions", response=schemas.OriginDiffOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def origin_diff(workflow_id: str) -> Response:
    return json_response(schemas.OriginDiffOut, workflows.diff_with_origin(workflow_id))


# -- drafts ------------------------------------------------------------------------------------------
DRAFT = "/workflows/{workflow_id}/draft"


def _draft(record: drafts.DraftRecord) -> Response:
    return json_response(schemas.DraftOut, record.to_dict(), headers=_etag(record))


@api.route("GET", DRAFT, summary="The workflow's draft (its unpublished next version)", tag="drafts",
           response=schemas.DraftOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def get_draft(workflow_id: str) -> Response:
    return _draft(drafts.get_draft(workflow_id))


@api.route("PUT", DRAFT, summary="Create or replace the draft (validated like a save; runs keep the published version)",
           tag="drafts", body=schemas.DraftIn, response=schemas.DraftOut,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404, 409, 428))
def save_draft(workflow_id: str) -> Response:
    document = request_document()
    revision, rebase = document.pop("revision", None), bool(document.pop("rebase", False))
    base_version = document.pop("base_version", None)
    record = drafts.save_draft(workflow_id, document, authenticated_caller().actor(),
                               expected_revision=inputs.expected_revision(revision), rebase=rebase,
                               base_version=base_version)
    return _draft(record)


@api.route("DELETE", DRAFT, summary="Discard the draft", tag="drafts", status=204,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404, 409, 428))
def discard_draft(workflow_id: str) -> Response:
    drafts.discard_draft(workflow_id, authenticated_caller().actor(), expected_revision=inputs.expected_revision())
    return Response(status=204)


@api.route("GET", DRAFT + "/diff", summary="What publishing the draft would change", tag="drafts",
           response=schemas.DraftDiffOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def diff_draft(workflow_id: str) -> Response:
    return json_response(schemas.DraftDiffOut, {**drafts.diff_draft(workflow_id), "workflow_id": workflow_id})


@api.route("POST", DRAFT + "/publish", summary="Publish the draft as the new current version", tag="drafts", conditional=True,
           body=schemas.PublishIn, response=schemas.WorkflowOut, permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS),
           errors=(404, 409, 428))
def publish_draft(workflow_id: str) -> Response:
    body = request_body(schemas.PublishIn)
    record = drafts.publish_draft(workflow_id, authenticated_caller().actor(), message=body.message,
                                  expected_revision=inputs.expected_revision(body.revision))
    return json_response(schemas.WorkflowOut, record.to_dict(), headers=_etag(record))


@api.route("POST", DRAFT + "/review-request", summary="Ask a reviewer to approve the draft", tag="drafts", conditional=True,
           body=schemas.ReviewRequestIn, response=schemas.DraftOut, permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS),
           errors=(404, 409, 428))
def request_review(workflow_id: str) -> Response:
    body = request_body(schemas.ReviewRequestIn)
    return _draft(drafts.request_review(workflow_id, authenticated_caller().actor(), comment=body.comment,
                                        expected_revision=inputs.expected_revision(body.revision)))


@api.route("POST", DRAFT + "/review", summary="Approve or reject another user's draft, with a comment", tag="drafts", conditional=True,
           body=schemas.ReviewIn, response=schemas.DraftOut, permission=(sec.EDIT, sec.RESOURCE_REVIEWS),
           errors=(404, 409, 428))
def review_draft(workflow_id: str) -> Response:
    body = request_body(schemas.ReviewIn)
    return _draft(drafts.review_draft(workflow_id, authenticated_caller().actor(), body.decision, body.comment,
                                      expected_revision=inputs.expected_revision(body.revision)))


# -- test runs ---------------------------------------------------------------------------------------
@api.route("POST", "/workflows/{workflow_id}/tests",
           summary="Test one task, or the whole draft, on Airflow's workers before publishing", tag="drafts",
           body=schemas.TestRunIn, response=schemas.TestRunOut, status=201,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404, 409))
def start_test(workflow_id: str) -> Response:
    body = request_body(schemas.TestRunIn)
    record = test_runs.start_test(workflow_id, body.task, body.params, body.upstream_run_id,
                                  authenticated_caller().actor())
    return json_response(schemas.TestRunOut, record.to_dict(), 201)


@api.route("GET", "/workflows/{workflow_id}/tests", summary="The workflow's latest test runs, newest first",
           tag="drafts", response=schemas.TestRunList, permission=(sec.READ, sec.RESOURCE_WORKFLOWS),
           query=[_q("limit", {"type": "integer", "minimum": 1, "maximum": test_runs.MAX_LISTED})], errors=(404,))
def list_tests(workflow_id: str) -> Response:
    limit = inputs.query_int("limit", 20, minimum=1, maximum=test_runs.MAX_LISTED)
    return json_response(schemas.TestRunList,
                         {"items": [r.to_dict() for r in test_runs.list_tests(workflow_id, limit)]})


@api.route("GET", "/tests/{test_id}", summary="A test run: its state, and each task's result, metrics and log",
           tag="drafts", response=schemas.TestRunOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def get_test(test_id: str) -> Response:
    return json_response(schemas.TestRunOut, test_runs.get_test(test_id).to_dict())


# -- versions ----------------------------------------------------------------------------------------
@api.route("GET", "/workflows/{workflow_id}/versions", summary="List versions, newest first", tag="versions",
           response=schemas.VersionPage, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), query=PAGING, errors=(404,))
def list_versions(workflow_id: str) -> Response:
    limit, offset = inputs.paging()
    page = workflows.list_versions(workflow_id, limit=limit, offset=offset)
    return json_response(schemas.VersionPage, {"items": [v.to_dict() for v in page.items], "total": page.total,
                                               "limit": limit, "offset": offset})


@api.route("POST", "/workflows/{workflow_id}/versions", summary="Snapshot the current state as a version",
           tag="versions", body=schemas.SnapshotIn, response=schemas.VersionOut, status=201,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404, 409))
def snapshot_version(workflow_id: str) -> Response:
    body = request_body(schemas.SnapshotIn)
    version = workflows.snapshot_version(workflow_id, authenticated_caller().actor(), body.description)
    return json_response(schemas.VersionOut, version.to_dict(), 201)


@api.route("GET", "/workflows/{workflow_id}/versions/{number}", summary="Get one version", tag="versions",
           response=schemas.VersionOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def get_version(workflow_id: str, number: int) -> Response:
    if number > inputs.MAX_INT:
        raise ApiError(404, f"workflow {workflow_id} has no version {number}")
    return json_response(schemas.VersionOut, workflows.get_version(workflow_id, number).to_dict())


@api.route("DELETE", "/workflows/{workflow_id}/versions/{number}", summary="Delete an unused old version (Admin)",
           tag="versions", status=204, permission=(sec.DELETE, sec.RESOURCE_ALL_WORKFLOWS), errors=(404, 409))
def delete_version(workflow_id: str, number: int) -> Response:
    if number > inputs.MAX_INT:
        raise ApiError(404, f"workflow {workflow_id} has no version {number}")
    workflows.delete_version(workflow_id, number, authenticated_caller().actor())
    return Response(status=204)


@api.route("GET", "/workflows/{workflow_id}/diff", summary="Structured diff between two versions", tag="versions",
           response=schemas.DiffOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,),
           query=[{"name": "from", "in": "query", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": inputs.MAX_INT}},
                  {"name": "to", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": inputs.MAX_INT},
                   "description": "default: the current version"}])
def diff_versions(workflow_id: str) -> Response:
    if "from" not in request.args:
        raise ApiError(400, "query parameter 'from' is required", [FieldError("query.from", "required")])
    start = inputs.query_int("from", 1, minimum=1)
    end = inputs.query_int("to", 0, minimum=1) if "to" in request.args else None
    return json_response(schemas.DiffOut, workflows.diff_versions(workflow_id, start, end))


@api.route("POST", "/versions/{version_id}/restore", summary="Restore a version (saved as a new version)", conditional=True,
           tag="versions", response=schemas.WorkflowOut, permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS),
           errors=(404, 409))
def restore_version(version_id: str) -> Response:
    record = workflows.restore_version(version_id, authenticated_caller().actor(),
                                       expected_revision=inputs.expected_revision())
    return json_response(schemas.WorkflowOut, record.to_dict(), headers=_etag(record))


# -- templates ---------------------------------------------------------------------------------------
@api.route("GET", "/templates", summary="List templates visible to the caller", tag="templates",
           response=schemas.TemplatePage, permission=(sec.READ, sec.RESOURCE_TEMPLATES),
           query=[_q("q"), _q("category", {"type": "string", "enum": list(templates.CATEGORIES)}), *PAGING])
def list_templates() -> Response:
    limit, offset = inputs.paging()
    category = request.args.get("category")
    if category is not None:
        inputs.query_choice("category", category, set(templates.CATEGORIES))
    page = templates.list_templates(authenticated_caller().actor(), q=request.args.get("q"), category=category,
                                    limit=limit, offset=offset)
    return json_response(schemas.TemplatePage, {"items": [t.to_dict() for t in page.items], "total": page.total,
                                                "limit": limit, "offset": offset})


@api.route("POST", "/templates", summary="Create a template", tag="templates", body=schemas.TemplateIn,
           response=schemas.TemplateOut, status=201, permission=(sec.CREATE, sec.RESOURCE_TEMPLATES), errors=(409,))
def create_template() -> Response:
    body = request_document()
    body.pop("revision", None)
    record = templates.create_template(body, authenticated_caller().actor())
    return json_response(schemas.TemplateOut, record.to_dict(), 201, _etag(record))


@api.route("GET", "/templates/{template_id}", summary="Get a template", tag="templates", response=schemas.TemplateOut,
           permission=(sec.READ, sec.RESOURCE_TEMPLATES), errors=(404,))
def get_template(template_id: str) -> Response:
    record = templates.get_template(template_id, authenticated_caller().actor())
    return json_response(schemas.TemplateOut, record.to_dict(), headers=_etag(record))


@api.route("PUT", "/templates/{template_id}", summary="Replace a template", tag="templates", body=schemas.TemplateIn,
           response=schemas.TemplateOut, permission=(sec.EDIT, sec.RESOURCE_TEMPLATES), errors=(404, 409, 428))
def replace_template(template_id: str) -> Response:
    body = request_document()
    revision = inputs.required_revision(body.pop("revision", None))
    record = templates.update_template(template_id, body, authenticated_caller().actor(), expected_revision=revision)
    return json_response(schemas.TemplateOut, record.to_dict(), headers=_etag(record))


@api.route("DELETE", "/templates/{template_id}", summary="Delete a template", tag="templates", status=204,
           permission=(sec.DELETE, sec.RESOURCE_TEMPLATES), errors=(404, 409))
def delete_template(template_id: str) -> Response:
    templates.delete_template(template_id, authenticated_caller().actor(), expected_revision=inputs.expected_revision())
    return Response(status=204)


@api.route("POST", "/templates/{template_id}/instantiate", summary="Create a workflow from a template",
           tag="templates", body=schemas.InstantiateIn, response=schemas.WorkflowOut, status=201,
           permission=(sec.CREATE, sec.RESOURCE_WORKFLOWS), errors=(404, 409))
def instantiate_template(template_id: str) -> Response:
    body = request_body(schemas.InstantiateIn)
    record = templates.instantiate(template_id, body.workflow_name, body.params, authenticated_caller().actor())
    return json_response(schemas.WorkflowOut, record.to_dict(), 201, _etag(record))


@api.route("GET", "/templates/{template_id}/workflows", summary="Workflows made from a template", tag="templates",
           response=schemas.InstanceList, permission=(sec.READ, sec.RESOURCE_TEMPLATES), errors=(404,))
def template_instances(template_id: str) -> Response:
    items = templates.instances(template_id, authenticated_caller().actor())
    return json_response(schemas.InstanceList, {"items": items})


@api.route("POST", "/workflows/{workflow_id}/save-as-template", summary="Save a workflow as a template",
           tag="templates", body=schemas.SaveAsTemplateIn, response=schemas.TemplateOut, status=201,
           permission=(sec.CREATE, sec.RESOURCE_TEMPLATES), errors=(404, 409))
def save_as_template(workflow_id: str) -> Response:
    body = request_body(schemas.SaveAsTemplateIn)
    record = templates.save_as_template(workflow_id, body.model_dump(exclude_unset=True), authenticated_caller().actor())
    return json_response(schemas.TemplateOut, record.to_dict(), 201, _etag(record))


# -- files (import / export) -------------------------------------------------------------------------
EXPORT_FORMAT = [_q("format", {"type": "string", "enum": ["json", "yaml"]}, "default json")]
EXPORT_CONTENT = {"application/json": {"schema": {"type": "object"}}, "application/yaml": {"schema": {"type": "object"}}}
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def _file_response(document: dict[str, Any], name: str) -> Response:
    fmt = inputs.query_choice("format", "json", {"json", "yaml"})
    mimetype = "application/yaml" if fmt == "yaml" else "application/json"
    response = Response(portable.dumps(document, fmt), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@api.route("GET", "/workflows/{workflow_id}/export", summary="Export a workflow as JSON or YAML", tag="files",
           permission=(sec.READ, sec.RESOURCE_WORKFLOWS), query=EXPORT_FORMAT, errors=(404,), content=EXPORT_CONTENT)
def export_workflow(workflow_id: str) -> Response:
    document = portable.export_workflow(workflow_id)
    return _file_response(document, document["spec"].get("name", workflow_id))


@api.route("GET", "/templates/{template_id}/export", summary="Export a template as JSON or YAML", tag="files",
           permission=(sec.READ, sec.RESOURCE_TEMPLATES), query=EXPORT_FORMAT, errors=(404,), content=EXPORT_CONTENT)
def export_template(template_id: str) -> Response:
    document = portable.export_template(template_id, authenticated_caller().actor())
    return _file_response(document, template_id)


@api.route("POST", "/import", summary="Import an exported workflow or template (JSON or YAML)", tag="files",
           response=schemas.ImportOut, status=201, permission=None, errors=(409,),
           body_content={"application/json": {"schema": {"type": "object"}},
                         **{t: {"schema": {"type": "string"}} for t in YAML_TYPES}})
def import_file() -> Response:
    caller = authenticated_caller()
    raw = inputs.raw_body(("application/json", *YAML_TYPES))
    document = portable.loads(raw.decode("utf-8", errors="replace"))
    kind = document.get("kind") if isinstance(document, dict) else None
    resource = sec.RESOURCE_TEMPLATES if kind == "template" else sec.RESOURCE_WORKFLOWS
    demand(caller, sec.CREATE, resource)
    kind, record = portable.import_document(document, caller.actor())
    return json_response(schemas.ImportOut, {"kind": kind, "id": record.id, "name": record.name}, 201)


# -- notifications -----------------------------------------------------------------------------------
@api.route("GET", "/notifications/defaults", summary="The deployment's default notification channels",
           tag="notifications", response=schemas.NotificationDefaultsOut, permission=(sec.READ, sec.RESOURCE_WORKFLOWS))
def notification_defaults() -> Response:
    return json_response(schemas.NotificationDefaultsOut, notifications.defaults())


@api.route("POST", "/workflows/{workflow_id}/notifications/test",
           summary="Send a test notification through the saved workflow's channels for an event",
           tag="notifications", body=schemas.NotificationTestIn, response=schemas.NotificationTestOut,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404,))
def test_notification(workflow_id: str) -> Response:
    body = request_body(schemas.NotificationTestIn)
    result = notifications.send_test(workflow_id, body.event, authenticated_caller().actor())
    return json_response(schemas.NotificationTestOut, result)


# -- runs ("jobs") -----------------------------------------------------------------------------------
@api.route("POST", "/jobs/trigger/{workflow_id}", summary="Trigger a run with parameters and a description",
           tag="runs", body=schemas.TriggerIn, response=schemas.RunOut, status=201,
           permission=(sec.CREATE, sec.RESOURCE_RUNS), errors=(404, 409))
def trigger_run(workflow_id: str) -> Response:
    body = request_body(schemas.TriggerIn)
    record = runs.trigger(workflow_id, body.params, body.description, authenticated_caller().actor(),
                          unpause=body.unpause, preset=body.preset)
    return json_response(schemas.RunOut, record.to_dict(), 201)


@api.route("POST", "/jobs/{run_id}/rerun", summary="Trigger again with a past run's parameters (optionally edited)",
           tag="runs", body=schemas.RerunIn, response=schemas.RunOut, status=201,
           permission=(sec.CREATE, sec.RESOURCE_RUNS), errors=(404, 409))
def rerun(run_id: str) -> Response:
    body = request_body(schemas.RerunIn)
    record = runs.rerun(run_id, body.params, body.description, authenticated_caller().actor(),
                        same_version=body.same_version)
    return json_response(schemas.RunOut, record.to_dict(), 201)


@api.route("GET", "/workflows/{workflow_id}/presets", summary="Parameter presets of a workflow", tag="runs",
           response=schemas.PresetList, permission=(sec.READ, sec.RESOURCE_WORKFLOWS), errors=(404,))
def list_presets(workflow_id: str) -> Response:
    return json_response(schemas.PresetList, {"items": runs.list_presets(workflow_id)})


@api.route("POST", "/workflows/{workflow_id}/presets", summary="Save (create or replace) a parameter preset",
           tag="runs", body=schemas.PresetIn, response=schemas.PresetOut, status=201,
           permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404,))
def save_preset(workflow_id: str) -> Response:
    body = request_body(schemas.PresetIn)
    return json_response(schemas.PresetOut, runs.save_preset(workflow_id, body.name, body.params,
                                                             authenticated_caller().actor()), 201)


@api.route("DELETE", "/workflows/{workflow_id}/presets/{preset_name}", summary="Delete a parameter preset",
           tag="runs", status=204, permission=(sec.EDIT, sec.RESOURCE_WORKFLOWS), errors=(404,))
def delete_preset(workflow_id: str, preset_name: str) -> Response:
    runs.delete_preset(workflow_id, preset_name, authenticated_caller().actor())
    return Response(status=204)


@api.route("GET", "/jobs", summary="List runs (started anywhere)", tag="runs", response=schemas.RunPage,
           permission=(sec.READ, sec.RESOURCE_RUNS),
           query=[_q("workflow_id"), _q("state"), _q("version", {"type": "integer", "minimum": 1, "maximum": inputs.MAX_INT}),
                  _q("since", {"type": "string", "format": "date-time"}),
                  _q("until", {"type": "string", "format": "date-time"}),
                  {"name": "params", "in": "query", "style": "deepObject", "explode": True,
                   "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                   "description": "params.<name>=<value>: runs whose parameter has this value (JSON or text)"},
                  *PAGING])
def list_runs() -> Response:
    limit, offset = inputs.paging()
    version = inputs.query_int("version", 0, minimum=1) if "version" in request.args else None
    page = runs.list_runs(workflow_id=request.args.get("workflow_id"), state=request.args.get("state"),
                          version=version, params=_params_filter(), since=_query_time("since"),
                          until=_query_time("until"), limit=limit, offset=offset)
    return json_response(schemas.RunPage, {"items": [r.to_dict() for r in page.items], "total": page.total,
                                           "limit": limit, "offset": offset})


@api.route("GET", "/jobs/compare", summary="Compare 2 to 50 runs", tag="runs", response=schemas.CompareOut,
           permission=(sec.READ, sec.RESOURCE_RUNS), errors=(404,),
           query=[{"name": "ids", "in": "query", "required": True, "schema": {"type": "string"},
                   "description": "comma-separated run ids"}])
def compare_runs() -> Response:
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    return json_response(schemas.CompareOut, runs.compare(ids))


@api.route("GET", "/jobs/{run_id}", summary="Get a run", tag="runs", response=schemas.RunOut,
           permission=(sec.READ, sec.RESOURCE_RUNS), errors=(404,))
def get_run(run_id: str) -> Response:
    return json_response(schemas.RunOut, runs.get_run(run_id).to_dict())


@api.route("GET", "/jobs/{run_id}/step-metrics", summary="A run's learning curves (metrics logged per step)",
           tag="runs", response=schemas.StepMetricsOut, permission=(sec.READ, sec.RESOURCE_RUNS), errors=(404,))
def get_step_metrics(run_id: str) -> Response:
    return json_response(schemas.StepMetricsOut, runs.get_step_metrics(run_id))


# -- audit -------------------------------------------------------------------------------------------
@api.route("GET", "/audit", summary="Audit log, newest first", tag="audit", response=schemas.AuditPage,
           permission=(sec.READ, sec.RESOURCE_AUDIT),
           query=[_q("actor"), _q("object_type"), _q("object_id"), _q("action"),
                  _q("since", {"type": "string", "format": "date-time"}),
                  _q("until", {"type": "string", "format": "date-time"}), *PAGING])
def list_audit() -> Response:
    limit, offset = inputs.paging()
    items, total = audit.list_events(
        actor=request.args.get("actor"), object_type=request.args.get("object_type"),
        object_id=request.args.get("object_id"), action=request.args.get("action"),
        since=_query_time("since"), until=_query_time("until"), limit=limit, offset=offset)
    return json_response(schemas.AuditPage, {"items": items, "total": total, "limit": limit, "offset": offset})


def _params_filter() -> dict[str, Any]:
    """``params.learning_rate=0.001`` -> ``{"learning_rate": 0.001}`` (a value that is not JSON stays text)."""
    import json

    wanted = {}
    for key, raw in request.args.items():
        if key.startswith("params.") or (key.startswith("params[") and key.endswith("]")):
            name = key[7:] if key.startswith("params.") else key[7:-1]
            try:
                wanted[name] = json.loads(raw)
            except ValueError:
                wanted[name] = raw
    return wanted


def _query_time(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"query parameter {name!r} must be an ISO 8601 time",
                       [FieldError(f"query.{name}", f"not a time: {raw!r}")]) from None
    if value.tzinfo is None:
        raise ApiError(400, f"query parameter {name!r} needs a time zone", [FieldError(f"query.{name}", "add Z or +hh:mm")])
    return value


# -- meta --------------------------------------------------------------------------------------------
@api.route("GET", "/openapi.json", summary="This OpenAPI document", tag="meta", permission=None)
def openapi_document() -> Response:
    authenticated_caller()
    return json_response(None, api.document(request.script_root + URL_PREFIX))


@api.route("GET", "/csrf-token", summary="CSRF token for browser (cookie) callers", tag="meta",
           response=schemas.CsrfOut, permission=None)
def csrf_token() -> Response:
    authenticated_caller()
    return json_response(schemas.CsrfOut, {"csrf_token": generate_csrf()})


@blueprint.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(unknown: str) -> Response:
    """Anything under the API prefix that no route matches (e.g. an id containing '/') is a JSON 404 too."""
    return problem(404, f"no API resource at {request.path!r}")
