"""The MLOps entry page: the caller's workflows with links to their DAGs, runs and the API.

The full editor, graph and run pages come with the UI issue; this page already shares Airflow's login,
enforces the plugin's permissions and escapes every user-provided text (Jinja autoescaping).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import render_template
from flask_appbuilder import BaseView, expose

from airflow_mlops import security as sec
from airflow_mlops.api.routes import URL_PREFIX
from airflow_mlops.services import workflows
from airflow_mlops.views.guard import page_guard


class WorkflowsView(BaseView):
    route_base = "/mlops"
    default_view = "index"
    # Absolute: FAB builds the blueprint with its own module name, so a relative folder would point into FAB.
    template_folder = str(Path(__file__).parent / "templates")
    class_permission_name = sec.RESOURCE_WORKFLOWS
    # Every action checked on this resource must be listed: FAB deletes unlisted actions on each start.
    base_permissions = [sec.READ, sec.CREATE, sec.EDIT, sec.DELETE]

    @expose("/")
    @page_guard(sec.READ, sec.RESOURCE_WORKFLOWS)
    def index(self, caller: Any) -> Any:
        page = workflows.list_workflows(limit=500)
        return render_template("mlops/index.html", base_template=self.appbuilder.base_template,
                               appbuilder=self.appbuilder, username=caller.username, workflows=page.items,
                               total=page.total, api_root=f"/pluginsv2{URL_PREFIX}")
