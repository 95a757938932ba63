"""Metrics a task logs as it goes: ``log_metric("loss", 0.3, step=5)`` in task code.

A task collects its points in memory and stores them with the run when it ends, successful or not, as one
XCom of the task (key :data:`XCOM_KEY`): Airflow keeps them with the run, for as long as it keeps the run,
and the plugin reads them to draw learning curves, to compare runs and to send them to MLflow. One XCom per
task instead of one write per point keeps a tight training loop free of database round trips.

Names follow MLflow's rules for metric keys, so whatever a task logs can be tracked there unchanged.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

XCOM_KEY = "mlops_step_metrics"
MAX_POINTS = 20_000  # per task: an XCom holds them all, and a chart or MLflow gets them in one read
MAX_NAME = 250
NAME = re.compile(r"^[A-Za-z0-9_\-. /]+$")

# What the XCom holds: ``{name: [[step, value, timestamp_ms], ...]}`` in the order they were logged.
Points = dict[str, list[list[float]]]


class StepMetrics:
    """The points one task logged; ``log_metric`` is what its code calls."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.points: Points = {}
        self._count = 0
        self._clock = clock

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of ``name`` at ``step`` (default: one after this name's last step, from 0)."""
        if not isinstance(name, str) or not NAME.match(name) or len(name) > MAX_NAME:
            raise ValueError(f"log_metric: name {name!r} must be 1 to {MAX_NAME} letters, digits, spaces or _ - . /")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"log_metric: value of {name!r} must be a finite number, got {value!r}")
        series = self.points.setdefault(name, [])
        if step is None:
            step = int(series[-1][0]) + 1 if series else 0
        elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"log_metric: step of {name!r} must be a whole number >= 0, got {step!r}")
        if self._count >= MAX_POINTS:
            raise ValueError(f"log_metric: a task may log at most {MAX_POINTS} points")
        series.append([step, float(value), int(self._clock() * 1000)])
        self._count += 1

    def push(self, ti: Any) -> None:
        """Store the points with the run (nothing when none were logged)."""
        if self.points:
            ti.xcom_push(key=XCOM_KEY, value=self.points)


def last_values(points: Any) -> dict[str, float]:
    """Each name's value at its highest step (the latest logged on a tie): the metric's final value."""
    out: dict[str, float] = {}
    for name, series in valid(points).items():
        out[name] = max(enumerate(series), key=lambda item: (item[1][0], item[0]))[1][1]
    return out


def valid(points: Any) -> Points:
    """The well-formed series of a stored XCom (anything else, e.g. a hand-pushed value, is ignored)."""
    if not isinstance(points, dict):
        return {}
    out: Points = {}
    for name, series in points.items():
        if isinstance(name, str) and isinstance(series, list):
            rows = [p for p in series if isinstance(p, list) and len(p) == 3
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)]
            if rows:
                out[name] = rows
    return out
