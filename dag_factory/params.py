"""Typed workflow parameters -> JSON Schema, the language Airflow's ``Param`` and trigger form speak."""

from __future__ import annotations

from typing import Any

from airflow_mlops_dag_factory.spec import ParamSpec

_JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "array": "array", "object": "object"}
# What "minimum"/"maximum" bound for each type, in JSON Schema words.
BOUND_KEYWORDS: dict[str, tuple[str, str]] = {
    "integer": ("minimum", "maximum"),
    "number": ("minimum", "maximum"),
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
}


def param_schema(param: ParamSpec) -> dict[str, Any]:
    """JSON Schema of one parameter (without default/description, which ``Param`` takes separately).

    An optional parameter also accepts ``null`` so a user can leave it empty in the trigger form.
    """
    schema: dict[str, Any] = {}
    if param.type == "enum":
        values = list(param.enum or [])
        schema["enum"] = values if param.required or None in values else [*values, None]
        return schema
    json_type = _JSON_TYPES[param.type]
    schema["type"] = json_type if param.required else [json_type, "null"]
    if param.type == "array" and param.items:
        schema["items"] = {"type": param.items}
    if param.type in BOUND_KEYWORDS:
        low_kw, high_kw = BOUND_KEYWORDS[param.type]
        if param.minimum is not None:
            schema[low_kw] = _bound(param.type, param.minimum)
        if param.maximum is not None:
            schema[high_kw] = _bound(param.type, param.maximum)
    return schema


def _bound(param_type: str, value: float) -> int | float:
    return value if param_type == "number" else int(value)
