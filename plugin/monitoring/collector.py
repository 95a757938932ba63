"""Metrics read from the databases when Prometheus scrapes, so every api-server process answers the same.

Workflows by state, runs started / finished by workflow and template, active runs, run and task duration
histograms, task failures, and how the DAG factory fares in Airflow (DAGs loaded, workflows without a DAG,
parse time, import errors). Labels are workflow, template and task names: bounded by what the plugin
holds, never run ids. Reads are cached for ``CACHE_SECONDS`` so frequent scrapes stay cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

log = logging.getLogger(__name__)
CACHE_SECONDS = 10.0
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
TASK_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
DAG_FILE = "mlops_workflows.py"


class MLOpsCollector(Collector):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cached: list[Metric] = []
        self.read_at = 0.0

    def describe(self) -> list[Metric]:
        return []  # names are known only once the databases are read; never read them at registration

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if time.monotonic() - self.read_at > CACHE_SECONDS:
                try:
                    self.cached = [*self._read(), GaugeMetricFamily(
                        "mlops_metrics_database_up", "1 when the last read of the databases worked", value=1)]
                except Exception:  # noqa: BLE001 - a scrape must still answer, and say the read failed
                    log.exception("MLOps metrics: reading the databases failed")
                    self.cached = [GaugeMetricFamily("mlops_metrics_database_up",
                                                     "1 when the last read of the databases worked", value=0)]
                self.read_at = time.monotonic()
            return iter(self.cached)

    def _read(self) -> Iterator[Metric]:
        from airflow_mlops.db import transaction
        from airflow_mlops.models import Template, Workflow, WorkflowVersion
        from airflow_mlops_dag_factory.validate import validate_document

        with transaction() as session:
            rows = session.execute(select(Workflow.id, Workflow.name, Workflow.active, Workflow.archived_at,
                                          Template.name, WorkflowVersion.spec)
                                   .outerjoin(Template, Template.id == Workflow.template_id)
                                   .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id)
                                         & (WorkflowVersion.number == Workflow.current_version))).all()
        states = Tally({"active": 0, "paused": 0, "archived": 0})
        invalid = 0
        template_of: dict[str, str] = {}
        for _, name, active, archived_at, template, spec in rows:
            states["archived" if archived_at else "active" if active else "paused"] += 1
            if archived_at is None:
                template_of[name] = template or ""
                invalid += bool(validate_document(spec)[1])
        workflows = GaugeMetricFamily("mlops_workflows", "MLOps workflows by state", labels=["state"])
        for state, count in sorted(states.items()):
            workflows.add_metric([state], count)
        yield workflows
        yield GaugeMetricFamily("mlops_workflows_invalid", "Workflows whose current spec fails validation "
                                "(the DAG factory skips them)", value=invalid)
        yield from self._airflow(template_of)

    def _airflow(self, template_of: dict[str, str]) -> Iterator[Metric]:
        from airflow.models.dag import DagModel
        from airflow.models.dagrun import DagRun
        from airflow.models.errors import ParseImportError
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        dag_ids = list(template_of)
        started = CounterMetricFamily("mlops_runs_started", "Runs created, by workflow and template",
                                      labels=["workflow", "template"])
        finished = CounterMetricFamily("mlops_runs", "Finished runs by workflow, template and final state",
                                       labels=["workflow", "template", "state"])
        active = GaugeMetricFamily("mlops_runs_active", "Queued and running runs", labels=["workflow", "state"])
        failures = CounterMetricFamily("mlops_task_failures", "Failed task instances by workflow and task",
                                       labels=["workflow", "task"])
        run_durations: dict[str, list[float]] = defaultdict(list)
        task_durations: dict[str, list[float]] = defaultdict(list)
        loaded = import_errors = 0
        parse_seconds = 0.0
        if dag_ids:
            with create_session() as session:
                by_state = session.execute(select(DagRun.dag_id, DagRun.state, func.count())
                                           .where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id, DagRun.state))
                totals: Tally = Tally()
                for dag_id, state, count in by_state:
                    state = str(getattr(state, "value", state))
                    totals[dag_id] += count
                    if state in ("success", "failed"):
                        finished.add_metric([dag_id, template_of[dag_id], state], count)
                    elif state in ("queued", "running"):
                        active.add_metric([dag_id, state], count)
                for dag_id, count in sorted(totals.items()):
                    started.add_metric([dag_id, template_of[dag_id]], count)
                for dag_id, start, end in session.execute(
                        select(DagRun.dag_id, DagRun.start_date, DagRun.end_date).where(
                            DagRun.dag_id.in_(dag_ids), DagRun.state.in_(("success", "failed")),
                            DagRun.start_date.is_not(None), DagRun.end_date.is_not(None))):
                    if start and end:
                        run_durations[dag_id].append((end - start).total_seconds())
                for dag_id, duration in session.execute(
                        select(TaskInstance.dag_id, TaskInstance.duration).where(
                            TaskInstance.dag_id.in_(dag_ids), TaskInstance.duration.is_not(None))):
                    if duration is not None:
                        task_durations[dag_id].append(duration)
                for dag_id, task_id, count in session.execute(
                        select(TaskInstance.dag_id, TaskInstance.task_id, func.count()).where(
                            TaskInstance.dag_id.in_(dag_ids), TaskInstance.state == "failed")
                        .group_by(TaskInstance.dag_id, TaskInstance.task_id)):
                    failures.add_metric([dag_id, task_id], count)
                dags = session.execute(select(DagModel.dag_id, DagModel.last_parse_duration).where(
                    DagModel.dag_id.in_(dag_ids), DagModel.is_stale.is_(False))).all()
                loaded = len(dags)
                parse_seconds = max((d.last_parse_duration or 0.0 for d in dags), default=0.0)
                import_errors = session.scalar(select(func.count()).select_from(ParseImportError).where(
                    ParseImportError.filename.like(f"%{DAG_FILE}"))) or 0
        yield from (started, finished, active, failures)
        yield _histogram("mlops_run_duration_seconds", "Duration of finished runs", run_durations, RUN_BUCKETS)
        yield _histogram("mlops_task_duration_seconds", "Duration of finished task instances", task_durations,
                         TASK_BUCKETS)
        yield GaugeMetricFamily("mlops_dag_factory_workflows_loaded", "Workflows whose DAG Airflow has (not stale)",
                                value=loaded)
        yield GaugeMetricFamily("mlops_dag_factory_workflows_missing", "Workflows (not archived) without a DAG in "
                                "Airflow: invalid, or not parsed yet", value=max(0, len(dag_ids) - loaded))
        yield GaugeMetricFamily("mlops_dag_factory_parse_duration_seconds", "Last parse time of the MLOps DAG file",
                                value=parse_seconds)
        yield GaugeMetricFamily("mlops_dag_factory_import_errors", "Import errors of the MLOps DAG file",
                                value=import_errors)


def _histogram(name: str, documentation: str, values: dict[str, list[float]], buckets: tuple[float, ...]) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=["workflow"])
    for workflow, samples in sorted(values.items()):
        counts = [(str(float(b)), sum(1 for v in samples if v <= b)) for b in buckets] + [("+Inf", len(samples))]
        family.add_metric([workflow], counts, sum_value=sum(samples))
    return family
