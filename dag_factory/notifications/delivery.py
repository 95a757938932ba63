"""Send one report to every channel at once, within one time bound, never raising.

A notification must never change a task's or run's outcome: every failure (HTTP 500, timeout, refused
connection, unknown connection id, bad SMTP settings) becomes a logged error naming the channel, and
all channels together get ``[mlops] notification_timeout`` seconds (a channel still busy then is given
up; its thread is a daemon, so it cannot keep the process alive). Connection secrets are registered
with Airflow's secrets masker before sending and scrubbed from every error text.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.notifications.channels import connection_id, describe, target
from airflow_mlops_dag_factory.notifications.message import RunReport
from airflow_mlops_dag_factory.notifications.notifiers import notifier_for
from airflow_mlops_dag_factory.spec import ChannelSpec
from airflow_mlops_dag_factory.stats import report_notification

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DeliveryResult:
    channel: ChannelSpec
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.channel.type, "connection_id": connection_id(self.channel),
                "target": target(self.channel), "ok": self.ok, "error": self.error}


def timeout_seconds() -> int:
    try:
        return max(1, int(settings.get("notification_timeout")))
    except ValueError:
        return int(settings.DEFAULTS["notification_timeout"])


def deliver(channels: list[ChannelSpec], report: RunReport, context: dict[str, Any] | None = None,
            *, timeout: int | None = None) -> list[DeliveryResult]:
    """Send ``report`` to ``channels`` in parallel; one result per channel, in order. Never raises."""
    limit = timeout or timeout_seconds()
    outcomes: dict[int, DeliveryResult] = {}
    threads = []
    for index, channel in enumerate(channels):
        thread = threading.Thread(target=_send, args=(index, channel, report, context or {}, limit, outcomes),
                                  name=f"mlops-notify-{index}", daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + limit
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    results = [outcomes.get(i) or _gave_up(c, limit) for i, c in enumerate(channels)]
    for result in results:
        report_notification(report.event, result.channel.type, result.ok)
        if result.ok:
            log.info("MLOps %s notification of %r sent via %s", report.event, report.workflow, describe(result.channel))
        else:
            log.error("MLOps %s notification of %r via %s FAILED (the run is not affected): %s",
                      report.event, report.workflow, describe(result.channel), result.error)
    return results


def _send(index: int, channel: ChannelSpec, report: RunReport, context: dict[str, Any], limit: int,
          outcomes: dict[int, DeliveryResult]) -> None:
    secrets: list[str] = []
    try:
        secrets = _register_secrets(connection_id(channel))
        notifier_for(channel, report, limit).notify(context)
        outcomes[index] = DeliveryResult(channel, True)
    except TimeoutError:  # the channel's own HTTP/SMTP timeout (the same limit) fired before the deadline did
        outcomes[index] = _gave_up(channel, limit)
    except BaseException as exc:  # noqa: BLE001 - a notification must never fail its caller
        outcomes[index] = DeliveryResult(channel, False, _scrub(f"{type(exc).__name__}: {exc}", secrets))


def _gave_up(channel: ChannelSpec, limit: int) -> DeliveryResult:
    """One outcome for a channel out of time, whichever of the two bounds (socket or deadline) noticed first."""
    return DeliveryResult(channel, False, f"gave up after {limit} s (notification_timeout)")


def _register_secrets(conn_id: str) -> list[str]:
    """Look the connection up first (a clear error for an unknown id) and mask its secrets everywhere."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    conn = BaseHook.get_connection(conn_id)
    secrets = [s for s in (conn.password, conn.get_uri()) if s]
    for secret in secrets:
        mask_secret(secret)
    if conn.extra:
        mask_secret(conn.extra_dejson)
    return secrets


def _scrub(text: str, secrets: list[str]) -> str:
    from airflow.sdk._shared.secrets_masker import redact

    for secret in secrets:
        text = text.replace(secret, "***")
    text = str(redact(text))
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"
