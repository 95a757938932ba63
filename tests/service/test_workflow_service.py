"""The workflow services on real SQLite and PostgreSQL databases: one transaction per write, versions, audit."""

from __future__ import annotations

import copy
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airflow_mlops.db import writer_engine
from airflow_mlops.models import AuditEvent, Workflow, WorkflowVersion
from airflow_mlops.services import workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import Conflict, Forbidden, InvalidInput, NotFound

ALICE = Actor("alice")  # a User: owns what she creates
BOB = Actor("bob", manage_all_workflows=True)  # an Op
CAROL = Actor("carol", manage_all_workflows=True)
MALLORY = Actor("mallory")  # a User who owns nothing here

DOC = {
    "name": "svc_wf",
    "params": {"n": {"type": "integer", "default": 1}},
    "tasks": [{"name": "a", "code": "return 1"}, {"name": "b", "code": "return a", "depends_on": ["a"]}],
}


def counts() -> dict[str, int]:
    with Session(writer_engine()) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Workflow, WorkflowVersion, AuditEvent)}


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
    record = workflows.create_workflow(DOC, ALICE, active=False)
    assert (record.name, record.version, record.revision, record.active) == ("svc_wf", 1, 1, False)
    assert record.created_by == record.updated_by == "alice"
    assert record.spec["tasks"][1]["depends_on"] == ["a"]
    assert counts() == {"mlops_workflow": 1, "mlops_workflow_version": 1, "mlops_audit_event": 1}
    assert audit_actions() == ["create"]
    assert parse_requests() == 1
    assert workflows.get_workflow(record.id).to_dict()["valid"] is True


def test_invalid_input_writes_nothing(plugin_db):
    bad = {**DOC, "tasks": [{"name": "a", "code": "return (", "depends_on": ["zz"]}]}
    with pytest.raises(InvalidInput) as exc:
        workflows.create_workflow(bad, ALICE)
    assert [e.path for e in exc.value.errors] == ["tasks[0].code", "tasks[0].depends_on[0]"]
    assert counts() == {"mlops_workflow": 0, "mlops_workflow_version": 0, "mlops_audit_event": 0}


def test_duplicate_name_is_a_conflict_and_writes_nothing(plugin_db):
    workflows.create_workflow(DOC, ALICE)
    before = counts()
    with pytest.raises(Conflict, match="already exists"):
        workflows.create_workflow(DOC, BOB)
    assert counts() == before


def test_update_adds_a_version_only_when_something_changed(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    same = workflows.update_workflow(record.id, DOC, BOB, expected_revision=1)
    assert (same.version, same.revision) == (1, 1)
    assert audit_actions() == ["create"]

    updated = workflows.update_workflow(record.id, changed(DOC, "return a * 10"), BOB, expected_revision=1,
                                        message="scale")
    assert (updated.version, updated.revision, updated.updated_by) == (2, 2, "bob")
    assert updated.spec["tasks"][1]["code"] == "return a * 10"
    assert counts()["mlops_workflow_version"] == 2
    with Session(writer_engine()) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        first = session.scalar(select(WorkflowVersion.spec).where(WorkflowVersion.number == 1))
    assert (event.action, event.actor, event.details["changed"]) == ("update", "bob", ["tasks"])
    assert first["tasks"][1]["code"] == "return a"  # versions are immutable


def test_stale_revision_is_refused_and_changes_nothing(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 2"), BOB, expected_revision=1)
    before = counts()
    with pytest.raises(Conflict, match="revision 2, not 1"):
        workflows.update_workflow(record.id, changed(DOC, "return 3"), CAROL, expected_revision=1)
    assert counts() == before
    assert workflows.get_workflow(record.id).spec["tasks"][1]["code"] == "return 2"


def test_concurrent_updates_with_the_same_revision_one_wins(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def save(who: str) -> None:
        barrier.wait()
        try:
            outcomes[who] = workflows.update_workflow(record.id, changed(DOC, f"return '{who}'"), Actor(who, manage_all_workflows=True),
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
    record = workflows.create_workflow(DOC, ALICE)
    with pytest.raises(Conflict):
        workflows.delete_workflow(record.id, BOB, expected_revision=9)
    archived = workflows.delete_workflow(record.id, BOB, expected_revision=1)
    assert archived.archived_at is not None and archived.updated_by == "bob"
    assert counts() == {"mlops_workflow": 1, "mlops_workflow_version": 1, "mlops_audit_event": 2}
    assert audit_actions() == ["create", "delete"]
    assert workflows.get_workflow(record.id).spec["name"] == "svc_wf"  # still readable
    assert [w.id for w in workflows.list_workflows().items] == []
    assert [w.id for w in workflows.list_workflows(include_archived=True).items] == [record.id]
    with pytest.raises(Conflict, match="archived"):
        workflows.update_workflow(record.id, changed(DOC, "return 5"), BOB)
    with pytest.raises(Conflict, match="already exists"):
        workflows.create_workflow(DOC, CAROL)
    with pytest.raises(NotFound):
        workflows.get_workflow("no-such-id")


def test_rename_keeps_history(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    renamed = workflows.update_workflow(record.id, {**DOC, "name": "svc_wf_2"}, ALICE)
    assert (renamed.name, renamed.version) == ("svc_wf_2", 2)
    other = workflows.create_workflow({**DOC, "name": "svc_other"}, ALICE)
    with pytest.raises(Conflict, match="already exists"):
        workflows.update_workflow(other.id, {**DOC, "name": "svc_wf_2"}, ALICE)


def test_only_the_owner_or_an_op_may_change_a_workflow(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    before = counts()
    for attempt in (lambda: workflows.update_workflow(record.id, changed(DOC, "return 9"), MALLORY),
                    lambda: workflows.delete_workflow(record.id, MALLORY),
                    lambda: workflows.snapshot_version(record.id, MALLORY, "mine now")):
        with pytest.raises(Forbidden, match="belongs to 'alice'"):
            attempt()
    assert counts() == before
    assert workflows.update_workflow(record.id, changed(DOC, "return 9"), BOB).version == 2


def test_versions_snapshot_restore_and_clone(plugin_db):
    record = workflows.create_workflow(DOC, ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 2"), ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 3"), ALICE)
    page = workflows.list_versions(record.id, limit=2)
    assert (page.total, [v.number for v in page.items]) == (3, [3, 2])
    v1 = workflows.get_version(record.id, 1)
    restored = workflows.restore_version(v1.id, ALICE)
    assert restored.version == 4 and restored.spec == v1.spec
    v4 = workflows.get_version(record.id, 4)
    assert v4.spec_hash == v1.spec_hash and v4.message == "restored from v1"
    assert [workflows.get_version(record.id, n).spec["tasks"][1]["code"] for n in (1, 2, 3, 4)] == \
        ["return a", "return 2", "return 3", "return a"]
    snap = workflows.snapshot_version(record.id, ALICE, "before experiments")
    assert (snap.number, snap.message, snap.spec_hash) == (5, "before experiments", v1.spec_hash)

    clone = workflows.clone_workflow(record.id, "svc_wf_clone", MALLORY)
    assert (clone.active, clone.version, clone.created_by) == (False, 1, "mallory")
    assert (clone.origin_workflow_id, clone.origin_version) == (record.id, 5)
    workflows.update_workflow(clone.id, changed({**DOC, "name": "svc_wf_clone"}, "return 'clone'"), MALLORY)
    assert workflows.get_workflow(record.id).spec["tasks"][1]["code"] == "return a"
    assert audit_actions() == ["create", "update", "update", "restore", "snapshot", "clone", "update"]
    assert workflows.diff_with_origin(clone.id)["tasks"]["changed"][0]["name"] == "b"
    with pytest.raises(NotFound, match="not a clone"):
        workflows.diff_with_origin(record.id)


def test_purge_and_version_delete_are_admin_only_and_guarded(plugin_db):
    from airflow_mlops.models import Run

    admin = Actor("root", manage_all_workflows=True, purge_history=True)
    record = workflows.create_workflow(DOC, ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 2"), ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 3"), ALICE)
    with Session(writer_engine()) as session, session.begin():
        session.add(Run(workflow_id=record.id, version=1, dag_id="svc_wf", dag_run_id="r1", triggered_by="alice"))
    with pytest.raises(Forbidden):
        workflows.delete_version(record.id, 2, BOB)  # an Op may not rewrite history
    with pytest.raises(Conflict, match="has 1 run"):
        workflows.delete_version(record.id, 1, admin)
    with pytest.raises(Conflict, match="current version"):
        workflows.delete_version(record.id, 3, admin)
    workflows.delete_version(record.id, 2, admin)
    assert [v.number for v in workflows.list_versions(record.id).items] == [3, 1]

    with pytest.raises(Conflict, match="not deleted"):
        workflows.purge_workflow(record.id, admin)
    workflows.delete_workflow(record.id, ALICE)
    with pytest.raises(Forbidden):
        workflows.purge_workflow(record.id, BOB)
    workflows.purge_workflow(record.id, admin)
    assert counts()["mlops_workflow"] == 0 and counts()["mlops_workflow_version"] == 0
    assert audit_actions()[-3:] == ["delete_version", "delete", "purge"]
    assert workflows.create_workflow(DOC, ALICE).name == "svc_wf"  # the name is free again


def test_audit_events_are_mirrored_to_airflows_log(plugin_db):
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    record = workflows.create_workflow({**DOC, "name": "mirrored_wf"}, ALICE)
    with create_session() as session:
        rows = session.scalars(select(Log).where(Log.event == "mlops.workflow.create", Log.dag_id == "mirrored_wf")).all()
    assert [r.owner for r in rows if record.id in r.extra] == ["alice"]  # the Airflow DB is shared by both backends


def test_an_invalid_stored_workflow_is_still_listed_with_its_errors(plugin_db):
    with Session(writer_engine()) as session, session.begin():
        broken = Workflow(name="broken_row", owner="x", created_by="sql", updated_by="sql", current_version=1)
        untyped = Workflow(name="untyped_row", owner="x", created_by="sql", updated_by="sql", current_version=1)
        session.add_all([broken, untyped])
        session.flush()
        session.add(WorkflowVersion(workflow_id=broken.id, number=1, spec_hash="-", created_by="sql",
                                    store_revision=workflows.next_store_revision(session), spec={
            "name": "broken_row", "tasks": [{"name": "a", "code": "1", "depends_on": ["a"]}]}))
        session.add(WorkflowVersion(workflow_id=untyped.id, number=1, spec_hash="-", created_by="sql",
                                    store_revision=workflows.next_store_revision(session),
                                    spec={"name": "untyped_row", "tasks": "not a list"}))
    listed = {w.name: w for w in workflows.list_workflows().items}
    assert listed["broken_row"].spec["tasks"][0]["name"] == "a" and listed["broken_row"].errors
    assert listed["untyped_row"].spec["tasks"] == [] and listed["untyped_row"].errors[0].path == "tasks"
    from airflow_mlops.api.schemas import WorkflowOut

    for record in listed.values():  # what the API serialises must fit its documented model
        WorkflowOut.model_validate(record.to_dict())


def test_reads_trust_a_spec_only_as_its_validated_write_left_it(plugin_db, monkeypatch):
    """A version records the rules it was validated under; reads skip re-validating it only while the rules
    and the stored spec are unchanged. A hand edit in the database, or other rules, is validated again."""
    created = workflows.create_workflow({**DOC, "name": "trusted_wf"}, ALICE)
    with Session(writer_engine()) as session:
        version = session.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow_id == created.id)).one()
    assert version.validated_rules == workflows.rules_fingerprint()
    validated = []
    real = workflows.validate_document
    monkeypatch.setattr(workflows, "validate_document", lambda doc: validated.append(doc["name"]) or real(doc))
    workflows._ERRORS_CACHE.clear()
    assert workflows.get_workflow(created.id).errors == [] and workflows.list_workflows(q="trusted").total == 1
    assert validated == []  # the write's own validation is trusted
    with Session(writer_engine()) as session, session.begin():  # a hand edit: a dependency cycle, same hash
        edited = copy.deepcopy(version.spec)
        edited["tasks"][0]["depends_on"] = ["b"]
        session.get(WorkflowVersion, version.id).spec = edited
    [listed] = workflows.list_workflows(q="trusted").items
    assert validated == ["trusted_wf"] and listed.errors and "cycle" in str(listed.errors[0]).lower()
    with Session(writer_engine()) as session, session.begin():  # back as written, but under other rules
        session.get(WorkflowVersion, version.id).spec = version.spec
    monkeypatch.setattr(workflows, "rules_fingerprint", lambda: "other rules")
    workflows._ERRORS_CACHE.clear()
    assert workflows.get_workflow(created.id).errors == [] and validated == ["trusted_wf", "trusted_wf"]


def test_listing_filters_counts_and_pages_in_the_database(plugin_db):
    for i in range(7):
        workflows.create_workflow({**DOC, "name": f"page_{i}", "description": "find me" if i % 2 else "",
                                   "tags": ["even" if i % 2 == 0 else "odd", 'we"ird%'] if i < 6 else ["evenish"]},
                                  ALICE)
    page = workflows.list_workflows(tag="even", limit=2, offset=1)
    assert page.total == 3 and [w.name for w in page.items] == ["page_2", "page_4"]
    assert [w.name for w in workflows.list_workflows(tag='we"ird%').items] == [f"page_{i}" for i in range(6)]
    assert workflows.list_workflows(tag="eve").total == 0  # exact tags, not substrings
    found = workflows.list_workflows(q="FIND", sort="-name", limit=2)
    assert found.total == 3 and [w.name for w in found.items] == ["page_5", "page_3"]
    assert found.items[0].spec["tasks"][0]["name"] == "a" and found.items[0].errors == []


def store_revisions() -> list[tuple[str, int, int]]:
    with Session(writer_engine()) as session:
        rows = session.execute(select(Workflow.name, WorkflowVersion.number, WorkflowVersion.store_revision)
                               .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
                               .order_by(WorkflowVersion.store_revision))
        return [tuple(r) for r in rows]


def test_every_version_write_takes_the_next_store_revision_in_its_transaction(plugin_db):
    """The store revision is the MLOps DAG bundle's version: one per version written, never reused or skipped,
    also under concurrent writers; a refused write takes none."""
    from airflow_mlops_dag_factory.store import store_head

    record = workflows.create_workflow(DOC, ALICE)
    workflows.update_workflow(record.id, changed(DOC, "return 2"), ALICE)
    other = workflows.create_workflow({**DOC, "name": "svc_other"}, ALICE)
    workflows.restore_version(workflows.get_version(record.id, 1).id, ALICE)
    with pytest.raises(InvalidInput):
        workflows.update_workflow(other.id, {**DOC, "name": "svc_other", "tasks": []}, ALICE)
    assert store_revisions() == [("svc_wf", 1, 1), ("svc_wf", 2, 2), ("svc_other", 1, 3), ("svc_wf", 3, 4)]
    assert store_head(plugin_db) == 4

    def save(i: int) -> None:
        workflows.create_workflow({**DOC, "name": f"svc_many_{i}"}, ALICE)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[2] for r in store_revisions()] == list(range(1, 11))
    assert store_head(plugin_db) == 10
