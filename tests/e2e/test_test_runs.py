"""Test runs from the editor against a real Airflow: one task of a draft (with its upstream, or fed by an
earlier run's results) or the whole draft runs on Airflow's workers, and the editor reads each task's state,
result, metrics and log; nothing of it becomes a run of the workflow, and only its editors may start one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from api_client import USERS, Client, ensure_users, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

PARAMS = {"n": {"type": "integer", "default": 3, "minimum": 1, "maximum": 10},
          "lr": {"type": "number", "default": 0.5}}


def pipeline(name: str, train_code: str, load_code: str = "return {'rows': list(range(1, params['n'] + 1))}") -> dict:
    return {"name": name, "params": PARAMS, "tasks": [
        {"name": "load", "code": load_code},
        {"name": "train", "depends_on": ["load"], "code": train_code},
        {"name": "report", "depends_on": ["train"], "code": "return f\"score {train['metrics']['score']}\""}]}


TRAIN = ("import logging\n"
         "print('training on', len(load['rows']), 'rows')\n"
         "logging.getLogger('trainer').warning('lr is %s', params['lr'])\n"
         "return {'metrics': {'score': sum(load['rows']) * params['lr']}}")


@pytest.fixture(scope="module")
def clients(e2e) -> Iterator[dict[str, Client]]:
    before = e2e.workflow_ids()
    ensure_users(e2e.stack.base_url, dict(e2e.api.session.headers))
    yield {name: Client(e2e.stack.base_url, name, USERS[name][0], "bearer") for name in ("user1", "user2", "viewer")}
    e2e.archive_workflows_except(before)


def start(client: Client, workflow_id: str, body: dict) -> dict:
    """Start a test run; the DAG of test runs may still be on its way into a fresh Airflow (409)."""
    deadline = time.monotonic() + 60
    while True:
        resp = client.call("POST", f"/workflows/{workflow_id}/tests", body)
        if resp.status_code == 201:
            return resp.json()
        assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
        time.sleep(0.5)


def finished(client: Client, test: dict, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (test := client.ok("GET", f"/tests/{test['id']}"))["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, test
        time.sleep(0.5)
    return test


def test_one_task_of_a_draft_runs_with_its_upstream_on_a_worker(e2e, clients):
    author = clients["user1"]
    name = unique("tested")
    workflow = author.ok("POST", "/workflows", pipeline(name, "return {'metrics': {'score': 0}}"))
    e2e.api.wait_dag(name)
    author.ok("PUT", f"/workflows/{workflow['id']}/draft", pipeline(name, TRAIN))

    test = start(author, workflow["id"], {"task": "train", "params": {"n": 4, "lr": 2}})
    assert (test["kind"], test["source"], test["source_revision"], test["target"]) == ("test", "draft", 1, "train")
    assert test["tasks"] == ["load", "train"] and test["params"] == {"n": 4, "lr": 2}
    done = finished(author, test)
    assert done["state"] == "success", done
    load, train = done["results"]["load"], done["results"]["train"]
    assert (load["state"], load["result"]) == ("success", {"rows": [1, 2, 3, 4]})
    assert (train["state"], train["metrics"]) == ("success", {"score": 20.0})
    assert "training on 4 rows" in train["log"] and "WARNING trainer: lr is 2" in train["log"]
    # It ran in Airflow (a run of the test DAG whose conf names only the test), not as a run of the workflow.
    airflow_run = e2e.api.get(f"/api/v2/dags/mlops_test_runs/dagRuns/{done['dag_run_id']}")
    assert airflow_run["conf"] == {"test_run_id": test["id"]} and airflow_run["state"] == "success"
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns")["total_entries"] == 0
    assert author.ok("GET", f"/jobs?workflow_id={workflow['id']}")["total"] == 0
    assert author.ok("GET", f"/workflows/{workflow['id']}")["version"] == 1  # nothing was published
    assert [t["id"] for t in author.ok("GET", f"/workflows/{workflow['id']}/tests")["items"]] == [test["id"]]


def test_a_task_fed_by_an_earlier_runs_results_and_the_whole_draft(e2e, clients):
    author = clients["user1"]
    name = unique("fed")
    workflow = author.ok("POST", "/workflows", pipeline(name, TRAIN, "return {'rows': [10, 20]}"))
    e2e.api.wait_dag(name)
    earlier = author.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"lr": 1}})
    assert e2e.api.wait_run(name, earlier["dag_run_id"]) == "success"
    # No draft: the published version is tested; the earlier run's "load" result feeds "train" alone.
    test = finished(author, start(author, workflow["id"], {"task": "train", "upstream_run_id": earlier["id"]}))
    assert test["source"] == "published" and test["tasks"] == ["train"] and test["state"] == "success"
    assert test["upstream_run"] == {"dag_id": name, "dag_run_id": earlier["dag_run_id"]}
    assert test["results"]["train"]["metrics"] == {"score": 15.0}  # (10 + 20) x the default lr 0.5

    author.ok("PUT", f"/workflows/{workflow['id']}/draft", pipeline(name, TRAIN, "return {'rows': [1]}"))
    whole = finished(author, start(author, workflow["id"], {"params": {"lr": 3}}))
    assert whole["state"] == "success" and whole["target"] is None
    assert {t: r["state"] for t, r in whole["results"].items()} == dict.fromkeys(["load", "train", "report"], "success")
    assert whole["results"]["report"]["result"] == "score 3"  # 1 row x lr 3


def test_a_failing_task_shows_the_users_traceback_and_stops_the_test(e2e, clients):
    author = clients["user1"]
    name = unique("broken")
    workflow = author.ok("POST", "/workflows", pipeline(name, TRAIN))
    e2e.api.wait_dag(name)
    author.ok("PUT", f"/workflows/{workflow['id']}/draft",
              pipeline(name, "print('about to fail')\nraise ValueError('bad batch ' + str(len(load['rows'])))"))
    test = finished(author, start(author, workflow["id"], {}))
    assert test["state"] == "failed"
    states = {t: r["state"] for t, r in test["results"].items()}
    assert states == {"load": "success", "train": "failed", "report": "skipped"}
    train = test["results"]["train"]
    assert train["error"] == "ValueError: bad batch 3"
    assert "about to fail" in train["log"] and "line 2" in train["log"] and "raise ValueError" in train["log"]


def test_only_the_workflows_editors_start_tests_and_bad_input_records_nothing(e2e, clients):
    author, other, viewer = clients["user1"], clients["user2"], clients["viewer"]
    name = unique("guarded")
    workflow = author.ok("POST", "/workflows", pipeline(name, TRAIN))
    e2e.api.wait_dag(name)
    path = f"/workflows/{workflow['id']}/tests"
    assert other.call("POST", path, {"task": "train"}).status_code == 403  # not the owner (a User)
    assert viewer.call("POST", path, {"task": "train"}).status_code == 403
    anonymous = Client(e2e.stack.base_url, None, None, "anonymous")
    assert anonymous.call("POST", path, {"task": "train"}).status_code == 401
    for body, field in [({"task": "nope"}, "task"), ({"params": {"n": 99}}, "params.n"),
                        ({"params": {"lr": "fast"}}, "params.lr"), ({"upstream_run_id": "no-such-run"}, "upstream_run_id"),
                        ({"task": 3}, "task"), ({"task": "train", "params": []}, "params")]:
        resp = author.call("POST", path, body)
        assert resp.status_code == 400, (body, resp.text)
        assert field in [e["path"] for e in resp.json()["errors"]], (body, resp.json())
    assert author.ok("GET", path)["items"] == []
    assert author.call("GET", f"/tests/{uuid.uuid4()}").status_code == 404
