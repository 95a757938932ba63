"""Routes declared once, with what the OpenAPI 3 document needs; the document is built from the same list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from airflow_mlops.api import schemas
from airflow_mlops.api.auth import require
from airflow_mlops.provider_info import VERSION

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


class Api:
    """A blueprint plus the registry of its operations."""

    def __init__(self, blueprint: Blueprint):
        self.blueprint = blueprint
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, *, summary: str, tag: str, permission: tuple[str, str] | None,
              body: type[BaseModel] | None = None, response: type[BaseModel] | None = None, status: int = 200,
              query: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = (),
              content: dict[str, Any] | None = None, body_content: dict[str, Any] | None = None) -> Callable:
        rule = re.sub(r"\{(\w+)\}", lambda m: f"<int:{m.group(1)}>" if m.group(1) == "number" else f"<{m.group(1)}>", path)

        def register(view: Callable) -> Callable:
            # The documented permission is the enforced one: the guard is applied here, from the same value.
            guarded = require(*permission)(view) if permission else view
            self.blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
            self.operations.append(Operation(method, path, summary, tag, permission, body, response, status,
                                             query or [], errors, content, body_content))
            return guarded

        return register

    def document(self, base_path: str) -> dict[str, Any]:
        inputs = [(m, "validation") for m in sorted({op.body for op in self.operations if op.body}, key=lambda m: m.__name__)]
        outputs = [(m, "serialization") for m in sorted({op.response for op in self.operations if op.response} |
                                                         {schemas.Problem}, key=lambda m: m.__name__)]
        _, top = models_json_schema(inputs + outputs, ref_template=REF)
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
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} if name == "number"
                       else {"type": "string", "format": "uuid"}}
                      for name in re.findall(r"\{(\w+)\}", op.path)]
        parameters += op.query
        if op.method in ("PUT", "PATCH", "DELETE") and "{" in op.path:
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


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")


_DESCRIPTIONS = {400: "invalid input; `errors` lists every field", 401: "not authenticated",
                 403: "authenticated but not allowed (or CSRF check failed)", 404: "no such object",
                 409: "stale revision, name taken, or state does not allow it", 413: "request body too large",
                 415: "body is not application/json"}


def json_response(model: type[BaseModel] | None, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise through the documented model, so what is sent always matches the document."""
    body = model.model_validate(value).model_dump(mode="json", by_alias=True) if model else value
    response = jsonify(body)
    response.status_code = status
    for key, header in (headers or {}).items():
        response.headers[key] = header
    return response
