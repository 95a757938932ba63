"""The loader against a real SQLite database, and the DAGs it builds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session

from airflow_mlops.models import Workflow, WorkflowVersion, metadata
from airflow_mlops_dag_factory import store
from airflow_mlops_dag_factory.build import build_dags
from airflow_mlops_dag_factory.database import get_engine

SPEC = {
    "name": "wf",
    "owner": "team-a",
    "tags": ["churn"],
    "retries": 2,
    "retry_delay_seconds": 30,
    "params": {"n": {"type": "integer", "default": 3, "maximum": 9},
               "who": {"type": "string", "required": True},
               "mode": {"type": "enum", "enum": ["a", "b"], "required": True, "default": "a"}},
    "tasks": [
        {"name": "a", "code": "return 1"},
        {"name": "b", "code": "return 2", "retries": 5, "timeout_seconds": 30},
        {"name": "c", "code": "return a + b", "depends_on": ["a", "b"]},
    ],
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    metadata.create_all(create_engine(url))
    return url


def add_workflow(url: str, spec: dict, *, active: bool = True, versions: int = 1) -> str:
    with Session(create_engine(url)) as session, session.begin():
        workflow = Workflow(name=spec["name"], owner="o", created_by="t", updated_by="t",
                            active=active, current_version=versions)
        session.add(workflow)
        session.flush()
        for number in range(1, versions + 1):
            session.add(WorkflowVersion(workflow_id=workflow.id, number=number, created_by="t", spec_hash="-",
                                        spec={**spec, "description": f"v{number}"},
                                        store_revision=next_revision(session),
                                        created_at=datetime(2026, 1, number, tzinfo=timezone.utc)))
        return workflow.id


def next_revision(session: Session) -> int:
    """The store revision the next version gets (the plugin's services bump a counter; here: one more)."""
    return (session.scalar(select(func.max(WorkflowVersion.store_revision))) or 0) + 1


def test_loads_current_version_and_builds_the_dag(db, tmp_path):
    workflow_id = add_workflow(db, SPEC, active=False, versions=2)
    result = store.load_workflows(url=db, cache_dir=tmp_path / "cache")
    assert result.source == "database" and not result.skipped
    [loaded] = result.workflows
    assert (loaded.workflow_id, loaded.version, loaded.active) == (workflow_id, 2, False)

    dag = build_dags(result)["wf"]
    assert dag.tags == {"mlops", "churn"}
    assert dag.description == "v2"
    assert set(dag.task_dict) == {"a", "b", "c"}
    assert dag.task_dict["c"].upstream_task_ids == {"a", "b"}
    assert dag.task_dict["a"].owner == "team-a"
    assert dag.task_dict["a"].retries == 2 and dag.task_dict["a"].retry_delay == timedelta(seconds=30)
    assert dag.task_dict["b"].retries == 5 and dag.task_dict["b"].execution_timeout == timedelta(seconds=30)
    assert dag.task_dict["a"].op_kwargs == {"workflow_id": workflow_id, "task_name": "a", "built_version": 2}
    assert dag.is_paused_upon_creation is True
    params = dag.params
    assert params.get_param("n").schema == {"type": ["integer", "null"], "maximum": 9}
    assert params.get_param("n").value == 3
    assert params.get_param("who").schema == {"type": "string"}
    assert not params.get_param("who").has_value  # required: the trigger must supply it
    assert params.get_param("mode").schema == {"enum": ["a", "b"]}


def test_worker_filter_loads_one_workflow(db, tmp_path):
    add_workflow(db, SPEC)
    add_workflow(db, {**SPEC, "name": "other"})
    result = store.load_workflows(dag_id="other", url=db, cache_dir=tmp_path)
    assert [w.spec.name for w in result.workflows] == ["other"]
    assert not (tmp_path / store.CACHE_FILE).exists()  # a partial load never replaces the cache


def test_constant_number_of_queries(db, tmp_path):
    engine = get_engine(db)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    add_workflow(db, SPEC)
    store.load_workflows(url=db, cache_dir=tmp_path)
    one = len(statements)
    for i in range(30):
        add_workflow(db, {**SPEC, "name": f"wf{i}"})
    statements.clear()
    result = store.load_workflows(url=db, cache_dir=tmp_path)
    assert len(result.workflows) == 31
    assert len(statements) == one


def test_invalid_row_is_skipped_and_reported(db, tmp_path):
    add_workflow(db, SPEC)
    add_workflow(db, {**SPEC, "name": "broken", "tasks": [{"name": "x", "code": "return ("}]})
    result = store.load_workflows(url=db, cache_dir=tmp_path)
    assert [w.spec.name for w in result.workflows] == ["wf"]
    [skipped] = result.skipped
    assert skipped.name == "broken"
    assert skipped.errors[0].path == "tasks[0].code"


def test_unreachable_database_serves_the_last_good_cache(db, tmp_path, caplog):
    add_workflow(db, SPEC)
    cache = tmp_path / "cache"
    assert len(store.load_workflows(url=db, cache_dir=cache).workflows) == 1
    dead = f"sqlite:///{tmp_path / 'no-such-dir' / 'mlops.db'}"
    result = store.load_workflows(url=dead, cache_dir=cache)
    assert result.source == "cache"
    assert [w.spec.name for w in result.workflows] == ["wf"]
    assert "plugin database unreachable" in caplog.text and "serving 1 workflow(s)" in caplog.text
    assert build_dags(result)["wf"].task_dict["c"].upstream_task_ids == {"a", "b"}
    assert [w.spec.name for w in store.load_workflows(dag_id="wf", url=dead, cache_dir=cache).workflows] == ["wf"]


def test_missing_tables_count_as_unreachable_not_as_empty(tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = store.load_workflows(url=empty, cache_dir=tmp_path / "nocache")
    assert result.source == "none" and result.workflows == []
    assert "no such table" in result.error


def test_version_in_effect(db):
    workflow_id = add_workflow(db, SPEC, versions=3)
    assert store.version_in_effect(workflow_id, datetime(2026, 1, 2, 12, tzinfo=timezone.utc), url=db) == 2
    assert store.version_in_effect(workflow_id, datetime(2025, 1, 1, tzinfo=timezone.utc), url=db) is None
    assert store.load_version_spec(workflow_id, 1, url=db).description == "v1"
    with pytest.raises(LookupError):
        store.load_version_spec(workflow_id, 7, url=db)


def test_archived_workflows_are_not_loaded(db, tmp_path):
    add_workflow(db, SPEC)
    gone = add_workflow(db, {**SPEC, "name": "gone"})
    with Session(create_engine(db)) as session, session.begin():
        session.get(Workflow, gone).archived_at = datetime.now(timezone.utc)
    assert [w.spec.name for w in store.load_workflows(url=db, cache_dir=tmp_path).workflows] == ["wf"]


def test_access_control_uses_only_valid_fab_dag_permissions():
    """An invalid entry makes the DAG processor refuse the whole DAG file, taking every workflow down."""
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
    from airflow.providers.fab.www.security.permissions import RESOURCE_DETAILS_MAP

    from airflow_mlops_dag_factory.build import ACCESS_CONTROL

    builtin_roles = {c["role"] for c in FabAirflowSecurityManagerOverride.ROLE_CONFIGS}
    for role, grants in ACCESS_CONTROL.items():
        assert role in builtin_roles
        for resource, actions in grants.items():
            assert set(actions) <= RESOURCE_DETAILS_MAP[resource]["actions"], (role, resource)


@pytest.mark.parametrize(("setting", "expected"), [(None, True), ("False", False), ("true", True)])
def test_dag_access_control_can_be_turned_off(db, tmp_path, monkeypatch, setting, expected):
    """With thousands of DAGs the per-DAG FAB sync costs the dag-processor a lot; an operator may drop it."""
    from airflow_mlops_dag_factory.build import ACCESS_CONTROL

    if setting is not None:
        monkeypatch.setenv("AIRFLOW__MLOPS__DAG_ACCESS_CONTROL", setting)
    add_workflow(db, SPEC)
    dag = build_dags(store.load_workflows(url=db, cache_dir=tmp_path))["wf"]
    if expected:
        assert {role: {r: set(a) for r, a in grants.items()} for role, grants in dag.access_control.items()} == \
            {role: {r: set(a) for r, a in grants.items()} for role, grants in ACCESS_CONTROL.items()}
    else:
        assert not dag.access_control
