"""Drafts: the editor saves a workflow's next version here, and only publishing makes it the live one.

A draft is validated like any save (every error at its field) but changes nothing Airflow runs: scheduled
and triggered runs keep the published version. Publishing writes a normal new version and drops the draft
in one transaction. It refuses when the published version moved since the draft was started (that would
undo someone's change: save the draft again on the new base first) and, with ``[mlops] require_review``,
when the author is no reviewer and no other user approved the draft as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from airflow_mlops.db import transaction
from airflow_mlops.models import Draft, Workflow, utcnow
from airflow_mlops.services import audit, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.diff import diff_specs
from airflow_mlops.services.errors import Conflict, Forbidden, NotFound, PreconditionRequired
from airflow_mlops_dag_factory import settings

OBJECT_TYPE = "workflow"
ReviewDecision = Literal["approve", "reject"]


@dataclass(frozen=True)
class DraftRecord:
    workflow_id: str
    spec: dict[str, Any]
    base_version: int
    published_version: int
    revision: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    review_state: str
    review_requested_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str
    review_required: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id, "spec": self.spec, "base_version": self.base_version,
            "published_version": self.published_version, "stale": self.base_version != self.published_version,
            "revision": self.revision, "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "updated_by": self.updated_by, "updated_at": self.updated_at.isoformat(),
            "review": {"required": self.review_required, "state": self.review_state,
                       "requested_by": self.review_requested_by, "reviewed_by": self.reviewed_by,
                       "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
                       "comment": self.review_comment},
        }


def get_draft(workflow_id: str) -> DraftRecord:
    with transaction() as session:
        workflow, draft = _load(session, workflow_id)
        return _record(workflow, draft)


def diff_draft(workflow_id: str) -> dict[str, Any]:
    """The draft against the published version: what publishing would change."""
    published = workflows.get_workflow(workflow_id)
    return diff_specs(published.spec, get_draft(workflow_id).spec)


def save_draft(workflow_id: str, document: dict[str, Any], actor: Actor, *, expected_revision: int | None,
               rebase: bool = False, base_version: int | None = None) -> DraftRecord:
    """Create or replace the draft. Creating may name the published version it was written against
    (``base_version``: refused if another was published since); replacing needs the draft revision it was
    based on; ``rebase`` moves the draft onto the version published now (after its author has looked at what
    changed there)."""
    spec = workflows.validate_spec(document)
    try:
        with transaction() as session:
            workflow = _workflow_for_change(session, workflow_id, actor)
            draft = session.get(Draft, workflow_id)
            if draft is None:
                if base_version is not None and base_version != workflow.current_version:
                    raise Conflict(f"version {workflow.current_version} of {workflow.name!r} was published after "
                                   f"version {base_version} this draft was written against; reload it")
                draft = Draft(workflow_id=workflow_id, spec=spec.to_dict(), base_version=workflow.current_version,
                              created_by=actor.name, updated_by=actor.name, review_comment="")
                session.add(draft)
                action = "draft_create"
            else:
                _check_revision(draft, expected_revision)
                draft.spec, draft.updated_by, draft.updated_at = spec.to_dict(), actor.name, utcnow()
                if rebase:
                    draft.base_version = workflow.current_version
                _reset_review(draft)
                action = "draft_update"
            session.flush()
            audit.record(session, actor.name, action, OBJECT_TYPE, workflow.id, workflow.name,
                         draft_revision=draft.revision, base_version=draft.base_version)
            return _record(workflow, draft)
    except StaleDataError as exc:
        raise Conflict(f"the draft of workflow {workflow_id} was changed by someone else; reload it") from exc


def discard_draft(workflow_id: str, actor: Actor, *, expected_revision: int | None) -> None:
    try:
        with transaction() as session:
            workflow = _workflow_for_change(session, workflow_id, actor)
            _, draft = _load(session, workflow_id)
            _check_revision(draft, expected_revision)
            session.delete(draft)
            session.flush()
            audit.record(session, actor.name, "draft_discard", OBJECT_TYPE, workflow.id, workflow.name,
                         draft_revision=draft.revision)
    except StaleDataError as exc:
        raise Conflict(f"the draft of workflow {workflow_id} was changed by someone else; reload it") from exc


def request_review(workflow_id: str, actor: Actor, *, expected_revision: int | None, comment: str = "") -> DraftRecord:
    try:
        with transaction() as session:
            workflow = _workflow_for_change(session, workflow_id, actor)
            _, draft = _load(session, workflow_id)
            _check_revision(draft, expected_revision)
            draft.review_state, draft.review_requested_by = "requested", actor.name
            draft.reviewed_by, draft.reviewed_at, draft.review_comment = None, None, comment
            session.flush()
            audit.record(session, actor.name, "review_request", OBJECT_TYPE, workflow.id, workflow.name,
                         draft_revision=draft.revision, comment=comment)
            return _record(workflow, draft)
    except StaleDataError as exc:
        raise Conflict(f"the draft of workflow {workflow_id} was changed by someone else; reload it") from exc


def review_draft(workflow_id: str, actor: Actor, decision: ReviewDecision, comment: str, *,
                 expected_revision: int | None) -> DraftRecord:
    """Approve or reject the draft as it is (its revision): a later change of the draft needs a new review."""
    if not actor.review_drafts:
        raise Forbidden(f"user {actor.name!r} may not review drafts (can_edit on 'MLOps Reviews')")
    try:
        with transaction() as session:
            workflow, draft = _load(session, workflow_id)
            _check_revision(draft, expected_revision)
            if actor.name in (draft.updated_by, draft.review_requested_by):
                raise Forbidden("a draft is reviewed by someone other than its author")
            if draft.review_state != "requested":
                raise Conflict(f"the draft of workflow {workflow.name!r} awaits no review (state: {draft.review_state})")
            draft.review_state = "approved" if decision == "approve" else "rejected"
            draft.reviewed_by, draft.reviewed_at, draft.review_comment = actor.name, utcnow(), comment
            session.flush()
            audit.record(session, actor.name, f"review_{draft.review_state}", OBJECT_TYPE, workflow.id,
                         workflow.name, draft_revision=draft.revision, comment=comment)
            return _record(workflow, draft)
    except StaleDataError as exc:
        raise Conflict(f"the draft of workflow {workflow_id} was changed by someone else; reload it") from exc


def publish_draft(workflow_id: str, actor: Actor, *, expected_revision: int | None,
                  message: str = "") -> workflows.WorkflowRecord:
    """The draft becomes the workflow's new current version, and is gone, in one transaction."""
    try:
        with transaction() as session:
            workflow = _workflow_for_change(session, workflow_id, actor)
            _, draft = _load(session, workflow_id)
            _check_revision(draft, expected_revision)
            if draft.base_version != workflow.current_version:
                raise Conflict(f"version {workflow.current_version} was published after this draft was started "
                               f"from version {draft.base_version}; review the difference and save the draft "
                               "again with rebase before publishing")
            if _review_required(actor) and draft.review_state != "approved":
                raise Conflict(f"publishing needs an approved review ([mlops] require_review); the draft's review "
                               f"is {draft.review_state!r}")
            spec = workflows.validate_spec(draft.spec)  # the rules may have changed since it was saved
            review: dict[str, Any] = {"reviewed_by": draft.reviewed_by} if draft.review_state == "approved" else {}
            session.delete(draft)
            change = workflows.apply_spec(session, workflow, spec, actor, message=message, audit_action="publish",
                                          draft_revision=draft.revision, **review)
    except StaleDataError as exc:
        raise Conflict(f"workflow {workflow_id} or its draft was changed by someone else; reload") from exc
    return workflows.tell_airflow(change)


def _review_required(actor: Actor) -> bool:
    return settings.require_review() and not actor.review_drafts


def _reset_review(draft: Draft) -> None:
    draft.review_state, draft.review_requested_by = "none", None
    draft.reviewed_by, draft.reviewed_at, draft.review_comment = None, None, ""


def _check_revision(draft: Draft, expected_revision: int | None) -> None:
    """Every change of an existing draft names the draft revision it was based on: nothing is lost."""
    if expected_revision is None:
        raise PreconditionRequired(f"the draft is at revision {draft.revision}: send If-Match with its ETag, or "
                                   "'revision', to change it")
    if expected_revision != draft.revision:
        raise Conflict(f"the draft is at revision {draft.revision}, not {expected_revision}; reload it")


def _workflow_for_change(session: Session, workflow_id: str, actor: Actor) -> Workflow:
    return workflows.load_for_change(session, workflow_id, actor, None)


def _load(session: Session, workflow_id: str) -> tuple[Workflow, Draft]:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"workflow {workflow_id} does not exist")
    draft = session.get(Draft, workflow_id)
    if draft is None:
        raise NotFound(f"workflow {workflow.name!r} has no draft")
    return workflow, draft


def _record(workflow: Workflow, draft: Draft) -> DraftRecord:
    return DraftRecord(
        workflow_id=draft.workflow_id, spec=draft.spec, base_version=draft.base_version,
        published_version=workflow.current_version, revision=draft.revision, created_by=draft.created_by,
        created_at=draft.created_at, updated_by=draft.updated_by, updated_at=draft.updated_at,
        review_state=draft.review_state, review_requested_by=draft.review_requested_by,
        reviewed_by=draft.reviewed_by, reviewed_at=draft.reviewed_at, review_comment=draft.review_comment,
        review_required=settings.require_review(),
    )
