"""Metrics of the parts that run in the dag-processor and workers, sent through Airflow's own StatsD client.

Those processes serve no HTTP endpoint, so their numbers travel the way Airflow's do (``[metrics]
statsd_on``); ``airflow_config/statsd_mapping.yml`` turns them into Prometheus names. Without StatsD
configured Airflow's client does nothing. Never raises.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _stats() -> Any:
    from airflow.sdk.observability.stats import Stats

    return Stats


def report_load(source: str, loaded: int, skipped: int, seconds: float) -> None:
    """One full load of the workflows by the DAG file (``source``: database, cache or none)."""
    try:
        stats = _stats()
        stats.timing("mlops.dag_factory.load_duration", seconds * 1000)
        stats.gauge("mlops.dag_factory.workflows_loaded", loaded)
        stats.gauge("mlops.dag_factory.workflows_skipped", skipped)
        if source != "database":
            stats.incr("mlops.dag_factory.cache_fallback")
    except Exception:  # noqa: BLE001 - metrics never break the DAG file
        log.debug("MLOps: could not send load metrics", exc_info=True)


def report_notification(event: str, channel_type: str, ok: bool) -> None:
    try:
        _stats().incr(f"mlops.notification.{event}.{channel_type}.{'sent' if ok else 'failed'}")
    except Exception:  # noqa: BLE001
        log.debug("MLOps: could not send notification metrics", exc_info=True)
