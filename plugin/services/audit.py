"""Audit rows: written by every mutating service, inside the mutation's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airflow_mlops.models import AuditEvent

PENDING_KEY = "mlops_audit_events"


def record(session: Session, actor: str, action: str, object_type: str, object_id: str,
           object_name: str = "", **details: Any) -> None:
    """Add an audit row to the caller's transaction; once it commits, the event is mirrored to Airflow's log."""
    event = AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id,
                       object_name=object_name, details=details)
    session.add(event)
    session.info.setdefault(PENDING_KEY, []).append(event)


def mirror_to_airflow(events: list[AuditEvent]) -> None:
    """Copy committed events to Airflow's own audit log (Browse -> Audit Log), where operators look."""
    from airflow_mlops.services.airflow_dags import log_events

    log_events([
        {"event": f"mlops.{e.object_type}.{e.action}", "owner": e.actor,
         "dag_id": e.object_name if e.object_type == "workflow" else None,
         "extra": {"object_id": e.object_id, "object_name": e.object_name, **(e.details or {})}}
        for e in events
    ])


def record_denied(actor: str, request: str, action: str, resource: str) -> None:
    """A refused write is worth knowing about: recorded in its own small transaction."""
    from airflow_mlops.db import transaction

    with transaction() as session:
        record(session, actor, "permission_denied", "request", "-", request, needs=[action, resource])


def list_events(*, actor: str | None = None, object_type: str | None = None, object_id: str | None = None,
                action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Newest first. There is deliberately no way to change or delete an audit row."""
    from airflow_mlops.db import transaction

    query = select(AuditEvent)
    for column, value in ((AuditEvent.actor, actor), (AuditEvent.object_type, object_type),
                          (AuditEvent.object_id, object_id), (AuditEvent.action, action)):
        if value:
            query = query.where(column == value)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    with transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
        return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                 "object_type": e.object_type, "object_id": e.object_id, "object_name": e.object_name,
                 "details": e.details} for e in rows], total
