"""Runs as MLflow runs: every finished run of a workflow is sent to an MLflow tracking server, if one is set.

With ``[mlops] mlflow_tracking_uri`` (or the Airflow Connection ``[mlops] mlflow_conn_id``) each run becomes
an MLflow run in the experiment named after its workflow: its parameters, the workflow version, the run's
description (MLflow's note), who triggered it, its metrics with every step a task logged, and the files of
its artifact folder. The export happens after the run ended, from one api-server process at a time (a
lease), through an outbox table (``mlops_tracked_run``): MLflow being down or slow never touches a run's
tasks or outcome; the run waits in the outbox and is retried with backoff until MLflow takes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, tuple_

from airflow_mlops.db import transaction
from airflow_mlops.models import TrackedRun
from airflow_mlops.services import airflow_dags, runs
from airflow_mlops.services.errors import NotFound
from airflow_mlops.tracking.mlflow_rest import Metric, MlflowClient, MlflowRun, TrackingError
from airflow_mlops_dag_factory import settings, step_metrics
from airflow_mlops_dag_factory.runtime import artifact_folder

log = logging.getLogger(__name__)

DISCOVER_LIMIT = 500  # runs found per tick
EXPORT_LIMIT = 20  # runs sent per tick
LATE_COMMIT = timedelta(seconds=30)  # discovery looks back this far behind its cursor (ends committed late)
MAX_BACKOFF = timedelta(minutes=10)
MAX_ERROR = 2000


@dataclass(frozen=True)
class Target:
    """Where runs are tracked, and how to sign in."""

    tracking_uri: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    ui_url: str | None = None

    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri, username=self.username, password=self.password, token=self.token,
                            ui_url=self.ui_url)


def target() -> Target | None:
    """The configured MLflow server: ``[mlops] mlflow_tracking_uri``, else the connection ``mlflow_conn_id``
    if Airflow has it, else ``None`` (no tracking)."""
    ui_url = settings.get("mlflow_ui_url").strip() or None
    uri = settings.get("mlflow_tracking_uri").strip()
    if uri:
        return Target(uri.rstrip("/"), ui_url=ui_url)
    conn_id = settings.get("mlflow_conn_id").strip()
    if not conn_id:
        return None
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    host = (conn.host or "").rstrip("/")
    if not host:
        return None
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}{f':{conn.port}' if conn.port else ''}"
    extra = conn.extra_dejson
    return Target(host, username=conn.login or None, password=conn.password or None, token=extra.get("token"),
                  ui_url=ui_url or extra.get("ui_url"))


# -- the exporter (one api-server process at a time) ---------------------------------------------------------
def tick(where: Target, tracking_since: datetime, now: datetime | None = None) -> int:
    """Queue the runs that finished since the last tick, then send the ones due; returns how many landed.
    ``tracking_since``: when this process found tracking configured."""
    now = now or datetime.now(timezone.utc)
    discover(now, tracking_since)
    return export_due(where.client(), now)


def discover(now: datetime, tracking_since: datetime) -> int:
    """Put every MLOps run that finished since the newest one queued in the outbox; with an empty outbox, the
    runs that finished since tracking was found configured, less ``[mlops] mlflow_lookback_hours``."""
    with transaction() as session:
        newest = session.scalar(select(func.max(TrackedRun.ended_at)))
    lookback = timedelta(hours=int(settings.get("mlflow_lookback_hours")))
    since = newest - LATE_COMMIT if newest else tracking_since - lookback
    found = airflow_dags.finished_runs_since(since, DISCOVER_LIMIT)
    if not found:
        return 0
    with transaction() as session:
        known = set(session.execute(select(TrackedRun.dag_id, TrackedRun.dag_run_id).where(
            tuple_(TrackedRun.dag_id, TrackedRun.dag_run_id).in_([(d, r) for d, r, _ in found]))).tuples())
        fresh = [TrackedRun(dag_id=d, dag_run_id=r, ended_at=ended, state="pending", attempts=0, next_attempt_at=now)
                 for d, r, ended in found if (d, r) not in known]
        session.add_all(fresh)
    return len(fresh)


def export_due(client: MlflowClient, now: datetime, limit: int = EXPORT_LIMIT) -> int:
    """Send the queued runs whose turn it is; a failure is recorded on the row and retried later."""
    with transaction() as session:
        due = list(session.execute(select(TrackedRun.dag_id, TrackedRun.dag_run_id).where(
            TrackedRun.state.in_(("pending", "failed")), TrackedRun.next_attempt_at <= now)
            .order_by(TrackedRun.next_attempt_at, TrackedRun.ended_at).limit(limit)).tuples())
    landed = 0
    for key in due:
        try:
            url = export_run(client, key)
        except (TrackingError, NotFound) as exc:
            _failed(key, str(exc))
            if isinstance(exc, TrackingError) and exc.status is None:
                break  # the server is down: the rest would wait for the same timeout
        except Exception as exc:  # noqa: BLE001 - one bad run must not stop the others; the row says why
            log.exception("MLOps tracking: exporting %s failed", key)
            _failed(key, f"{type(exc).__name__}: {exc}")
        else:
            _done(key, url)
            landed += 1
    return landed


def export_run(client: MlflowClient, key: tuple[str, str]) -> str:
    """One run as an MLflow run (completing the one created by an earlier, interrupted try); its page's URL."""
    pk = airflow_dags.run_keys([key]).get(key)
    if pk is None:
        raise NotFound(f"Airflow no longer has run {key[1]} of {key[0]}")
    [(record, outputs)] = runs.runs_with_outputs([f"{runs.AIRFLOW_ID}{pk}"])
    with transaction() as session:
        row = session.get(TrackedRun, key)
        known_run_id = row.mlflow_run_id if row else None
    run = client.get_run(known_run_id) if known_run_id else _create(client, record)
    client.log_batch(run.run_id, params=_params(record), metrics=_metrics(record, outputs),
                     tags={"mlops.state": record.state})
    folder = artifact_folder(record.dag_id, record.dag_run_id)
    if folder.is_dir():
        client.upload_artifacts(run, folder)
    client.finish_run(run.run_id, "FINISHED" if record.state == "success" else "FAILED", _ms(record.ended_at))
    return client.run_url(run)


def _create(client: MlflowClient, record: runs.RunRecord) -> MlflowRun:
    """Create the MLflow run and keep its id at once, so a retry after a failure further on reuses it."""
    experiment = client.experiment_id(record.workflow_name)
    run = client.create_run(experiment, record.dag_run_id, _ms(record.started_at or record.created_at), {
        "mlflow.runName": record.dag_run_id,
        "mlflow.note.content": record.description,
        "mlflow.user": record.triggered_by,
        "mlflow.source.name": f"airflow:{record.dag_id}",
        "mlops.workflow_id": record.workflow_id,
        "mlops.workflow_version": str(record.version),
        "mlops.dag_id": record.dag_id,
        "mlops.dag_run_id": record.dag_run_id,
        "mlops.triggered_by": record.triggered_by,
        "mlops.source": record.source,
        "mlops.airflow_url": record.airflow_url,
    })
    with transaction() as session:
        row = session.get(TrackedRun, (record.dag_id, record.dag_run_id))
        if row is not None:
            row.experiment_id, row.mlflow_run_id = run.experiment_id, run.run_id
    return run


def _params(record: runs.RunRecord) -> dict[str, str]:
    """The run's parameters as MLflow keeps them (text; lists and objects as JSON), and the version ran."""
    out = {name: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
           for name, value in record.params.items()}
    return {**out, "mlops.workflow_version": str(record.version)}


def _metrics(record: runs.RunRecord, outputs: airflow_dags.TaskOutputs) -> list[Metric]:
    """Every point each task logged (``task.name``; ``task.<map index>.name`` for a mapped task's), and each
    final metric no task logged per step (at step 0, at the run's end)."""
    out: list[Metric] = []
    logged: set[str] = set()
    for (task, index), stored in sorted(outputs.steps.items()):
        prefix = task if index < 0 else f"{task}.{index}"
        for name, points in step_metrics.valid(stored).items():
            logged.add(f"{prefix}.{name}")
            out += [Metric(f"{prefix}.{name}", float(value), int(ts), int(step)) for step, value, ts in points]
    end = _ms(record.ended_at)
    for task, values in (record.metrics or {}).items():
        out += [Metric(f"{task}.{name}", value, end, 0) for name, value in values.items()
                if f"{task}.{name}" not in logged]
    return out


def _ms(at: datetime | None) -> int:
    return int((at or datetime.now(timezone.utc)).timestamp() * 1000)


def _done(key: tuple[str, str], url: str) -> None:
    with transaction() as session:
        row = session.get(TrackedRun, key)
        if row is not None:
            row.state, row.url, row.error = "exported", url, None
            row.attempts += 1


def _failed(key: tuple[str, str], error: str) -> None:
    """Record why, and when to try again: 5 s, 10 s, 20 s, ... up to every 10 minutes."""
    log.warning("MLOps tracking: run %s of %s not exported yet: %s", key[1], key[0], error)
    with transaction() as session:
        row = session.get(TrackedRun, key)
        if row is not None:
            row.attempts += 1
            row.state, row.error = "failed", error[:MAX_ERROR]
            row.next_attempt_at = datetime.now(timezone.utc) + min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(row.attempts - 1, 10)))
