"""The run list on real databases: paged, filtered and sorted by the databases, and a read never writes.

Runs are seeded the way they exist in production: rows in Airflow's ``dag_run`` (the test process's own Airflow
database) for every run, and a plugin record only for the runs the plugin triggered; Airflow's own trigger
dialog, REST API and schedule leave no record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from airflow_mlops.db import transaction, writer_engine
from airflow_mlops.models import Run, WorkflowVersion
from airflow_mlops.services import runs, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import NotFound
from airflow_mlops_dag_factory.runtime import PIN_CONF_KEY

ADMIN = Actor.system("admin")
START = datetime.now(UTC) + timedelta(hours=1)  # after every version: a run without a pin runs the newest


def doc(name: str, default: float) -> dict[str, Any]:
    return {"name": name, "tasks": [{"name": "train", "code": "return 1"}],
            "params": {"lr": {"type": "number", "default": default}, "epochs": {"type": "integer", "default": 3}}}


def airflow_run(dag_id: str, run_id: str, minute: int, state: str, conf: dict[str, Any], *, run_type: str = "manual",
                user: str | None = "admin", bundle_version: str | None = None, note: str | None = None) -> None:
    """One row in Airflow's ``dag_run`` (and its note), as Airflow's trigger writes it."""
    from airflow.models.dagrun import DagRun, DagRunNote
    from airflow.utils.session import create_session

    at = START + timedelta(minutes=minute)
    with create_session() as session:
        pk = session.execute(insert(DagRun.__table__).values(
            dag_id=dag_id, run_id=run_id, run_type=run_type, state=state, conf=conf, run_after=at, start_date=at,
            end_date=at + timedelta(seconds=30) if state in ("success", "failed") else None, clear_number=0,
            triggering_user_name=user, bundle_version=bundle_version, span_status="not_started",
            triggered_by="REST_API")).inserted_primary_key[0]
        if note is not None:
            session.execute(insert(DagRunNote.__table__).values(dag_run_id=pk, content=note, created_at=at,
                                                                updated_at=at))


def airflow_dag(dag_id: str, *, stale: bool = False, file: str | None = None) -> None:
    """Airflow's row of a DAG, as its dag-processor records it (by default: made by the MLOps DAG file)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    from airflow_mlops_dag_factory import settings
    from airflow_mlops_dag_factory.bundle import dag_bundle_name

    with create_session() as session:
        if session.get(DagBundleModel, dag_bundle_name()) is None:
            session.add(DagBundleModel(name=dag_bundle_name()))
            session.flush()
        session.execute(insert(DagModel.__table__).values(
            dag_id=dag_id, bundle_name=dag_bundle_name(), relative_fileloc=file or settings.get("dag_file"),
            is_stale=stale, is_paused=False, max_active_tasks=16, max_consecutive_failed_dag_runs=0,
            has_task_concurrency_limits=False))


def set_airflow_state(dag_id: str, run_id: str, state: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).values(state=state))


def plugin_record(workflow: workflows.WorkflowRecord, run_id: str, minute: int, version: int, params: dict[str, Any],
                  description: str) -> None:
    """The record ``runs.trigger`` writes beside the Airflow run it created."""
    with transaction() as session:
        session.add(Run(workflow_id=workflow.id, version=version, dag_id=workflow.name, dag_run_id=run_id,
                        params=params, description=description, state="queued", triggered_by="alice", source="plugin",
                        created_at=START + timedelta(minutes=minute)))


def record_rows() -> list[tuple[Any, ...]]:
    with Session(writer_engine()) as session:
        return [tuple(r) for r in session.execute(select(Run.__table__).order_by(Run.id))]


@pytest.fixture
def seeded(plugin_db) -> Iterator[dict[str, Any]]:
    """Two workflows: ``a`` (v1, then v2 with another default) with 6 runs, ``b`` (archived: its DAG is stale)
    with 3; 4 were triggered by the plugin, 5 elsewhere. Minutes give the order: the newest run is ``b3``.
    Runs of a purged workflow's DAG and of a DAG from another file are never listed."""
    suffix = uuid.uuid4().hex[:8]
    a = workflows.create_workflow(doc(f"runs_a_{suffix}", 0.1), ADMIN)
    b = workflows.create_workflow(doc(f"runs_b_{suffix}", 0.5), ADMIN)
    airflow_dag(a.name)
    airflow_dag(b.name, stale=True)
    with Session(writer_engine()) as session:
        v1_revision = session.scalar(select(WorkflowVersion.store_revision).where(WorkflowVersion.workflow_id == a.id))
    a = workflows.update_workflow(a.id, doc(a.name, 0.2), ADMIN)
    pin = {PIN_CONF_KEY: {"version": 1, "workflow_id": a.id}}
    # plugin-triggered: conf = the parameters used + the pin
    for run_id, minute, lr, state in [("a1", 1, 0.1, "success"), ("a2", 2, 0.01, "failed"), ("a4", 4, 0.01, "running")]:
        airflow_run(a.name, run_id, minute, state, {"lr": lr, "epochs": 3, **pin}, note=f"desc {run_id}")
        plugin_record(a, run_id, minute, 1, {"lr": lr, "epochs": 3}, f"desc {run_id}")
    airflow_run(b.name, "b2", 6, "success", {"lr": 0.5, "epochs": 1, PIN_CONF_KEY: {"version": 1, "workflow_id": b.id}})
    plugin_record(b, "b2", 6, 1, {"lr": 0.5, "epochs": 1}, "")
    # started elsewhere: Airflow's REST API (no pin: the version in effect), its schedule, an MLOps bundle version
    airflow_run(a.name, "a3", 3, "success", {}, note="from airflow")
    airflow_run(a.name, "a5", 5, "queued", {"lr": 0.01})
    airflow_run(a.name, "a6", 7, "success", {}, run_type="scheduled", user=None, bundle_version=str(v1_revision))
    airflow_run(b.name, "b1", 0, "failed", {"epochs": 9})
    airflow_run(b.name, "b3", 8, "running", {})
    for dag_id, stale, file in [(f"purged_{suffix}", True, None), (f"own_{suffix}", False, "own_dags.py")]:
        airflow_dag(dag_id, stale=stale, file=file)
        airflow_run(dag_id, "x1", 9, "success", {})
    yield {"a": a, "b": b}
    forget_airflow_dags(suffix)


def forget_airflow_dags(suffix: str) -> None:
    """Airflow's database is the session's: the next test's plugin database has no workflows for these DAGs."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        for model in (DagRun, DagModel):
            session.execute(delete(model).where(model.dag_id.like(f"%{suffix}")))


def ids(page: workflows.Page) -> list[str]:
    return [r.dag_run_id for r in page.items]


def test_listing_writes_nothing_and_shows_airflows_state(seeded):
    a = seeded["a"]
    before = record_rows()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        page = runs.list_runs(limit=50)
        one = runs.get_run(page.items[0].id)
        filtered = runs.list_runs(state="success", params={"epochs": 3}, limit=2)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert statements and not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements
    assert record_rows() == before
    assert page.total == 9 and one == page.items[0]
    assert ids(filtered) == ["a6", "a3"]

    set_airflow_state(a.name, "a4", "success")  # Airflow moves on; nothing copies it into the plugin's records
    assert {r.dag_run_id: r.state for r in runs.list_runs(workflow_id=a.id).items}["a4"] == "success"
    assert record_rows() == before


def test_pages_sorts_and_filters_across_plugin_and_airflow_runs(seeded):
    a, b = seeded["a"], seeded["b"]
    everything = ["b3", "a6", "b2", "a5", "a4", "a3", "a2", "a1", "b1"]  # newest first
    pages = [runs.list_runs(limit=4, offset=offset) for offset in (0, 4, 8)]
    assert [r for p in pages for r in ids(p)] == everything and {p.total for p in pages} == {9}

    by_run = {r.dag_run_id: r for p in pages for r in p.items}
    assert (by_run["a1"].source, by_run["a1"].triggered_by, by_run["a1"].description) == ("plugin", "alice", "desc a1")
    a3 = by_run["a3"]
    assert (a3.source, a3.triggered_by, a3.description) == ("manual", "admin", "from airflow")
    assert (by_run["a6"].source, by_run["a6"].triggered_by) == ("scheduled", "scheduled")
    assert by_run["a3"].params == {"lr": 0.2, "epochs": 3} and by_run["b1"].params == {"lr": 0.5, "epochs": 9}
    assert [by_run[k].version for k in ("a1", "a3", "a5", "a6", "b1")] == [1, 2, 2, 1, 1]
    assert by_run["a4"].state == "running" and by_run["a1"].ended_at is not None
    assert by_run["b3"].workflow_name == b.name and by_run["a1"].created_at == START + timedelta(minutes=1)

    def listed(**query: Any) -> tuple[int, list[str]]:
        page = runs.list_runs(**query)
        return page.total, ids(page)

    assert listed(workflow_id=a.id, limit=2, offset=2) == (6, ["a4", "a3"])
    assert listed(state="running") == (2, ["b3", "a4"])
    assert listed(workflow_id=a.id, state="failed") == (1, ["a2"])
    minute = timedelta(minutes=1)
    assert listed(since=START + 2 * minute, until=START + 6 * minute) == (4, ["a5", "a4", "a3", "a2"])
    assert listed(workflow_id=a.id, version=1) == (3 + 1, ["a6", "a4", "a2", "a1"])
    assert listed(workflow_id=a.id, version=2, limit=1, offset=1) == (2, ["a3"])
    assert listed(params={"lr": 0.01}, limit=2) == (3, ["a5", "a4"])
    assert listed(params={"lr": 0.01}, limit=2, offset=2) == (3, ["a2"])
    assert listed(params={"lr": 0.5, "epochs": 9}) == (1, ["b1"])
    assert listed(workflow_id=str(uuid.uuid4())) == (0, [])


def test_pages_read_from_the_run_index_alone_when_airflow_runs_only_workflows(seeded):
    """Without other DAGs' runs, pages are found from the ``run_after`` index alone, from either end; runs due at
    the same moment keep their order (Airflow's key breaks the tie)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    suffix = seeded["a"].name.rsplit("_", 1)[1]
    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id.in_([f"purged_{suffix}", f"own_{suffix}"])))
    airflow_run(seeded["b"].name, "b4", 6, "success", {})  # due with b2, created after it: listed before it
    everything = ["b3", "a6", "b4", "b2", "a5", "a4", "a3", "a2", "a1", "b1"]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        for limit in (1, 2, 3, 4, 10):
            pages = [runs.list_runs(limit=limit, offset=offset) for offset in range(0, 10, limit)]
            assert [r for p in pages for r in ids(p)] == everything and {p.total for p in pages} == {10}, limit
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert any(s.startswith("SELECT dag_run.run_after FROM dag_run ORDER BY") for s in statements)
    assert runs.list_runs(limit=5, offset=10).items == []


def test_a_run_started_elsewhere_is_found_by_its_listed_id(seeded):
    listed = {r.dag_run_id: r for r in runs.list_runs(workflow_id=seeded["a"].id).items}
    assert runs.get_run(listed["a3"].id) == listed["a3"]
    assert runs.get_run(listed["a1"].id) == listed["a1"]
    compared = runs.compare([listed["a1"].id, listed["a3"].id])
    assert compared["differing_params"] == ["lr"] and compared["versions"] == {listed["a1"].id: 1, listed["a3"].id: 2}
    with pytest.raises(NotFound):
        runs.get_run("airflow-999999999")
    with pytest.raises(NotFound):
        runs.get_run(str(uuid.uuid4()))
