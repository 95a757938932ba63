"""The callables ``build`` attaches to DAGs (run finished: once per run) and tasks (retry; error capture).

Airflow runs DAG-level callbacks in the dag-processor and task-level ones in the worker; both catch what
a callback raises, but these never raise in the first place (see :mod:`delivery`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_mlops_dag_factory.notifications.delivery import deliver
from airflow_mlops_dag_factory.notifications.report import retry_report, run_report
from airflow_mlops_dag_factory.spec import ChannelSpec, NotificationEvent

log = logging.getLogger(__name__)


class _Notification:
    def __init__(self, workflow_id: str, built_version: int, event: NotificationEvent, channels: list[ChannelSpec],
                 pinned_by_bundle: bool = False):
        self.workflow_id, self.built_version, self.pinned_by_bundle = workflow_id, built_version, pinned_by_bundle
        self.event, self.channels = event, list(channels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.event}, {len(self.channels)} channel(s))"


class RunNotification(_Notification):
    """DAG ``on_failure_callback`` / ``on_success_callback``: one message per finished run."""

    def __call__(self, context: dict[str, Any]) -> None:
        try:
            report = run_report(context, self.event, self.workflow_id, self.built_version, self.pinned_by_bundle)
        except Exception:  # noqa: BLE001
            log.exception("MLOps %s notification: could not gather the run's details; nothing sent", self.event)
            return
        deliver(self.channels, report, context)


class RetryNotification(_Notification):
    """Task ``on_retry_callback``: one message per retry, sent from the worker (errors in the task log)."""

    def __call__(self, context: dict[str, Any]) -> None:
        try:
            report = retry_report(context, self.workflow_id, self.built_version, self.pinned_by_bundle)
        except Exception:  # noqa: BLE001
            log.exception("MLOps on_retry notification: could not gather the task's details; nothing sent")
            return
        deliver(self.channels, report, context)
