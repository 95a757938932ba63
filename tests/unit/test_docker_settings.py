"""Docker task settings: what is accepted, what is refused with which path, and the operator arguments."""

from __future__ import annotations

import pytest

from airflow_mlops_dag_factory.docker_task import MLOpsDockerOperator, as_env, docker_arguments, env_name, parse_output
from airflow_mlops_dag_factory.spec import DockerSpec
from airflow_mlops_dag_factory.validate_docker import bind_allowed, check_docker


def errors_of(**settings) -> dict[str, str]:
    return {e.path: e.message for e in check_docker(DockerSpec.model_validate({"image": "python:3.11", **settings}), "d")}


@pytest.mark.parametrize("image", ["python:3.11-slim", "registry.example.com:5000/team/train:1.2", "busybox",
                                   "ghcr.io/org/img@sha256:" + "a" * 64, "localhost/localtest:latest"])
def test_good_images(image):
    assert errors_of(image=image) == {}


@pytest.mark.parametrize("image", ["Not An Image", "UPPER", "img:tag with space", "img:", "/leading", "a//b"])
def test_bad_images(image):
    assert set(errors_of(image=image)) == {"d.image"}


def test_commands_and_templates():
    assert errors_of(command=["python", "train.py", "--epochs", "{{ params.epochs }}"]) == {}
    assert errors_of(command="run.sh --fast") == {}
    assert errors_of(command='["a", "b"]') == {}
    assert set(errors_of(command="[1, 2]")) == {"d.command"}
    assert set(errors_of(command=[])) == {"d.command"}
    assert set(errors_of(command=["ok", "{{ params.x"])) == {"d.command[1]"}
    assert set(errors_of(environment={"A": "{% if %}"})) == {"d.environment.A"}


def test_environment_names_and_secrets():
    errors = errors_of(environment={"1BAD": "x", "MLOPS_PARAMS": "x", "DB_PASSWORD": "x", "OK": "x"},
                       secret_environment={"OK": {"variable": "v"}, "BOTH": {"variable": "v", "connection": "c"},
                                           "NONE": {}, "FIELD": {"variable": "v", "field": "login"},
                                           "CONN": {"connection": "db", "field": "login"}})
    assert set(errors) == {"d.environment.1BAD", "d.environment.MLOPS_PARAMS", "d.environment.DB_PASSWORD",
                           "d.environment.OK", "d.secret_environment.BOTH", "d.secret_environment.NONE",
                           "d.secret_environment.FIELD.field"}
    assert "secret_environment" in errors["d.environment.DB_PASSWORD"]


def test_mounts_are_limited_to_the_allowed_roots(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__MLOPS__DOCKER_BIND_ROOTS", f"{tmp_path}/data,{tmp_path}/models")
    ok = [{"source": f"{tmp_path}/data/set1", "target": "/data", "read_only": True},
          {"source": "cache_vol", "target": "/cache", "type": "volume"}, {"type": "tmpfs", "target": "/scratch"}]
    assert errors_of(mounts=ok) == {}
    errors = errors_of(mounts=[{"source": "/etc", "target": "/etc"},
                               {"source": f"{tmp_path}/data/../../etc", "target": "/x"},
                               {"source": f"{tmp_path}/database", "target": "/y"},
                               {"source": "vol/ume", "target": "/z", "type": "volume"},
                               {"type": "tmpfs", "source": "x", "target": "relative"},
                               {"source": f"{tmp_path}/data", "target": "/data"},
                               {"source": f"{tmp_path}/data", "target": "/data"}])
    assert set(errors) == {"d.mounts[0].source", "d.mounts[1].source", "d.mounts[2].source", "d.mounts[3].source",
                           "d.mounts[4].source", "d.mounts[4].target", "d.mounts[6].target"}
    assert bind_allowed(f"{tmp_path}/models") and not bind_allowed(f"{tmp_path}/models2")


def test_resources_network_and_engine():
    assert errors_of(cpus=0.5, mem_limit="512m", network_mode="none", docker_url="unix:///run/podman.sock") == {}
    assert set(errors_of(mem_limit="lots", network_mode="bad name", docker_url="/run/docker.sock", working_dir="rel")) == {
        "d.mem_limit", "d.network_mode", "d.docker_url", "d.working_dir"}


def test_operator_arguments_follow_the_provider(monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__DOCKER_URL", "unix:///tmp/engine.sock")
    spec = DockerSpec.model_validate({"image": "busybox", "command": "run.sh", "skip_on_exit_code": 99,
                                      "mounts": [{"type": "tmpfs", "target": "/t"}]})
    arguments = docker_arguments(spec)
    assert arguments["docker_url"] == "unix:///tmp/engine.sock" and arguments["auto_remove"] == "success"
    assert arguments["mounts"] == [{"target": "/t", "source": None, "type": "tmpfs", "read_only": False}]
    assert "cpus" not in arguments and arguments["mount_tmp_dir"] is False
    operator = MLOpsDockerOperator(task_id="t", workflow_id="w", task_name="t", built_version=1,
                                   secret_environment={}, upstream=[], **arguments)
    assert operator.skip_on_exit_code == [99] and operator.template_ext == ()
    assert docker_arguments(spec.model_copy(update={"docker_url": "tcp://engine:2375"}))["docker_url"] == "tcp://engine:2375"


def test_values_cross_into_the_container_as_text():
    assert [as_env(v) for v in ("fast", 7, 0.5, True, None, [1, "a"])] == ["fast", "7", "0.5", "true", "null", '[1, "a"]']
    assert env_name("train-model.v2") == "TRAIN_MODEL_V2"
    assert parse_output('{"acc": 0.9}') == {"acc": 0.9} and parse_output("done") == "done" and parse_output(None) is None
