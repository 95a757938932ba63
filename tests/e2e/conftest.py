"""A real Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor) per database backend.

Like a production deployment, the dag-processor and the workers (forked by the scheduler) read the
plugin database through a separate read-only path: a symlink for SQLite, a read-only role for
PostgreSQL. Tests cut that path to make the plugin database unreachable for them only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from container_engine import PodmanEngine, missing_tools
from mlflow_server import MlflowServer, missing_mlflow
from notify_sinks import HOOK_DEFAULT, Sinks
from stack import AirflowStack
from statsd_sink import StatsdSink

ADMIN = ("admin", "admin-pass-e2e")
PINNED_SECRETS = {
    "AIRFLOW__API__SECRET_KEY": "e2e-fixed-secret-key",
    "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-fixed-jwt-secret-0123456789abcdef0123456789",
}
# Short stale-DAG detection so a test can see within seconds whether DAGs would go stale.
FAST_STALENESS = {
    "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "5",
    "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "5",
    "AIRFLOW__FAB__AUTH_RATE_LIMITED": "False",
}
METRICS_TOKEN = "e2e-metrics-token-5a4b3c"
# Every failure also goes to the deployment's default channel (the Slack stand-in), within 5 s; scraping
# the metrics needs a token.
PLUGIN_SETTINGS = {
    "AIRFLOW__MLOPS__DEFAULT_SLACK_WEBHOOK": HOOK_DEFAULT,
    "AIRFLOW__MLOPS__DEFAULT_EVENTS": "on_failure",
    "AIRFLOW__MLOPS__NOTIFICATION_TIMEOUT": "5",
    "AIRFLOW__MLOPS__METRICS_TOKEN": METRICS_TOKEN,
    # MLflow tracking starts when a test creates its connection: only runs finishing after that are sent.
    "AIRFLOW__MLOPS__MLFLOW_LOOKBACK_HOURS": "0",
}


class E2EStack:
    """An :class:`AirflowStack` plus the backend-specific way to cut the readers off the plugin DB."""

    def __init__(self, stack: AirflowStack, backend: str, reader_env: dict[str, str], cut, restore, sinks: Sinks,
                 engine: PodmanEngine | None, statsd: StatsdSink):
        self.stack, self.backend = stack, backend
        self.sinks, self.engine, self.statsd = sinks, engine, statsd
        self.reader_env = reader_env
        self._cut, self._restore = cut, restore
        self.api = AirflowApi(stack.base_url, *ADMIN)

    def cut_reader_access(self) -> None:
        self._cut()

    def restore_reader_access(self) -> None:
        self._restore()

    def mlops(self, *args: str, input_doc: dict[str, Any] | None = None, check: bool = True) -> Any:
        """Run the ``airflow-mlops`` CLI (the plugin's services) in the api-server's environment."""
        cmd = ["airflow-mlops", *args]
        result = self.stack.run_command(cmd, check=False, input_text=json.dumps(input_doc) if input_doc else None)
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def workflow_ids(self) -> set[str]:
        resp = self.api.request("GET", "/pluginsv2/mlops/api/v1/workflows?limit=500")
        resp.raise_for_status()
        return {w["id"] for w in resp.json()["items"]}

    def archive_workflows_except(self, keep: set[str]) -> None:
        """Leave the shared stack as a module found it: archived workflows leave the DAG file, so later
        modules do not pay for hundreds of DAGs in every parse (SQLite write locks grow with them)."""
        for workflow_id in self.workflow_ids() - keep:
            path = f"{self.api.base_url}/pluginsv2/mlops/api/v1/workflows/{workflow_id}"
            # One slow answer on a busy machine (SQLite write locks) must not leave the rest in every later parse.
            self.api.session.request("DELETE", path, timeout=180)

    def wait_dag_version(self, dag_id: str, number: int, timeout: float = 45) -> None:
        """Until Airflow's latest DAG of ``dag_id`` is workflow version ``number`` (its doc names the version)."""
        self.api.wait_dag(dag_id)
        deadline = time.monotonic() + timeout
        while f", version {number}." not in (self.api.get(f"/api/v2/dags/{dag_id}/details").get("doc_md") or ""):
            assert time.monotonic() < deadline, f"Airflow never parsed version {number} of {dag_id}"
            time.sleep(0.3)

    def airflow_sql(self, statement: str, **params: Any) -> None:
        """One statement on Airflow's own database (to set up states no API can, e.g. a run from an older release)."""
        from sqlalchemy import create_engine, text

        url = self.stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        engine = create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()

    def dag_processor_log(self) -> str:
        files = sorted((self.stack.home / "logs" / "dag_processor").rglob("mlops_workflows.py.log"))
        return "".join(f.read_text(errors="replace") for f in files)


class AirflowApi:
    """Airflow's own REST API with a bearer token from ``/auth/token``."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.username, self.password = username, password

    def login(self) -> None:
        resp = requests.post(f"{self.base_url}/auth/token",
                             json={"username": self.username, "password": self.password}, timeout=10)
        resp.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base_url}{path}", timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        resp = self.request("GET", path, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> requests.Response:
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def trigger_ok(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        resp = self.trigger(dag_id, conf)
        assert resp.status_code == 200, f"trigger of {dag_id} -> {resp.status_code} {resp.text}"
        return resp.json()["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout}s")

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.get(path)["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        return json.dumps(self.get(path, headers={"Accept": "application/json"}))

    def wait_dag(self, dag_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.request("GET", f"/api/v2/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            time.sleep(0.3)
        raise TimeoutError(f"DAG {dag_id} did not appear within {timeout}s")


def _sqlite_setup(home: Path) -> tuple[dict[str, str], dict[str, str], Any, Any]:
    real = home / "mlops.db"
    link_dir = home / "reader"
    link_dir.mkdir()
    link = link_dir / "mlops.db"
    link.symlink_to(real)

    def cut() -> None:
        link.unlink()
        link.symlink_to(home / "unreachable" / "mlops.db")

    def restore() -> None:
        link.unlink()
        link.symlink_to(real)

    writer = {"AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": f"sqlite:///{real}"}
    reader = {"AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": f"sqlite:///{link}"}
    return writer, reader, cut, restore


def _postgres_setup(pg_admin) -> tuple[dict[str, str], dict[str, str], Any, Any]:
    airflow_db = pg_admin.create_database("mlops_e2e_airflow")
    mlops_db = pg_admin.create_database("mlops_e2e_plugin")
    reader_role = pg_admin.create_role("mlops_e2e_reader")
    writer = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_admin.sqlalchemy_url(airflow_db),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_mlops.db_connect_args.NONE",
        "AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": pg_admin.sqlalchemy_url(mlops_db),
    }
    reader = {"AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": pg_admin.sqlalchemy_url(mlops_db, user=reader_role)}

    def grant() -> None:
        pg_admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{reader_role}"', mlops_db)

    def cut() -> None:
        pg_admin.execute(f'ALTER ROLE "{reader_role}" NOLOGIN')

    def restore() -> None:
        pg_admin.execute(f'ALTER ROLE "{reader_role}" LOGIN')

    return writer, reader, cut, (restore, grant)


@pytest.fixture(scope="session")
def notify_sinks() -> Iterator[Sinks]:
    """Slack and SMTP stand-ins on 127.0.0.1, started before any stack so its connections point at them."""
    sinks = Sinks()
    yield sinks
    sinks.stop()


# A connection and a variable whose values docker tasks receive as secret environment variables.
CONTAINER_SECRETS = {
    "AIRFLOW_CONN_MLOPS_TEST_DB": '{"conn_type": "postgres", "host": "db.example", "login": "trainer", '
                                  '"password": "db-pass-7f6e5d4c"}',
    "AIRFLOW_VAR_MLOPS_TEST_TOKEN": "api-token-3b2a1c0d",
}


@pytest.fixture(scope="session")
def container_engine(tmp_path_factory) -> Iterator[PodmanEngine | None]:
    """podman serving the Docker API for docker tasks; ``None`` (tests skip, or fail in CI) without podman."""
    if missing_tools():
        yield None
        return
    engine = PodmanEngine(tmp_path_factory.mktemp("podman")).start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def statsd_sink() -> Iterator[StatsdSink]:
    """Where every process of the stacks sends Airflow's StatsD metrics (and the plugin's, through them)."""
    sink = StatsdSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[MlflowServer]:
    """A real MLflow tracking server (own venv, SQLite store, artifact serving) on 127.0.0.1; tests may stop and
    start it again. Without ``.venv-mlflow`` the tests using it are skipped, or fail in CI."""
    reason = missing_mlflow()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (required in CI)")
        pytest.skip(reason)
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def e2e(request, tmp_path_factory, notify_sinks, container_engine, statsd_sink) -> Iterator[E2EStack]:
    backend = request.param
    home = tmp_path_factory.mktemp(f"airflow-{backend}")
    if backend == "sqlite":
        writer, reader, cut, restore = _sqlite_setup(home)
        after_migrate = None
    else:
        writer, reader, cut, (restore, after_migrate) = _postgres_setup(request.getfixturevalue("pg_admin"))
    overrides = {**writer, **FAST_STALENESS, **PLUGIN_SETTINGS, **notify_sinks.connection_env(), **CONTAINER_SECRETS,
                 **statsd_sink.env()}
    if container_engine:
        overrides["AIRFLOW__MLOPS__DOCKER_URL"] = container_engine.url
    stack = AirflowStack(home, overrides=overrides, secrets_=PINNED_SECRETS)
    stack.migrate()
    if after_migrate:
        after_migrate()
    stack.create_user(*ADMIN, "Admin")
    # The dag-processor parses and the scheduler forks the LocalExecutor workers: both get the read-only path.
    stack.start(component_env={"dag-processor": reader, "scheduler": reader})
    try:
        stack.wait_healthy()
        e2e_stack = E2EStack(stack, backend, reader, cut, restore, notify_sinks, container_engine, statsd_sink)
        e2e_stack.api.login()
        yield e2e_stack
    finally:
        stack.stop()

