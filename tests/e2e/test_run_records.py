"""Parameterized runs and their records: started anywhere, found by what they ran with, compared."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from api_client import Client, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

CODE_V1 = "return {'metrics': {'score': 1 - params['lr'], 'epochs': params['epochs']}}"
CODE_V2 = "return {'metrics': {'score': 2 - params['lr'], 'epochs': params['epochs']}}"


def experiment(name: str, code: str) -> dict:
    return {"name": name, "params": {"lr": {"type": "number", "default": 0.1, "minimum": 0, "maximum": 1},
                                     "epochs": {"type": "integer", "default": 3, "minimum": 1}},
            "tasks": [{"name": "prep", "code": "return 1"},
                      {"name": "train", "depends_on": ["prep"], "code": code}]}


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)


def finished(e2e, admin, run: dict) -> dict:
    assert e2e.api.wait_run(run["dag_id"], run["dag_run_id"]) == "success"
    return admin.ok("GET", f"/jobs/{run['id']}")


def run_table(e2e) -> list[tuple]:
    """Every row of the plugin's run records, read from its database beside the api-server."""
    import sqlalchemy as sa

    engine = sa.create_engine(e2e.stack.env["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text("SELECT * FROM mlops_run ORDER BY id"))]
    finally:
        engine.dispose()


def test_runs_from_airflow_itself_are_listed_with_params_and_version(e2e, admin):
    name = unique("airflow_started")
    workflow = admin.ok("POST", "/workflows", experiment(name, CODE_V1))
    e2e.api.wait_dag(name)
    run_id = e2e.api.trigger_ok(name, conf={"lr": 0.3})  # Airflow's own REST API, as its trigger dialog does
    assert e2e.api.wait_run(name, run_id) == "success"
    records = run_table(e2e)
    [record] = admin.ok("GET", f"/jobs?workflow_id={workflow['id']}")["items"]
    assert run_table(e2e) == records  # listed from Airflow's runs: nothing is copied on a read
    assert admin.ok("GET", f"/jobs/{record['id']}") == record
    assert record["dag_run_id"] == run_id and record["version"] == 1 and record["source"] == "manual"
    assert record["params"] == {"lr": 0.3, "epochs": 3} and record["triggered_by"] == "admin"
    assert record["state"] == "success" and record["metrics"] == {"train": {"score": 0.7, "epochs": 3.0}}
    assert record["tasks"] == {"prep": "success", "train": "success"}
    assert record["airflow_url"] == f"/dags/{name}/runs/{run_id.replace(':', '%3A').replace('+', '%2B')}"


def test_the_list_pages_runs_started_anywhere_with_airflows_state_and_writes_nothing(e2e, admin):
    name = unique("paged")
    workflow = admin.ok("POST", "/workflows", experiment(name, CODE_V1))
    e2e.api.wait_dag(name)
    trigger = f"/jobs/trigger/{workflow['id']}"
    started = [admin.ok("POST", trigger, {"params": {"lr": 0.2}, "description": "first"})["dag_run_id"],
               e2e.api.trigger_ok(name, conf={"lr": 0.3}),
               admin.ok("POST", trigger, {"params": {"lr": 0.4}})["dag_run_id"],
               e2e.api.trigger_ok(name)]  # no params: the version's defaults
    assert [e2e.api.wait_run(name, run_id) for run_id in started] == ["success"] * 4
    records = run_table(e2e)  # the plugin's two still say "queued": nothing copies Airflow's state into them
    jobs = f"/jobs?workflow_id={workflow['id']}"
    pages = [admin.ok("GET", f"{jobs}&limit=3&offset={offset}") for offset in (0, 3)]
    assert [p["total"] for p in pages] == [4, 4]
    listed = [r for p in pages for r in p["items"]]
    newest_first = e2e.api.get(f"/api/v2/dags/{name}/dagRuns?order_by=-run_after")["dag_runs"]
    assert [r["dag_run_id"] for r in listed] == [r["dag_run_id"] for r in newest_first] == started[::-1]
    assert [r["state"] for r in listed] == ["success"] * 4
    assert [r["source"] for r in listed] == ["manual", "plugin", "manual", "plugin"]
    assert [r["params"]["lr"] for r in listed] == [0.1, 0.4, 0.3, 0.2] and listed[-1]["description"] == "first"
    assert admin.ok("GET", "/jobs?limit=500&state=success")["total"] >= 4  # every workflow's runs, by state
    assert admin.ok("GET", f"{jobs}&state=failed")["total"] == 0
    default_lr = admin.ok("GET", f"{jobs}&params.lr=0.1&params.epochs=3&version=1&limit=1")
    assert default_lr["total"] == 1 and default_lr["items"][0]["dag_run_id"] == started[3]
    since = admin.ok("GET", f"{jobs}&since={quote(listed[1]['created_at'])}")
    assert [r["dag_run_id"] for r in since["items"]] == started[:1:-1]
    assert [admin.ok("GET", f"/jobs/{r['id']}")["dag_run_id"] for r in listed] == started[::-1]
    assert run_table(e2e) == records


def test_invalid_params_create_no_dag_run(e2e, admin):
    name = unique("refused")
    workflow = admin.ok("POST", "/workflows", experiment(name, CODE_V1))
    e2e.api.wait_dag(name)
    resp = admin.call("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"lr": 7, "epochs": "many", "x": 1}})
    assert resp.status_code == 400
    assert {e["path"] for e in resp.json()["errors"]} == {"params.lr", "params.epochs", "params.x"}
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns")["total_entries"] == 0


def test_compare_filter_rerun_and_presets(e2e, admin):
    name = unique("experiment")
    workflow = admin.ok("POST", "/workflows", experiment(name, CODE_V1))
    e2e.api.wait_dag(name)
    trigger = f"/jobs/trigger/{workflow['id']}"
    a = finished(e2e, admin, admin.ok("POST", trigger, {"params": {"lr": 0.1}, "description": "baseline"}))
    b = finished(e2e, admin, admin.ok("POST", trigger, {"params": {"lr": 0.01}, "description": "lower lr"}))
    admin.edit("PUT", f"/workflows/{workflow['id']}", experiment(name, CODE_V2))
    c = finished(e2e, admin, admin.ok("POST", trigger, {"params": {"lr": 0.01}, "description": "new code"}))
    assert (a["version"], b["version"], c["version"]) == (1, 1, 2)

    compared = admin.ok("GET", f"/jobs/compare?ids={a['id']},{b['id']},{c['id']}")
    assert compared["differing_params"] == ["lr"]
    assert compared["params"]["lr"] == {a["id"]: 0.1, b["id"]: 0.01, c["id"]: 0.01}
    assert compared["versions"] == {a["id"]: 1, b["id"]: 1, c["id"]: 2}
    assert "-return {'metrics': {'score': 1 - params['lr']" in \
        compared["version_diffs"]["v1->v2"]["tasks"]["changed"][0]["code_diff"]
    assert compared["metrics"]["train.score"] == {a["id"]: 0.9, b["id"]: 0.99, c["id"]: 1.99}
    assert compared["tasks"][a["id"]]["train"]["state"] == "success"
    assert compared["tasks"][a["id"]]["train"]["duration_seconds"] > 0

    low_lr = admin.ok("GET", f"/jobs?workflow_id={workflow['id']}&params.lr=0.01")
    assert {r["id"] for r in low_lr["items"]} == {b["id"], c["id"]}
    assert [r["id"] for r in admin.ok("GET", f"/jobs?workflow_id={workflow['id']}&version=2")["items"]] == [c["id"]]
    assert admin.ok("GET", f"/jobs?workflow_id={workflow['id']}&state=failed")["total"] == 0

    again = finished(e2e, admin, admin.ok("POST", f"/jobs/{a['id']}/rerun", {"params": {"epochs": 5}}))
    assert (again["params"], again["version"]) == ({"lr": 0.1, "epochs": 5}, 2)
    old = finished(e2e, admin, admin.ok("POST", f"/jobs/{a['id']}/rerun", {"same_version": True}))
    assert old["version"] == 1 and old["metrics"]["train"]["score"] == 0.9

    admin.ok("POST", f"/workflows/{workflow['id']}/presets", {"name": "fast", "params": {"lr": 0.5, "epochs": 1}})
    refused = admin.call("POST", f"/workflows/{workflow['id']}/presets", {"name": "bad", "params": {"lr": 3}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["path"] == "params.lr"
    assert [p["name"] for p in admin.ok("GET", f"/workflows/{workflow['id']}/presets")["items"]] == ["fast"]
    preset_run = finished(e2e, admin, admin.ok("POST", trigger, {"preset": "fast", "params": {"epochs": 2}}))
    assert preset_run["params"] == {"lr": 0.5, "epochs": 2}
    airflow_run = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{b['dag_run_id']}")
    assert airflow_run["note"] == "lower lr"
