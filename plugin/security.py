"""The plugin's FAB permission model and the grants it adds to Airflow's default roles.

Resources are FAB resources ("MLOps Workflows", ...) with the standard actions. Writing task code is
code execution on workers, so only roles granted ``can_create``/``can_edit`` on "MLOps Workflows" may do
it; a custom role gets nothing unless an administrator grants it.
"""

from __future__ import annotations

from typing import Any

RESOURCE_WORKFLOWS = "MLOps Workflows"
RESOURCE_TEMPLATES = "MLOps Templates"
RESOURCE_RUNS = "MLOps Runs"
RESOURCE_AUDIT = "MLOps Audit Log"
# can_edit on these lifts the owner-only rule: edit/trigger/delete anyone's workflows, manage public templates;
# can_delete on "MLOps All Workflows" allows purging archived workflows and deleting unused versions (Admin).
RESOURCE_ALL_WORKFLOWS = "MLOps All Workflows"
RESOURCE_PUBLIC_TEMPLATES = "MLOps Public Templates"
# can_edit: approve or reject other users' drafts, and publish one's own without a review ([mlops] require_review).
RESOURCE_REVIEWS = "MLOps Reviews"
RESOURCES = (RESOURCE_WORKFLOWS, RESOURCE_TEMPLATES, RESOURCE_RUNS, RESOURCE_AUDIT)

READ, CREATE, EDIT, DELETE = "can_read", "can_create", "can_edit", "can_delete"
ALL_ACTIONS = (READ, CREATE, EDIT, DELETE)
# Airflow's nav shows plugin menus only to roles that can read "Plugins".
AIRFLOW_PLUGINS_RESOURCE = "Plugins"

_VIEWER = [(READ, RESOURCE_WORKFLOWS), (READ, RESOURCE_TEMPLATES), (READ, RESOURCE_RUNS),
           (READ, AIRFLOW_PLUGINS_RESOURCE)]
_USER = _VIEWER + [(CREATE, RESOURCE_WORKFLOWS), (EDIT, RESOURCE_WORKFLOWS), (DELETE, RESOURCE_WORKFLOWS),
                   (CREATE, RESOURCE_RUNS), (CREATE, RESOURCE_TEMPLATES), (EDIT, RESOURCE_TEMPLATES),
                   (DELETE, RESOURCE_TEMPLATES)]
_OP = _USER + [(EDIT, RESOURCE_ALL_WORKFLOWS), (EDIT, RESOURCE_REVIEWS)]
_ADMIN = [(action, resource) for resource in RESOURCES for action in ALL_ACTIONS] + [
    (EDIT, RESOURCE_ALL_WORKFLOWS), (DELETE, RESOURCE_ALL_WORKFLOWS), (EDIT, RESOURCE_PUBLIC_TEMPLATES),
    (EDIT, RESOURCE_REVIEWS)]

ROLE_GRANTS: dict[str, list[tuple[str, str]]] = {"Viewer": _VIEWER, "User": _USER, "Op": _OP, "Admin": _ADMIN}


def extend_role_configs(role_configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Airflow's ROLE_CONFIGS plus the MLOps grants; used by the security manager in webserver_config.py."""
    extended = []
    for config in role_configs:
        extra = [p for p in ROLE_GRANTS.get(config["role"], []) if p not in config["perms"]]
        extended.append({"role": config["role"], "perms": [*config["perms"], *extra]})
    known = {c["role"] for c in role_configs}
    extended += [{"role": role, "perms": perms} for role, perms in ROLE_GRANTS.items() if role not in known]
    return extended
