"""A stored workflow becomes a real DAG that Airflow parses, triggers and runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid

FAN_IN = {
    "description": "two sources joined by a third task",
    "tags": ["e2e"],
    "params": {
        "n": {"type": "integer", "default": 3, "minimum": 1, "maximum": 100, "description": "how many"},
        "label": {"type": "string", "default": "x"},
    },
    "tasks": [
        {"name": "double", "code": "result = params['n'] * 2"},
        {"name": "shout", "code": "return params['label'].upper() + '!'"},
        {"name": "join", "depends_on": ["double", "shout"],
         "code": "return {'double': double, 'shout': upstream['shout'], 'n': params['n']}"},
    ],
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def test_plugin_is_loaded(e2e):
    plugins = e2e.api.get("/api/v2/plugins")["plugins"]
    assert "mlops" in [p["name"] for p in plugins]


def test_fan_in_workflow_runs_with_params_and_upstream_results(e2e):
    name = unique("fan_in")
    created = e2e.mlops("create", "-", input_doc={"name": name, **FAN_IN})
    saved_at = time.monotonic()
    # Triggerable within 10 s of the save, although the parse interval is 30 s: the save asked for a re-parse.
    while True:
        resp = e2e.api.trigger(name, conf={"n": 21, "label": "hey"})
        if resp.status_code == 200:
            break
        assert time.monotonic() - saved_at < 10, f"DAG not triggerable 10 s after the save: {resp.text}"
        time.sleep(0.2)
    run_id = resp.json()["dag_run_id"]

    dag = e2e.api.get(f"/api/v2/dags/{name}/details")
    assert sorted(t["name"] for t in dag["tags"]) == ["e2e", "mlops"]
    assert dag["params"]["n"]["schema"]["type"] == ["integer", "null"]
    assert dag["params"]["n"]["schema"]["maximum"] == 100
    assert dag["is_paused"] is False  # the workflow is active

    assert e2e.api.wait_run(name, run_id) == "success"
    assert e2e.api.xcom(name, run_id, "double") == 42
    assert e2e.api.xcom(name, run_id, "shout") == "HEY!"
    assert e2e.api.xcom(name, run_id, "join") == {"double": 42, "shout": "HEY!", "n": 21}
    assert created["version"] == 1

    # Airflow validates params against the typed schema: out of range is refused.
    refused = e2e.api.trigger(name, conf={"n": 1000})
    assert refused.status_code == 400, refused.text


def test_code_error_fails_task_with_user_line_numbers(e2e):
    name = unique("broken")
    doc = {"name": name, "tasks": [{"name": "boom", "code": "x = 1\ny = 2\nraise ValueError('bad data at row %d' % x)"}]}
    e2e.mlops("create", "-", input_doc=doc)
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name)
    assert e2e.api.wait_run(name, run_id) == "failed"
    log = e2e.api.task_log(name, run_id, "boom")
    assert "bad data at row 1" in log
    assert f'File \\"<mlops {name}.boom v1>\\", line 3, in task_code' in log  # JSON-escaped quotes
    assert "raise ValueError('bad data at row %d' % x)" in log


GATED = {
    "params": {"gate": {"type": "string", "required": True}},
    "tasks": [
        {"name": "wait", "code": "import os, time\nwhile not os.path.exists(params['gate']):\n    time.sleep(0.2)\nreturn 'v1-wait'"},
        {"name": "after", "depends_on": ["wait"], "code": "return 'v1-after saw ' + wait"},
    ],
}


def test_running_run_keeps_its_version_new_run_uses_new_code(e2e, tmp_path):
    name = unique("pinned")
    created = e2e.mlops("create", "-", input_doc={"name": name, **GATED})
    e2e.api.wait_dag(name)
    gate = tmp_path / "gate"
    first = e2e.api.trigger_ok(name, conf={"gate": str(gate)})
    deadline = time.monotonic() + 60
    while e2e.api.task_state(name, first, "wait") != "running":
        assert time.monotonic() < deadline, "first task never started"
        time.sleep(0.3)

    v2 = {"name": name, **GATED, "tasks": [
        {**GATED["tasks"][0], "code": GATED["tasks"][0]["code"].replace("v1", "v2")},
        {**GATED["tasks"][1], "code": "return 'v2-after saw ' + wait"},
    ]}
    updated = e2e.mlops("update", created["id"], "-", "--revision", str(created["revision"]), input_doc=v2)
    assert updated["version"] == 2
    e2e.wait_dag_version(name, 2)
    gate.touch()
    assert e2e.api.wait_run(name, first) == "success"
    assert e2e.api.xcom(name, first, "after") == "v1-after saw v1-wait"

    second = e2e.api.trigger_ok(name, conf={"gate": str(gate)})
    assert e2e.api.wait_run(name, second) == "success"
    assert e2e.api.xcom(name, second, "after") == "v2-after saw v2-wait"

    # A version named in the conf cannot mix one version's code into another's structure: a run executes the
    # version its DAG (bundle version) is; the old version runs through a re-run (test_versioned_bundle.py).
    third = e2e.api.trigger_ok(name, conf={"gate": str(gate), "__mlops__": {"version": 1}})
    assert e2e.api.wait_run(name, third) == "success"
    assert e2e.api.xcom(name, third, "after") == "v2-after saw v2-wait"


def test_inactive_workflow_dag_starts_paused(e2e):
    name = unique("inactive")
    e2e.mlops("create", "--inactive", "-", input_doc={"name": name, "tasks": [{"name": "t", "code": "return 1"}]})
    assert e2e.api.wait_dag(name)["is_paused"] is True


def test_mlops_config_and_role_grants_are_installed(e2e):
    assert e2e.stack.airflow("config", "get-value", "mlops", "dag_file").stdout.strip() == "mlops_workflows.py"
    viewer = e2e.api.get("/auth/fab/v1/roles/Viewer")
    granted = {(a["action"]["name"], a["resource"]["name"]) for a in viewer["actions"]}
    assert ("can_read", "MLOps Workflows") in granted
    assert ("can_create", "MLOps Workflows") not in granted
    user = e2e.api.get("/auth/fab/v1/roles/User")
    assert ("can_edit", "MLOps Workflows") in {(a["action"]["name"], a["resource"]["name"]) for a in user["actions"]}
