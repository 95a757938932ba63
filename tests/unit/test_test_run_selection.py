"""The pure parts of test runs: which tasks a test runs, in which order, and the DAG the bundle serves for them.
(Test runs on real workers: tests/e2e/test_test_runs.py.)"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from test_bundle import BUNDLES, db, make_bundle  # noqa: F401 - the fixture is used by name

from airflow_mlops.services.test_runs import _tasks_to_run
from airflow_mlops_dag_factory import test_runs
from airflow_mlops_dag_factory.runtime import metrics_of
from airflow_mlops_dag_factory.spec import WorkflowSpec

DIAMOND = WorkflowSpec.model_validate({"name": "d", "tasks": [
    {"name": "report", "code": "1", "depends_on": ["left", "right"]},
    {"name": "left", "code": "1", "depends_on": ["load"]},
    {"name": "right", "code": "1", "depends_on": ["load"]},
    {"name": "load", "code": "1"},
    {"name": "other", "code": "1"},
    {"name": "ship", "type": "docker", "depends_on": ["report"], "docker": {"image": "busybox:latest"}}]})


def test_a_task_is_tested_after_everything_upstream_of_it_in_dependency_order():
    assert DIAMOND.upstream_of("report") == {"left", "right", "load"}
    assert DIAMOND.upstream_of("load") == set()
    tasks, errors = _tasks_to_run(DIAMOND, "report", with_upstream=True)
    assert errors == [] and tasks[0] == "load" and tasks[-1] == "report" and set(tasks) == {"load", "left", "right", "report"}
    assert _tasks_to_run(DIAMOND, "report", with_upstream=False) == (["report"], [])
    order = [t.name for t in DIAMOND.upstream_first()]
    assert all(order.index(dep) < order.index(t.name) for t in DIAMOND.tasks for dep in t.depends_on)


def test_an_unknown_task_is_refused_at_the_task_field_and_docker_tasks_are_tested_too():
    [unknown] = _tasks_to_run(DIAMOND, "nope", with_upstream=True)[1]
    assert unknown.path == "task" and "no task 'nope'" in unknown.message
    assert _tasks_to_run(DIAMOND, "ship", with_upstream=False) == (["ship"], [])
    assert len(_tasks_to_run(DIAMOND, None, with_upstream=True)[0]) == len(DIAMOND.tasks)


def test_results_are_json_the_editor_can_show_and_metrics_are_numbers():
    assert test_runs._shown({"a": [1, 2]}) == {"a": [1, 2]}
    assert test_runs._shown(Path("/x")) == "PosixPath('/x')"
    assert test_runs._shown("x" * 30_000).endswith(" …")
    assert metrics_of({"metrics": {"acc": 1, "ok": True, "name": "n", "loss": 0.5}}) == {"acc": 1.0, "loss": 0.5}
    assert metrics_of([1]) == {}


def test_the_capture_keeps_prints_and_logs_and_still_writes_them_out(capsys):
    with test_runs._Capture() as captured:
        print("hello")
        logging.getLogger("user").warning("careful %s", 1)
        sys.stderr.write("to stderr\n")
    assert captured.text() == "hello\nWARNING user: careful 1\nto stderr\n"
    out = capsys.readouterr()
    assert "hello" in out.out and "to stderr" in out.err


def test_the_bundle_serves_the_test_dag_in_every_version_and_no_copy_outside_it(db, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", BUNDLES)
    pinned = make_bundle(tmp_path, monkeypatch, version="7")
    pinned.initialize()
    dags = test_runs.dags_for_test_file(str(pinned.path / "mlops_test_runs.py"))
    assert list(dags) == [test_runs.TEST_DAG_ID] and dags[test_runs.TEST_DAG_ID].task_ids == [test_runs.TEST_TASK_ID]
    assert dags[test_runs.TEST_DAG_ID].schedule is None
    outside = tmp_path / "dags"
    outside.mkdir()
    assert test_runs.dags_for_test_file(str(outside / "mlops_test_runs.py")) == {}


def test_a_missing_test_record_fails_the_worker_clearly(db):  # noqa: F811
    with pytest.raises(LookupError, match="test run 'nope' does not exist"):
        test_runs.load_test("nope")
