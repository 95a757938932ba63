"""Audit rows: written by every mutating service, inside the mutation's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from airflow_mlops.models import AuditEvent


def record(session: Session, actor: str, action: str, object_type: str, object_id: str,
           object_name: str = "", **details: Any) -> None:
    session.add(AuditEvent(actor=actor, action=action, object_type=object_type, object_id=object_id,
                           object_name=object_name, details=details))
