"""Docker tasks in real Airflow against a real container engine (podman serving the Docker API).

A python -> docker -> python workflow: the container sees the run's params (environment and Jinja), the
upstream result, secrets from an Airflow Connection and Variable; its last output line reaches the next
task. A container exiting non-zero fails its task with the container's output in the task log;
``skip_on_exit_code`` skips it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from api_client import Client, unique
from conftest import CONTAINER_SECRETS
from container_engine import IMAGE, missing_tools

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)
DB_PASSWORD = json.loads(CONTAINER_SECRETS["AIRFLOW_CONN_MLOPS_TEST_DB"])["password"]
API_TOKEN = CONTAINER_SECRETS["AIRFLOW_VAR_MLOPS_TEST_TOKEN"]
SCRIPT = (
    'echo "templated epochs={{ params.epochs }} mode=$MODE"\n'
    'db=$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)\n'
    'token=$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64)\n'
    'echo "{\\"epochs\\": $MLOPS_PARAM_EPOCHS, \\"mode\\": \\"$MODE\\", \\"upstream\\": $MLOPS_UPSTREAM_PREPARE, '
    '\\"params\\": $MLOPS_PARAMS, \\"db_sha\\": \\"$db\\", \\"token_sha\\": \\"$token\\"}"\n'
)


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    if e2e.engine is None:
        message = f"no container engine: install {', '.join(missing_tools())} (apt-get install podman runc busybox-static)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, e2e.api.username, e2e.api.password, "bearer")
    e2e.archive_workflows_except(before)


def container(command: Any, **settings: Any) -> dict[str, Any]:
    return {"image": IMAGE, "command": command, "network_mode": "none", **settings}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_python_docker_python_with_params_secrets_and_results(e2e, admin):
    name = unique("docker_mix")
    admin.ok("POST", "/workflows", {
        "name": name, "params": {"epochs": {"type": "integer", "default": 3}, "mode": {"type": "string", "default": "slow"}},
        "tasks": [
            {"name": "prepare", "code": "return {'rows': 42}"},
            {"name": "train", "type": "docker", "depends_on": ["prepare"], "docker": container(
                ["sh", "-c", SCRIPT], environment={"MODE": "{{ params.mode }}"},
                secret_environment={"DB_PASSWORD": {"connection": "mlops_test_db", "field": "password"},
                                    "API_TOKEN": {"variable": "mlops_test_token"}})},
            {"name": "report", "depends_on": ["train"], "code": "return {'got': train}"},
        ]})
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name, conf={"epochs": 7, "mode": "fast"})
    assert e2e.api.wait_run(name, run_id, timeout=180) == "success"
    assert e2e.api.xcom(name, run_id, "report") == {"got": {
        "epochs": 7, "mode": "fast", "upstream": {"rows": 42}, "params": {"epochs": 7, "mode": "fast"},
        "db_sha": sha(DB_PASSWORD), "token_sha": sha(API_TOKEN)}}
    log = e2e.api.task_log(name, run_id, "train")
    assert "templated epochs=7 mode=fast" in log
    assert DB_PASSWORD not in log and API_TOKEN not in log
    details = e2e.api.get(f"/api/v2/dags/{name}/tasks/train")
    assert details["operator_name"] == "MLOpsDockerOperator"


def test_failing_container_fails_the_task_with_its_output_in_the_log(e2e, admin):
    name = unique("docker_fail")
    admin.ok("POST", "/workflows", {"name": name, "tasks": [
        {"name": "step", "type": "docker",
         "docker": container(["sh", "-c", "echo loading shard 3; echo 'fatal: corrupt shard 3' >&2; exit 3"])}]})
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name)
    assert e2e.api.wait_run(name, run_id, timeout=180) == "failed"
    assert e2e.api.task_state(name, run_id, "step") == "failed"
    log = e2e.api.task_log(name, run_id, "step")
    assert "loading shard 3" in log and "fatal: corrupt shard 3" in log
    assert "Docker container failed" in log and "'StatusCode': 3" in log


def test_skip_on_exit_code_skips(e2e, admin):
    name = unique("docker_skip")
    admin.ok("POST", "/workflows", {"name": name, "tasks": [
        {"name": "maybe", "type": "docker",
         "docker": container("sh -c 'echo nothing new to train on; exit 99'", skip_on_exit_code=[99])},
        {"name": "after", "depends_on": ["maybe"], "code": "return 1"}]})
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name)
    assert e2e.api.wait_run(name, run_id, timeout=180) == "success"
    assert e2e.api.task_state(name, run_id, "maybe") == "skipped"
    assert e2e.api.task_state(name, run_id, "after") == "skipped"


def test_bad_container_settings_are_400s_naming_the_field(e2e, admin):
    name = unique("docker_bad")
    resp = admin.call("POST", "/workflows", {"name": name, "tasks": [
        {"name": "a", "type": "docker", "code": "print(1)", "docker": {
            "image": "Not An Image", "command": "[unclosed", "environment": {"AWS_SECRET_ACCESS_KEY": "x"},
            "mounts": [{"source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}],
            "auto_remove": True}}]})
    assert resp.status_code == 400
    paths = {e["path"] for e in resp.json()["errors"]}
    assert paths == {"tasks[0].docker.auto_remove"}  # type errors come first, alone
    resp = admin.call("POST", "/workflows", {"name": name, "tasks": [
        {"name": "a", "type": "docker", "code": "print(1)", "docker": {
            "image": "Not An Image", "command": "[unclosed", "environment": {"AWS_SECRET_ACCESS_KEY": "x"},
            "mounts": [{"source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}]}}]})
    assert resp.status_code == 400
    assert {e["path"] for e in resp.json()["errors"]} == {
        "tasks[0].docker.image", "tasks[0].docker.command", "tasks[0].docker.environment.AWS_SECRET_ACCESS_KEY",
        "tasks[0].docker.mounts[0].source", "tasks[0].code"}
    assert name not in {w["name"] for w in admin.ok("GET", "/workflows?limit=500")["items"]}


GATE = "import os, time\nwhile not os.path.exists(params['gate']):\n    time.sleep(0.2)\nreturn 'open'"


def test_a_run_in_flight_keeps_its_task_types_when_python_and_docker_swap(e2e, admin, tmp_path):
    """Saved while a run waits at its first task: ``pack`` goes docker -> python and ``unpack`` python -> docker.
    The run in flight finishes with version 1's operators; the next run uses version 2's (MLOps DAG bundle)."""
    name = unique("docker_swap")
    gate = tmp_path / "gate"
    params = {"gate": {"type": "string", "default": "/nonexistent"}}
    v1 = {"name": name, "params": params, "tasks": [
        {"name": "wait", "code": GATE},
        {"name": "pack", "type": "docker", "depends_on": ["wait"],
         "docker": container(["sh", "-c", 'echo \'{"packed_by": "docker v1"}\''])},
        {"name": "unpack", "depends_on": ["pack"], "code": "return {'got': pack, 'by': 'python v1'}"}]}
    v2 = {"name": name, "params": params, "tasks": [
        {"name": "wait", "code": GATE},
        {"name": "pack", "depends_on": ["wait"], "code": "return {'packed_by': 'python v2'}"},
        {"name": "unpack", "type": "docker", "depends_on": ["pack"],
         "docker": container(["sh", "-c", 'echo "{\\"got\\": $MLOPS_UPSTREAM_PACK, \\"by\\": \\"docker v2\\"}"'])}]}
    workflow = admin.ok("POST", "/workflows", v1)
    e2e.api.wait_dag(name)
    first = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"gate": str(gate)}})
    deadline = time.monotonic() + 90
    while e2e.api.task_state(name, first["dag_run_id"], "wait") != "running":
        assert time.monotonic() < deadline, "the first task never started"
        time.sleep(0.3)
    admin.edit("PUT", f"/workflows/{workflow['id']}", v2)
    e2e.wait_dag_version(name, 2)
    assert e2e.api.get(f"/api/v2/dags/{name}/tasks/pack")["operator_name"] == "PythonOperator"
    gate.touch()
    assert e2e.api.wait_run(name, first["dag_run_id"], timeout=180) == "success"
    assert e2e.api.xcom(name, first["dag_run_id"], "unpack") == {"got": {"packed_by": "docker v1"}, "by": "python v1"}
    operators = {ti["task_id"]: ti["operator"] for ti in e2e.api.get(
        f"/api/v2/dags/{name}/dagRuns/{first['dag_run_id']}/taskInstances")["task_instances"]}
    assert operators == {"wait": "PythonOperator", "pack": "MLOpsDockerOperator", "unpack": "PythonOperator"}

    second = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"gate": str(gate)}})
    assert e2e.api.wait_run(name, second["dag_run_id"], timeout=180) == "success"
    assert e2e.api.xcom(name, second["dag_run_id"], "unpack") == {"got": {"packed_by": "python v2"}, "by": "docker v2"}
    assert "docker v2" in e2e.api.task_log(name, second["dag_run_id"], "unpack")


def finished_test(admin: Client, workflow_id: str, body: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
    """A test run from the editor's API (waiting for the DAG of test runs on a fresh stack), once finished."""
    deadline = time.monotonic() + timeout
    while (resp := admin.call("POST", f"/workflows/{workflow_id}/tests", body)).status_code == 409:
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.5)
    assert resp.status_code == 201, resp.text
    test = resp.json()
    while test["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, test
        time.sleep(0.5)
        test = admin.ok("GET", f"/tests/{test['id']}")
    return test


def test_a_test_run_runs_a_drafts_container_with_its_params_secrets_and_upstream(e2e, admin):
    name = unique("docker_tested")
    spec = {"name": name, "params": {"epochs": {"type": "integer", "default": 3}, "mode": {"type": "string", "default": "slow"}},
            "tasks": [{"name": "prepare", "code": "return {'rows': 42}"},
                      {"name": "train", "type": "docker", "depends_on": ["prepare"], "docker": container(
                          ["sh", "-c", SCRIPT], environment={"MODE": "{{ params.mode }}"},
                          secret_environment={"DB_PASSWORD": {"connection": "mlops_test_db", "field": "password"},
                                              "API_TOKEN": {"variable": "mlops_test_token"}})},
                      {"name": "report", "depends_on": ["train"], "code": "return {'got': train['epochs']}"}]}
    workflow = admin.ok("POST", "/workflows", {**spec, "tasks": [spec["tasks"][0]]})
    e2e.api.wait_dag(name)
    admin.ok("PUT", f"/workflows/{workflow['id']}/draft", spec)  # the container is only in the draft

    test = finished_test(admin, workflow["id"], {"params": {"epochs": 5, "mode": "fast"}})
    assert test["state"] == "success", test
    train = test["results"]["train"]
    assert train["result"] == {"epochs": 5, "mode": "fast", "upstream": {"rows": 42}, "params": {"epochs": 5, "mode": "fast"},
                               "db_sha": sha(DB_PASSWORD), "token_sha": sha(API_TOKEN)}
    assert "templated epochs=5 mode=fast" in train["log"]  # the container's output, its Jinja rendered
    assert DB_PASSWORD not in json.dumps(test) and API_TOKEN not in json.dumps(test)
    assert test["results"]["report"]["result"] == {"got": 5}
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns")["total_entries"] == 0  # not a run of the workflow


def test_a_test_run_skips_after_a_container_asks_to_and_fails_with_its_output(e2e, admin):
    name = unique("docker_test_skip")
    workflow = admin.ok("POST", "/workflows", {"name": name, "tasks": [
        {"name": "maybe", "type": "docker",
         "docker": container("sh -c 'echo nothing new to train on; exit 99'", skip_on_exit_code=[99])},
        {"name": "after", "depends_on": ["maybe"], "code": "return 1"},
        {"name": "broken", "type": "docker",
         "docker": container(["sh", "-c", "echo loading shard 3; echo 'fatal: corrupt shard 3' >&2; exit 3"])}]})
    e2e.api.wait_dag(name)
    skipped = finished_test(admin, workflow["id"], {"task": "after"})
    assert skipped["state"] == "success" and skipped["tasks"] == ["maybe", "after"]
    assert {t: r["state"] for t, r in skipped["results"].items()} == {"maybe": "skipped", "after": "skipped"}
    assert "nothing new to train on" in skipped["results"]["maybe"]["log"]

    failed = finished_test(admin, workflow["id"], {})
    assert failed["state"] == "failed" and failed["tasks"] == ["maybe", "broken", "after"]
    broken = failed["results"]["broken"]
    assert broken["state"] == "failed" and "Docker container failed" in broken["error"]
    assert "loading shard 3" in broken["log"] and "fatal: corrupt shard 3" in broken["log"]
    assert failed["results"]["after"]["state"] == "skipped"
