"""The run-pinning rule that tasks, run records and the version-delete guard share (``runtime.version_for``)."""

from __future__ import annotations

from airflow_mlops_dag_factory.runtime import PIN_CONF_KEY, pinned_version, version_for


class _DagRun:
    def __init__(self, conf, run_after=None):
        self.conf, self.run_after = conf, run_after


def test_an_explicit_pin_wins():
    assert version_for("wf", {PIN_CONF_KEY: {"version": 3}, "lr": 0.1}, None) == 3
    assert pinned_version("wf", 7, _DagRun({PIN_CONF_KEY: {"version": 2}})) == 2



def test_a_malformed_pin_is_ignored():
    for conf in ({PIN_CONF_KEY: {"version": "3"}}, {PIN_CONF_KEY: 3}, None, ["x"]):
        assert version_for("wf", conf, None) is None


def test_without_pin_or_run_time_the_built_version_runs():
    assert pinned_version("wf", 5, _DagRun({})) == 5
    assert pinned_version("wf", 5, None) == 5


def test_a_dag_built_from_a_run_bundle_version_runs_its_own_version():
    """Built in that version's folder, the DAG is the run's version: no conf pin can move its code elsewhere."""
    assert pinned_version("wf", 7, _DagRun({PIN_CONF_KEY: {"version": 2}}), pinned_by_bundle=True) == 7
