"""Workflows and templates as files (YAML or JSON), to keep them in git and move them between installations.

An exported document says what it is (``kind``) and which spec schema it uses; importing it goes through
the same services as any save, so it is validated the same way and recorded in the audit log.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from airflow_mlops.services import templates, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import InvalidInput
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.spec import SCHEMA_VERSION

KINDS = ("workflow", "template")


def export_workflow(workflow_id: str) -> dict[str, Any]:
    record = workflows.get_workflow(workflow_id)
    return {"kind": "workflow", "schema_version": SCHEMA_VERSION, "active": record.active, "spec": record.spec}


def export_template(template_id: str, actor: Actor) -> dict[str, Any]:
    record = templates.get_template(template_id, actor)
    return {"kind": "template", "schema_version": SCHEMA_VERSION, "name": record.name,
            "description": record.description, "category": record.category, "public": record.public,
            "spec": record.spec}


def dumps(document: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def loads(text: str) -> Any:
    """JSON or YAML (JSON is YAML, but parse it as JSON first for exact errors)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput([FieldError("$", f"neither JSON nor YAML: {exc}")]) from exc


def import_document(document: Any, actor: Actor) -> tuple[str, Any]:
    """Create what the document describes; returns ``(kind, record)``."""
    if not isinstance(document, dict):
        raise InvalidInput([FieldError("$", "an exported document must be an object")])
    kind = document.get("kind")
    if kind not in KINDS:
        raise InvalidInput([FieldError("kind", f"must be one of {', '.join(KINDS)}")])
    if document.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise InvalidInput([FieldError("schema_version", f"this installation reads schema version {SCHEMA_VERSION}")])
    unknown = set(document) - ({"kind", "schema_version", "active", "spec"} if kind == "workflow" else
                               {"kind", "schema_version", "name", "description", "category", "public", "spec"})
    if unknown:
        raise InvalidInput([FieldError(k, "unknown field") for k in sorted(unknown)])
    if kind == "workflow":
        active = document.get("active", False)
        if not isinstance(active, bool):
            raise InvalidInput([FieldError("active", "must be true or false")])
        spec = document.get("spec")
        if not isinstance(spec, dict):
            raise InvalidInput([FieldError("spec", "must be a workflow document (a JSON object)")])
        return kind, workflows.create_workflow(spec, actor, active=active, message="imported")
    body = {k: v for k, v in document.items() if k not in ("kind", "schema_version")}
    return kind, templates.create_template(body, actor)
