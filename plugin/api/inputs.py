"""Reading request input strictly: JSON bodies, query parameters and ``If-Match``; every problem is a 4xx."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from airflow_mlops.api.problems import ApiError
from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.errors import FieldError

MAX_LIMIT = 500
MAX_INT = 2**31 - 1  # the largest integer every supported database column holds


def max_request_bytes() -> int:
    return int(settings.get("max_request_bytes"))


def raw_body(media_types: tuple[str, ...]) -> bytes:
    """The request body, within the size limit (413) and of an accepted media type (415)."""
    if request.mimetype not in media_types:
        raise ApiError(415, f"send the body as {' or '.join(media_types)}, not {request.mimetype or 'nothing'!r}")
    limit = max_request_bytes()
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the body has {request.content_length} bytes; the limit is {limit}")
    request.max_content_length = limit
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise ApiError(413, f"the body is larger than the limit of {limit} bytes") from exc


def json_body() -> dict[str, Any]:
    """The request's JSON object: 415 unless it is JSON, 413 when too large, 400 when malformed."""
    raw = raw_body(("application/json",))
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "the body is not valid JSON", [FieldError("$", f"malformed JSON: {exc}")]) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", [FieldError("$", "must be a JSON object")])
    return data


def query_int(name: str, default: int, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name!r} must be an integer",
                       [FieldError(f"query.{name}", f"not an integer: {raw!r}")]) from None
    if value < minimum or value > maximum:
        bound = f"between {minimum} and {maximum}"
        raise ApiError(400, f"query parameter {name!r} is out of range",
                       [FieldError(f"query.{name}", f"must be {bound}, not {value}")])
    return value


def query_bool(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, f"query parameter {name!r} must be true or false", [FieldError(f"query.{name}", f"not a boolean: {raw!r}")])


def query_choice(name: str, default: str, choices: set[str]) -> str:
    value = request.args.get(name, default)
    if value not in choices:
        raise ApiError(400, f"query parameter {name!r} is not one of {sorted(choices)}",
                       [FieldError(f"query.{name}", f"unknown value {value!r}")])
    return value


def paging() -> tuple[int, int]:
    return query_int("limit", 50, minimum=1, maximum=MAX_LIMIT), query_int("offset", 0)


def expected_revision(body_revision: Any = None) -> int | None:
    """The revision the client based its change on: ``If-Match: "<n>"`` wins over a ``revision`` in the body."""
    header = request.headers.get("If-Match")
    if header:
        match = re.fullmatch(r'\s*(?:W/)?"(\d+)"\s*', header)
        if not match:
            raise ApiError(400, "If-Match must be an ETag of this API, e.g. \"3\"", [FieldError("header.If-Match", "malformed")])
        return min(int(match.group(1)), MAX_INT + 1)  # beyond any real revision: simply stale
    if body_revision is None:
        return None
    if not isinstance(body_revision, int) or isinstance(body_revision, bool):
        raise ApiError(400, "revision must be an integer", [FieldError("revision", "must be an integer")])
    return body_revision


def required_revision(body_revision: Any = None) -> int:
    """A replace or merge must say which revision it was based on, else it could silently undo another
    writer's change: 428 Precondition Required (RFC 6585) when neither ``If-Match`` nor ``revision`` is sent."""
    revision = expected_revision(body_revision)
    if revision is None:
        raise ApiError(428, "this change must say which revision it is based on: send If-Match with the ETag "
                            "of your GET (e.g. If-Match: \"3\"), or \"revision\" in the body",
                       [FieldError("header.If-Match", "required (or 'revision' in the body)")])
    return revision
