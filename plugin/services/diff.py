"""Structured difference between two workflow specs: what a reviewer wants to know, not a text diff.

Tasks added, removed and renamed, per-task field changes with a unified diff of the code, dependencies
added and removed, parameter and setting changes (old -> new). The compared fields are read from the spec
models, so a field added to the spec shows up here without anyone remembering to list it; a nested
setting (a docker task's container settings, the notifications) is one field whose old and new are objects.
"""

from __future__ import annotations

import difflib
from typing import Any

from airflow_mlops_dag_factory.spec import TaskSpec, WorkflowSpec, parse_spec

# Task fields with their own keys in a task change (renames, code_diff, depends_on_*); all others are "fields".
TASK_OWN_KEYS = ("name", "code", "depends_on")
TASK_FIELDS = tuple(f for f in TaskSpec.model_fields if f not in TASK_OWN_KEYS)
# Workflow fields with their own section; all others are "settings".
WORKFLOW_OWN_KEYS = ("tasks", "params")
SETTING_FIELDS = tuple(f for f in WorkflowSpec.model_fields if f not in WORKFLOW_OWN_KEYS)


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old, new = _normalised(old), _normalised(new)
    settings = _changes(old, new, sorted(_keys(SETTING_FIELDS, old, new, WORKFLOW_OWN_KEYS)))
    params = _diff_params(_dict(old.get("params")), _dict(new.get("params")))
    tasks = _diff_tasks(_tasks(old), _tasks(new))
    identical = not settings and not any(params.values()) and not any(tasks.values())
    return {"identical": identical, "settings": settings, "params": params, "tasks": tasks}


def _normalised(spec: dict[str, Any]) -> dict[str, Any]:
    """Compare specs with every default filled in, so a version saved before a field existed (which lacks
    it) equals one that states the default. A spec that no longer parses is compared as stored."""
    parsed, _ = parse_spec(spec)
    return parsed.to_dict() if parsed else spec


def _keys(fields: tuple[str, ...], old: dict[str, Any], new: dict[str, Any], own: tuple[str, ...]) -> list[str]:
    """The model's fields, then any other key an unparseable stored spec has (so nothing is hidden)."""
    extra = sorted((set(old) | set(new)) - set(fields) - set(own))
    return [*fields, *extra]


def _changes(old: dict[str, Any], new: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    return [{"field": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tasks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tasks = spec.get("tasks")
    return {t["name"]: t for t in (tasks if isinstance(tasks, list) else [])
            if isinstance(t, dict) and isinstance(t.get("name"), str)}


def _diff_params(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": [{"name": n, "old": old[n], "new": new[n]} for n in sorted(set(old) & set(new)) if old[n] != new[n]],
    }


def _content(task: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """All of a task but its name, with dependencies on renamed tasks read under their new names."""
    deps = task.get("depends_on")
    deps = deps if isinstance(deps, list) else []
    return {**{k: v for k, v in task.items() if k != "name"}, "depends_on": sorted(str(renames.get(d, d)) for d in deps)}


def _find_renames(old: dict[str, dict], new: dict[str, dict]) -> dict[str, str]:
    """A removed task and an added one are a rename only when everything but the name is equal (code, or the
    container settings, retries, trigger rule...), not merely both code-less. Repeated until nothing new
    pairs, so renaming a task and its downstream task in one edit is read as two renames."""
    renames: dict[str, str] = {}
    found = True
    while found:
        found = False
        targets = [a for a in new if a not in old and a not in renames.values()]
        for name in (r for r in old if r not in new and r not in renames):
            content = _content(old[name], renames)
            twin = next((a for a in targets if _content(new[a], {}) == content), None)
            if twin is not None:
                renames[name] = twin
                targets.remove(twin)
                found = True
    return renames


def _diff_tasks(old: dict[str, dict], new: dict[str, dict]) -> dict[str, Any]:
    renames = _find_renames(old, new)
    removed = [n for n in old if n not in new and n not in renames]
    added = [n for n in new if n not in old and n not in renames.values()]
    renamed = [{"from": a, "to": b} for a, b in renames.items()]
    pairs = [(n, n) for n in old if n in new] + list(renames.items())
    changed = [c for c in (_diff_task(old[a], new[b]) for a, b in pairs) if c]
    return {"added": added, "removed": removed, "renamed": renamed, "changed": changed}


def _diff_task(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    fields = _changes(old, new, _keys(TASK_FIELDS, old, new, TASK_OWN_KEYS))
    old_deps, new_deps = old.get("depends_on") or [], new.get("depends_on") or []
    deps_added = [d for d in new_deps if d not in old_deps]
    deps_removed = [d for d in old_deps if d not in new_deps]
    code_diff = ""
    if old.get("code") != new.get("code"):
        code_diff = "\n".join(difflib.unified_diff(
            str(old.get("code") or "").splitlines(), str(new.get("code") or "").splitlines(),
            fromfile=f"{old['name']} (old)", tofile=f"{new['name']} (new)", lineterm="")) + "\n"
    if not (fields or deps_added or deps_removed or code_diff):
        return None
    return {"name": new["name"], "fields": fields, "depends_on_added": deps_added,
            "depends_on_removed": deps_removed, "code_diff": code_diff}
