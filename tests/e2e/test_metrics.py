"""The Prometheus endpoint after real runs, its format, its token, and the shipped Grafana/StatsD files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from api_client import Client, unique
from conftest import METRICS_TOKEN
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)
CONFIG = Path(__file__).resolve().parents[2] / "airflow_config"
ENDPOINT = "/mlops-metrics/metrics"


def scrape(base_url: str, token: str | None = METRICS_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{base_url}{ENDPOINT}", headers=headers, timeout=30)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, e2e.api.username, e2e.api.password, "bearer")
    e2e.archive_workflows_except(before)


def test_values_follow_real_runs(e2e, admin):
    good, bad = unique("metrics_ok"), unique("metrics_fail")
    before = samples(scrape(e2e.stack.base_url).text)
    for name, code in ((good, "return 1"), (bad, "raise RuntimeError('no data')")):
        admin.ok("POST", "/workflows", {"name": name, "tasks": [{"name": "prep", "code": "return 0"},
                                                                  {"name": "fit", "depends_on": ["prep"], "code": code}]})
    assert value(before, "mlops_runs_total", workflow=good, template="", state="success") == 0
    for name, expected in ((good, "success"), (bad, "failed")):
        e2e.api.wait_dag(name)
        assert e2e.api.wait_run(name, e2e.api.trigger_ok(name)) == expected

    def changed() -> dict | None:
        found = samples(scrape(e2e.stack.base_url).text)
        return found if value(found, "mlops_runs_total", workflow=bad, template="", state="failed") == 1 else None
    deadline, after = time.monotonic() + 60, None
    while after is None and time.monotonic() < deadline:
        after = changed()
        time.sleep(1)
    assert after is not None, "the failed run never showed up in mlops_runs_total"
    assert value(after, "mlops_runs_total", workflow=good, template="", state="success") == 1
    assert value(after, "mlops_runs_started_total", workflow=good, template="") == 1
    assert value(after, "mlops_task_failures_total", workflow=bad, task="fit") == 1
    assert value(after, "mlops_task_failures_total", workflow=good, task="fit") == 0
    assert value(after, "mlops_run_duration_seconds_count", workflow=good) == 1
    assert value(after, "mlops_run_duration_seconds_sum", workflow=good) > 0
    assert value(after, "mlops_run_duration_seconds_bucket", workflow=good, le="+Inf") == 1
    assert value(after, "mlops_task_duration_seconds_count", workflow=bad) == 2
    assert value(after, "mlops_workflows", state="active") >= 2
    assert value(after, "mlops_dag_factory_workflows_loaded") >= 2
    assert value(after, "mlops_metrics_database_up") == 1
    created = value(after, "mlops_api_requests_total", route="/workflows", method="POST", status="201")
    assert created - value(before, "mlops_api_requests_total", route="/workflows", method="POST", status="201") == 2
    assert value(after, "mlops_api_request_duration_seconds_count", route="/workflows", method="POST") >= 2
    assert all("run_id" not in dict(labels) for _, labels in after), "no run ids as labels"


def test_output_passes_promtool_and_the_parser(e2e, admin):
    text = scrape(e2e.stack.base_url).text
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"mlops_workflows", "mlops_runs", "mlops_api_requests", "mlops_run_duration_seconds"} <= families
    promtool = require_promtool()
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_scraping_needs_the_token_when_one_is_set(e2e, admin):
    assert scrape(e2e.stack.base_url, token=None).status_code == 401
    assert scrape(e2e.stack.base_url, token="wrong").status_code == 401
    login_token = e2e.api.session.headers["Authorization"].split()[1]
    assert scrape(e2e.stack.base_url, token=login_token).status_code == 401  # an Airflow login is not the token
    ok = scrape(e2e.stack.base_url)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith("text/plain")


def require_promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool missing: apt-get install prometheus"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return promtool


def mapped_names() -> set[str]:
    mapping = yaml.safe_load((CONFIG / "statsd_mapping.yml").read_text())
    names = set()
    for rule in mapping["mappings"]:
        assert "match" in rule and ("name" in rule or rule.get("action") == "drop"), rule
        if rule.get("action") != "drop":
            names.add(rule["name"])
    return names


def dashboard_metric_names(dashboard: dict[str, Any]) -> set[str]:
    functions = {"sum", "rate", "increase", "histogram_quantile", "topk", "clamp_min", "by", "le"}
    names = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for token in re.findall(r"\b([a-z_][a-z0-9_]*)\b\s*(?=[{\[)]|$)", target["expr"]):
                if token not in functions and token.startswith(("mlops_", "airflow_")):
                    names.add(token)
    return names


def test_every_dashboard_metric_exists_and_the_dashboard_is_a_valid_model(e2e, admin):
    dashboard = json.loads((CONFIG / "grafana" / "dashboards" / "mlops.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    for panel in dashboard["panels"]:
        assert panel["type"] in {"timeseries", "stat", "bargauge", "gauge", "table"} and panel["title"]
        assert all(isinstance(panel["gridPos"][k], int) for k in ("x", "y", "w", "h"))
        assert panel["targets"] and all(t["refId"] and t["expr"] for t in panel["targets"])
        assert panel["datasource"]["uid"] == "mlops-prometheus"
    families = list(text_string_to_metric_families(scrape(e2e.stack.base_url).text))
    exposed = {s.name for f in families for s in f.samples} | {f.name for f in families} | {
        f"{f.name}_total" for f in families if f.type == "counter"}
    mapped = mapped_names()
    known = exposed | mapped | {f"{m}_bucket" for m in mapped} | {f"{m}_count" for m in mapped}
    names = dashboard_metric_names(dashboard)
    assert {"mlops_runs_total", "mlops_run_duration_seconds_bucket", "airflow_scheduler_heartbeat_total"} <= names
    assert names - known == set(), f"dashboard metrics neither exposed nor mapped: {sorted(names - known)}"
    datasource = yaml.safe_load((CONFIG / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "mlops-prometheus"


def test_prometheus_config_is_valid(tmp_path, e2e):
    promtool = require_promtool()
    token = tmp_path / "token"
    token.write_text(METRICS_TOKEN)
    config = tmp_path / "prometheus.yml"
    config.write_text((CONFIG / "prometheus" / "prometheus.yml").read_text().replace("/tmp/token", str(token)))
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dag_factory_and_notification_metrics_reach_statsd_and_are_mapped(e2e, admin):
    """The dag-processor and workers have no endpoint: their metrics go through Airflow's StatsD client, and
    the exporter mapping shipped in airflow_config/ turns every one of them into a Prometheus name."""
    name = unique("metrics_statsd")
    admin.ok("POST", "/workflows", {"name": name, "tasks": [{"name": "boom", "code": "raise ValueError('x')"}],
                                    "notifications": {"on_failure": [{"type": "slack_webhook",
                                                                      "connection_id": "mlops_test_hook_500"}]}})
    e2e.api.wait_dag(name)
    assert e2e.api.wait_run(name, e2e.api.trigger_ok(name)) == "failed"
    wanted = {"airflow.mlops.dag_factory.load_duration", "airflow.mlops.dag_factory.workflows_loaded",
              "airflow.mlops.notification.on_failure.slack_webhook.failed", "airflow.scheduler_heartbeat"}
    deadline = time.monotonic() + 90
    while not wanted <= e2e.statsd.names() and time.monotonic() < deadline:
        time.sleep(1)
    assert wanted <= e2e.statsd.names(), f"missing: {wanted - e2e.statsd.names()}"
    rules = [r for r in yaml.safe_load((CONFIG / "statsd_mapping.yml").read_text())["mappings"]
             if r.get("action") != "drop"]
    for metric in sorted(e2e.statsd.names("airflow.mlops.")):
        assert any(statsd_glob(rule["match"], metric) for rule in rules), f"{metric} has no mapping"


def statsd_glob(pattern: str, metric: str) -> bool:
    """statsd_exporter's glob: ``*`` stands for one dot-separated component."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", r"[^.]+"), metric) is not None
