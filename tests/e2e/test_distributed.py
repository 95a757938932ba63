"""The distributed deployment of docker-compose.yml, run as processes: PostgreSQL, Redis, CeleryExecutor.

The Airflow services come from the compose file itself (compose_topology): its commands and environment,
with the compose network's hosts mapped to 127.0.0.1. PostgreSQL is set up by the same init script the
postgres container runs, so the plugin's tables live in their own database with an owner role (api-server,
migrations) and a read-only role (dag-processor, scheduler, triggerer, workers). Two Celery workers serve
50 runs of a 5-task workflow triggered at once; one worker is killed while it runs tasks, and the workflow
is saved with another structure while they run: every run finishes on its own version (MLOps DAG bundle).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from compose_topology import (
    AIRFLOW_SERVICES,
    INIT_SERVICE,
    REPO,
    LocalService,
    NetworkMap,
    load_compose,
    local_service,
)
from stack import AirflowStack, free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 13  # a Redis database of this test's own, flushed before and after
WORKERS = ("worker-1", "worker-2")
API = "/pluginsv2/mlops/api/v1"
RUNS, TASKS = 50, 5
# Local-only differences from the compose file, each for a reason a container would not have:
#  - ports and hosts: the containers each have their own network namespace, these processes share one;
#  - FAST_RECOVERY: a killed worker's tasks are noticed in seconds, not the production defaults' minutes
#    (heartbeat timeout 300 s, queued timeout 600 s, Redis visibility timeout 24 h);
#  - worker concurrency: two workers on a 2-core machine;
#  - the DAG bundles' storage: each container has its own /tmp, these processes share one machine.
FAST_RECOVERY = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "40",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "30",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
}


def _redis_reason() -> str | None:
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
        return None
    except redis.RedisError as exc:
        return f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}: {exc}"


@dataclass
class Distributed:
    stack: AirflowStack
    services: dict[str, LocalService]
    variables: dict[str, str]
    mlops_db: str

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def token(self) -> str:
        resp = requests.post(f"{self.base_url}/auth/token", timeout=10,
                             json={"username": "admin", "password": self.variables["AIRFLOW_ADMIN_PASSWORD"]})
        resp.raise_for_status()
        return resp.json()["access_token"]

    def connect(self, role: str):
        import psycopg

        return psycopg.connect(f"postgresql://{role}@127.0.0.1:5432/{self.mlops_db}", autocommit=True)


def _env_file(path: Path, suffix: str) -> dict[str, str]:
    """The deployment's .env, as an operator writes it from .env.example, with names unique to this run."""
    from cryptography.fernet import Fernet

    variables = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "MLOPS_DB_OWNER_PASSWORD": secrets.token_urlsafe(16),
        "MLOPS_DB_READER_PASSWORD": secrets.token_urlsafe(16),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_SECRET_KEY": "distributed-fixed-secret-key",
        "AIRFLOW_JWT_SECRET": "distributed-fixed-jwt-secret-0123456789abcdef01234",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "MLOPS_METRICS_TOKEN": secrets.token_urlsafe(16),
        "GRAFANA_PASSWORD": secrets.token_urlsafe(12),
        "AIRFLOW_DB_USER": f"mlops_dist_airflow_{suffix}",
        "AIRFLOW_DB_NAME": f"mlops_dist_airflow_{suffix}",
        "MLOPS_DB_NAME": f"mlops_dist_plugin_{suffix}",
        "MLOPS_DB_OWNER": f"mlops_dist_owner_{suffix}",
        "MLOPS_DB_READER": f"mlops_dist_reader_{suffix}",
        "MLOPS_ENV_FILE": str(path),
    }
    path.write_text("".join(f"{key}={value}\n" for key, value in variables.items()))
    return variables


def _setup_postgres(pg_admin, variables: dict[str, str]) -> None:
    """What the postgres container does on first start: Airflow's role and database (the image's POSTGRES_USER
    and POSTGRES_DB), then the plugin's database and roles by the init script the compose file mounts."""
    user, db = variables["AIRFLOW_DB_USER"], variables["AIRFLOW_DB_NAME"]
    pg_admin.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{variables['POSTGRES_PASSWORD']}'")
    pg_admin.roles.append(user)
    pg_admin.execute(f'CREATE DATABASE "{db}" OWNER "{user}"')
    pg_admin.databases.append(db)
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": "5432", "POSTGRES_USER": "postgres",
           "POSTGRES_DB": "postgres", **{k: v for k, v in variables.items() if k.startswith("MLOPS_DB")}}
    # Registered before the script runs, so a half-done setup is dropped too (databases first, then roles).
    pg_admin.databases.append(variables["MLOPS_DB_NAME"])
    pg_admin.roles.extend([variables["MLOPS_DB_OWNER"], variables["MLOPS_DB_READER"]])
    subprocess.run(["bash", str(REPO / "airflow_config" / "postgres" / "init-mlops-database.sh")], env=env,
                   check=True, capture_output=True, text=True)


def _wait_healthy(stack: AirflowStack, service: LocalService, env: dict[str, str], timeout: float = 120) -> None:
    """Run the compose health check of ``service`` until it passes, as Docker would."""
    deadline = time.monotonic() + timeout
    while True:
        for name, proc in stack.processes.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}; see {stack.home}/logs/{name}.out"
        result = stack.run_command(service.healthcheck, check=False, timeout=60, env=env)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"health check of {service.name} failing: {result.stdout}\n{result.stderr}")
        time.sleep(2)


@pytest.fixture(scope="module")
def distributed(tmp_path_factory, pg_admin, statsd_sink) -> Iterator[Distributed]:
    import redis

    reason = _redis_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (required in CI)")
        pytest.skip(reason)
    broker = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    broker.flushdb()

    home = tmp_path_factory.mktemp("airflow-celery")
    variables = _env_file(home / "deployment.env", uuid.uuid4().hex[:8])
    _setup_postgres(pg_admin, variables)
    model = load_compose(home / "deployment.env")

    api_port, health_port = free_port(), free_port()
    network = NetworkMap({
        "@postgres:5432/": "@127.0.0.1:5432/",
        "redis://redis:6379/0": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "http://api-server:8080/": f"http://127.0.0.1:{api_port}/",
        "http://localhost:8080/": f"http://127.0.0.1:{api_port}/",
        "http://localhost:8974/": f"http://127.0.0.1:{health_port}/",
        "/opt/airflow-mlops": str(REPO),
    })
    services = {name: local_service(model, name, network) for name in (INIT_SERVICE, *AIRFLOW_SERVICES)}
    local = {  # where these processes differ from the containers (see FAST_RECOVERY)
        "AIRFLOW_HOME": str(home), "HOSTNAME": _airflow_hostname(),
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "dag_bundles"),
        **statsd_sink.env(), **FAST_RECOVERY,
    }
    for service in services.values():
        # Every address of the compose network has its local counterpart: the topology is the same.
        assert not network.unmapped({**service.env, **local}), (service.name, network.unmapped(service.env))
    stack = AirflowStack(home, api_port=api_port, env_file=None, overrides=local,
                         secrets_={"AIRFLOW__API__SECRET_KEY": variables["AIRFLOW_SECRET_KEY"],
                                   "AIRFLOW__API_AUTH__JWT_SECRET": variables["AIRFLOW_JWT_SECRET"]})

    init = services[INIT_SERVICE]
    result = stack.run_command(init.argv, check=False, timeout=600, env={**init.env, **local})
    assert result.returncode == 0, f"{INIT_SERVICE} failed:\n{result.stdout}\n{result.stderr}"
    try:
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            service = services[name]
            stack.start_process(name, service.argv, {**service.env, **local})
        worker = services["airflow-worker"]
        for name in WORKERS:
            # Two replicas of the worker service (`--scale airflow-worker=2`): each its own Celery name and
            # log-server port, as two containers would have their own hostname.
            env = {**worker.env, **local, "HOSTNAME": name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            stack.start_process(name, [*worker.argv, "--celery-hostname", f"celery@{name}"], env)
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            _wait_healthy(stack, services[name], {**services[name].env, **local})
        for name in WORKERS:
            _wait_healthy(stack, worker, {**worker.env, **local, "HOSTNAME": name})
        yield Distributed(stack, services, variables, variables["MLOPS_DB_NAME"])
    finally:
        stack.stop()
        broker.flushdb()


def _airflow_hostname() -> str:
    """The hostname Airflow's jobs record (``[core] hostname_callable``), which the health checks query."""
    from airflow.utils.net import getfqdn

    return getfqdn()


def _workflow(name: str) -> dict:
    """A chain of TASKS steps; each sleeps a second (so a worker is caught mid-task) and adds its index to
    the previous step's result, so the last step returns 0 + 1 + ... only if every result crossed over."""
    tasks = [{"name": "step_0", "code": "import time\ntime.sleep(1)\nreturn 0"}]
    tasks += [{"name": f"step_{i}", "depends_on": [f"step_{i - 1}"],
               "code": f"import time\ntime.sleep(1)\nreturn step_{i - 1} + {i}"} for i in range(1, TASKS)]
    return {"name": name, "description": "distributed smoke", "retries": 2, "retry_delay_seconds": 1,
            "tasks": tasks}


def _workflow_v2(name: str) -> dict:
    """Version 2: step_3 and step_4 removed, a new ``final`` step after step_2 returning another shape."""
    v1 = _workflow(name)
    return {**v1, "tasks": [*v1["tasks"][:3], {"name": "final", "depends_on": ["step_2"],
                                              "code": "return {'v2': step_2}"}]}


TASK_TITLE = "airflow worker -- "  # the process title Airflow's task runner sets: "airflow worker -- <ti id>"


def _running_task_ids(worker: psutil.Process) -> set[str]:
    """Ids of the task instances whose code runs below ``worker`` right now (from their process titles)."""
    ids = set()
    for proc in worker.children(recursive=True):
        try:
            title = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if title.startswith(TASK_TITLE):
            ids.add(title.removeprefix(TASK_TITLE).strip())
    return ids


def _task_instances(session: requests.Session, base_url: str, dag_id: str, **filters: str) -> list[dict]:
    found: list[dict] = []
    while True:  # Airflow's API pages by at most 100
        page = session.get(f"{base_url}/api/v2/dags/{dag_id}/dagRuns/~/taskInstances", timeout=30,
                           params={"limit": 100, "offset": len(found), **filters}).json()["task_instances"]
        found += page
        if len(page) < 100:
            return found


def test_fifty_runs_on_two_celery_workers_survive_losing_one(distributed):
    headers = {"Authorization": f"Bearer {distributed.token()}"}
    session = requests.Session()
    session.headers.update(headers)
    name = f"distributed_{uuid.uuid4().hex[:6]}"
    resp = session.post(f"{distributed.base_url}{API}/workflows", json=_workflow(name), timeout=30)
    assert resp.status_code == 201, resp.text

    deadline = time.monotonic() + 120
    while session.get(f"{distributed.base_url}/api/v2/dags/{name}", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the dag-processor (read-only role) never produced the DAG"
        time.sleep(1)

    def trigger(i: int) -> str:
        r = session.post(f"{distributed.base_url}{API}/jobs/trigger/{resp.json()['id']}", timeout=60,
                         json={"params": {}, "description": f"run {i}"})
        assert r.status_code == 201, r.text
        return r.json()["dag_run_id"]

    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(trigger, range(RUNS)))
    assert len(set(run_ids)) == RUNS
    # While they run, the workflow is saved with another structure: the runs keep theirs (MLOps DAG bundle).
    url = f"{distributed.base_url}{API}/workflows/{resp.json()['id']}"
    etag = session.get(url, timeout=30).headers["ETag"]  # a save names the revision it is based on
    changed = session.put(url, json=_workflow_v2(name), headers={"If-Match": etag}, timeout=60)
    assert changed.status_code == 200, changed.text

    # Kill worker-1 (its whole process tree, as a lost machine) while it runs tasks.
    victim = psutil.Process(distributed.stack.processes[WORKERS[0]].pid)
    deadline = time.monotonic() + 300
    while not (killed_ids := _running_task_ids(victim)):
        assert time.monotonic() < deadline, "worker-1 never ran a task"
        time.sleep(0.1)
    doomed = [victim, *victim.children(recursive=True)]
    for proc in doomed:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(doomed, timeout=10)
    # The task instances that died with it (a task that finished in the same instant is not counted).
    lost = {(t["dag_run_id"], t["task_id"]) for t in
            _task_instances(session, distributed.base_url, name, state="running") if t["id"] in killed_ids}
    assert lost, f"none of {killed_ids} was still running when worker-1 died"

    states: dict[str, str] = {}
    deadline = time.monotonic() + 900
    with distributed.connect("postgres") as admin:
        plugin_db_users: set[str] = set()  # who reads the plugin's database while the tasks run
        while len(states) < RUNS or any(s not in ("success", "failed") for s in states.values()):
            assert time.monotonic() < deadline, f"runs not finished: {sorted(states.values())}"
            for _ in range(30):
                plugin_db_users |= {row[0] for row in admin.execute(
                    "SELECT usename FROM pg_stat_activity WHERE datname = %s", (distributed.mlops_db,))}
                time.sleep(0.1)
            listing = session.get(f"{distributed.base_url}/api/v2/dags/{name}/dagRuns?limit=100", timeout=30).json()
            states = {r["dag_run_id"]: r["state"] for r in listing["dag_runs"]}
    assert sorted(states) == sorted(run_ids)
    assert set(states.values()) == {"success"}, f"lost runs: {[r for r, s in states.items() if s != 'success']}"

    tis = _task_instances(session, distributed.base_url, name)
    assert len(tis) == RUNS * TASKS and {t["state"] for t in tis} == {"success"}
    tries = {(t["dag_run_id"], t["task_id"]): t["try_number"] for t in tis}
    # What worker-1 was running was failed by the scheduler (no heartbeat) and retried on worker-2.
    assert all(tries[key] >= 2 for key in lost), {key: tries[key] for key in lost}
    # The chain's results crossed workers intact: the last step returns 0+1+2+3+4 in every run.
    last = session.get(f"{distributed.base_url}/api/v2/dags/{name}/dagRuns/{run_ids[-1]}/taskInstances/"
                       f"step_{TASKS - 1}/xcomEntries/return_value", timeout=30).json()["value"]
    assert last == sum(range(TASKS))
    assert distributed.stack.processes[WORKERS[1]].poll() is None
    # The workers loaded each task's pinned code through the read-only role.
    assert distributed.variables["MLOPS_DB_READER"] in plugin_db_users, plugin_db_users
    # Every run carries version 1's bundle version; a run triggered now executes version 2 on the Celery workers.
    v1_revision = session.get(f"{distributed.base_url}{API}/workflows/{resp.json()['id']}/versions/1",
                              timeout=30).json()["store_revision"]
    assert {r["bundle_version"] for r in listing["dag_runs"]} == {str(v1_revision)}
    v2_run = session.post(f"{distributed.base_url}{API}/jobs/trigger/{resp.json()['id']}", timeout=60, json={})
    assert v2_run.status_code == 201, v2_run.text
    v2_run_id = v2_run.json()["dag_run_id"]
    deadline = time.monotonic() + 300
    while (run := session.get(f"{distributed.base_url}/api/v2/dags/{name}/dagRuns/{v2_run_id}", timeout=30).json()
           )["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, "the version 2 run did not finish"
        time.sleep(1)
    assert run["state"] == "success"
    v2_tis = session.get(f"{distributed.base_url}/api/v2/dags/{name}/dagRuns/{v2_run_id}/taskInstances",
                         timeout=30).json()["task_instances"]
    assert sorted((t["task_id"], t["state"]) for t in v2_tis) == [
        ("final", "success"), ("step_0", "success"), ("step_1", "success"), ("step_2", "success")]
    final = session.get(f"{distributed.base_url}/api/v2/dags/{name}/dagRuns/{v2_run_id}/taskInstances/final/"
                        "xcomEntries/return_value", timeout=30).json()["value"]
    assert final == {"v2": sum(range(3))}


def test_only_the_api_server_and_migrations_use_the_owner_role(distributed):
    reader, owner = distributed.variables["MLOPS_DB_READER"], distributed.variables["MLOPS_DB_OWNER"]
    for name, service in distributed.services.items():
        url = service.env["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"]
        expected = owner if name in ("api-server", INIT_SERVICE) else reader
        assert url.split("://", 1)[1].startswith(f"{expected}:"), f"{name} uses {url.split('@')[0]}"


def test_the_read_only_role_cannot_write(distributed):
    import psycopg

    reader, owner = distributed.variables["MLOPS_DB_READER"], distributed.variables["MLOPS_DB_OWNER"]
    with distributed.connect(owner) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'mlops%%'")]
        workflows = conn.execute("SELECT count(*) FROM mlops_workflow").fetchone()[0]
    assert "mlops_workflow" in tables and "mlops_state_event" in tables and workflows >= 1

    with distributed.connect(reader) as conn:
        # Every table, including those later migrations created, is readable...
        for table in tables:
            conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert conn.execute("SELECT count(*) FROM mlops_workflow").fetchone()[0] == workflows
        # ...and nothing is writable, even with the read-only default switched off in the session.
        conn.execute("SET default_transaction_read_only = off")
        attempts = [
            "UPDATE mlops_workflow SET description = 'changed'",
            "DELETE FROM mlops_audit_event",
            "INSERT INTO mlops_lease (name, holder, expires_at) VALUES ('x', 'y', now())",
            "TRUNCATE mlops_state_event",
            "CREATE TABLE mlops_intruder (id int)",
            "ALTER TABLE mlops_workflow ADD COLUMN intruder int",
        ]
        for sql in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    with distributed.connect(owner) as conn:
        assert conn.execute("SELECT count(*) FROM mlops_workflow WHERE description = 'changed'").fetchone()[0] == 0
