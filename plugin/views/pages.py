"""The MLOps pages inside Airflow's UI: one Flask-AppBuilder view serving a page shell per route.

Every page is the same small HTML shell (no FAB navbar, no deprecation banner) that loads the bundled
script from ``static/mlops``; the script renders the page and talks to the REST API with the caller's
cookie plus the CSRF token embedded here. The guard runs first: anonymous -> Airflow's login, no
permission -> a plain 403 page.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, render_template, send_from_directory
from flask_appbuilder import BaseView, expose
from flask_wtf.csrf import generate_csrf

from airflow_mlops import security as sec
from airflow_mlops.api.auth import Caller, resolve_caller
from airflow_mlops.api.routes import URL_PREFIX
from airflow_mlops.live.app import LIVE_PREFIX
from airflow_mlops.views.guard import page_guard

HERE = Path(__file__).parent
STATIC = HERE.parent / "static"
PLUGIN_ROOT = "/pluginsv2"


def asset_url(name: str) -> str:
    return f"{PLUGIN_ROOT}{MLOpsPagesView.route_base}/static/mlops/{name}?v={asset_version(name)}"


def asset_urls() -> dict[str, str]:
    """The stylesheet and scripts every page (the 403 page too) loads."""
    return {"style": asset_url("app.css"), "theme_script": asset_url("theme.js"), "script": asset_url("app.js")}


@cache
def asset_version(name: str) -> str:
    """Content hash of a bundled asset, so browsers never run a stale script after an upgrade."""
    path = STATIC / "mlops" / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "missing"


def permissions(caller: Caller) -> dict[str, bool]:
    """What the page may offer; the API enforces the same rules again on every call."""
    may = caller.may
    return {
        "read_workflows": may(sec.READ, sec.RESOURCE_WORKFLOWS),
        "create_workflows": may(sec.CREATE, sec.RESOURCE_WORKFLOWS),
        "edit_workflows": may(sec.EDIT, sec.RESOURCE_WORKFLOWS),
        "delete_workflows": may(sec.DELETE, sec.RESOURCE_WORKFLOWS),
        "manage_all_workflows": may(sec.EDIT, sec.RESOURCE_ALL_WORKFLOWS),
        "review_drafts": may(sec.EDIT, sec.RESOURCE_REVIEWS),
        "read_templates": may(sec.READ, sec.RESOURCE_TEMPLATES),
        "create_templates": may(sec.CREATE, sec.RESOURCE_TEMPLATES),
        "read_runs": may(sec.READ, sec.RESOURCE_RUNS),
        "trigger_runs": may(sec.CREATE, sec.RESOURCE_RUNS),
        "read_audit": may(sec.READ, sec.RESOURCE_AUDIT),
    }


class MLOpsPagesView(BaseView):
    route_base = "/mlops"
    default_view = "workflows"
    # Absolute: FAB builds the blueprint with its own module name, so relative folders would point into FAB.
    template_folder = str(HERE / "templates")
    class_permission_name = sec.RESOURCE_WORKFLOWS
    # Every action checked on this resource must be listed: FAB deletes unlisted actions on each start.
    base_permissions = [sec.READ, sec.CREATE, sec.EDIT, sec.DELETE]

    def _page(self, caller: Caller, page: str, **ids: Any) -> str:
        boot = {
            "page": page, "ids": ids, "user": caller.username, "perms": permissions(caller),
            "api": f"{PLUGIN_ROOT}{URL_PREFIX}", "pages": f"{PLUGIN_ROOT}{self.route_base}",
            "live": f"{LIVE_PREFIX}/events", "csrf": generate_csrf(),
        }
        return render_template("mlops/app.html", boot=boot, page=page, **asset_urls())

    @expose("/static/mlops/<path:filename>")
    def asset(self, filename: str) -> Response:
        """The bundled script and stylesheet: for signed-in users only, cached for good (the URL has a hash)."""
        if resolve_caller() is None:
            return Response("authentication required", status=401, mimetype="text/plain")
        response = send_from_directory(STATIC / "mlops", filename, max_age=365 * 24 * 3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @expose("/")
    @page_guard(sec.READ, sec.RESOURCE_WORKFLOWS)
    def workflows(self, caller: Caller) -> str:
        return self._page(caller, "workflows")

    @expose("/workflows/new")
    @page_guard(sec.CREATE, sec.RESOURCE_WORKFLOWS)
    def new_workflow(self, caller: Caller) -> str:
        return self._page(caller, "editor")

    @expose("/workflows/<workflow_id>")
    @page_guard(sec.READ, sec.RESOURCE_WORKFLOWS)
    def editor(self, caller: Caller, workflow_id: str) -> str:
        return self._page(caller, "editor", workflow_id=workflow_id)

    @expose("/workflows/<workflow_id>/versions")
    @page_guard(sec.READ, sec.RESOURCE_WORKFLOWS)
    def versions(self, caller: Caller, workflow_id: str) -> str:
        return self._page(caller, "versions", workflow_id=workflow_id)

    @expose("/workflows/<workflow_id>/runs")
    @page_guard(sec.READ, sec.RESOURCE_RUNS)
    def workflow_runs(self, caller: Caller, workflow_id: str) -> str:
        return self._page(caller, "runs", workflow_id=workflow_id)

    @expose("/runs")
    @page_guard(sec.READ, sec.RESOURCE_RUNS)
    def runs(self, caller: Caller) -> str:
        return self._page(caller, "runs")

    @expose("/compare")
    @page_guard(sec.READ, sec.RESOURCE_RUNS)
    def compare(self, caller: Caller) -> str:
        """2 to 50 runs side by side with charts: ``/compare?ids=a,b,c`` (the page reads the ids itself)."""
        return self._page(caller, "compare")

    @expose("/templates")
    @page_guard(sec.READ, sec.RESOURCE_TEMPLATES)
    def templates(self, caller: Caller) -> str:
        return self._page(caller, "templates")

    @expose("/audit")
    @page_guard(sec.READ, sec.RESOURCE_AUDIT)
    def audit(self, caller: Caller) -> str:
        return self._page(caller, "audit")
