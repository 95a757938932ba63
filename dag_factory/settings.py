"""The ``[mlops]`` configuration options: their defaults live here, once.

The provider info (``airflow_mlops.provider_info``) documents them from this table, and every process
(api-server, dag-processor, workers) reads them through Airflow's config, so ``AIRFLOW__MLOPS__*``
environment variables and ``airflow.cfg`` both work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Option:
    key: str
    default: str
    description: str
    example: str | None = None
    type: str = "string"


OPTIONS: tuple[Option, ...] = (
    Option(
        "sql_alchemy_conn", "",
        "SQLAlchemy URL of the plugin's own tables (workflows, versions, runs, audit). Empty means a SQLite "
        "file ``mlops.db`` in AIRFLOW_HOME. The DAG processor and workers read it directly because they "
        "cannot reach Airflow's database; give them a read-only role in production.",
        "postgresql+psycopg://mlops@db:5432/mlops",
    ),
    Option(
        "cache_dir", "",
        "Folder where the DAG loader keeps the last good copy of the workflow specs, served when the plugin "
        "database is unreachable. Empty means ``mlops_cache`` in AIRFLOW_HOME.",
    ),
    Option(
        "artifact_root", "",
        "Folder (or mounted volume) where tasks write artifacts: each run gets ``<dag_id>/<run_id>/`` (the "
        "``artifacts`` name in task code) and models are registered under ``registry/``. Empty means "
        "``mlops_artifacts`` in AIRFLOW_HOME. Workers must share it.",
    ),
    Option(
        "dag_bundle", "",
        "Name of the DAG bundle holding ``mlops_workflows.py``; used for priority parse requests after a save. "
        "Empty: the name of the MLOps DAG bundle in ``[dag_processor] dag_bundle_config_list``, else "
        "``dags-folder``.",
    ),
    Option(
        "dag_file", "mlops_workflows.py",
        "Path of the MLOps DAG file relative to its bundle; used for priority parse requests after a save.",
    ),
    Option(
        "dag_file_shards", "1",
        "Number of DAG files the generated DAGs are spread over, so the dag-processor parses them in parallel "
        "and no file nears Airflow's file processing timeout (a few hundred workflows per file; see "
        "bench/RESULTS.md). Shard 0 is ``dag_file``; after raising it run ``airflow-mlops shards write`` to create the "
        "other files (until then shard 0 builds their DAGs).",
        "8", type="integer",
    ),
    Option(
        "dag_access_control", "True",
        "Give every generated DAG FAB ``access_control`` (Viewer reads; User and Op edit and trigger). The "
        "dag-processor syncs these per-DAG permissions into FAB for each DAG it serializes, a cost that grows "
        "with the number of DAGs (see bench/RESULTS.md); with thousands of workflows set False when the roles' "
        "permissions on all DAGs suffice (FAB's default Viewer, User and Op roles have them).",
        "False", type="boolean",
    ),
    Option(
        "max_request_bytes", "1048576",
        "Largest request body the MLOps REST API accepts, in bytes; larger ones get 413.",
        type="integer",
    ),
    Option(
        "slack_webhook_conn_id", "slack_default",
        "Slack incoming-webhook connection used by ``slack_webhook`` notification channels that name none.",
    ),
    Option(
        "slack_conn_id", "slack_api_default",
        "Slack Web API (bot token) connection used by ``slack`` notification channels that name none.",
    ),
    Option(
        "smtp_conn_id", "smtp_default",
        "SMTP connection used by ``email`` notification channels that name none.",
    ),
    Option(
        "email_from", "",
        "Sender address of notification emails. Empty means the SMTP connection's ``from_email`` extra.",
        "mlops-alerts@example.com",
    ),
    Option(
        "default_events", "on_failure",
        "Comma-separated events (on_failure, on_success, on_retry) for which the default channels below are "
        "notified, for every workflow that keeps ``notifications.use_defaults`` on.",
    ),
    Option(
        "default_slack_webhook", "",
        "Id of a Slack incoming-webhook connection notified by default. Empty: none.",
        "slack_ml_alerts",
    ),
    Option(
        "default_slack_channel", "",
        "Slack channel notified by default through the Web API connection ``slack_conn_id``. Empty: none.",
        "#ml-alerts",
    ),
    Option(
        "default_email_to", "",
        "Comma-separated addresses emailed by default through ``smtp_conn_id``. Empty: none.",
        "ml-team@example.com",
    ),
    Option(
        "notification_timeout", "20",
        "Seconds all channels of one notification may take together; a slower or failing channel is logged "
        "and given up, and never changes the task's or run's outcome.",
        type="integer",
    ),
    Option(
        "docker_url", "",
        "Container engine of ``docker`` tasks that name none (Docker API: ``unix://`` or ``tcp://``). Empty "
        "means the Docker provider's default: ``$DOCKER_HOST``, else ``unix://var/run/docker.sock``.",
        "unix:///run/podman/podman.sock",
    ),
    Option(
        "docker_bind_roots", "",
        "Comma-separated host folders whose contents ``docker`` tasks may bind-mount. Empty means only "
        "``artifact_root``. Anything else (``/``, ``/etc``, the engine's socket) is refused.",
        "/data/datasets,/data/models",
    ),
    Option(
        "metrics_token", "",
        "Bearer token Prometheus must send to scrape ``/mlops-metrics/metrics``. Empty: the endpoint is open "
        "(only for an internal network). Prefer ``AIRFLOW__MLOPS__METRICS_TOKEN_SECRET`` or a secrets backend.",
    ),
    Option(
        "require_review", "False",
        "Publishing a draft needs another user's approval: a user without ``can_edit`` on \"MLOps Reviews\" "
        "(granted to Op and Admin) asks for a review, a reviewer approves or rejects it with a comment, and "
        "only an approved draft is published. Reviewers publish their own drafts directly.",
        "True", type="boolean",
    ),
    Option(
        "mlflow_tracking_uri", "",
        "MLflow tracking server every finished run of a workflow is sent to (an MLflow run in the experiment "
        "named after the workflow: parameters, version, description, metrics, step metrics, artifacts). Empty: "
        "the Airflow Connection ``mlflow_conn_id`` if it exists, else no tracking.",
        "http://mlflow:5000",
    ),
    Option(
        "mlflow_conn_id", "mlflow_default",
        "Airflow Connection of the MLflow server when ``mlflow_tracking_uri`` is empty: its host (with "
        "``http(s)://`` or the schema field as the scheme) and port; login and password for basic auth, or "
        "``{\"token\": ...}`` in extra for a bearer token; ``{\"ui_url\": ...}`` for links, if not the same.",
    ),
    Option(
        "mlflow_ui_url", "",
        "Base address of the MLflow UI for the run pages' links. Empty: the tracking URI.",
    ),
    Option(
        "mlflow_lookback_hours", "24",
        "When tracking starts (or the plugin's outbox is empty), runs that finished this many hours back are "
        "sent too; older ones are not.",
        type="integer",
    ),
    Option(
        "db_connect_timeout", "10",
        "Seconds the DAG loader waits for the plugin database before serving the cached specs.",
        type="integer",
    ),
)
DEFAULTS = {o.key: o.default for o in OPTIONS}


def get(key: str) -> str:
    """Value of ``[mlops] key`` with its documented default (works in every Airflow process)."""
    from airflow.sdk.configuration import conf

    return conf.get("mlops", key, fallback=DEFAULTS[key])


def _flag(key: str) -> bool:
    return get(key).strip().lower() in ("true", "1", "yes", "on")


def dag_access_control() -> bool:
    return _flag("dag_access_control")


def require_review() -> bool:
    return _flag("require_review")


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def database_url() -> str:
    return get("sql_alchemy_conn") or f"sqlite:///{airflow_home() / 'mlops.db'}"


def cache_dir() -> Path:
    return Path(get("cache_dir") or airflow_home() / "mlops_cache")


def artifact_root() -> Path:
    return Path(get("artifact_root") or airflow_home() / "mlops_artifacts")


def docker_bind_roots() -> list[Path]:
    roots = [Path(part.strip()) for part in get("docker_bind_roots").split(",") if part.strip()]
    return roots or [artifact_root()]
