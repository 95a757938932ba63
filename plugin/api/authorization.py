"""May this user do this to an MLOps resource? Evaluated by the FAB auth manager, failing closed elsewhere.

The MLOps permissions are FAB resources granted to FAB roles (``security.py``); only Airflow's FAB auth
manager knows them. Any other auth manager answers ``is_authorized_custom_view`` by its own rules, blind to
the action (Airflow 3's default SimpleAuthManager lets every Viewer "create", which here means running code
on workers). So under any other manager the plugin serves only reads of workflows, templates and runs, to
users that manager lets read a custom view, and refuses every write and the audit log, saying why in the
answer and in the api-server log. A FAB manager that fails while evaluating refuses too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from airflow_mlops import security

log = logging.getLogger(__name__)

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# What a non-FAB auth manager may still grant: reading what Airflow's own UI would show a Viewer anyway.
READABLE_WITHOUT_FAB = frozenset({security.RESOURCE_WORKFLOWS, security.RESOURCE_TEMPLATES, security.RESOURCE_RUNS})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Why the plugin could not evaluate its permissions (empty when it could, allowed or not).
    unavailable: str = ""


def decide(user: Any, action: str, resource: str) -> Decision:
    from airflow.api_fastapi.app import get_auth_manager

    manager = get_auth_manager()
    if _is_fab(manager):
        try:
            # FAB takes any action name for a plugin's resource (Airflow's custom-view contract, issue 39144).
            allowed = manager.is_authorized_custom_view(method=action, resource_name=resource, user=user)  # type: ignore[arg-type]
            return Decision(bool(allowed))
        except Exception:  # a broken role or permission table: refuse rather than guess
            log.exception("MLOps: the FAB auth manager failed to evaluate %s on %r; refused", action, resource)
            return Decision(False, f"the FAB auth manager failed to evaluate {action} on {resource!r}; "
                                   "see the api-server log")
    if action == security.READ and resource in READABLE_WITHOUT_FAB:
        return Decision(bool(manager.is_authorized_custom_view(method="GET", resource_name=resource, user=user)))
    return Decision(False, without_fab_reason(manager))


def without_fab_reason(manager: Any) -> str:
    kind = f"{type(manager).__module__}.{type(manager).__qualname__}"
    return (f"MLOps permissions need Airflow's FAB auth manager ([core] auth_manager = {FAB_AUTH_MANAGER}); "
            f"this Airflow uses {kind}, so every MLOps write and the audit log are refused")


def _is_fab(manager: Any) -> bool:
    try:
        from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
    except ImportError:  # the FAB provider is not installed: nothing can evaluate the plugin's permissions
        return False
    return isinstance(manager, FabAuthManager)
