"""The DAG file never takes the generated DAGs down: a dead plugin database or one bad row is survivable."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from airflow_mlops.models import Workflow, WorkflowVersion
from airflow_mlops.services.workflows import next_store_revision

STALE_WAIT = 15  # > stale_dag_threshold (5 s) + parsing_cleanup_interval (5 s) set for these stacks


def _workflow(name: str) -> dict:
    return {"name": name, "tasks": [{"name": "t", "code": "return 1"}]}


def _reparse_and_wait(e2e, dag_id: str) -> None:
    before = e2e.api.get(f"/api/v2/dags/{dag_id}")
    resp = e2e.api.request("PUT", f"/api/v2/parseDagFile/{before['file_token']}")
    # 409: a parse of the file is requested already (a save's follow-up request): the wait below is the same.
    assert resp.status_code in (201, 409), resp.text
    deadline = time.monotonic() + 30
    while e2e.api.get(f"/api/v2/dags/{dag_id}")["last_parsed_time"] == before["last_parsed_time"]:
        assert time.monotonic() < deadline, "the DAG file was not re-parsed"
        time.sleep(0.3)


def _assert_active(e2e, *dag_ids: str) -> None:
    for dag_id in dag_ids:
        dag = e2e.api.get(f"/api/v2/dags/{dag_id}")
        assert dag["is_stale"] is False, f"{dag_id} went stale"


def test_unreachable_plugin_database_keeps_dags_active(e2e):
    names = [f"resilient_{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        e2e.mlops("create", "-", input_doc=_workflow(name))
    for name in names:
        e2e.api.wait_dag(name)
    _reparse_and_wait(e2e, names[0])  # the cache now holds both

    e2e.cut_reader_access()
    try:
        _reparse_and_wait(e2e, names[0])
        time.sleep(STALE_WAIT)
        _reparse_and_wait(e2e, names[1])
        _assert_active(e2e, *names)
        log = e2e.dag_processor_log()
        assert "plugin database unreachable" in log
        assert "from the last good cache" in log
    finally:
        e2e.restore_reader_access()


def test_one_invalid_row_does_not_stop_the_others(e2e):
    good = f"good_{uuid.uuid4().hex[:6]}"
    bad = f"bad_{uuid.uuid4().hex[:6]}"
    e2e.mlops("create", "-", input_doc=_workflow(good))
    e2e.api.wait_dag(good)
    # A row no service would write (e.g. left by a manual edit): its tasks form a cycle.
    bad_spec = {"name": bad, "tasks": [{"name": "a", "code": "1", "depends_on": ["b"]},
                                       {"name": "b", "code": "1", "depends_on": ["a"]}]}
    engine = sa.create_engine(e2e.stack.env["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"])
    with Session(engine) as session, session.begin():
        workflow = Workflow(name=bad, owner="x", created_by="sql", updated_by="sql", current_version=1)
        session.add(workflow)
        session.flush()
        workflow_id = workflow.id
        session.add(WorkflowVersion(workflow_id=workflow_id, number=1, spec=bad_spec, spec_hash="-", created_by="sql",
                                    store_revision=next_store_revision(session)))
    engine.dispose()

    _reparse_and_wait(e2e, good)
    time.sleep(STALE_WAIT)
    _reparse_and_wait(e2e, good)
    _assert_active(e2e, good)
    assert e2e.api.request("GET", f"/api/v2/dags/{bad}").status_code == 404
    log = e2e.dag_processor_log()
    assert f"MLOps workflow '{bad}'" in log and "dependency cycle: a -> b -> a" in log
    shown = e2e.mlops("get", workflow_id)
    assert shown["valid"] is False
    assert shown["errors"][0]["message"] == "dependency cycle: a -> b -> a"

