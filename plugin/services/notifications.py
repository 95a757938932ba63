"""Notification settings seen from the plugin: the deployment's defaults, and "send a test notification".

The messages themselves are built and sent by ``airflow_mlops_dag_factory.notifications`` (the same code
the DAG callbacks run), so a test shows exactly what a real run would send, through the same connections.
"""

from __future__ import annotations

from typing import Any

from airflow_mlops.db import transaction
from airflow_mlops.services import audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import InvalidInput
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.notifications.channels import (
    channels_for,
    connection_id,
    default_channels,
    default_events,
)
from airflow_mlops_dag_factory.notifications.delivery import deliver, timeout_seconds
from airflow_mlops_dag_factory.notifications.message import FailedTask, RunReport
from airflow_mlops_dag_factory.notifications.report import dag_url
from airflow_mlops_dag_factory.spec import ChannelSpec, NotificationEvent, parse_spec

TEST_RUN_ID = "test-notification"
TEST_STATES = {"on_failure": "failed", "on_success": "success", "on_retry": "up_for_retry"}


def defaults() -> dict[str, Any]:
    """The deployment-wide channels every workflow keeping ``use_defaults`` also notifies."""
    return {"events": default_events(), "channels": [c.model_dump(mode="json") for c in default_channels()],
            "connections": {kind: connection_id(ChannelSpec(type=kind)) for kind in ("slack_webhook", "slack", "email")},
            "timeout_seconds": timeout_seconds()}


def send_test(workflow_id: str, event: NotificationEvent, actor: Actor) -> dict[str, Any]:
    """Send a test message for ``event`` through the saved workflow's channels; report each channel's outcome.

    Only who may edit the workflow may do this (it posts to the team's channels). Recorded in the audit log.
    """
    record = workflows.get_workflow(workflow_id)
    workflows.check_owner(record.created_by, actor, f"workflow {record.name!r}")
    spec, errors = parse_spec(record.spec)
    if spec is None:
        raise InvalidInput(errors)
    channels = channels_for(spec.notifications, event)
    if not channels:
        raise InvalidInput([FieldError("event", f"workflow {record.name!r} has no channels for {event}: add some "
                                                f"under notifications.{event} (or enable the deployment defaults)")])
    results = deliver(channels, _test_report(spec.name, record.version, event, spec.params, actor.name))
    with transaction() as session:
        audit.record(session, actor.name, "notification_test", workflows.OBJECT_TYPE, record.id, record.name,
                     event=event, channels=len(results), failed=sum(not r.ok for r in results))
    return {"event": event, "results": [r.to_dict() for r in results]}


def _test_report(name: str, version: int, event: NotificationEvent, params: dict[str, Any], sender: str) -> RunReport:
    example = (FailedTask("example_task", "This is a test notification: no task failed."),)
    return RunReport(
        event=event, workflow=name, run_id=TEST_RUN_ID, state=TEST_STATES[event], triggered_by=sender,
        description="A test of this workflow's notification settings.",
        params={k: p.default for k, p in params.items()}, version=version,
        failed_tasks=example if event != "on_success" else (), url=dag_url(name),
        retry_of="example_task" if event == "on_retry" else None, test_by=sender,
    )
