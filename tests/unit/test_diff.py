"""The structured diff between two workflow specs."""

from __future__ import annotations

from airflow_mlops.services.diff import diff_specs

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
    assert diff["params"] == {
        "added": ["epochs"], "removed": ["gone"],
        "changed": [{"name": "lr", "old": {"type": "number", "default": 0.1}, "new": {"type": "number", "default": 0.01}}],
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
