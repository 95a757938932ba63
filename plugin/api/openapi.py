"""Routes declared once, with what the OpenAPI 3 document needs; the document is built from the same list."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, TypeVar

from flask import Blueprint, Response, g, jsonify
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from airflow_mlops.api import inputs, schemas
from airflow_mlops.api.auth import require
from airflow_mlops.api.problems import ApiError
from airflow_mlops.provider_info import VERSION
from airflow_mlops_dag_factory.spec import field_errors

REF = "#/components/schemas/{model}"


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    permission: tuple[str, str] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    query: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()
    content: dict[str, Any] | None = None  # explicit response media types (e.g. JSON or YAML)
    body_content: dict[str, Any] | None = None  # explicit request media types
    conditional: bool = False  # takes If-Match: the revision the change is based on


class Api:
    """A blueprint plus the registry of its operations."""

    def __init__(self, blueprint: Blueprint):
        self.blueprint = blueprint
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, *, summary: str, tag: str, permission: tuple[str, str] | None,
              body: type[BaseModel] | None = None, response: type[BaseModel] | None = None, status: int = 200,
              query: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = (),
              content: dict[str, Any] | None = None, body_content: dict[str, Any] | None = None,
              conditional: bool | None = None) -> Callable:
        """``conditional``: the operation reads If-Match (default: PUT, PATCH and DELETE of one object)."""
        if conditional is None:
            conditional = method in ("PUT", "PATCH", "DELETE") and "{" in path
        rule = re.sub(r"\{(\w+)\}", lambda m: f"<int:{m.group(1)}>" if m.group(1) == "number" else f"<{m.group(1)}>", path)

        def register(view: Callable) -> Callable:
            # The documented permission is the enforced one: the guard is applied here, from the same value.
            # So is the documented request body: it is validated here, with the same model, before the handler.
            handler = _validating_body(view, body) if body else view
            guarded = require(*permission)(handler) if permission else handler
            self.blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
            self.operations.append(Operation(method, path, summary, tag, permission, body, response, status,
                                             query or [], errors, content, body_content, conditional))
            return guarded

        return register

    def document(self, base_path: str) -> dict[str, Any]:
        models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
            (m, "validation") for m in sorted({op.body for op in self.operations if op.body}, key=lambda m: m.__name__)]
        models += [(m, "serialization") for m in sorted({op.response for op in self.operations if op.response} |
                                                        {schemas.Problem}, key=lambda m: m.__name__)]
        _, top = models_json_schema(models, ref_template=REF)
        paths: dict[str, Any] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = self._operation(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": "Airflow MLOps API", "version": VERSION,
                     "description": "Workflows, versions, templates, runs and audit of the airflow-mlops plugin. "
                                    "Authenticate with the bearer token from Airflow's POST /auth/token."},
            "servers": [{"url": base_path}],
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "paths": paths,
            "components": {
                "schemas": top.get("$defs", {}),
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "_token"},
                },
            },
        }

    def _operation(self, op: Operation) -> dict[str, Any]:
        parameters = [{"name": name, "in": "path", "required": True, "schema": _path_schema(name)}
                      for name in re.findall(r"\{(\w+)\}", op.path)]
        parameters += op.query
        if op.conditional:
            parameters.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                               "description": "ETag of the revision the change is based on; stale -> 409"})
        problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
        statuses = {401, 403, *op.errors}
        if parameters or op.body or op.body_content:
            statuses.add(400)
        if op.body or op.body_content:
            statuses |= {413, 415}
        responses: dict[str, Any] = {}
        success: dict[str, Any] = {"description": op.summary}
        if op.response:
            success["content"] = {"application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}}
        if op.content:
            success["content"] = op.content
        if op.status != 204 and "content" not in success:  # a body nobody described is still JSON
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses[str(op.status)] = success
        for status in sorted(statuses):
            responses[str(status)] = {"description": _DESCRIPTIONS[status], "content": problem}
        if "404" in responses:
            # A path Airflow's router cannot even hand to the plugin (e.g. a control character in an id) gets
            # Airflow's own JSON 404, not ours.
            responses["404"]["content"] = {**problem, "application/json": {"schema": {"type": "object"}}}
        operation: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "operationId": f"{op.method.lower()}_{_slug(op.path)}",
                                     "parameters": parameters, "responses": responses}
        if op.permission:
            operation["description"] = f"Needs FAB permission `{op.permission[0]}` on `{op.permission[1]}`."
        if op.body:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}}}
        if op.body_content:
            operation["requestBody"] = {"required": True, "content": op.body_content}
        return operation


class _Body(NamedTuple):
    value: BaseModel
    document: dict[str, Any]


M = TypeVar("M", bound=BaseModel)


def _validating_body(view: Callable, model: type[BaseModel]) -> Callable:
    """Check the JSON body against the operation's documented model before its handler runs (400 naming every
    field), so what the document promises is exactly what the server accepts."""

    @functools.wraps(view)
    def validated(*args: Any, **kwargs: Any) -> Any:
        document = inputs.json_body()
        try:
            g.mlops_body = _Body(model.model_validate(document), document)
        except ValidationError as exc:
            raise ApiError(400, "invalid input", field_errors(exc)) from exc
        return view(*args, **kwargs)

    return validated


def request_body(model: type[M]) -> M:
    """The validated body of this request; ``model`` must be the one the operation documents."""
    value = g.mlops_body.value
    if not isinstance(value, model):
        raise TypeError(f"the operation documents its body as {type(value).__name__}, not {model.__name__}")
    return value


def request_document() -> dict[str, Any]:
    """The JSON body as sent (after validation), for handlers that pass it on or merge it (nulls kept)."""
    return dict(g.mlops_body.document)


def _path_schema(name: str) -> dict[str, Any]:
    """Ids are UUIDs, version numbers are database integers, any other name (a preset's) is text."""
    if name == "number":
        return {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    return {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string", "minLength": 1}


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")


_DESCRIPTIONS = {400: "invalid input; `errors` lists every field", 401: "not authenticated",
                 403: "authenticated but not allowed (or CSRF check failed)", 404: "no such object",
                 409: "stale revision, name taken, or state does not allow it", 413: "request body too large",
                 415: "body is not application/json",
                 428: "the change does not say which revision it is based on (If-Match or `revision`)"}


def json_response(model: type[BaseModel] | None, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise through the documented model, so what is sent always matches the document."""
    body = model.model_validate(value).model_dump(mode="json", by_alias=True) if model else value
    response = jsonify(body)
    response.status_code = status
    for key, header in (headers or {}).items():
        response.headers[key] = header
    return response
