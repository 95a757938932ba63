"""The workflow services on real SQLite and PostgreSQL databases: one transaction per write, versions, audit."""

from __future__ import annotations

import copy
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airflow_mlops.db import writer_engine
from airflow_mlops.models import AuditEvent, Task, Workflow, WorkflowVersion
from airflow_mlops.services import workflows
from airflow_mlops.services.errors import Conflict, InvalidInput, NotFound

DOC = {
    "name": "svc_wf",
    "params": {"n": {"type": "integer", "default": 1}},
    "tasks": [{"name": "a", "code": "return 1"}, {"name": "b", "code": "return a", "depends_on": ["a"]}],
}


def counts() -> dict[str, int]:
    with Session(writer_engine()) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Workflow, Task, WorkflowVersion, AuditEvent)}


def audit_actions() -> list[str]:
    with Session(writer_engine()) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def changed(doc: dict, code: str) -> dict:
    new = copy.deepcopy(doc)
    new["tasks"][1]["code"] = code
    return new


def parse_requests() -> int:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(DagPriorityParsingRequest))


def clear_parse_requests() -> None:
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagPriorityParsingRequest).delete()


def test_create_writes_workflow_tasks_version_audit_and_asks_for_a_parse(plugin_db):
    clear_parse_requests()
    record = workflows.create_workflow(DOC, "alice", active=False)
    assert (record.name, record.version, record.revision, record.active) == ("svc_wf", 1, 1, False)
    assert record.created_by == record.updated_by == "alice"
    assert record.spec["tasks"][1]["depends_on"] == ["a"]
    assert counts() == {"mlops_workflow": 1, "mlops_task": 2, "mlops_workflow_version": 1, "mlops_audit_event": 1}
    assert audit_actions() == ["create"]
    assert parse_requests() == 1
    assert workflows.get_workflow(record.id).to_dict()["valid"] is True


def test_invalid_input_writes_nothing(plugin_db):
    bad = {**DOC, "tasks": [{"name": "a", "code": "return (", "depends_on": ["zz"]}]}
    with pytest.raises(InvalidInput) as exc:
        workflows.create_workflow(bad, "alice")
    assert [e.path for e in exc.value.errors] == ["tasks[0].code", "tasks[0].depends_on[0]"]
    assert counts() == {"mlops_workflow": 0, "mlops_task": 0, "mlops_workflow_version": 0, "mlops_audit_event": 0}


def test_duplicate_name_is_a_conflict_and_writes_nothing(plugin_db):
    workflows.create_workflow(DOC, "alice")
    before = counts()
    with pytest.raises(Conflict, match="already exists"):
        workflows.create_workflow(DOC, "bob")
    assert counts() == before


def test_update_adds_a_version_only_when_something_changed(plugin_db):
    record = workflows.create_workflow(DOC, "alice")
    same = workflows.update_workflow(record.id, DOC, "bob", expected_revision=1)
    assert (same.version, same.revision) == (1, 1)
    assert audit_actions() == ["create"]

    updated = workflows.update_workflow(record.id, changed(DOC, "return a * 10"), "bob", expected_revision=1,
                                        message="scale")
    assert (updated.version, updated.revision, updated.updated_by) == (2, 2, "bob")
    assert updated.spec["tasks"][1]["code"] == "return a * 10"
    assert counts()["mlops_workflow_version"] == 2 and counts()["mlops_task"] == 2
    with Session(writer_engine()) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        first = session.scalar(select(WorkflowVersion.spec).where(WorkflowVersion.number == 1))
    assert (event.action, event.actor, event.details["changed"]) == ("update", "bob", ["tasks"])
    assert first["tasks"][1]["code"] == "return a"  # versions are immutable


def test_stale_revision_is_refused_and_changes_nothing(plugin_db):
    record = workflows.create_workflow(DOC, "alice")
    workflows.update_workflow(record.id, changed(DOC, "return 2"), "bob", expected_revision=1)
    before = counts()
    with pytest.raises(Conflict, match="revision 2, not 1"):
        workflows.update_workflow(record.id, changed(DOC, "return 3"), "carol", expected_revision=1)
    assert counts() == before
    assert workflows.get_workflow(record.id).spec["tasks"][1]["code"] == "return 2"


def test_concurrent_updates_with_the_same_revision_one_wins(plugin_db):
    record = workflows.create_workflow(DOC, "alice")
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def save(who: str) -> None:
        barrier.wait()
        try:
            outcomes[who] = workflows.update_workflow(record.id, changed(DOC, f"return '{who}'"), who,
                                                      expected_revision=record.revision)
        except Conflict as exc:
            outcomes[who] = exc

    threads = [threading.Thread(target=save, args=(who,)) for who in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [who for who, out in outcomes.items() if not isinstance(out, Exception)]
    losers = [who for who, out in outcomes.items() if isinstance(out, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    final = workflows.get_workflow(record.id)
    assert final.spec["tasks"][1]["code"] == f"return '{winners[0]}'"
    assert (final.version, final.revision) == (2, 2)
    assert counts()["mlops_workflow_version"] == 2
    assert audit_actions() == ["create", "update"]


def test_delete_archives_keeps_history_and_the_name(plugin_db):
    record = workflows.create_workflow(DOC, "alice")
    with pytest.raises(Conflict):
        workflows.delete_workflow(record.id, "bob", expected_revision=9)
    archived = workflows.delete_workflow(record.id, "bob", expected_revision=1)
    assert archived.archived_at is not None and archived.updated_by == "bob"
    assert counts() == {"mlops_workflow": 1, "mlops_task": 2, "mlops_workflow_version": 1, "mlops_audit_event": 2}
    assert audit_actions() == ["create", "delete"]
    assert workflows.get_workflow(record.id).spec["name"] == "svc_wf"  # still readable
    assert [w.id for w in workflows.list_workflows()] == []
    assert [w.id for w in workflows.list_workflows(include_archived=True)] == [record.id]
    with pytest.raises(Conflict, match="archived"):
        workflows.update_workflow(record.id, changed(DOC, "return 5"), "bob")
    with pytest.raises(Conflict, match="already exists"):
        workflows.create_workflow(DOC, "carol")
    with pytest.raises(NotFound):
        workflows.get_workflow("no-such-id")


def test_rename_keeps_history(plugin_db):
    record = workflows.create_workflow(DOC, "alice")
    renamed = workflows.update_workflow(record.id, {**DOC, "name": "svc_wf_2"}, "alice")
    assert (renamed.name, renamed.version) == ("svc_wf_2", 2)
    other = workflows.create_workflow({**DOC, "name": "svc_other"}, "alice")
    with pytest.raises(Conflict, match="already exists"):
        workflows.update_workflow(other.id, {**DOC, "name": "svc_wf_2"}, "alice")
