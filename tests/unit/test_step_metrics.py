"""Step metrics as task code logs them: validation, default steps, the stored form and final values."""

from __future__ import annotations

import math

import pytest

from airflow_mlops_dag_factory.runtime import metrics_of
from airflow_mlops_dag_factory.step_metrics import MAX_POINTS, XCOM_KEY, StepMetrics, last_values, valid


class _Ti:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_points_keep_their_steps_values_and_times_and_default_steps_follow_the_last_one():
    clock = iter([1.0, 2.0, 3.0, 4.0])
    steps = StepMetrics(clock=lambda: next(clock))
    steps.log_metric("loss", 0.9)
    steps.log_metric("loss", 0.5, step=10)
    steps.log_metric("loss", 0.4)
    steps.log_metric("val/acc", 1)
    assert steps.points == {"loss": [[0, 0.9, 1000], [10, 0.5, 2000], [11, 0.4, 3000]], "val/acc": [[0, 1.0, 4000]]}
    ti = _Ti()
    steps.push(ti)
    assert ti.pushed == {XCOM_KEY: steps.points}


def test_nothing_is_stored_when_nothing_was_logged():
    ti = _Ti()
    StepMetrics().push(ti)
    assert ti.pushed == {}


@pytest.mark.parametrize(("name", "value", "step", "said"), [
    ("", 1.0, None, "name"), ("a" * 251, 1.0, None, "name"), ("loss;drop", 1.0, None, "name"), (3, 1.0, None, "name"),
    ("loss", math.nan, None, "finite"), ("loss", math.inf, None, "finite"), ("loss", "0.3", None, "finite"),
    ("loss", True, None, "finite"), ("loss", 0.3, -1, "step"), ("loss", 0.3, 1.5, "step"), ("loss", 0.3, True, "step"),
])
def test_a_bad_point_is_refused_with_what_is_wrong_and_nothing_is_kept(name, value, step, said):
    steps = StepMetrics()
    with pytest.raises(ValueError, match=said):
        steps.log_metric(name, value, step=step)
    assert steps.points in ({}, {name: []})
    assert not any(steps.points.values())


def test_a_task_cannot_log_more_than_the_limit():
    steps = StepMetrics()
    for i in range(MAX_POINTS):
        steps.log_metric("x", i)
    with pytest.raises(ValueError, match=str(MAX_POINTS)):
        steps.log_metric("y", 0)


def test_final_values_are_at_the_highest_step_and_a_returned_metric_wins():
    stored = {"loss": [[0, 0.9, 1], [5, 0.2, 3], [3, 0.4, 2], [5, 0.1, 4]], "acc": [[0, 0.5, 1]]}
    assert last_values(stored) == {"loss": 0.1, "acc": 0.5}
    assert metrics_of({"metrics": {"acc": 0.75, "note": "text"}}, stored) == {"loss": 0.1, "acc": 0.75}
    assert metrics_of(None, None) == {}


def test_a_hand_pushed_value_under_the_key_is_ignored():
    assert valid("loss") == {}
    assert valid({"loss": [[0, 1.0, 5], ["x", 1, 2], [1, True, 3], [2]], "acc": "no"}) == {"loss": [[0, 1.0, 5]]}
