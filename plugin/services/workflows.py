"""Create, read, update, clone, restore and delete (archive) workflows: the only code that writes them.

Each operation is one transaction: the workflow row, its task rows, a new immutable version (only when
the spec changed) and the audit row commit together or not at all. Concurrent writers are serialised
by the row's ``revision`` (compare-and-swap), so an edit based on a stale read fails with
:class:`Conflict` instead of silently overwriting. After the commit Airflow is asked to re-parse the
DAG file, so the change shows up in seconds rather than after the parse interval.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, cast, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from airflow_mlops.db import transaction
from airflow_mlops.models import StoreRevision, Workflow, WorkflowVersion, utcnow
from airflow_mlops.services import airflow_dags, audit
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.spec import WorkflowSpec, parse_spec
from airflow_mlops_dag_factory.store import rules_fingerprint
from airflow_mlops_dag_factory.validate import validate_document

OBJECT_TYPE = "workflow"
LAST_RUN_STATES = ("none", "queued", "running", "success", "failed")
ERRORS_CACHE_SIZE = 20_000  # distinct specs whose validation result is kept (~100 bytes each when valid)
_ERRORS_CACHE: dict[str, tuple[FieldError, ...]] = {}
_ERRORS_LOCK = threading.Lock()
SORTABLE = {"name": Workflow.name, "created_at": Workflow.created_at, "updated_at": Workflow.updated_at}


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow as callers see it: its state plus the spec of its current version."""

    id: str
    name: str
    active: bool
    revision: int
    version: int
    spec: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    archived_at: datetime | None
    template_id: str | None
    template_revision: int | None
    origin_workflow_id: str | None
    origin_version: int | None
    errors: list[FieldError] = field(default_factory=list)
    last_run: dict[str, Any] | None = None  # the newest Airflow run, filled in for listings

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "active": self.active, "revision": self.revision,
            "version": self.version, **{k: v for k, v in self.spec.items() if k != "name"},
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "updated_by": self.updated_by, "updated_at": self.updated_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
            "template_id": self.template_id, "template_revision": self.template_revision,
            "origin_workflow_id": self.origin_workflow_id, "origin_version": self.origin_version,
            "valid": not self.errors, "errors": [e.to_dict() for e in self.errors], "last_run": self.last_run,
        }


class VersionRecord(BaseModel):
    """One immutable version; also the API's response model for it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: str
    workflow_id: str
    number: int
    spec: dict[str, Any]
    spec_hash: str
    store_revision: int = Field(description="the MLOps DAG bundle version this version was written at; Airflow "
                                            "runs on bundle versions from it until the next version execute it")
    message: str
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class StoredSpec(NamedTuple):
    """A current version's spec as read, with what the write that stored it knew about it."""

    spec: dict[str, Any]
    spec_hash: str | None = None
    validated_rules: str | None = None  # the rules' fingerprint the spec was valid under when written


# -- create ------------------------------------------------------------------------------------------
def create_workflow(
    document: dict[str, Any], actor: Actor, *, active: bool = True, message: str = "",
    template_id: str | None = None, template_revision: int | None = None,
    origin_workflow_id: str | None = None, origin_version: int | None = None,
    session: Session | None = None, audit_action: str = "create",
) -> WorkflowRecord:
    """Create a workflow and its version 1. With ``session`` it joins the caller's transaction (no re-parse)."""
    spec = validate_spec(document)
    _check_dag_id_free(spec.name)
    if session is not None:
        return _insert(session, spec, actor, active, message, template_id, template_revision,
                       origin_workflow_id, origin_version, audit_action)
    try:
        with transaction() as own_session:
            record = _insert(own_session, spec, actor, active, message, template_id, template_revision,
                             origin_workflow_id, origin_version, audit_action)
    except IntegrityError as exc:
        raise Conflict(f"a workflow named {spec.name!r} already exists") from exc
    airflow_dags.request_reparse(record.name)
    return record


def _insert(session: Session, spec: WorkflowSpec, actor: Actor, active: bool, message: str,
            template_id: str | None, template_revision: int | None,
            origin_workflow_id: str | None, origin_version: int | None, audit_action: str) -> WorkflowRecord:
    _check_name_free(session, spec.name)
    workflow = Workflow(name=spec.name, description=spec.description, owner=spec.owner, tags=list(spec.tags),
                        active=active, current_version=1, created_by=actor.name, updated_by=actor.name,
                        template_id=template_id, template_revision=template_revision,
                        origin_workflow_id=origin_workflow_id, origin_version=origin_version)
    session.add(workflow)
    session.flush()
    _add_version(session, workflow, spec, 1, actor, message or "created")
    audit.record(session, actor.name, audit_action, OBJECT_TYPE, workflow.id, spec.name, version=1, active=active,
                 template_id=template_id, origin_workflow_id=origin_workflow_id, origin_version=origin_version)
    return _record(session, workflow)


# -- read --------------------------------------------------------------------------------------------
def get_workflow(workflow_id: str) -> WorkflowRecord:
    with transaction() as session:
        return _record(session, _load(session, workflow_id))


def list_workflows(
    *, q: str | None = None, tag: str | None = None, owner: str | None = None, template_id: str | None = None,
    active: bool | None = None, include_archived: bool = False, last_run_state: str | None = None,
    sort: str = "name", limit: int = 50, offset: int = 0,
) -> Page:
    """Filtered, sorted page of workflows, each with its newest Airflow run; ``sort`` is a field name, ``-``
    first for descending; ``last_run_state`` is an Airflow run state or ``none`` (never ran).

    Filters, count and paging run in the database, so a page costs the same with 10 or 10,000 workflows;
    only ``last_run_state`` (which lives in Airflow's database) filters the candidates' names here."""
    conditions: list[ColumnElement[bool]] = []
    if not include_archived:
        conditions.append(Workflow.archived_at.is_(None))
    if q:
        pattern = f"%{q.lower()}%"
        conditions.append(or_(func.lower(Workflow.name).like(pattern), func.lower(Workflow.description).like(pattern)))
    if owner:
        conditions.append(or_(Workflow.owner == owner, Workflow.created_by == owner))
    if template_id:
        conditions.append(Workflow.template_id == template_id)
    if active is not None:
        conditions.append(Workflow.active.is_(active))
    column = SORTABLE[sort.lstrip("-")]
    # Names are unique: sorting by name alone walks its index; other columns need the id to break ties.
    order = (column.desc() if sort.startswith("-") else column.asc(),) + (() if column is Workflow.name else (Workflow.id,))
    with transaction() as session:
        if tag:
            conditions.append(_has_tag(tag, session.get_bind().dialect.name))
        if last_run_state:  # the state lives in Airflow: every candidate's newest run is needed to filter
            names = list(session.scalars(select(Workflow.name).where(*conditions).order_by(*order)))
            last = airflow_dags.latest_runs(names) if names else {}
            names = [n for n in names if (last[n].state if n in last else "none") == last_run_state]
            total, conditions = len(names), [Workflow.name.in_(names[offset:offset + limit])]
            offset_in_sql = 0
        else:
            total = session.scalar(select(func.count()).select_from(Workflow).where(*conditions)) or 0
            offset_in_sql = offset
        # The page's ids first, then their rows and specs: sorting every match with its spec along spilled
        # to disk on PostgreSQL (80 ms for an offset of 9,000 of 10,000 workflows, 30 ms this way).
        page_ids = select(Workflow.id).where(*conditions).order_by(*order).limit(limit).offset(offset_in_sql)
        rows = session.execute(
            select(Workflow, WorkflowVersion.spec, WorkflowVersion.spec_hash, WorkflowVersion.validated_rules)
            .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id)
                  & (WorkflowVersion.number == Workflow.current_version), isouter=True)
            .where(Workflow.id.in_(page_ids.scalar_subquery())).order_by(*order)
        ).all()
        rules = rules_fingerprint()  # once per page: it reads the configuration
        page = [_record(session, w, StoredSpec(spec or {}, digest, written_under), rules)
                for w, spec, digest, written_under in rows]
        if not last_run_state:  # otherwise only the page's runs are asked for
            last = airflow_dags.latest_runs([w.name for w in page]) if page else {}
    return Page([_with_last_run(r, last.get(r.name)) for r in page], total, limit, offset)


def _has_tag(tag: str, dialect: str) -> Any:
    """``tag`` is one of the workflow's tags (a JSON list), exactly, on PostgreSQL and SQLite."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(Workflow.tags, JSONB).contains([tag])
    elements = func.json_each(Workflow.tags).table_valued("value")
    return exists(select(1).select_from(elements).where(elements.c.value == tag))


def _with_last_run(record: WorkflowRecord, run: airflow_dags.LastRun | None) -> WorkflowRecord:
    if run is None:
        return record
    return replace(record, last_run={"run_id": run.run_id, "state": run.state,
                                     "run_after": run.run_after.isoformat() if run.run_after else None})


def list_versions(workflow_id: str, *, limit: int = 50, offset: int = 0) -> Page:
    with transaction() as session:
        _load(session, workflow_id)
        total = session.scalar(select(func.count()).where(WorkflowVersion.workflow_id == workflow_id))
        rows = session.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)
                               .order_by(WorkflowVersion.number.desc()).limit(limit).offset(offset))
        return Page([_version_record(v) for v in rows], total or 0, limit, offset)


def get_version(workflow_id: str, number: int) -> VersionRecord:
    with transaction() as session:
        _load(session, workflow_id)
        version = session.scalar(select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number))
        if version is None:
            raise NotFound(f"workflow {workflow_id} has no version {number}")
        return _version_record(version)


def diff_versions(workflow_id: str, from_number: int, to_number: int | None = None) -> dict[str, Any]:
    """Structured diff from one version to another (default: to the current version)."""
    from airflow_mlops.services.diff import diff_specs

    old = get_version(workflow_id, from_number)
    new = get_version(workflow_id, to_number) if to_number is not None else None
    new_spec = new.spec if new else get_workflow(workflow_id).spec
    current = get_workflow(workflow_id).version
    return {"workflow_id": workflow_id, "from": from_number, "to": to_number if to_number is not None else current,
            **diff_specs(old.spec, new_spec)}


# -- update ------------------------------------------------------------------------------------------
def update_workflow(
    workflow_id: str, document: dict[str, Any], actor: Actor, *, expected_revision: int | None = None,
    active: bool | None = None, message: str = "", audit_action: str = "update",
) -> WorkflowRecord:
    """Replace the workflow's spec (and optionally its active flag); a no-op save writes nothing."""
    spec = validate_spec(document)
    try:
        with transaction() as session:
            workflow = load_for_change(session, workflow_id, actor, expected_revision)
            change = apply_spec(session, workflow, spec, actor, active=active, message=message,
                                audit_action=audit_action)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} was changed by someone else; reload and try again") from exc
    except IntegrityError as exc:
        raise Conflict(f"workflow {workflow_id} was changed concurrently, or the name {spec.name!r} is taken") from exc
    return tell_airflow(change)


class SpecChange(NamedTuple):
    """A committed change of a workflow, and what Airflow must hear of it once committed."""

    record: WorkflowRecord
    renamed_from: str | None = None
    active_changed: bool = False
    changed: bool = False


def apply_spec(session: Session, workflow: Workflow, spec: WorkflowSpec, actor: Actor, *, active: bool | None = None,
               message: str = "", audit_action: str = "update", **audit_details: Any) -> SpecChange:
    """Make ``spec`` the workflow's current version inside the caller's transaction (a no-op writes nothing)."""
    current = _current_spec(session, workflow).spec
    spec_changed = spec.to_dict() != current
    active_changed = active is not None and active != workflow.active
    if not spec_changed and not active_changed:
        return SpecChange(_record(session, workflow))
    renamed_from = None
    if spec.name != workflow.name:
        _check_name_free(session, spec.name)
        _check_dag_id_free(spec.name)
        renamed_from = workflow.name
    details: dict[str, Any] = dict(audit_details)
    previous = workflow.current_version
    number = _next_version_number(session, workflow.id) if spec_changed else previous
    # All column changes go in one UPDATE: its flush is the compare-and-swap on ``revision`` and, on
    # PostgreSQL, takes the row lock, so a concurrent writer waits here and then fails.
    workflow.updated_by, workflow.updated_at = actor.name, utcnow()
    if active_changed:
        workflow.active = bool(active)
        details["active"] = workflow.active
    if spec_changed:
        workflow.name, workflow.description, workflow.owner = spec.name, spec.description, spec.owner
        workflow.tags = list(spec.tags)
        workflow.current_version = number
    session.flush()
    if spec_changed:
        _add_version(session, workflow, spec, number, actor, message)
        new = spec.to_dict()
        details.update(from_version=previous, to_version=number,
                       changed=sorted(k for k in new if new[k] != current.get(k)))
    session.flush()
    if message:
        details["message"] = message
    audit.record(session, actor.name, audit_action, OBJECT_TYPE, workflow.id, workflow.name, **details)
    return SpecChange(_record(session, workflow), renamed_from, active_changed, True)


def tell_airflow(change: SpecChange) -> WorkflowRecord:
    """After the commit: pause or unpause, and ask for the parses the change needs."""
    record = change.record
    if not change.changed:
        return record
    if change.active_changed:
        airflow_dags.set_paused(record.name, paused=not record.active)
    if change.renamed_from:
        airflow_dags.set_paused(change.renamed_from, paused=True)
        airflow_dags.request_reparse(change.renamed_from)  # its DAG leaves that shard's file
    airflow_dags.request_reparse(record.name)
    return record


def set_active(workflow_id: str, active: bool, actor: Actor, *, expected_revision: int | None = None) -> WorkflowRecord:
    current = get_workflow(workflow_id)
    return update_workflow(workflow_id, current.spec, actor, expected_revision=expected_revision, active=active)


def snapshot_version(workflow_id: str, actor: Actor, message: str) -> VersionRecord:
    """Record the current state as a new version on demand (e.g. "before the big refactor")."""
    try:
        with transaction() as session:
            workflow = load_for_change(session, workflow_id, actor, None)
            spec = validate_spec(_current_spec(session, workflow).spec)
            number = _next_version_number(session, workflow.id)
            workflow.current_version, workflow.updated_by, workflow.updated_at = number, actor.name, utcnow()
            session.flush()
            version = _add_version(session, workflow, spec, number, actor, message)
            session.flush()
            audit.record(session, actor.name, "snapshot", OBJECT_TYPE, workflow.id, workflow.name,
                         from_version=number - 1, to_version=number, message=message)
            return _version_record(version)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} was changed by someone else; reload and try again") from exc


def restore_version(version_id: str, actor: Actor, *, expected_revision: int | None = None) -> WorkflowRecord:
    """Make the workflow equal to an old version by saving it as a new version; history is kept whole."""
    with transaction() as session:
        version = session.get(WorkflowVersion, version_id)
        if version is None:
            raise NotFound(f"version {version_id} does not exist")
        workflow_id, number, spec = version.workflow_id, version.number, version.spec
    spec_obj, errors = validate_document(spec)
    if spec_obj is None:
        raise InvalidInput([FieldError(e.path, f"version {number} no longer validates: {e.message}") for e in errors])
    return update_workflow(workflow_id, spec, actor, expected_revision=expected_revision,
                           message=f"restored from v{number}", audit_action="restore")


def clone_workflow(workflow_id: str, name: str, actor: Actor) -> WorkflowRecord:
    """Copy the current version under a new name; the clone starts inactive and remembers its origin."""
    origin = get_workflow(workflow_id)
    if origin.archived_at is not None:
        raise Conflict(f"workflow {workflow_id} is archived (deleted); it cannot be cloned")
    document = {**origin.spec, "name": name}
    return create_workflow(document, actor, active=False, message=f"cloned from {origin.name} v{origin.version}",
                           origin_workflow_id=origin.id, origin_version=origin.version, audit_action="clone")


def diff_with_origin(workflow_id: str) -> dict[str, Any]:
    """What changed in a clone since it was copied: its origin's version -> the clone now."""
    from airflow_mlops.services.diff import diff_specs

    clone = get_workflow(workflow_id)
    if clone.origin_workflow_id is None or clone.origin_version is None:
        raise NotFound(f"workflow {workflow_id} is not a clone")
    origin = get_version(clone.origin_workflow_id, clone.origin_version)
    return {"workflow_id": workflow_id, "origin_workflow_id": clone.origin_workflow_id,
            "origin_version": clone.origin_version, **diff_specs(origin.spec, clone.spec)}


# -- delete ------------------------------------------------------------------------------------------
def delete_workflow(workflow_id: str, actor: Actor, *, expected_revision: int | None = None) -> WorkflowRecord:
    """Archive the workflow: its DAG goes away, its versions, runs and audit rows stay readable."""
    try:
        with transaction() as session:
            workflow = load_for_change(session, workflow_id, actor, expected_revision)
            workflow.archived_at = workflow.updated_at = utcnow()
            workflow.updated_by = actor.name
            session.flush()
            audit.record(session, actor.name, "delete", OBJECT_TYPE, workflow.id, workflow.name,
                         version=workflow.current_version)
            record = _record(session, workflow)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} was changed by someone else; reload and try again") from exc
    airflow_dags.set_paused(record.name, paused=True)
    airflow_dags.request_reparse(record.name)
    return record


def purge_workflow(workflow_id: str, actor: Actor) -> None:
    """Remove an archived workflow with its versions and runs for good (Admin); its name becomes free.
    The audit log keeps the purge with the last spec."""
    _require_purge(actor)
    with transaction() as session:
        workflow = _load(session, workflow_id)
        if workflow.archived_at is None:
            raise Conflict(f"workflow {workflow.name!r} is not deleted (archived); delete it before purging")
        last_spec = _current_spec(session, workflow).spec
        session.delete(workflow)
        session.flush()
        audit.record(session, actor.name, "purge", OBJECT_TYPE, workflow_id, workflow.name,
                     version=workflow.current_version, spec=last_spec)


def delete_version(workflow_id: str, number: int, actor: Actor) -> None:
    """Delete one old version (Admin). Never the current one, and never one that a run executed."""
    from airflow_mlops.models import Run

    _require_purge(actor)
    with transaction() as session:
        workflow = _load(session, workflow_id)
        version = session.scalar(select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number))
        if version is None:
            raise NotFound(f"workflow {workflow_id} has no version {number}")
        if number == workflow.current_version:
            raise Conflict(f"version {number} is the current version of {workflow.name!r}")
        recorded = session.scalar(select(func.count()).where(Run.workflow_id == workflow_id, Run.version == number))
        # Airflow knows every run, including those started from its own UI, API or schedule.
        runs = max(recorded or 0, _versions_run_in_airflow(workflow.id, workflow.name).count(number))
        if runs:
            raise Conflict(f"version {number} of {workflow.name!r} has {runs} run(s); it is kept as their record")
        session.delete(version)
        audit.record(session, actor.name, "delete_version", OBJECT_TYPE, workflow_id, workflow.name, version=number)


def _versions_run_in_airflow(workflow_id: str, dag_id: str) -> list[int | None]:
    """The version each Airflow run of this workflow executed, by the runtime's own pinning rule."""
    from airflow_mlops_dag_factory.runtime import version_for

    return [version_for(workflow_id, conf, run_after, bundle_version)
            for conf, run_after, bundle_version in airflow_dags.run_pins(dag_id)]


# -- helpers -----------------------------------------------------------------------------------------
def _require_purge(actor: Actor) -> None:
    if not actor.purge_history:
        raise Forbidden("only Admin may purge workflows or delete versions")


def check_owner(created_by: str, actor: Actor, what: str) -> None:
    if not actor.manage_all_workflows and created_by != actor.name:
        raise Forbidden(f"{what} belongs to {created_by!r}; only its owner, Op or Admin may change it")


def validate_spec(document: Any) -> WorkflowSpec:
    spec, errors = validate_document(document)
    if spec is None:
        raise InvalidInput(errors)
    return spec


def _check_dag_id_free(name: str) -> None:
    other = airflow_dags.foreign_dag_file(name)
    if other:
        raise InvalidInput([FieldError("name", f"DAG id {name!r} is already used by {other}")])


def _check_name_free(session: Session, name: str) -> None:
    if session.scalar(select(Workflow.id).where(Workflow.name == name)) is not None:
        raise Conflict(f"a workflow named {name!r} already exists")


def load_for_change(session: Session, workflow_id: str, actor: Actor, expected_revision: int | None) -> Workflow:
    workflow = _load(session, workflow_id)
    check_owner(workflow.created_by, actor, f"workflow {workflow.name!r}")
    if expected_revision is not None and expected_revision != workflow.revision:
        raise Conflict(f"workflow {workflow.id} is at revision {workflow.revision}, not {expected_revision}; "
                       "reload and try again")
    if workflow.archived_at is not None:
        raise Conflict(f"workflow {workflow.id} is archived (deleted); it can no longer be changed")
    return workflow


def _load(session: Session, workflow_id: str) -> Workflow:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"workflow {workflow_id} does not exist")
    return workflow


def _current_spec(session: Session, workflow: Workflow) -> StoredSpec:
    row = session.execute(
        select(WorkflowVersion.spec, WorkflowVersion.spec_hash, WorkflowVersion.validated_rules).where(
            WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.number == workflow.current_version
        )
    ).first()
    return StoredSpec(row.spec or {}, row.spec_hash, row.validated_rules) if row else StoredSpec({})


def _next_version_number(session: Session, workflow_id: str) -> int:
    latest = session.scalar(select(func.max(WorkflowVersion.number)).where(WorkflowVersion.workflow_id == workflow_id))
    return (latest or 0) + 1


def _add_version(session: Session, workflow: Workflow, spec: WorkflowSpec, number: int, actor: Actor,
                 message: str) -> WorkflowVersion:
    """``spec`` was validated by the caller, under the rules whose fingerprint the version records."""
    document = spec.to_dict()
    version = WorkflowVersion(workflow_id=workflow.id, number=number, spec=document, spec_hash=spec_hash(document),
                              validated_rules=rules_fingerprint(), store_revision=next_store_revision(session),
                              message=message, created_by=actor.name)
    session.add(version)
    return version


def next_store_revision(session: Session) -> int:
    """Bump the store revision (the MLOps DAG bundle's version) inside the caller's transaction.

    The UPDATE takes the counter row's lock until commit, so revisions are handed out in commit order.
    """
    bumped = session.execute(update(StoreRevision).where(StoreRevision.id == 1)
                             .values(value=StoreRevision.value + 1).returning(StoreRevision.value)).scalar()
    if bumped is None:  # a store created from the ORM before the counter row existed
        latest = session.scalar(select(func.max(WorkflowVersion.store_revision))) or 0
        session.add(StoreRevision(id=1, value=latest + 1))
        session.flush()
        bumped = latest + 1
    return bumped


def _version_record(version: WorkflowVersion) -> VersionRecord:
    return VersionRecord.model_validate(version)


def _stored_spec_errors(stored: StoredSpec, rules: str | None = None) -> list[FieldError]:
    """What is wrong with a stored spec. A listing page shows 50 specs, and validating one (compiling every
    task's code) costs ~1 ms per 10-task spec. None, without validating, when the write that stored it
    validated it under the same rules and the spec is still what was written (a hand edit changes its
    hash); otherwise the answer is remembered per content (it depends only on it and this configuration)."""
    key = spec_hash(stored.spec)
    if stored.validated_rules is not None and stored.validated_rules == (rules or rules_fingerprint()) \
            and key == stored.spec_hash:
        return []
    spec = stored.spec
    with _ERRORS_LOCK:
        cached = _ERRORS_CACHE.get(key)
    if cached is None:
        cached = tuple(validate_document(spec)[1])
        with _ERRORS_LOCK:
            if len(_ERRORS_CACHE) >= ERRORS_CACHE_SIZE:
                del _ERRORS_CACHE[next(iter(_ERRORS_CACHE))]  # the oldest entry
            _ERRORS_CACHE[key] = cached
    return list(cached)


def _record(session: Session, workflow: Workflow, stored: StoredSpec | None = None,
            rules: str | None = None) -> WorkflowRecord:
    """``stored``: the current version's, when the caller already read it (listings read a page's in one query);
    ``rules``: the current rules' fingerprint, when the caller already computed it."""
    stored = _current_spec(session, workflow) if stored is None else stored
    spec, errors = stored.spec, _stored_spec_errors(stored, rules)
    if errors:  # still listable: show what parses (with defaults filled in), else an empty skeleton
        parsed, _ = parse_spec(spec)
        spec = parsed.to_dict() if parsed else WorkflowSpec(name=workflow.name).to_dict()
    return WorkflowRecord(
        id=workflow.id, name=workflow.name, active=workflow.active, revision=workflow.revision,
        version=workflow.current_version, spec=spec, created_by=workflow.created_by, created_at=workflow.created_at,
        updated_by=workflow.updated_by, updated_at=workflow.updated_at, archived_at=workflow.archived_at,
        template_id=workflow.template_id, template_revision=workflow.template_revision,
        origin_workflow_id=workflow.origin_workflow_id, origin_version=workflow.origin_version, errors=errors,
    )
