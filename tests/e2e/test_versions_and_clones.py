"""History in real Airflow: a restore is what the DAG runs after the re-parse; a clone runs on its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import Client, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)


def spec(name: str, label: str) -> dict:
    return {"name": name, "tasks": [{"name": "say", "code": f"return '{label}'"}]}


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)




def run_and_read(e2e, admin, workflow_id: str, dag_id: str, **extra) -> str:
    run = admin.ok("POST", f"/jobs/trigger/{workflow_id}", {"params": {}, **extra})
    assert e2e.api.wait_run(dag_id, run["dag_run_id"]) == "success"
    return e2e.api.xcom(dag_id, run["dag_run_id"], "say")


def test_restore_v1_after_v3_is_v4_and_runs_v1_code(e2e, admin):
    name = unique("restore")
    workflow = admin.ok("POST", "/workflows", spec(name, "one"))
    for label in ("two", "three"):
        workflow = admin.edit("PUT", f"/workflows/{workflow['id']}", spec(name, label))
    v1 = admin.ok("GET", f"/workflows/{workflow['id']}/versions/1")
    restored = admin.ok("POST", f"/versions/{v1['id']}/restore")
    assert restored["version"] == 4
    history = admin.ok("GET", f"/workflows/{workflow['id']}/versions")
    assert [v["number"] for v in history["items"]] == [4, 3, 2, 1]
    v4 = history["items"][0]
    assert v4["spec"] == v1["spec"] and v4["spec_hash"] == v1["spec_hash"] and v4["message"] == "restored from v1"
    assert [v["spec"]["tasks"][0]["code"] for v in history["items"][1:3]] == ["return 'three'", "return 'two'"]
    diff = admin.ok("GET", f"/workflows/{workflow['id']}/diff?from=3&to=4")
    assert "-return 'three'" in diff["tasks"]["changed"][0]["code_diff"]
    e2e.wait_dag_version(name, 4)
    assert run_and_read(e2e, admin, workflow["id"], name) == "one"


def test_clone_runs_independently_of_its_origin(e2e, admin):
    origin_name, clone_name = unique("origin"), unique("clone")
    origin = admin.ok("POST", "/workflows", spec(origin_name, "origin"))
    clone = admin.ok("POST", f"/workflows/{origin['id']}/clone", {"name": clone_name})
    assert clone["active"] is False and clone["origin_workflow_id"] == origin["id"] and clone["origin_version"] == 1
    admin.edit("PUT", f"/workflows/{clone['id']}", spec(clone_name, "clone"))
    assert admin.ok("GET", f"/workflows/{clone['id']}/origin-diff")["tasks"]["changed"][0]["name"] == "say"
    e2e.api.wait_dag(clone_name)
    assert e2e.api.get(f"/api/v2/dags/{clone_name}")["is_paused"] is True
    e2e.wait_dag_version(clone_name, 2)
    e2e.api.wait_dag(origin_name)
    paused = admin.call("POST", f"/jobs/trigger/{clone['id']}", {"params": {}})
    assert paused.status_code == 409 and "unpause" in paused.json()["detail"]
    assert e2e.api.get(f"/api/v2/dags/{clone_name}/dagRuns")["total_entries"] == 0
    assert run_and_read(e2e, admin, clone["id"], clone_name, unpause=True) == "clone"
    assert run_and_read(e2e, admin, origin["id"], origin_name) == "origin"
    admin.edit("PUT", f"/workflows/{origin['id']}", spec(origin_name, "origin v2"))
    assert admin.ok("GET", f"/workflows/{clone['id']}")["tasks"][0]["code"] == "return 'clone'"


def test_a_version_that_ran_in_airflow_cannot_be_deleted(e2e, admin):
    name = unique("ran")
    workflow = admin.ok("POST", "/workflows", spec(name, "first"))
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name)  # Airflow's own API: no pin in the conf
    assert e2e.api.wait_run(name, run_id) == "success"
    for label in ("second", "third"):
        admin.edit("PUT", f"/workflows/{workflow['id']}", spec(name, label))
    refused = admin.call("DELETE", f"/workflows/{workflow['id']}/versions/1")
    assert refused.status_code == 409 and "has 1 run(s)" in refused.json()["detail"]
    assert admin.call("DELETE", f"/workflows/{workflow['id']}/versions/2").status_code == 204
    assert [v["number"] for v in admin.ok("GET", f"/workflows/{workflow['id']}/versions")["items"]] == [3, 1]
