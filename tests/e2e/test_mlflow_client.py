"""The MLflow REST client against a real ``mlflow server`` (tests/e2e/mlflow_server.py): no Airflow needed.

What the client wrote is read back through MLflow's own REST API, never through the client under test.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from mlflow_server import MlflowServer, Reader

from airflow_mlops.tracking.mlflow_rest import Metric, MlflowClient, MlflowRun, TrackingError

T0 = 1_780_000_000_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(mlflow_server) -> Iterator[MlflowClient]:
    if not mlflow_server.running():  # a failed outage test must not take the others down with it
        mlflow_server.start()
    with MlflowClient(mlflow_server.uri, timeout=10) as mlflow:
        yield mlflow


@pytest.fixture
def reader(mlflow_server) -> Reader:
    return Reader(mlflow_server.uri)


@pytest.fixture
def run(client) -> MlflowRun:
    experiment = client.experiment_id(unique("exp"))
    return client.create_run(experiment, unique("run"), T0, {"airflow.dag_id": "churn"})


def test_experiment_get_or_create_gives_one_id(client, reader):
    name = unique("churn model")
    first = client.experiment_id(name)
    assert client.experiment_id(name) == first
    found = reader.get("experiments/get-by-name", experiment_name=name)["experiment"]
    assert found["experiment_id"] == first and found["lifecycle_stage"] == "active"


def test_concurrent_creation_of_one_experiment_gives_one_id(mlflow_server):
    """Workers exporting their first runs at once race on creating the experiment: all get the same one."""
    name = unique("raced")
    barrier = threading.Barrier(8)
    ids: list[str] = []
    errors: list[BaseException] = []

    def export() -> None:
        with MlflowClient(mlflow_server.uri) as mlflow:
            barrier.wait()
            try:
                ids.append(mlflow.experiment_id(name))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(ids) == 8 and len(set(ids)) == 1


def test_a_deleted_experiment_is_restored(client, reader):
    name = unique("deleted")
    experiment = client.experiment_id(name)
    reader.post("experiments/delete", {"experiment_id": experiment})
    assert reader.get("experiments/get", experiment_id=experiment)["experiment"]["lifecycle_stage"] == "deleted"
    assert client.experiment_id(name) == experiment
    assert reader.get("experiments/get", experiment_id=experiment)["experiment"]["lifecycle_stage"] == "active"


def test_create_run_with_tags(client, reader):
    experiment = client.experiment_id(unique("exp"))
    run_name = unique("manual__2026-01-01")
    created = client.create_run(experiment, run_name, T0, {"airflow.dag_id": "churn", "airflow.run_id": run_name})
    assert created.experiment_id == experiment and created.artifact_uri.startswith("mlflow-artifacts:/")
    stored = reader.run(created.run_id)
    assert stored["info"]["run_name"] == run_name and stored["info"]["status"] == "RUNNING"
    assert int(stored["info"]["start_time"]) == T0
    tags = reader.data(created.run_id, "tags")
    assert tags["airflow.dag_id"] == "churn" and tags["airflow.run_id"] == run_name
    assert client.get_run(created.run_id) == created


def test_log_batch_of_thousands_of_points_params_and_tags(client, reader, run):
    """2500 points of one metric, 150 params and 120 tags: more than one request can carry (1000 items,
    100 params, 100 tags), all stored."""
    points = [Metric("loss", 1.0 / (step + 1), T0 + step, step) for step in range(2500)]
    params = {f"param_{i}": f"value {i}" for i in range(150)}
    tags = {f"tag.{i}": f"t{i}" for i in range(120)}
    client.log_batch(run.run_id, params=params, metrics=points + [Metric("accuracy", 0.93, T0)], tags=tags)

    history = sorted(reader.history(run.run_id, "loss"), key=lambda p: p["step"])
    assert [int(p["step"]) for p in history] == list(range(2500))
    assert all(p["value"] == 1.0 / (int(p["step"]) + 1) for p in history)  # exact: doubles survive JSON
    assert all(int(p["timestamp"]) == T0 + int(p["step"]) for p in history)
    assert reader.history(run.run_id, "accuracy")[0]["value"] == 0.93
    assert reader.data(run.run_id, "params") == params
    stored_tags = reader.data(run.run_id, "tags")
    assert all(stored_tags[k] == v for k, v in tags.items())


def test_long_keys_and_values_are_cut_to_mlflow_limits(client, reader, run):
    long_key = "k" * 300
    client.log_batch(run.run_id, params={"big": "p" * 7000, long_key: "x"}, tags={"note": "t" * 9000},
                     metrics=[Metric("m" * 300, 1.0, T0)])
    params = reader.data(run.run_id, "params")
    assert params["big"] == "p" * 6000 and params["k" * 250] == "x"
    assert reader.data(run.run_id, "tags")["note"] == "t" * 8000
    assert reader.history(run.run_id, "m" * 250)[0]["value"] == 1.0


def test_large_values_are_split_within_the_request_size_limit(client, reader, run):
    """100 params of 6000 and 100 tags of 8000 characters are 1.4 MB: over MLflow's 1 MB per request."""
    params = {f"p{i}": chr(0x3B1 + i % 20) * 6000 for i in range(100)}  # non-ASCII: 6 bytes each in JSON
    tags = {f"t{i}": "v" * 8000 for i in range(100)}
    client.log_batch(run.run_id, params=params, tags=tags)
    assert reader.data(run.run_id, "params") == params
    stored = reader.data(run.run_id, "tags")
    assert all(stored[k] == v for k, v in tags.items())


def test_non_finite_metric_values_are_sent_as_mlflow_encodes_them(client, reader, run):
    client.log_batch(run.run_id, metrics=[Metric("score", math.nan, T0, 0), Metric("score", math.inf, T0, 1),
                                          Metric("score", -math.inf, T0, 2), Metric("score", 0.5, T0, 3)])
    values = {int(p["step"]): p["value"] for p in reader.history(run.run_id, "score")}
    assert values[0] == "NaN"  # MLflow keeps NaN; SQL stores cannot hold infinities, MLflow clamps them
    assert values[1] == 1.7976931348623157e308 and values[2] == -1.7976931348623157e308 and values[3] == 0.5


def test_relogging_the_same_param_is_harmless_and_a_changed_one_is_refused(client, reader, run):
    client.log_batch(run.run_id, params={"lr": "0.1"})
    client.log_batch(run.run_id, params={"lr": "0.1"})
    with pytest.raises(TrackingError) as err:
        client.log_batch(run.run_id, params={"lr": "0.2"})
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and "INVALID_PARAMETER_VALUE" in str(err.value)
    assert reader.data(run.run_id, "params") == {"lr": "0.1"}


def test_nested_artifacts_are_uploaded_byte_identical(client, reader, mlflow_server, run, tmp_path):
    folder = tmp_path / "out"
    files = {
        "model/model.bin": os.urandom(3 * 1024 * 1024 + 7),
        "model/meta/conda.yaml": b"name: churn\n",
        "reports/sub dir/r\u00e9sum\u00e9 (50%) & co+1.txt": "caf\u00e9 \u2713\n".encode(),
        "empty.txt": b"",
        "top.json": b'{"auc": 0.9}',
    }
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)

    assert client.upload_artifacts(run, folder) == len(files)

    assert reader.artifacts(run.run_id) == {path: len(content) for path, content in files.items()}
    prefix = run.artifact_uri.removeprefix("mlflow-artifacts:/")
    for relative, content in files.items():
        proxied = requests.get(f"{mlflow_server.uri}/api/2.0/mlflow-artifacts/artifacts/{prefix}/{quote(relative)}",
                               timeout=30)
        assert proxied.status_code == 200 and proxied.content == content, relative
        served = requests.get(f"{mlflow_server.uri}/get-artifact", params={"path": relative, "run_uuid": run.run_id},
                              timeout=30)
        assert served.status_code == 200 and served.content == content, relative


def test_artifacts_not_served_by_the_tracking_server_are_refused_clearly(client, reader, tmp_path):
    """An experiment whose artifacts live elsewhere (a path, s3://) cannot be uploaded to through the server."""
    (tmp_path / "a.txt").write_text("a")
    experiment = reader.post("experiments/create", {"name": unique("elsewhere"),
                                                    "artifact_location": str(tmp_path / "store")})["experiment_id"]
    elsewhere = client.create_run(experiment, "r", T0, {})
    assert not elsewhere.artifact_uri.startswith("mlflow-artifacts:")
    for target in (elsewhere, MlflowRun(elsewhere.run_id, experiment, "s3://bucket/1/abc/artifacts")):
        with pytest.raises(TrackingError, match="not served by the MLflow tracking server.*serve-artifacts"):
            client.upload_artifacts(target, tmp_path)


def test_paths_mlflow_refuses_fail_before_anything_is_uploaded(client, reader, run, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "notes #1.txt").write_text("b")
    with pytest.raises(TrackingError, match="refuses artifact paths containing '#': notes #1.txt"):
        client.upload_artifacts(run, tmp_path)
    assert reader.artifacts(run.run_id) == {}


def test_reuploading_overwrites(client, reader, mlflow_server, run, tmp_path):
    (tmp_path / "a.txt").write_text("first version")
    assert client.upload_artifacts(run, tmp_path) == 1
    (tmp_path / "a.txt").write_text("second")
    assert client.upload_artifacts(run, tmp_path) == 1
    assert reader.artifacts(run.run_id) == {"a.txt": 6}


def test_finish_run_sets_status_and_end_time(client, reader, run):
    client.finish_run(run.run_id, "FINISHED", T0 + 60_000)
    info = reader.run(run.run_id)["info"]
    assert info["status"] == "FINISHED" and int(info["end_time"]) == T0 + 60_000
    failed = client.create_run(run.experiment_id, "failed one", T0, {})
    client.finish_run(failed.run_id, "FAILED", T0 + 1)
    assert reader.run(failed.run_id)["info"]["status"] == "FAILED"
    with pytest.raises(ValueError, match="FINISHED, FAILED, KILLED"):
        client.finish_run(run.run_id, "SUCCESS", T0)


def test_run_url(mlflow_server):
    run = MlflowRun("abc123", "7", "mlflow-artifacts:/7/abc123/artifacts")
    assert MlflowClient(mlflow_server.uri + "/").run_url(run) == f"{mlflow_server.uri}/#/experiments/7/runs/abc123"
    ui = MlflowClient(mlflow_server.uri, ui_url="https://mlflow.example.com/")
    assert ui.run_url(run) == "https://mlflow.example.com/#/experiments/7/runs/abc123"


def test_the_run_url_opens_mlflow_ui(client, mlflow_server, run):
    page = requests.get(client.run_url(run).split("#")[0], timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_unknown_run_names_mlflow_error_code(client):
    with pytest.raises(TrackingError) as err:
        client.get_run(uuid.uuid4().hex)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST" and err.value.status == 404
    assert "RESOURCE_DOES_NOT_EXIST" in str(err.value)
    with pytest.raises(TrackingError, match="RESOURCE_DOES_NOT_EXIST"):
        client.log_batch(uuid.uuid4().hex, params={"a": "b"})


def test_not_an_http_tracking_uri_is_refused():
    for uri in ("file:///tmp/mlruns", "databricks", "127.0.0.1:5000"):
        with pytest.raises(ValueError, match="http"):
            MlflowClient(uri)


def every_call(mlflow: MlflowClient, run: MlflowRun, folder: Path) -> dict[str, Any]:
    return {
        "experiment_id": lambda: mlflow.experiment_id("any"),
        "create_run": lambda: mlflow.create_run(run.experiment_id, "r", T0, {"a": "b"}),
        "get_run": lambda: mlflow.get_run(run.run_id),
        "log_batch": lambda: mlflow.log_batch(run.run_id, params={"a": "b"}, metrics=[Metric("m", 1.0, T0)]),
        "upload_artifacts": lambda: mlflow.upload_artifacts(run, folder),
        "finish_run": lambda: mlflow.finish_run(run.run_id, "FINISHED", T0),
    }


def test_with_the_server_stopped_every_call_raises_tracking_error_quickly(mlflow_server, reader, run, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    mlflow_server.stop()
    try:
        with MlflowClient(mlflow_server.uri, timeout=3) as mlflow:
            for name, call in every_call(mlflow, run, tmp_path).items():
                started = time.monotonic()
                with pytest.raises(TrackingError, match="unreachable") as err:
                    call()
                assert time.monotonic() - started < 3 + 2, name
                assert err.value.error_code is None and err.value.status is None, name
    finally:
        mlflow_server.start()
    # Same port, same store: what was written before the outage is still there, and calls work again.
    assert reader.run(run.run_id)["info"]["run_id"] == run.run_id
    with MlflowClient(mlflow_server.uri) as mlflow:
        mlflow.finish_run(run.run_id, "FINISHED", T0 + 1)
    assert reader.run(run.run_id)["info"]["status"] == "FINISHED"


def test_a_server_that_never_answers_raises_tracking_error_within_the_timeout(run, tmp_path):
    """A listening socket that never accepts: connections complete (the kernel's backlog), answers never come."""
    (tmp_path / "f.txt").write_text("x")
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        with MlflowClient(f"http://127.0.0.1:{hung.getsockname()[1]}", timeout=1.0) as mlflow:
            for name, call in every_call(mlflow, run, tmp_path).items():
                started = time.monotonic()
                with pytest.raises(TrackingError, match="timed out"):
                    call()
                assert time.monotonic() - started < 1.0 + 2, name


def test_basic_auth_against_mlflow_auth_app(mlflow_server, tmp_path):
    """MLflow's own basic-auth app: no or wrong credentials are a TrackingError naming HTTP 401; right ones work."""
    with MlflowServer(tmp_path / "auth", admin=("mlops-admin", "pw-5e4d3c2b1a")) as secured:
        for credentials in ({}, {"username": "mlops-admin", "password": "wrong"}):
            with MlflowClient(secured.uri, **credentials) as mlflow:
                with pytest.raises(TrackingError, match="HTTP 401") as err:
                    mlflow.experiment_id("secured")
                assert err.value.status == 401 and "pw-5e4d3c2b1a" not in str(err.value)
        with MlflowClient(secured.uri, username="mlops-admin", password="pw-5e4d3c2b1a") as mlflow:
            run = mlflow.create_run(mlflow.experiment_id("secured"), "r", T0, {"a": "b"})
            mlflow.log_batch(run.run_id, params={"p": "1"}, metrics=[Metric("m", 2.0, T0)])
            (tmp_path / "art").mkdir()
            (tmp_path / "art" / "f.txt").write_text("secured")
            assert mlflow.upload_artifacts(run, tmp_path / "art") == 1
            mlflow.finish_run(run.run_id, "FINISHED", T0 + 1)
            assert mlflow.get_run(run.run_id) == run
        page = requests.get(f"{secured.uri}/api/2.0/mlflow/runs/get", params={"run_id": run.run_id},
                            auth=("mlops-admin", "pw-5e4d3c2b1a"), timeout=30).json()["run"]
        assert page["info"]["status"] == "FINISHED" and page["data"]["params"] == [{"key": "p", "value": "1"}]
