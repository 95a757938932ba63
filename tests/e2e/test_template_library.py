"""Every built-in template, instantiated through the API, runs to success in real Airflow and leaves its
artifacts (registered models with metrics, predictions, datasets) under the artifact root."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api_client import Client, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)


@pytest.fixture(scope="module")
def library(admin) -> dict[str, dict]:
    """`airflow db migrate` installed the library (no test set it up)."""
    found = {t["name"]: t for t in admin.ok("GET", "/templates?limit=100")["items"] if t["builtin"]}
    assert len(found) >= 5
    return found


def run_template(e2e, admin, template: dict, params: dict, trigger_params: dict | None = None) -> tuple[str, str]:
    name = unique("tpl_run")
    workflow = admin.ok("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": name, "params": params})
    e2e.api.wait_dag(name)
    run = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": trigger_params or {}, "description": "library"})
    state = e2e.api.wait_run(name, run["dag_run_id"], timeout=300)
    assert state == "success", f"{template['name']} failed: " + ", ".join(
        f"{t['task_id']}={t['state']}" for t in e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"])
    return name, run["dag_run_id"]


def step_metrics(e2e, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
    """What a task logged with ``log_metric``, as Airflow stored it with the run."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/mlops_step_metrics"
    return e2e.api.get(path, params={"map_index": map_index})["value"]


def test_training_then_batch_inference(e2e, admin, library):
    model = unique("model")
    name, run_id = run_template(e2e, admin, library["Standard training pipeline"],
                                {"model_name": model, "n_estimators": 20, "dataset": "wine"})
    metrics = e2e.api.xcom(name, run_id, "evaluate")["metrics"]
    assert 0.7 < metrics["accuracy"] <= 1.0
    registered = e2e.api.xcom(name, run_id, "register")
    registry = e2e.stack.home / "mlops_artifacts" / "registry" / model
    assert json.loads((registry / registered["version"] / "metrics.json").read_text()) == metrics
    assert (registry / registered["version"] / "model.pkl").stat().st_size > 0
    assert json.loads((registry / registered["version"] / "params.json").read_text())["n_estimators"] == 20
    curve = step_metrics(e2e, name, run_id, "train")  # the forest grown in ten steps: a learning curve
    assert [p[0] for p in curve["validation_accuracy"]] == list(range(2, 21, 2))
    assert curve["validation_accuracy"][-1][1] == metrics["accuracy"]
    assert all(0 < p[1] <= 1 for p in curve["train_accuracy"])

    name, run_id = run_template(e2e, admin, library["Batch inference"], {"model_name": model, "dataset": "wine"})
    scored = e2e.api.xcom(name, run_id, "score")
    assert scored["rows"] == 178 and scored["model_version"] == registered["version"]
    assert set(scored["predicted_classes"]) <= {0, 1, 2}
    assert open(scored["path"]).readline().rstrip().endswith(",prediction")


def test_hyperparameter_sweep_fans_out_and_registers_the_best(e2e, admin, library):
    model = unique("sweep")
    name, run_id = run_template(e2e, admin, library["Hyperparameter sweep"],
                                {"model_name": model, "n_estimators_grid": [5, 30], "max_depth_grid": [1, 6]})
    mapped = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run_id}/taskInstances?task_id=train_candidate")
    assert sorted(t["map_index"] for t in mapped["task_instances"] if t["task_id"] == "train_candidate") == [0, 1, 2, 3]
    best = e2e.api.xcom(name, run_id, "pick_best")
    assert best["candidates"] == 4 and best["metrics"] == best["best"]["metrics"]
    candidates = step_metrics(e2e, name, run_id, "pick_best")["candidate_f1_macro"]
    assert [p[0] for p in candidates] == [0, 1, 2, 3] and max(p[1] for p in candidates) == best["metrics"]["f1_macro"]
    grown = step_metrics(e2e, name, run_id, "train_candidate", map_index=3)["validation_accuracy"]  # 30 trees, depth 6
    assert [p[0] for p in grown] == [6, 12, 18, 24, 30]
    registered = e2e.api.xcom(name, run_id, "register")
    assert registered["params"] == best["best"]["params"]
    latest = json.loads((e2e.stack.home / "mlops_artifacts" / "registry" / model / "latest.json").read_text())
    assert latest["version"] == registered["version"]


def test_data_pipeline_loads_a_validated_dataset(e2e, admin, library):
    output = unique("wine")
    name, run_id = run_template(e2e, admin, library["Data pipeline with validation"], {"output_name": output})
    manifest = e2e.api.xcom(name, run_id, "load")
    assert manifest["path"].endswith(f"datasets/{output}.csv")
    assert open(manifest["path"]).readline().startswith("alcohol,")


def test_data_pipeline_validation_fails_with_a_clear_message(e2e, admin, library):
    template = library["Data pipeline with validation"]
    name = unique("strict")
    workflow = admin.ok("POST", f"/templates/{template['id']}/instantiate",
                        {"workflow_name": name, "params": {"min_rows": 1000}})
    e2e.api.wait_dag(name)
    run = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {}})
    assert e2e.api.wait_run(name, run["dag_run_id"], timeout=300) == "failed"
    log = e2e.api.task_log(name, run["dag_run_id"], "validate")
    assert "data validation failed: 178 rows, fewer than min_rows=1000" in log


@pytest.mark.parametrize(("shift", "decision"), [(0.0, "skip_retrain"), (2.0, "retrain")])
def test_drift_check_branches(e2e, admin, library, shift, decision):
    name, run_id = run_template(e2e, admin, library["Drift check and conditional retrain"],
                                {"model_name": unique("drift"), "shift": shift})
    assert e2e.api.xcom(name, run_id, "report")["decision"] == decision
    states = {t["task_id"]: t["state"] for t in
              e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run_id}/taskInstances")["task_instances"]}
    skipped = "retrain" if decision == "skip_retrain" else "skip_retrain"
    assert states[decision] == "success" and states[skipped] == "skipped" and states["report"] == "success"


def test_parameter_text_round_trips_through_a_template_into_the_run(e2e, admin):
    template = admin.ok("POST", "/templates", {"name": unique("echo"), "spec": {
        "params": {"text": {"type": "string", "default": ""}}, "tasks": [{"name": "echo", "code": "return params['text']"}]}})
    tricky = 'x = {"a": 1}\nprint(\'{0}\'.format(1)) {{ ds }} "quoted"'
    name = unique("echo_wf")
    workflow = admin.ok("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": name, "params": {"text": tricky}})
    e2e.api.wait_dag(name)
    run = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {}})
    assert e2e.api.wait_run(name, run["dag_run_id"]) == "success"
    assert e2e.api.xcom(name, run["dag_run_id"], "echo") == tricky
    exported = admin.call("GET", f"/workflows/{workflow['id']}/export?format=yaml")
    assert exported.headers["Content-Type"].startswith("application/yaml")
    renamed = exported.text.replace(name, unique("reimported"))
    imported = admin.session.post(f"{e2e.stack.base_url}/pluginsv2/mlops/api/v1/import", data=renamed.encode(),
                                  headers={"Content-Type": "application/yaml"}, timeout=30)
    assert imported.status_code == 201, imported.text
    again = admin.ok("GET", f"/workflows/{imported.json()['id']}")
    assert again["params"]["text"]["default"] == tricky and again["tasks"] == admin.ok("GET", f"/workflows/{workflow['id']}")["tasks"]
