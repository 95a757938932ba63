"""Every validation rule of a workflow spec, each with the exact error path and message users see."""

from __future__ import annotations

import copy

import pytest

from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.validate import find_cycle, validate_document

VALID = {
    "name": "churn_model",
    "description": "train and evaluate",
    "schedule": "@daily",
    "tags": ["ml"],
    "owner": "data-team",
    "params": {
        "lr": {"type": "number", "default": 0.1, "minimum": 0, "maximum": 1},
        "epochs": {"type": "integer", "default": 5, "minimum": 1},
        "mode": {"type": "enum", "enum": ["fast", "full"], "default": "fast"},
        "features": {"type": "array", "items": "string", "default": ["a"]},
        "extra": {"type": "object", "default": {"k": 1}},
        "dry_run": {"type": "boolean", "default": False},
        "dataset": {"type": "string", "required": True, "minimum": 1, "maximum": 50},
    },
    "tasks": [
        {"name": "load", "code": "result = 1"},
        {"name": "train", "depends_on": ["load"], "code": "return load + 1", "retries": 2, "timeout_seconds": 60},
    ],
}


def errors_of(**changes) -> list[FieldError]:
    doc = copy.deepcopy(VALID)
    for key, value in changes.items():
        doc[key] = value
    spec, errors = validate_document(doc)
    assert (spec is None) == bool(errors)
    return errors


def with_tasks(*tasks) -> list[FieldError]:
    return errors_of(tasks=list(tasks))


def test_valid_document_has_no_errors():
    spec, errors = validate_document(VALID)
    assert errors == []
    assert spec.name == "churn_model"
    assert spec.to_dict()["schema_version"] == 1


def test_document_must_be_an_object():
    assert validate_document([1])[1] == [FieldError("$", "a workflow must be a JSON object")]


def test_unknown_field_and_wrong_types_are_all_reported():
    doc = copy.deepcopy(VALID)
    doc["colour"] = "red"
    doc["retries"] = "3"
    doc["tasks"][1]["depends_on"] = "load"
    _, errors = validate_document(doc)
    assert FieldError("colour", "unknown field") in errors
    assert FieldError("retries", "Input should be a valid integer") in errors
    assert FieldError("tasks[1].depends_on", "Input should be a valid list") in errors


def test_missing_name():
    doc = copy.deepcopy(VALID)
    del doc["name"]
    assert validate_document(doc)[1] == [FieldError("name", "Field required")]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "workflow name must not be empty"),
        ("a b", "workflow name 'a b' may contain only ASCII letters, digits, '_', '-' and '.'"),
        ("café", "workflow name 'café' may contain only ASCII letters, digits, '_', '-' and '.'"),
        ("x" * 251, "String should have at most 250 characters"),
    ],
)
def test_workflow_name_follows_dag_id_rules(name, message):
    assert errors_of(name=name) == [FieldError("name", message)]


@pytest.mark.parametrize("schedule", [None, "@daily", "@once", "@continuous", "*/5 * * * *", "0 3 * * mon-fri"])
def test_valid_schedules(schedule):
    assert errors_of(schedule=schedule) == []


def test_unknown_preset():
    [error] = errors_of(schedule="@fortnightly")
    assert error.path == "schedule"
    assert error.message.startswith("unknown preset '@fortnightly'; use one of @continuous, @daily")


@pytest.mark.parametrize("cron", ["61 * * * *", "* * *", "every day"])
def test_invalid_cron(cron):
    [error] = errors_of(schedule=cron)
    assert error.path == "schedule"
    assert error.message.startswith(f"invalid cron expression {cron!r}: ")


def test_tags():
    assert errors_of(tags=["ok", " ", "y" * 101, "ok"]) == [
        FieldError("tags[1]", "must not be empty"),
        FieldError("tags[2]", "must be at most 100 characters"),
        FieldError("tags", "tags must be unique"),
    ]


def test_owner_must_not_be_blank():
    assert errors_of(owner="  ") == [FieldError("owner", "must not be empty")]


@pytest.mark.parametrize(
    ("param", "path", "message"),
    [
        ({"type": "integer", "default": 1.5}, "params.p.default", "default does not fit the parameter: 1.5 is not of type 'integer', 'null'"),
        ({"type": "integer", "default": 0, "minimum": 1}, "params.p.default", "default does not fit the parameter: 0 is less than the minimum of 1"),
        ({"type": "number", "minimum": 2, "maximum": 1}, "params.p.minimum", "minimum 2.0 is greater than maximum 1.0"),
        ({"type": "string", "default": "abc", "maximum": 2}, "params.p.default", "default does not fit the parameter: 'abc' is too long"),
        ({"type": "string", "minimum": 1.5}, "params.p.minimum", "must be a whole number >= 0 for type 'string'"),
        ({"type": "boolean", "maximum": 1}, "params.p.maximum", "a parameter of type 'boolean' takes no maximum"),
        ({"type": "enum"}, "params.p.enum", "an enum parameter needs a non-empty list of values"),
        ({"type": "enum", "enum": ["a", "a"]}, "params.p.enum", "values must be unique"),
        ({"type": "enum", "enum": ["a", "b"], "default": "c"}, "params.p.default", "default does not fit the parameter: 'c' is not one of ['a', 'b', None]"),
        ({"type": "string", "enum": ["a"]}, "params.p.enum", "only parameters of type 'enum' take a list of values"),
        ({"type": "string", "items": "string"}, "params.p.items", "only parameters of type 'array' take an item type"),
        ({"type": "array", "items": "integer", "default": ["x"]}, "params.p.default", "default does not fit the parameter: 'x' is not of type 'integer'"),
        ({"type": "object", "default": [1]}, "params.p.default", "default does not fit the parameter: [1] is not of type 'object', 'null'"),
    ],
)
def test_parameter_schema_rules(param, path, message):
    assert errors_of(params={"p": param}) == [FieldError(path, message)]


def test_parameter_type_must_be_known():
    [error] = errors_of(params={"p": {"type": "date"}})
    assert error.path == "params.p.type"
    assert "'string', 'integer', 'number', 'boolean', 'enum', 'array' or 'object'" in error.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1abc", "parameter name must be a Python identifier (letters, digits, '_')"),
        ("a-b", "parameter name must be a Python identifier (letters, digits, '_')"),
        ("__mlops__", "parameter names starting with '__' are reserved"),
    ],
)
def test_parameter_names(name, message):
    assert errors_of(params={name: {"type": "string"}}) == [FieldError(f"params.{name}", message)]


def test_needs_a_task():
    assert errors_of(tasks=[]) == [FieldError("tasks", "a workflow needs at least one task")]


def test_task_names():
    assert with_tasks(
        {"name": "bad name", "code": "1"}, {"name": "params", "code": "1"}, {"name": "ok", "code": "1"},
        {"name": "ok", "code": "1"},
    ) == [
        FieldError("tasks[0].name", "task name 'bad name' may contain only ASCII letters, digits, '_', '-' and '.'"),
        FieldError("tasks[1].name", "'params' is reserved for the task code's globals"),
        FieldError("tasks[3].name", "duplicate task name 'ok' (also tasks[2])"),
    ]


def test_unknown_self_and_duplicate_dependencies():
    assert with_tasks(
        {"name": "a", "code": "1", "depends_on": ["ghost", "a"]},
        {"name": "b", "code": "1", "depends_on": ["a", "a"]},
    ) == [
        FieldError("tasks[0].depends_on[0]", "unknown task 'ghost'"),
        FieldError("tasks[0].depends_on[1]", "task 'a' cannot depend on itself"),
        FieldError("tasks[1].depends_on", "dependencies must be unique"),
    ]


def test_cycle_is_named():
    assert with_tasks(
        {"name": "start", "code": "1"},
        {"name": "a", "code": "1", "depends_on": ["start", "b"]},
        {"name": "b", "code": "1", "depends_on": ["c"]},
        {"name": "c", "code": "1", "depends_on": ["a"]},
    ) == [FieldError("tasks[1].depends_on", "dependency cycle: a -> b -> c -> a")]


def test_two_task_cycle():
    assert with_tasks(
        {"name": "a", "code": "1", "depends_on": ["b"]}, {"name": "b", "code": "1", "depends_on": ["a"]},
    ) == [FieldError("tasks[0].depends_on", "dependency cycle: a -> b -> a")]


def test_find_cycle_on_a_deep_chain_does_not_recurse():
    graph = {f"t{i}": [f"t{i + 1}"] for i in range(5000)}
    graph["t5000"] = []
    assert find_cycle(graph) is None
    graph["t5000"] = ["t0"]
    assert find_cycle(graph)[0] == find_cycle(graph)[-1]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\ny = (", "line 2, column 5: '(' was never closed"),
        ("if True:\nprint(1)", "line 2, column 1: expected an indented block after 'if' statement on line 1"),
        ("x = 1\nyield x", "line 2, column 1: 'yield' is not allowed in task code"),
        ("from os import *", "line 1, column 16: import * only allowed at module level"),
        ("   ", "task code must not be empty"),
    ],
)
def test_code_must_compile(code, message):
    assert with_tasks({"name": "a", "code": "1"}, {"name": "b", "code": code}) == [FieldError("tasks[1].code", message)]


def test_code_may_return_or_set_result():
    assert with_tasks({"name": "a", "code": "def f():\n    return 2\nreturn f()"}) == []


def test_negative_retries():
    [error] = errors_of(retries=-1)
    assert error == FieldError("retries", "Input should be greater than or equal to 0")


def test_per_field_size_limits():
    doc = copy.deepcopy(VALID)
    doc["tasks"][0]["code"] = "x = 1\n" * 40_000
    doc["description"] = "d" * 10_001
    doc["tags"] = [f"t{i}" for i in range(51)]
    _, errors = validate_document(doc)
    assert FieldError("tasks[0].code", "String should have at most 200000 characters") in errors
    assert FieldError("description", "String should have at most 10000 characters") in errors
    assert FieldError("tags", "List should have at most 50 items after validation, not 51") in errors
    too_many = {**VALID, "tasks": [{"name": f"t{i}", "code": "1"} for i in range(501)]}
    assert FieldError("tasks", "List should have at most 500 items after validation, not 501") in validate_document(too_many)[1]
