"""MLflow tracking with real Airflow runs and a real MLflow server (tests/e2e/mlflow_server.py).

Tracking is switched on the way an operator would without a restart: by creating the Airflow Connection
``mlflow_default`` (``[mlops] mlflow_conn_id``'s default). Every finished run of a workflow then becomes an
MLflow run in the experiment named after the workflow, with its parameters, version, description, metrics
(each step a task logged), artifacts and final status; the run's record links to it. With the server down,
runs finish exactly as they would, wait in the outbox and land once the server is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from api_client import Client, unique
from mlflow_server import Reader
from test_ui_browser import browser, login, site  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

TRAIN = """
for step in range(5):
    log_metric("loss", params["lr"] / (step + 1), step=step)
(artifacts / "model").mkdir(exist_ok=True)
(artifacts / "model" / "weights.bin").write_bytes(bytes(range(256)) * params["layers"])
(artifacts / "notes.txt").write_text(f"lr={params['lr']}")
if params["fail"]:
    raise RuntimeError("diverged")
return {"metrics": {"accuracy": 0.5 + params["lr"]}}
"""


def experiment(name: str) -> dict[str, Any]:
    return {"name": name, "params": {"lr": {"type": "number", "default": 0.1}, "layers": {"type": "integer", "default": 2},
                                     "fail": {"type": "boolean", "default": False}},
            "tasks": [{"name": "prep", "code": "return 1"},
                      {"name": "train", "depends_on": ["prep"], "code": TRAIN}]}


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)


@pytest.fixture(scope="module")
def tracking(e2e, mlflow_server) -> Iterator[Reader]:
    """MLflow tracking on, through the Airflow Connection, for this module only."""
    host = mlflow_server.uri.removeprefix("http://")
    address, port = host.rsplit(":", 1)
    created = e2e.api.request("POST", "/api/v2/connections", json={
        "connection_id": "mlflow_default", "conn_type": "http", "host": address, "port": int(port), "schema": "http"})
    assert created.status_code == 201, created.text
    yield Reader(mlflow_server.uri)
    e2e.api.request("DELETE", "/api/v2/connections/mlflow_default")
    if not mlflow_server.running():
        mlflow_server.start()


def tracked(admin: Client, run_id: str, state: str = "exported", timeout: float = 120) -> dict[str, Any]:
    """The run's record once MLflow tracking reached ``state``."""
    deadline = time.monotonic() + timeout
    record = admin.ok("GET", f"/jobs/{run_id}")
    while time.monotonic() < deadline:
        if (record.get("mlflow") or {}).get("state") == state:
            return record
        time.sleep(1)
        record = admin.ok("GET", f"/jobs/{run_id}")
    raise AssertionError(f"run {run_id} did not reach tracking state {state!r}: {record.get('mlflow')}")


def trigger(e2e, admin: Client, workflow: dict, params: dict, description: str) -> dict[str, Any]:
    run = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": params, "description": description})
    e2e.api.wait_run(run["dag_id"], run["dag_run_id"], timeout=180)
    return admin.ok("GET", f"/jobs/{run['id']}")


def test_a_run_becomes_an_mlflow_run_with_everything_it_ran_with(e2e, admin, tracking, mlflow_server):
    name = unique("tracked")
    workflow = admin.ok("POST", "/workflows", experiment(name))
    e2e.api.wait_dag(name)
    run = trigger(e2e, admin, workflow, {"lr": 0.25, "layers": 3}, "baseline <b>lr</b> 0.25")
    assert run["state"] == "success"
    record = tracked(admin, run["id"])
    link = record["mlflow"]
    assert link["error"] is None and link["run_id"]

    mlflow_run = tracking.run(link["run_id"])
    info, data = mlflow_run["info"], mlflow_run["data"]
    assert tracking.get("experiments/get", experiment_id=info["experiment_id"])["experiment"]["name"] == name
    assert info["status"] == "FINISHED" and info["run_name"] == run["dag_run_id"]
    assert link["url"] == f"{mlflow_server.uri}/#/experiments/{info['experiment_id']}/runs/{link['run_id']}"
    assert requests.get(link["url"].split("#")[0], timeout=30).status_code == 200  # the MLflow UI answers there

    tags = {t["key"]: t["value"] for t in data["tags"]}
    assert tags["mlflow.note.content"] == "baseline <b>lr</b> 0.25"
    assert tags["mlops.workflow_version"] == "1" and tags["mlops.workflow_id"] == workflow["id"]
    assert tags["mlops.dag_run_id"] == run["dag_run_id"] and tags["mlops.triggered_by"] == "admin"
    params = {p["key"]: p["value"] for p in data["params"]}
    assert params == {"lr": "0.25", "layers": "3", "fail": "false", "mlops.workflow_version": "1"}

    loss = sorted((p["step"], p["value"]) for p in tracking.history(link["run_id"], "train.loss"))
    assert loss == [(step, pytest.approx(0.25 / (step + 1))) for step in range(5)]
    finals = {m["key"]: m["value"] for m in data["metrics"]}
    assert finals["train.accuracy"] == pytest.approx(0.75) and finals["train.loss"] == pytest.approx(0.05)
    assert record["metrics"]["train"] == {"accuracy": 0.75, "loss": pytest.approx(0.05)}

    files = tracking.artifacts(link["run_id"])
    assert files == {"model/weights.bin": 768, "notes.txt": 7}
    weights = requests.get(f"{tracking.uri}/get-artifact", params={"path": "model/weights.bin", "run_uuid": link["run_id"]},
                           timeout=30)
    assert weights.status_code == 200 and weights.content == bytes(range(256)) * 3


def test_a_failed_run_is_failed_in_mlflow_and_a_new_version_is_named(e2e, admin, tracking):
    name = unique("tracked_fail")
    workflow = admin.ok("POST", "/workflows", experiment(name))
    e2e.api.wait_dag(name)
    failed = trigger(e2e, admin, workflow, {"fail": True}, "")
    assert failed["state"] == "failed"
    link = tracked(admin, failed["id"])["mlflow"]
    mlflow_run = tracking.run(link["run_id"])
    assert mlflow_run["info"]["status"] == "FAILED"
    assert sorted(p["step"] for p in tracking.history(link["run_id"], "train.loss")) == [0, 1, 2, 3, 4]

    admin.edit("PUT", f"/workflows/{workflow['id']}", {**experiment(name), "description": "v2"})
    e2e.wait_dag_version(name, 2)
    second = trigger(e2e, admin, workflow, {}, "on v2")
    assert second["state"] == "success" and second["version"] == 2
    link = tracked(admin, second["id"])["mlflow"]
    again = tracking.run(link["run_id"])
    assert again["info"]["experiment_id"] == mlflow_run["info"]["experiment_id"]  # one experiment per workflow
    assert {t["key"]: t["value"] for t in again["data"]["tags"]}["mlops.workflow_version"] == "2"


def test_with_mlflow_down_runs_finish_as_ever_and_are_sent_once_it_is_back(e2e, admin, tracking, mlflow_server):
    name = unique("tracked_down")
    workflow = admin.ok("POST", "/workflows", experiment(name))
    e2e.api.wait_dag(name)
    mlflow_server.stop()
    try:
        ok = trigger(e2e, admin, workflow, {"lr": 0.5}, "while MLflow is down")
        failing = trigger(e2e, admin, workflow, {"fail": True}, "")
        assert ok["state"] == "success" and failing["state"] == "failed"  # the outcome MLflow never changes
        assert ok["metrics"]["train"]["accuracy"] == 1.0
        waiting = tracked(admin, ok["id"], state="failed")["mlflow"]
        assert waiting["url"] is None and "unreachable" in waiting["error"] and waiting["attempts"] >= 1
    finally:
        mlflow_server.start()
    for run in (ok, failing):
        link = tracked(admin, run["id"], timeout=180)["mlflow"]
        assert link["error"] is None
        status = tracking.run(link["run_id"])["info"]["status"]
        assert status == ("FINISHED" if run is ok else "FAILED")
    runs_in_mlflow = tracking.post("runs/search", {
        "experiment_ids": [tracking.run(link["run_id"])["info"]["experiment_id"]], "max_results": 100})["runs"]
    assert len(runs_in_mlflow) == 2  # each Airflow run once, however many tries it took


def test_step_metrics_and_compare_show_learning_curves(e2e, admin, tracking):
    name = unique("curves")
    workflow = admin.ok("POST", "/workflows", experiment(name))
    e2e.api.wait_dag(name)
    a = trigger(e2e, admin, workflow, {"lr": 0.2}, "a")
    b = trigger(e2e, admin, workflow, {"lr": 0.4, "layers": 2}, "b")
    curves = admin.ok("GET", f"/jobs/{a['id']}/step-metrics")
    [series] = curves["series"]
    assert (series["task"], series["map_index"], series["name"]) == ("train", -1, "loss")
    assert [(p["step"], p["value"]) for p in series["points"]] == [(s, pytest.approx(0.2 / (s + 1))) for s in range(5)]
    compared = admin.ok("GET", f"/jobs/compare?ids={a['id']},{b['id']}")
    assert compared["differing_params"] == ["lr"]
    assert compared["differing_metrics"] == ["train.accuracy", "train.loss"]
    assert [p["value"] for p in compared["step_metrics"][b["id"]][0]["points"]][-1] == pytest.approx(0.08)
    assert admin.call("GET", "/jobs/nope/step-metrics").status_code == 404


def test_the_run_and_compare_pages_link_to_the_mlflow_runs(e2e, admin, tracking, browser, site):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("tracked_ui")
    workflow = admin.ok("POST", "/workflows", experiment(name))
    e2e.api.wait_dag(name)
    runs = [tracked(admin, trigger(e2e, admin, workflow, {"lr": lr}, f"lr {lr}")["id"]) for lr in (0.1, 0.3)]
    page = login(browser, site, "admin").open(f"/workflows/{workflow['id']}/runs")
    row = page.locator(f"tr[data-run-id='{runs[0]['id']}']")
    row.get_by_role("button", name=runs[0]["dag_run_id"]).click()
    link = page.locator(".mlops-run-detail .mlops-mlflow-link")
    expect(link).to_have_attribute("href", runs[0]["mlflow"]["url"])
    page.goto(f"{site['base']}/pluginsv2/mlops/compare?ids={runs[0]['id']},{runs[1]['id']}")
    links = page.locator(".mlops-mlflow-link")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [r["mlflow"]["url"] for r in runs]
