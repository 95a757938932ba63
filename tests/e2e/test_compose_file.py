"""docker-compose.yml: valid for Compose, no secret committed, and the same topology test_distributed.py runs.

`docker-compose config` (Debian's docker-compose, installed by `make test`) validates and renders the file;
its rendering must equal what compose_topology reads, so the processes the distributed test starts are the
compose services' own commands and environment. No Docker engine runs here, so no image is built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from compose_topology import (
    AIRFLOW_SERVICES,
    COMPOSE_FILE,
    INIT_SERVICE,
    REPO,
    MissingVariable,
    load_compose,
)

from airflow_mlops_dag_factory import bundle

IN_CI = os.environ.get("CI", "").lower() == "true"
ENV_EXAMPLE = REPO / ".env.example"
MONITORING = ("statsd-exporter", "prometheus", "grafana")


def _compose_cli() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], check=False, capture_output=True).returncode == 0:
        return ["docker", "compose"]
    reason = "docker compose is not installed (make test installs Debian's docker-compose)"
    if IN_CI:
        pytest.fail(f"{reason}; required in CI")
    pytest.skip(reason)


@pytest.fixture
def env_file(tmp_path) -> Path:
    """.env as an operator makes it from .env.example (the compose file's env_file points at it)."""
    path = tmp_path / "deployment.env"
    path.write_text(ENV_EXAMPLE.read_text() + f"MLOPS_ENV_FILE={path}\n")
    return path


def _render(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*_compose_cli(), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE),
                           "--env-file", str(env_file), "config"], check=False, capture_output=True, text=True, cwd=REPO)


def test_compose_validates_and_renders_what_the_distributed_test_runs(env_file):
    result = _render(env_file)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    ours = load_compose(env_file)["services"]
    assert set(rendered) == set(ours)
    for name in (INIT_SERVICE, *AIRFLOW_SERVICES):
        theirs, mine = rendered[name], ours[name]
        assert {k: str(v) for k, v in theirs["environment"].items()} == mine["environment"], name
        for key in ("command", "entrypoint", "image"):
            # Compose prints `$$` escaped; compose_topology gives the value the container sees.
            assert str(theirs.get(key)).replace("$$", "$") == str(mine.get(key)), (name, key)


def test_the_airflow_services_are_exactly_the_tested_topology(env_file):
    services = load_compose(env_file)["services"]
    image = services["api-server"]["image"]
    airflow = {name for name, s in services.items() if s.get("image") == image}
    # Nothing runs the Airflow image that the distributed test does not run as a process.
    assert airflow == {INIT_SERVICE, *AIRFLOW_SERVICES}
    assert set(services) == airflow | {"postgres", "redis", *MONITORING}
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"api-server": "api-server", "scheduler": "scheduler", "dag-processor": "dag-processor",
                        "triggerer": "triggerer", "airflow-worker": "celery worker"}
    for name in airflow:
        service = services[name]
        assert service["build"]["context"] == "." and service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        # Every service knows the MLOps DAG bundle: workers build each run's bundle version from it.
        bundles = json.loads(service["environment"]["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
        assert [(b["name"], b["classpath"]) for b in bundles] == [("mlops", bundle.CLASSPATH)]
        assert service["environment"]["AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL"] == "0"
        assert service["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends[INIT_SERVICE]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
    # Workers can be scaled: no fixed container name or host port.
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    # Every long-running service says when it is healthy.
    for name in ("postgres", "redis", *AIRFLOW_SERVICES, *MONITORING):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    init = " ".join(services[INIT_SERVICE]["command"])
    assert "airflow db migrate" in init and "airflow users create" in init and "airflow-mlops templates load" in init


def test_every_airflow_setting_in_the_compose_file_exists(env_file):
    """A misspelt AIRFLOW__SECTION__KEY would be silently ignored by Airflow."""
    from airflow.configuration import conf

    services = load_compose(env_file)["services"]
    keys = {key for name in (INIT_SERVICE, *AIRFLOW_SERVICES) for key in services[name]["environment"]
            if key.startswith("AIRFLOW__")}
    known = conf.configuration_description  # Airflow's, its providers' and the plugin's documented options

    def exists(key: str) -> bool:
        section, option = key.lower().split("__")[1:3]
        return option in known.get(section, {}).get("options", {})
    unknown = [key for key in sorted(keys) if not exists(key)]
    assert not unknown


def test_the_image_is_the_official_airflow_image_with_this_package():
    dockerfile = (REPO / "Dockerfile").read_text()
    airflow = re.search(r"^apache-airflow==(.+)$", (REPO / "airflow_config/constraints.txt").read_text(), re.MULTILINE)[1]
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{airflow}-python3.11" in dockerfile
    assert "FROM ${AIRFLOW_IMAGE}" in dockerfile
    assert re.search(r"pip install .*-c /opt/airflow-mlops/airflow_config/constraints.txt", dockerfile.replace("\\\n", ""))
    assert '"/opt/airflow-mlops[postgres,celery]"' in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def test_no_secret_is_committed(tmp_path, env_file):
    text = COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = ENV_EXAMPLE.read_text()
    # Each required secret is listed in .env.example, with a placeholder, and has no default in the compose file.
    for name in required:
        assert re.search(rf"^{name}=replace-me", example, re.MULTILINE), name
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} has a default value"
    assert {"POSTGRES_PASSWORD", "MLOPS_DB_OWNER_PASSWORD", "MLOPS_DB_READER_PASSWORD", "AIRFLOW_FERNET_KEY",
            "AIRFLOW_SECRET_KEY", "AIRFLOW_JWT_SECRET", "MLOPS_METRICS_TOKEN", "GRAFANA_PASSWORD"} <= required
    assert ".env" in (REPO / ".gitignore").read_text().split()
    # Without a secret, Compose refuses the file and names the variable (and so does our reader).
    incomplete = tmp_path / "incomplete.env"
    incomplete.write_text(re.sub(r"^AIRFLOW_JWT_SECRET=.*\n", "", env_file.read_text(), flags=re.MULTILINE))
    result = _render(incomplete)
    assert result.returncode != 0 and "AIRFLOW_JWT_SECRET" in result.stderr
    with pytest.raises(MissingVariable, match="AIRFLOW_JWT_SECRET"):
        load_compose(incomplete)
