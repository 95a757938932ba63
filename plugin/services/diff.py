"""Structured difference between two workflow specs: what a reviewer wants to know, not a text diff.

Tasks added, removed and renamed (same code under a new name), per-task field changes with a unified
diff of the code, dependencies added and removed, parameter and setting changes (old -> new).
"""

from __future__ import annotations

import difflib
from typing import Any

from airflow_mlops_dag_factory.spec import parse_spec

TASK_FIELDS = ("type", "retries", "timeout_seconds", "description")


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old, new = _with_defaults(old), _with_defaults(new)
    settings = [
        {"field": key, "old": old.get(key), "new": new.get(key)}
        for key in sorted((set(old) | set(new)) - {"tasks", "params"})
        if old.get(key) != new.get(key)
    ]
    params = _diff_params(old.get("params") or {}, new.get("params") or {})
    tasks = _diff_tasks({t["name"]: t for t in old.get("tasks") or []}, {t["name"]: t for t in new.get("tasks") or []})
    identical = not settings and not any(params.values()) and not any(tasks.values())
    return {"identical": identical, "settings": settings, "params": params, "tasks": tasks}


def _with_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """Versions saved before a field existed lack it: compare them with its default, not with nothing."""
    parsed, _ = parse_spec(spec)
    return {**parsed.to_dict(), **spec} if parsed else spec


def _diff_params(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": [{"name": n, "old": old[n], "new": new[n]} for n in sorted(set(old) & set(new)) if old[n] != new[n]],
    }


def _diff_tasks(old: dict[str, dict], new: dict[str, dict]) -> dict[str, Any]:
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    renamed = []
    for name in list(removed):
        twin = next((a for a in added if new[a].get("code") == old[name].get("code")), None)
        if twin is not None:
            renamed.append({"from": name, "to": twin})
            removed.remove(name)
            added.remove(twin)
    pairs = [(n, n) for n in old if n in new] + [(r["from"], r["to"]) for r in renamed]
    changed = [c for c in (_diff_task(old[a], new[b]) for a, b in pairs) if c]
    return {"added": added, "removed": removed, "renamed": renamed, "changed": changed}


def _diff_task(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    fields = [{"field": f, "old": old.get(f), "new": new.get(f)} for f in TASK_FIELDS if old.get(f) != new.get(f)]
    old_deps, new_deps = old.get("depends_on") or [], new.get("depends_on") or []
    deps_added = [d for d in new_deps if d not in old_deps]
    deps_removed = [d for d in old_deps if d not in new_deps]
    code_diff = ""
    if old.get("code") != new.get("code"):
        code_diff = "\n".join(difflib.unified_diff(
            (old.get("code") or "").splitlines(), (new.get("code") or "").splitlines(),
            fromfile=f"{old['name']} (old)", tofile=f"{new['name']} (new)", lineterm="")) + "\n"
    if not (fields or deps_added or deps_removed or code_diff):
        return None
    return {"name": new["name"], "fields": fields, "depends_on_added": deps_added,
            "depends_on_removed": deps_removed, "code_diff": code_diff}
