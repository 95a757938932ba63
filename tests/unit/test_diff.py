"""The structured diff between two workflow specs."""

from __future__ import annotations

import copy
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from airflow_mlops.services.diff import diff_specs
from airflow_mlops_dag_factory.spec import ParamSpec, TaskSpec, WorkflowSpec, parse_spec

OLD = {
    "name": "wf", "schedule": None, "retries": 0,
    "params": {"lr": {"type": "number", "default": 0.1}, "gone": {"type": "string"}},
    "tasks": [
        {"name": "load", "code": "return 1", "depends_on": []},
        {"name": "prep", "code": "x = load\nreturn x", "depends_on": ["load"]},
        {"name": "train", "code": "return prep * 2", "depends_on": ["prep"], "retries": 1},
        {"name": "old", "code": "return 'bye'", "depends_on": []},
    ],
}
NEW = {
    "name": "wf", "schedule": "@daily", "retries": 0,
    "params": {"lr": {"type": "number", "default": 0.01}, "epochs": {"type": "integer"}},
    "tasks": [
        {"name": "load", "code": "return 1", "depends_on": []},
        {"name": "prepare", "code": "x = load\nreturn x", "depends_on": ["load"]},
        {"name": "train", "code": "return prepare * 3", "depends_on": ["prepare", "load"], "retries": 2},
        {"name": "report", "code": "print(train)", "depends_on": ["train"]},
    ],
}


def test_identical_specs():
    diff = diff_specs(OLD, OLD)
    assert diff["identical"] is True
    assert diff["tasks"] == {"added": [], "removed": [], "renamed": [], "changed": []}


def test_every_kind_of_change():
    diff = diff_specs(OLD, NEW)
    assert diff["identical"] is False
    assert diff["settings"] == [{"field": "schedule", "old": None, "new": "@daily"}]
    param = ParamSpec.model_validate  # changed parameters are shown whole, defaults included (as stored)
    assert diff["params"] == {
        "added": ["epochs"], "removed": ["gone"],
        "changed": [{"name": "lr", "old": param({"type": "number", "default": 0.1}).model_dump(mode="json"),
                     "new": param({"type": "number", "default": 0.01}).model_dump(mode="json")}],
    }
    tasks = diff["tasks"]
    assert tasks["added"] == ["report"]
    assert tasks["removed"] == ["old"]
    assert tasks["renamed"] == [{"from": "prep", "to": "prepare"}]
    [train] = [c for c in tasks["changed"] if c["name"] == "train"]
    assert train["fields"] == [{"field": "retries", "old": 1, "new": 2}]
    assert train["depends_on_added"] == ["prepare", "load"] and train["depends_on_removed"] == ["prep"]
    assert "-return prep * 2\n+return prepare * 3\n" in train["code_diff"]
    assert [c["name"] for c in tasks["changed"]] == ["train"]  # the rename itself changed nothing else


def docker_task(name: str, image: str, **docker: Any) -> dict[str, Any]:
    return {"name": name, "type": "docker", "docker": {"image": image, **docker}}


def test_a_docker_setting_change_is_a_changed_field_with_the_settings_old_and_new():
    old = {"name": "wf", "tasks": [docker_task("train", "python:3.11", environment={"A": "1"})]}
    new = {"name": "wf", "tasks": [docker_task("train", "python:3.12", environment={"A": "1"})]}
    diff = diff_specs(old, new)
    assert diff["identical"] is False
    [change] = diff["tasks"]["changed"]
    [field] = change["fields"]
    assert field["field"] == "docker"
    assert (field["old"]["image"], field["new"]["image"]) == ("python:3.11", "python:3.12")
    assert field["old"]["environment"] == field["new"]["environment"] == {"A": "1"}


def test_tasks_without_code_are_not_taken_for_a_rename():
    old = {"name": "wf", "tasks": [docker_task("a", "busybox:1")]}
    new = {"name": "wf", "tasks": [docker_task("b", "alpine:3")]}
    tasks = diff_specs(old, new)["tasks"]
    assert tasks == {"added": ["b"], "removed": ["a"], "renamed": [], "changed": []}
    # Same container, new name: a rename.
    same = {"name": "wf", "tasks": [docker_task("b", "busybox:1")]}
    assert diff_specs(old, same)["tasks"]["renamed"] == [{"from": "a", "to": "b"}]


def test_renaming_a_task_and_its_downstream_task_is_two_renames():
    old = {"name": "wf", "tasks": [{"name": "a", "code": "return 1"},
                                   {"name": "b", "code": "return a", "depends_on": ["a"]}]}
    new = {"name": "wf", "tasks": [{"name": "a2", "code": "return 1"},
                                   {"name": "b2", "code": "return a", "depends_on": ["a2"]}]}
    tasks = diff_specs(old, new)["tasks"]
    assert tasks["renamed"] == [{"from": "a", "to": "a2"}, {"from": "b", "to": "b2"}]
    assert (tasks["added"], tasks["removed"]) == ([], [])


def test_a_version_without_a_field_equals_one_stating_its_default():
    old = {"name": "wf", "tasks": [{"name": "a", "code": "return 1"}]}
    new = {"name": "wf", "owner": "airflow", "notifications": {"use_defaults": True},
           "tasks": [{"name": "a", "code": "return 1", "type": "python", "trigger_rule": None, "depends_on": []}]}
    assert diff_specs(old, new)["identical"] is True


# -- every field of the spec, found by introspection, shows in the diff when it changes ----------------------
def _annotation(info: FieldInfo) -> Any:
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _model_in(tp: Any) -> type[BaseModel] | None:
    """The model a field holds, if any (through Annotated and Optional)."""
    if get_origin(tp) is Annotated:
        return _model_in(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return next((m for m in map(_model_in, get_args(tp)) if m), None)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _container_of_models(tp: Any) -> type[BaseModel] | None:
    """The model a list or dict field holds as items, if any."""
    if get_origin(tp) is Annotated:
        return _container_of_models(get_args(tp)[0])
    if get_origin(tp) in (list, dict):
        return _model_in(get_args(tp)[-1])
    return None


def _candidates(tp: Any) -> list[Any]:
    """Values of type ``tp``, fullest first (so a base spec has an item in every list and dict to look into)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _candidates(args[0])
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return [c for a in members for c in _candidates(a)] + ([None] if len(members) < len(args) else [])
    if origin is Literal:
        return list(args)
    if origin is list:
        return [[c] for c in _candidates(args[0])[:2]] + [[]]
    if origin is dict:
        return [{"x": c} for c in _candidates(args[1])[:2]] + [{}]
    if _model_in(tp):
        full = _full(tp)
        return [full, {f: full[f] for f, info in tp.model_fields.items() if info.is_required()}]
    samples = {bool: [False, True], int: [1, 2, 0], float: [1.0, 2.5], str: ["x", "y"], Any: ["x", "y"]}
    if tp in samples:
        return samples[tp]
    raise TypeError(f"no sample values for {tp!r}: teach this test the new type")


def _valid(tp: Any, value: Any) -> bool:
    try:
        TypeAdapter(tp).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def _pick(tp: Any, unlike: Any = ...) -> Any:
    return next((c for c in _candidates(tp) if c != unlike and _valid(tp, c)), ...)


def _full(model: type[BaseModel]) -> dict[str, Any]:
    return {name: _pick(_annotation(info)) for name, info in model.model_fields.items()}


def _leaves(model: type[BaseModel], value: dict[str, Any], path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, annotation) of every field, into nested models and into the first item of lists/dicts of models."""
    found = []
    for name, info in model.model_fields.items():
        tp, here = _annotation(info), value[name]
        found.append(((*path, name), tp))
        if (nested := _model_in(tp)) and isinstance(here, dict):
            found += _leaves(nested, here, (*path, name))
        elif (item := _container_of_models(tp)) and here:
            key = 0 if isinstance(here, list) else next(iter(here))
            found += _leaves(item, here[key], (*path, name, key))
    return found


BASE = _full(WorkflowSpec)
LEAVES = _leaves(WorkflowSpec, BASE)


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _labels(diff: dict[str, Any]) -> set[str]:
    """What a diff names: settings, parameters, tasks and each changed task's fields."""
    labels = {f"settings.{c['field']}" for c in diff["settings"]}
    params, tasks = diff["params"], diff["tasks"]
    labels |= {f"params.{n}" for n in params["added"] + params["removed"] + [c["name"] for c in params["changed"]]}
    labels |= {f"tasks.{n}" for n in tasks["added"] + tasks["removed"]}
    labels |= {f"tasks.{r['from']}->{r['to']}" for r in tasks["renamed"]}
    for change in tasks["changed"]:
        labels |= {f"tasks.{change['name']}.{f['field']}" for f in change["fields"]}
        if change["code_diff"]:
            labels.add(f"tasks.{change['name']}.code")
        if change["depends_on_added"] or change["depends_on_removed"]:
            labels.add(f"tasks.{change['name']}.depends_on")
    return labels


def test_the_base_spec_is_valid_and_reaches_every_field():
    assert parse_spec(BASE)[1] == []
    assert diff_specs(BASE, BASE)["identical"] is True
    paths = [p for p, _ in LEAVES]
    assert {p[0] for p in paths} == set(WorkflowSpec.model_fields)
    assert {p[2] for p in paths if p[:2] == ("tasks", 0) and len(p) > 2} == set(TaskSpec.model_fields)
    for path, tp in LEAVES:  # every field that holds models is looked into too
        if _model_in(tp) or _container_of_models(tp):
            assert any(len(p) > len(path) and p[:len(path)] == path for p in paths), path


# A field with a single valid value (schema_version) cannot change, so it has no case here.
CHANGEABLE = [(path, tp) for path, tp in LEAVES if _pick(tp, unlike=_get(BASE, path)) is not ...]


@pytest.mark.parametrize("path,tp", CHANGEABLE, ids=[".".join(map(str, p)) for p, _ in CHANGEABLE])
def test_changing_any_field_of_the_spec_shows_in_the_diff(path, tp):
    other = _pick(tp, unlike=_get(BASE, path))
    changed = copy.deepcopy(BASE)
    _get(changed, path[:-1])[path[-1]] = other
    assert parse_spec(changed)[1] == [], "the changed spec must still be a valid spec"
    diff = diff_specs(BASE, changed)
    assert diff["identical"] is False, path
    task = BASE["tasks"][0]["name"]
    if path[:2] == ("tasks", 0) and len(path) > 2:
        expected = {f"tasks.{task}->{other}"} if path[2:] == ("name",) else {f"tasks.{task}.{path[2]}"}
    elif path[0] == "params" and len(path) > 2:
        expected = {f"params.{path[1]}"}
    elif path[0] in ("tasks", "params"):
        assert _labels(diff) and all(label.startswith(f"{path[0]}.") for label in _labels(diff))
        return
    else:
        expected = {f"settings.{path[0]}"}
    assert _labels(diff) == expected, (path, diff)
