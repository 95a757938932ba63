"""Drafts on real SQLite and PostgreSQL: saving never publishes, publishing is one transaction, reviews gate it."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airflow_mlops.db import writer_engine
from airflow_mlops.models import AuditEvent, Draft, WorkflowVersion
from airflow_mlops.services import drafts, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionRequired

ALICE = Actor("alice")  # a User: owns what she creates, reviews nothing
MALLORY = Actor("mallory")  # a User who owns nothing here
OLGA = Actor("olga", manage_all_workflows=True, review_drafts=True)  # an Op: reviewer
DOC = {"name": "draft_wf", "params": {"n": {"type": "integer", "default": 1}},
       "tasks": [{"name": "a", "code": "return 1"}, {"name": "b", "code": "return a", "depends_on": ["a"]}]}


def with_code(code: str) -> dict:
    doc = copy.deepcopy(DOC)
    doc["tasks"][1]["code"] = code
    return doc


def rows(model: type) -> int:
    with Session(writer_engine()) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def actions() -> list[str]:
    with Session(writer_engine()) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def workflow(plugin_db):
    return workflows.create_workflow(DOC, ALICE)


def test_saving_a_draft_leaves_the_published_version_alone(workflow):
    draft = drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None)
    assert (draft.base_version, draft.published_version, draft.revision) == (1, 1, 1)
    published = workflows.get_workflow(workflow.id)
    assert (published.version, published.revision) == (1, workflow.revision)
    assert published.spec["tasks"][1]["code"] == "return a"
    assert rows(WorkflowVersion) == 1
    diff = drafts.diff_draft(workflow.id)
    assert not diff["identical"] and diff["tasks"]["changed"][0]["name"] == "b"

    again = drafts.save_draft(workflow.id, with_code("return a * 3"), ALICE, expected_revision=1)
    assert again.revision == 2 and drafts.get_draft(workflow.id).spec["tasks"][1]["code"] == "return a * 3"
    with pytest.raises(Conflict):  # based on revision 1, which is gone
        drafts.save_draft(workflow.id, with_code("return 0"), ALICE, expected_revision=1)
    with pytest.raises(PreconditionRequired):  # based on no revision at all
        drafts.save_draft(workflow.id, with_code("return 0"), ALICE, expected_revision=None)
    assert actions() == ["create", "draft_create", "draft_update"]


def test_an_invalid_draft_is_refused_with_its_fields_and_writes_nothing(workflow):
    bad = with_code("return (")
    bad["tasks"][1]["depends_on"] = ["nope"]
    with pytest.raises(InvalidInput) as refused:
        drafts.save_draft(workflow.id, bad, ALICE, expected_revision=None)
    assert {e.path for e in refused.value.errors} >= {"tasks[1].code", "tasks[1].depends_on[0]"}
    assert rows(Draft) == 0 and actions() == ["create"]


def test_only_who_may_edit_the_workflow_writes_its_draft(workflow):
    with pytest.raises(Forbidden):
        drafts.save_draft(workflow.id, with_code("return 9"), MALLORY, expected_revision=None)
    with pytest.raises(NotFound):
        drafts.get_draft(workflow.id)


def test_publishing_makes_one_new_version_and_drops_the_draft(workflow):
    drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None)
    record = drafts.publish_draft(workflow.id, ALICE, expected_revision=1, message="double it")
    assert record.version == 2 and record.spec["tasks"][1]["code"] == "return a * 2"
    assert workflows.get_version(workflow.id, 2).message == "double it"
    assert rows(Draft) == 0 and rows(WorkflowVersion) == 2
    assert actions()[-1] == "publish"
    with pytest.raises(NotFound):
        drafts.publish_draft(workflow.id, ALICE, expected_revision=None)


def test_a_draft_started_before_another_publish_must_be_rebased(workflow):
    drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None)
    workflows.update_workflow(workflow.id, with_code("return a + 1"), OLGA)  # someone publishes version 2
    assert drafts.get_draft(workflow.id).to_dict()["stale"] is True
    with pytest.raises(Conflict, match="rebase"):
        drafts.publish_draft(workflow.id, ALICE, expected_revision=1)
    assert workflows.get_workflow(workflow.id).spec["tasks"][1]["code"] == "return a + 1"
    rebased = drafts.save_draft(workflow.id, with_code("return (a + 1) * 2"), ALICE, expected_revision=1, rebase=True)
    assert rebased.base_version == 2
    assert drafts.publish_draft(workflow.id, ALICE, expected_revision=rebased.revision).version == 3


def test_discard_forgets_the_draft(workflow):
    drafts.save_draft(workflow.id, with_code("return 7"), ALICE, expected_revision=None)
    drafts.discard_draft(workflow.id, ALICE, expected_revision=1)
    assert rows(Draft) == 0 and workflows.get_workflow(workflow.id).version == 1
    assert actions()[-1] == "draft_discard"


def test_required_review_gates_a_users_publish(workflow, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__REQUIRE_REVIEW", "True")
    drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None)
    with pytest.raises(Conflict, match="approved review"):
        drafts.publish_draft(workflow.id, ALICE, expected_revision=1)
    with pytest.raises(Conflict, match="awaits no review"):
        drafts.review_draft(workflow.id, OLGA, "approve", "ok", expected_revision=1)
    requested = drafts.request_review(workflow.id, ALICE, expected_revision=1, comment="please")
    assert requested.review_state == "requested"
    with pytest.raises(Forbidden):  # not a reviewer
        drafts.review_draft(workflow.id, MALLORY, "approve", "sure", expected_revision=requested.revision)
    rejected = drafts.review_draft(workflow.id, OLGA, "reject", "b must not double", expected_revision=requested.revision)
    assert (rejected.review_state, rejected.reviewed_by, rejected.review_comment) == ("rejected", "olga",
                                                                                      "b must not double")
    with pytest.raises(Conflict):
        drafts.publish_draft(workflow.id, ALICE, expected_revision=rejected.revision)

    fixed = drafts.save_draft(workflow.id, with_code("return a * 3"), ALICE, expected_revision=rejected.revision)
    assert fixed.review_state == "none"  # a changed draft needs a new review
    requested = drafts.request_review(workflow.id, ALICE, expected_revision=fixed.revision)
    approved = drafts.review_draft(workflow.id, OLGA, "approve", "good", expected_revision=requested.revision)
    published = drafts.publish_draft(workflow.id, ALICE, expected_revision=approved.revision, message="reviewed")
    assert published.version == 2
    assert actions()[-5:] == ["review_rejected", "draft_update", "review_request", "review_approved", "publish"]


def test_a_reviewer_neither_reviews_their_own_draft_nor_needs_a_review(workflow, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__REQUIRE_REVIEW", "True")
    draft = drafts.save_draft(workflow.id, with_code("return a * 5"), OLGA, expected_revision=None)
    requested = drafts.request_review(workflow.id, OLGA, expected_revision=draft.revision)
    with pytest.raises(Forbidden, match="other than its author"):
        drafts.review_draft(workflow.id, OLGA, "approve", "me", expected_revision=requested.revision)
    assert drafts.publish_draft(workflow.id, OLGA, expected_revision=requested.revision).version == 2


def test_a_first_draft_written_against_an_older_version_is_refused(workflow):
    workflows.update_workflow(workflow.id, with_code("return a + 1"), OLGA)  # version 2 is published meanwhile
    with pytest.raises(Conflict, match="published after version 1"):
        drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None, base_version=1)
    assert rows(Draft) == 0
    assert drafts.save_draft(workflow.id, with_code("return a * 2"), ALICE, expected_revision=None,
                             base_version=2).base_version == 2
