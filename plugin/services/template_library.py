"""The built-in library of ML pipeline templates (``templates_library/*.yaml``), kept in the database.

Installed by ``airflow db migrate`` (and ``airflow-mlops templates load``). An upgrade replaces a built-in
template only while it is exactly what was shipped last time: a template a user edited is kept as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from airflow_mlops.db import transaction
from airflow_mlops.models import Template, utcnow
from airflow_mlops.services import audit
from airflow_mlops.services.templates import validate_template

log = logging.getLogger(__name__)
LIBRARY = Path(__file__).resolve().parent.parent / "templates_library"
LOADER = "airflow-mlops"


def builtin_documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(LIBRARY.glob("*.yaml"))]


def content_hash(description: str, category: str, spec: dict[str, Any]) -> str:
    canonical = json.dumps({"description": description, "category": category, "spec": spec}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sync_builtin_templates() -> dict[str, str]:
    """Create missing built-ins, upgrade unedited ones; returns what happened to each, by name."""
    outcomes = {}
    with transaction() as session:
        for document in builtin_documents():
            spec, errors = validate_template({**document, "public": True})
            if errors:  # a shipped template that does not validate is a bug: refuse loudly, load the others
                log.error("built-in template %r is invalid: %s", document.get("name"), errors)
                outcomes[document.get("name", "?")] = "invalid, not loaded"
                continue
            name, description, category = document["name"], document.get("description", ""), document["category"]
            shipped = content_hash(description, category, spec)
            row = session.scalar(select(Template).where(Template.name == name))
            if row is None:
                row = Template(name=name, description=description, category=category, spec=spec, public=True,
                               builtin=True, shipped_hash=shipped, created_by=LOADER, updated_by=LOADER)
                session.add(row)
                session.flush()
                audit.record(session, LOADER, "create", "template", row.id, name, builtin=True)
                outcomes[name] = "created"
            elif not row.builtin:
                outcomes[name] = "kept: a user template has this name"
            elif content_hash(row.description, row.category, row.spec) != row.shipped_hash:
                outcomes[name] = "kept: edited by a user"
            elif row.shipped_hash == shipped:
                outcomes[name] = "unchanged"
            else:
                row.description, row.category, row.spec, row.shipped_hash = description, category, spec, shipped
                row.updated_by, row.updated_at = LOADER, utcnow()
                session.flush()
                audit.record(session, LOADER, "update", "template", row.id, name, builtin=True, revision=row.revision)
                outcomes[name] = "updated"
    return outcomes
