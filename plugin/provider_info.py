"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

It documents the ``[mlops]`` options (so ``airflow config list`` shows them with their defaults) and
registers the DB manager that makes ``airflow db migrate`` create and upgrade the plugin's tables.
"""

from __future__ import annotations

from typing import Any

from airflow_mlops_dag_factory.settings import OPTIONS

PACKAGE_NAME = "airflow-mlops"
VERSION = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Airflow MLOps",
        "description": "Build, version, run and govern ML workflows in Airflow's UI; each workflow is a real DAG.",
        "versions": [VERSION],
        "db-managers": ["airflow_mlops.db_manager.MLOpsDBManager"],
        "config": {
            "mlops": {
                "description": "Settings of the airflow-mlops plugin.",
                "options": {
                    option.key: {
                        "description": option.description,
                        "version_added": "0.1.0",
                        "type": option.type,
                        "example": option.example,
                        "default": option.default,
                    }
                    for option in OPTIONS
                },
            }
        },
    }
