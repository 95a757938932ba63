"""The Airflow plugin object, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops.api.routes import blueprint
from airflow_mlops.live.app import LIVE_PREFIX, StartLiveFeed
from airflow_mlops.live.app import app as live_app
from airflow_mlops.monitoring.api_metrics import instrument
from airflow_mlops.monitoring.app import METRICS_PREFIX
from airflow_mlops.monitoring.app import app as metrics_app
from airflow_mlops.tracking.exporter import StartTracking
from airflow_mlops.views.pages import MLOpsPagesView


@blueprint.record_once
def _exempt_from_global_csrf(_state: Any) -> None:
    """Token clients must not need a CSRF token; the API checks it itself for cookie callers (api/auth.py).

    Runs only where the blueprint is registered (the api-server's ``/pluginsv2`` app), so other processes
    that load the plugin never import the web stack for it.
    """
    from airflow.providers.fab.www.app import csrf

    csrf.exempt(blueprint)


instrument(blueprint)


class MLOpsPlugin(AirflowPlugin):
    name = "mlops"
    flask_blueprints = [blueprint]
    # Live run/task states (Server-Sent Events) on the api-server's own ASGI app: one coroutine per page.
    fastapi_apps = [{"app": live_app, "url_prefix": LIVE_PREFIX, "name": "MLOps live states"},
                    {"app": metrics_app, "url_prefix": METRICS_PREFIX, "name": "MLOps Prometheus metrics"}]
    # Starts the state feed with the api-server, so changes are recorded even while no page is open.
    # Starts the MLflow exporter too (idle while tracking is not configured).
    fastapi_root_middlewares = [{"middleware": StartLiveFeed, "args": [], "kwargs": {}, "name": "MLOps live feed"},
                                {"middleware": StartTracking, "args": [], "kwargs": {}, "name": "MLOps MLflow tracking"}]
    appbuilder_views = [{"view": MLOpsPagesView()}]  # no "name": no extra "Legacy Views" nav entry
    # Entries in Airflow's own navigation (Plugins -> MLOps -> ...), each shown as an iframe page; the pages
    # link to each other (editor, versions, runs) inside that iframe. Airflow shows plugin menus to every role
    # that can read "Plugins", so a role without the audit permission gets the plain 403 page there.
    external_views = [
        {"name": name, "href": f"/pluginsv2/mlops/{path}", "category": "MLOps", "url_route": f"mlops-{route}",
         "destination": "nav"}
        for name, path, route in (("Workflows", "", "workflows"), ("Templates", "templates", "templates"),
                                  ("Runs", "runs", "runs"), ("Audit log", "audit", "audit"))
    ]
