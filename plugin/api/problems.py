"""One error shape for every failure (RFC 9457 "problem details"), and the mapping from service errors."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from airflow_mlops.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    ServiceError,
)
from airflow_mlops_dag_factory.errors import FieldError

PROBLEM_MIMETYPE = "application/problem+json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 428: "Precondition Required",
          500: "Internal Server Error"}


class ApiError(Exception):
    """Raised anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []


def problem(status: int, detail: str, errors: list[FieldError] | None = None, **extra: Any) -> Response:
    body = {"title": TITLES.get(status, "Error"), "status": status, "detail": detail,
            "errors": [e.to_dict() for e in errors or []], **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MIMETYPE
    return response


def from_service_error(exc: ServiceError) -> Response:
    if isinstance(exc, InvalidInput):
        return problem(400, f"{len(exc.errors)} invalid field(s)", exc.errors)
    status = {NotFound: 404, Conflict: 409, Forbidden: 403, PreconditionRequired: 428}.get(type(exc), 400)
    return problem(status, str(exc))
