"""The Airflow plugin object, registered through the ``airflow.plugins`` entry point."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops.api.routes import blueprint


@blueprint.record_once
def _exempt_from_global_csrf(_state) -> None:
    """Token clients must not need a CSRF token; the API checks it itself for cookie callers (api/auth.py).

    Runs only where the blueprint is registered (the api-server's ``/pluginsv2`` app), so other processes
    that load the plugin never import the web stack for it.
    """
    from airflow.providers.fab.www.app import csrf

    csrf.exempt(blueprint)


class MLOpsPlugin(AirflowPlugin):
    name = "mlops"
    flask_blueprints = [blueprint]
