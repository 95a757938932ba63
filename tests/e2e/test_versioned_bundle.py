"""Runs keep the whole workflow version they started with: the MLOps DAG bundle, versioned by the store.

A run in flight while its workflow is saved with renamed, removed, added and re-wired tasks (and a task
that changes between python and docker) finishes on its own version's structure and code; a re-run of an
old run, and a run after a restore, execute the old structure; Airflow's own REST API reports each run's
bundle version and DAG version. Real api-server, scheduler, dag-processor and LocalExecutor workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Client, unique

GATE = "import os, time\nwhile not os.path.exists(params['gate']):\n    time.sleep(0.2)\nreturn 'gate v{v}'"


def structure_v1(name: str) -> dict:
    """wait -> b -> c, and wait -> e."""
    return {"name": name, "params": {"gate": {"type": "string", "default": "/nonexistent"}}, "tasks": [
        {"name": "wait", "code": GATE.format(v=1)},
        {"name": "b", "depends_on": ["wait"], "code": "return 'b v1 after ' + wait"},
        {"name": "c", "depends_on": ["b"], "code": "return 'c v1 after ' + b"},
        {"name": "e", "depends_on": ["wait"], "code": "return 'e v1 sees ' + ','.join(sorted(upstream))"},
    ]}


def structure_v2(name: str) -> dict:
    """b renamed to b2, c removed, d added after b2, e re-wired to depend on d."""
    return {"name": name, "params": {"gate": {"type": "string", "default": "/nonexistent"}}, "tasks": [
        {"name": "wait", "code": GATE.format(v=2)},
        {"name": "b2", "depends_on": ["wait"], "code": "return 'b2 v2 after ' + wait"},
        {"name": "d", "depends_on": ["b2"], "code": "return 'd v2 after ' + b2"},
        {"name": "e", "depends_on": ["d"], "code": "return 'e v2 sees ' + ','.join(sorted(upstream))"},
    ]}


V1_RESULTS = {"wait": "gate v1", "b": "b v1 after gate v1", "c": "c v1 after b v1 after gate v1", "e": "e v1 sees wait"}
V2_RESULTS = {"wait": "gate v2", "b2": "b2 v2 after gate v2", "d": "d v2 after b2 v2 after gate v2", "e": "e v2 sees d"}


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)


def run_tasks(e2e, dag_id: str, run_id: str) -> dict[str, str]:
    """Task instances of the run as Airflow has them (a task the run lost would show as 'removed')."""
    tis = e2e.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def results(e2e, dag_id: str, run_id: str) -> dict[str, str]:
    return {task: e2e.api.xcom(dag_id, run_id, task) for task in run_tasks(e2e, dag_id, run_id)}


def wait_running(e2e, dag_id: str, run_id: str, task: str) -> None:
    deadline = time.monotonic() + 90
    while e2e.api.task_state(dag_id, run_id, task) != "running":
        assert time.monotonic() < deadline, f"{task} of {run_id} never started"
        time.sleep(0.3)


def store_revision(admin: Client, workflow_id: str, number: int) -> str:
    return str(admin.ok("GET", f"/workflows/{workflow_id}/versions/{number}")["store_revision"])


def test_a_run_in_flight_keeps_its_structure_and_reruns_and_restores_use_the_old_one(e2e, admin, tmp_path):
    name = unique("bundle")
    gate = tmp_path / "gate"
    workflow = admin.ok("POST", "/workflows", structure_v1(name))
    e2e.api.wait_dag(name)
    rev1 = store_revision(admin, workflow["id"], 1)
    first = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"gate": str(gate)}, "description": "v1"})
    wait_running(e2e, name, first["dag_run_id"], "wait")

    admin.edit("PUT", f"/workflows/{workflow['id']}", structure_v2(name))
    rev2 = store_revision(admin, workflow["id"], 2)
    e2e.wait_dag_version(name, 2)  # Airflow has the new structure while the first run is still running
    gate.touch()
    assert e2e.api.wait_run(name, first["dag_run_id"]) == "success"
    assert run_tasks(e2e, name, first["dag_run_id"]) == dict.fromkeys(V1_RESULTS, "success")
    assert results(e2e, name, first["dag_run_id"]) == V1_RESULTS

    # Airflow's own REST API: the run is on bundle version rev1 (what its workers built from) and on the DAG
    # version parsed from version 1. That DAG version's own bundle version only labels its latest parse: Airflow
    # moves it forward in place while other workflows change and this one does not, and labels a parse with the
    # bundle version it holds when it collects the result, so a version-1 parse in flight during the save may
    # carry rev2. Which structure it holds is told by its task instances (above) and by the second run's.
    airflow_first = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{first['dag_run_id']}")
    assert airflow_first["bundle_version"] == rev1
    [dag_version] = airflow_first["dag_versions"]
    assert dag_version["bundle_name"] == "mlops" and int(rev1) <= int(dag_version["bundle_version"]) <= int(rev2)

    second = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"gate": str(gate)}})
    assert e2e.api.wait_run(name, second["dag_run_id"]) == "success"
    assert results(e2e, name, second["dag_run_id"]) == V2_RESULTS
    airflow_second = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{second['dag_run_id']}")
    assert airflow_second["bundle_version"] == rev2
    assert [v["id"] for v in airflow_second["dag_versions"]] != [dag_version["id"]]  # version 2's structure

    # A re-run of the old run on its own version runs version 1's whole structure, on its DAG version.
    again = admin.ok("POST", f"/jobs/{first['id']}/rerun", {"same_version": True, "description": "again"})
    assert e2e.api.wait_run(name, again["dag_run_id"]) == "success"
    assert results(e2e, name, again["dag_run_id"]) == V1_RESULTS
    airflow_again = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{again['dag_run_id']}")
    assert airflow_again["bundle_version"] == rev1
    assert airflow_again["dag_versions"][0]["id"] == airflow_first["dag_versions"][0]["id"]
    assert admin.ok("GET", f"/jobs/{again['id']}")["version"] == 1
    # Without same_version the re-run takes the current version.
    latest = admin.ok("POST", f"/jobs/{first['id']}/rerun", {})
    assert e2e.api.wait_run(name, latest["dag_run_id"]) == "success"
    assert results(e2e, name, latest["dag_run_id"]) == V2_RESULTS

    # Airflow's "clear, on the original version" re-runs the first run as version 1 again.
    cleared = e2e.api.request("POST", f"/api/v2/dags/{name}/clearTaskInstances", json={
        "dry_run": False, "dag_run_id": first["dag_run_id"], "only_failed": False, "run_on_latest_version": False})
    assert cleared.status_code == 200, cleared.text
    assert e2e.api.wait_run(name, first["dag_run_id"]) == "success"
    assert results(e2e, name, first["dag_run_id"]) == V1_RESULTS
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{first['dag_run_id']}")["bundle_version"] == rev1
    # ...and "clear, on the latest version" moves the same run onto version 2's structure and bundle version.
    cleared = e2e.api.request("POST", f"/api/v2/dags/{name}/clearTaskInstances", json={
        "dry_run": False, "dag_run_id": first["dag_run_id"], "only_failed": False, "run_on_latest_version": True})
    assert cleared.status_code == 200, cleared.text
    assert e2e.api.wait_run(name, first["dag_run_id"]) == "success"
    moved = {task: state for task, state in run_tasks(e2e, name, first["dag_run_id"]).items() if state != "removed"}
    assert moved == dict.fromkeys(V2_RESULTS, "success")
    assert {task: e2e.api.xcom(name, first["dag_run_id"], task) for task in moved} == V2_RESULTS
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{first['dag_run_id']}")["bundle_version"] == rev2

    # Restoring version 1 makes version 3, whose runs execute version 1's structure at their own bundle version.
    v1 = admin.ok("GET", f"/workflows/{workflow['id']}/versions/1")
    assert admin.ok("POST", f"/versions/{v1['id']}/restore")["version"] == 3
    rev3 = store_revision(admin, workflow["id"], 3)
    restored = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"gate": str(gate)}})
    assert e2e.api.wait_run(name, restored["dag_run_id"]) == "success"
    assert results(e2e, name, restored["dag_run_id"]) == V1_RESULTS
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{restored['dag_run_id']}")["bundle_version"] == rev3
    assert admin.ok("GET", f"/jobs/{restored['id']}")["version"] == 3

    # The plugin's records say which version each run executed (the first run, cleared onto the latest version,
    # last executed version 2).
    records = {r["dag_run_id"]: r["version"] for r in admin.ok("GET", f"/jobs?workflow_id={workflow['id']}")["items"]}
    assert records == {first["dag_run_id"]: 2, second["dag_run_id"]: 2, again["dag_run_id"]: 1,
                       latest["dag_run_id"]: 2, restored["dag_run_id"]: 3}


def test_runs_from_before_the_bundle_keep_their_conf_pin(e2e, admin, tmp_path):
    """A run recorded before the bundle existed has no bundle version: it builds the current DAG and its tasks
    run the version pinned in its conf, as before (simulated by clearing a queued run's bundle version)."""
    name = unique("legacy_run")
    gate = tmp_path / "gate"
    doc = {"name": name, "params": {"gate": {"type": "string", "default": "/nonexistent"}}, "tasks": [
        {"name": "wait", "code": GATE.format(v=1)},
        {"name": "after", "depends_on": ["wait"], "code": "return 'v1 after ' + wait"}]}
    workflow = admin.ok("POST", "/workflows", doc)
    e2e.api.wait_dag(name)
    e2e.api.request("PATCH", f"/api/v2/dags/{name}", json={"is_paused": True}).raise_for_status()
    run_id = e2e.api.trigger_ok(name, conf={"gate": str(gate), "__mlops__": {"version": 1}})
    e2e.airflow_sql("UPDATE dag_run SET bundle_version = NULL WHERE dag_id = :dag_id AND run_id = :run_id",
                    dag_id=name, run_id=run_id)
    e2e.api.request("PATCH", f"/api/v2/dags/{name}", json={"is_paused": False}).raise_for_status()
    wait_running(e2e, name, run_id, "wait")
    v2 = {**doc, "tasks": [{"name": "wait", "code": GATE.format(v=2)},
                           {"name": "after", "depends_on": ["wait"], "code": "return 'v2 after ' + wait"}]}
    admin.edit("PUT", f"/workflows/{workflow['id']}", v2)
    e2e.wait_dag_version(name, 2)
    gate.touch()
    assert e2e.api.wait_run(name, run_id) == "success"
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run_id}")["bundle_version"] is None
    assert e2e.api.xcom(name, run_id, "after") == "v1 after gate v1"
    [record] = admin.ok("GET", f"/jobs?workflow_id={workflow['id']}")["items"]
    assert record["version"] == 1


def test_the_bundle_keeps_one_folder_per_version_a_worker_ran(e2e, admin):
    """Workers materialise each bundle version they run in its own folder, beside the dag-processor's."""
    bundles = Path(e2e.stack.env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"]) / "mlops"
    assert (bundles / "tracking" / "mlops_workflows.py").exists()
    versions = sorted(int(p.name) for p in (bundles / "versions").iterdir() if p.name.isdigit())
    assert versions, "no version folder: did any task run through the bundle?"
    for number in versions:
        assert (bundles / "versions" / str(number) / "mlops_store_revision").read_text().strip() == str(number)
    assert os.access(bundles / "tracking" / "mlops_store_revision", os.R_OK)
