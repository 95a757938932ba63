"""Templates: reusable workflow specs with typed parameters, and instantiating them into workflows.

Parameters are never substituted into code text: an instance's parameter *defaults* become the values
given at instantiation, and task code reads ``params[...]`` at run time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from airflow_mlops.db import transaction
from airflow_mlops.models import Template, utcnow
from airflow_mlops.services import airflow_dags, audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from airflow_mlops.services.workflows import Page, WorkflowRecord
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.params import param_schema
from airflow_mlops_dag_factory.spec import ParamSpec
from airflow_mlops_dag_factory.validate import validate_document

OBJECT_TYPE = "template"
CATEGORIES = ("general", "ml_training", "data_pipeline", "inference", "tuning", "monitoring")
# A template's spec is a workflow spec whose name is given at instantiation; validated under this one.
PLACEHOLDER_NAME = "template"


class TemplateRecord(BaseModel):
    """A template as callers see it; also the API's response model for it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: str
    name: str
    description: str
    category: str
    spec: dict[str, Any]
    public: bool
    builtin: bool
    usage_count: int
    revision: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def validate_template(document: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """Check a template document ``{name, description, category, public, spec}``; returns the clean spec."""
    errors: list[FieldError] = []
    if not isinstance(document, dict):
        return {}, [FieldError("$", "a template must be a JSON object")]
    allowed = {"name", "description", "category", "public", "spec"}
    errors += [FieldError(k, "unknown field") for k in document if k not in allowed]
    name = document.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 250:
        errors.append(FieldError("name", "must be a non-empty string of at most 250 characters"))
    if not isinstance(document.get("description", ""), str):
        errors.append(FieldError("description", "must be a string"))
    if document.get("category", "general") not in CATEGORIES:
        errors.append(FieldError("category", f"must be one of {', '.join(CATEGORIES)}"))
    if not isinstance(document.get("public", False), bool):
        errors.append(FieldError("public", "must be true or false"))
    spec = document.get("spec")
    if not isinstance(spec, dict):
        errors.append(FieldError("spec", "must be a workflow spec (a JSON object)"))
        return {}, errors
    parsed, spec_errors = validate_document({**spec, "name": PLACEHOLDER_NAME})
    errors += [FieldError(f"spec.{e.path}", e.message) for e in spec_errors]
    clean = {k: v for k, v in parsed.to_dict().items() if k != "name"} if parsed else {}
    return clean, errors


def create_template(document: dict[str, Any], actor: Actor, *, builtin: bool = False) -> TemplateRecord:
    spec, errors = validate_template(document)
    if errors:
        raise InvalidInput(errors)
    public = bool(document.get("public", False))
    _check_may_publish(public, actor)
    try:
        with transaction() as session:
            if session.scalar(select(Template.id).where(Template.name == document["name"])):
                raise Conflict(f"a template named {document['name']!r} already exists")
            template = Template(name=document["name"], description=document.get("description", ""),
                                category=document.get("category", "general"), spec=spec, public=public,
                                builtin=builtin, created_by=actor.name, updated_by=actor.name)
            session.add(template)
            session.flush()
            audit.record(session, actor.name, "create", OBJECT_TYPE, template.id, template.name, public=public)
            return _record(template)
    except IntegrityError as exc:
        raise Conflict(f"a template named {document['name']!r} already exists") from exc


def list_templates(actor: Actor, *, q: str | None = None, category: str | None = None,
                   limit: int = 50, offset: int = 0) -> Page:
    query = _visible(select(Template), actor)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Template.name).like(pattern), func.lower(Template.description).like(pattern)))
    if category:
        query = query.where(Template.category == category)
    with transaction() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Template.name).limit(limit).offset(offset))
        return Page([_record(t) for t in rows], total, limit, offset)


def get_template(template_id: str, actor: Actor) -> TemplateRecord:
    with transaction() as session:
        return _record(_load_visible(session, template_id, actor))


def update_template(template_id: str, document: dict[str, Any], actor: Actor, *,
                    expected_revision: int | None = None) -> TemplateRecord:
    spec, errors = validate_template(document)
    if errors:
        raise InvalidInput(errors)
    public = bool(document.get("public", False))
    try:
        with transaction() as session:
            template = _load_for_change(session, template_id, actor, expected_revision)
            _check_may_publish(public or template.public, actor)
            if document["name"] != template.name and session.scalar(select(Template.id).where(Template.name == document["name"])):
                raise Conflict(f"a template named {document['name']!r} already exists")
            new_values = {"name": document["name"], "description": document.get("description", ""),
                          "category": document.get("category", "general"), "spec": spec, "public": public}
            if all(getattr(template, k) == v for k, v in new_values.items()):
                return _record(template)
            for key, value in new_values.items():
                setattr(template, key, value)
            template.updated_by, template.updated_at = actor.name, utcnow()
            session.flush()
            audit.record(session, actor.name, "update", OBJECT_TYPE, template.id, template.name,
                         revision=template.revision)
            return _record(template)
    except StaleDataError as exc:
        raise Conflict(f"template {template_id} was changed by someone else; reload and try again") from exc


def delete_template(template_id: str, actor: Actor, *, expected_revision: int | None = None) -> None:
    try:
        with transaction() as session:
            template = _load_for_change(session, template_id, actor, expected_revision)
            _check_may_publish(template.public or template.builtin, actor)
            session.delete(template)
            session.flush()
            audit.record(session, actor.name, "delete", OBJECT_TYPE, template_id, template.name, spec=template.spec)
    except StaleDataError as exc:
        raise Conflict(f"template {template_id} was changed by someone else; reload and try again") from exc


def instantiate(template_id: str, workflow_name: Any, params: Any, actor: Actor) -> WorkflowRecord:
    """Create a workflow from a template; ``params`` become its parameter defaults (every bad one is reported)."""
    with transaction() as session:
        template = _load_visible(session, template_id, actor)
        spec, revision, name = dict(template.spec), template.revision, template.name
    errors = []
    if not isinstance(workflow_name, str):
        errors.append(FieldError("workflow_name", "must be a string"))
    if not isinstance(params, dict):
        errors.append(FieldError("params", "must be a JSON object"))
        params = {}
    declared = {k: ParamSpec.model_validate(v) for k, v in (spec.get("params") or {}).items()}
    errors += check_param_values(declared, params)
    if errors:
        raise InvalidInput(errors)
    spec["params"] = {k: {**p.model_dump(mode="json"), **({"default": params[k]} if k in params else {})}
                      for k, p in declared.items()}
    document = {**spec, "name": workflow_name}
    try:
        with transaction() as session:
            record = workflows.create_workflow(document, actor, message=f"from template {name} r{revision}",
                                               template_id=template_id, template_revision=revision, session=session)
            session.execute(update(Template).where(Template.id == template_id)
                            .values(usage_count=Template.usage_count + 1))
            audit.record(session, actor.name, "instantiate", OBJECT_TYPE, template_id, name,
                         workflow_id=record.id, workflow_name=record.name, template_revision=revision)
    except IntegrityError as exc:
        raise Conflict(f"a workflow named {workflow_name!r} already exists") from exc
    airflow_dags.request_reparse(record.name)
    return record


def check_param_values(declared: dict[str, ParamSpec], values: dict[str, Any], prefix: str = "params") -> list[FieldError]:
    """Every problem with given parameter values: unknown names, missing required ones, schema violations."""
    errors = [FieldError(f"{prefix}.{k}", "unknown parameter") for k in values if k not in declared]
    for key, param in declared.items():
        if key not in values:
            if param.required and param.default is None:
                errors.append(FieldError(f"{prefix}.{key}", "required parameter is missing"))
            continue
        try:
            jsonschema.validate(values[key], param_schema(param))
        except jsonschema.ValidationError as exc:
            errors.append(FieldError(f"{prefix}.{key}", exc.message))
    return errors


def _check_may_publish(public: bool, actor: Actor) -> None:
    if public and not actor.manage_public_templates:
        raise Forbidden("only Admin may create or change public (or built-in) templates")


def _visible(query: Select[Any], actor: Actor) -> Select[Any]:
    if actor.manage_public_templates:
        return query
    return query.where(or_(Template.public.is_(True), Template.created_by == actor.name))


def _load_visible(session: Session, template_id: str, actor: Actor) -> Template:
    template = session.scalar(_visible(select(Template).where(Template.id == template_id), actor))
    if template is None:
        raise NotFound(f"template {template_id} does not exist")
    return template


def _load_for_change(session: Session, template_id: str, actor: Actor, expected_revision: int | None) -> Template:
    template = _load_visible(session, template_id, actor)
    if template.created_by != actor.name and not actor.manage_public_templates:
        raise Forbidden(f"template {template.name!r} belongs to {template.created_by!r}")
    if expected_revision is not None and expected_revision != template.revision:
        raise Conflict(f"template {template_id} is at revision {template.revision}, not {expected_revision}")
    return template


def _record(template: Template) -> TemplateRecord:
    return TemplateRecord.model_validate(template)




def save_as_template(workflow_id: str, document: dict[str, Any], actor: Actor) -> TemplateRecord:
    """Make a template of a workflow. ``document["parameters"]`` picks which of its parameters the template
    exposes (all when absent); dropping one the code still reads is refused with the task named."""
    source = workflows.get_workflow(workflow_id)
    spec = {k: v for k, v in source.spec.items() if k != "name"}
    chosen = document.get("parameters")
    errors: list[FieldError] = []
    if chosen is not None:
        if not isinstance(chosen, list) or not all(isinstance(p, str) for p in chosen):
            raise InvalidInput([FieldError("parameters", "must be a list of parameter names")])
        errors += [FieldError("parameters", f"unknown parameter {p!r}") for p in chosen if p not in spec["params"]]
        dropped = set(spec["params"]) - set(chosen)
        for i, task in enumerate(spec["tasks"]):
            used = sorted(p for p in dropped if _reads_param(task["code"], p))
            if used:
                errors.append(FieldError(f"tasks[{i}].code", f"reads parameter(s) {used} that the template would drop"))
        spec["params"] = {k: v for k, v in spec["params"].items() if k in chosen}
    if errors:
        raise InvalidInput(errors)
    template_document: dict[str, Any] = {k: document[k] for k in ("name", "description", "category", "public")
                                         if k in document}
    return create_template({**template_document, "spec": spec}, actor)


def _reads_param(code: str, name: str) -> bool:
    import re

    return re.search(rf"""params\s*(\[\s*|\.get\(\s*)['"]{re.escape(name)}['"]""", code) is not None


def instances(template_id: str, actor: Actor) -> list[dict[str, Any]]:
    """The workflows made from a template, each flagged when it came from an older template revision."""
    template = get_template(template_id, actor)
    made = workflows.list_workflows(template_id=template_id, include_archived=True, limit=10**6).items
    return [{"workflow_id": w.id, "name": w.name, "template_revision": w.template_revision,
             "outdated": (w.template_revision or 0) < template.revision, "archived": w.archived_at is not None}
            for w in made]
