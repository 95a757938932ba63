"""What MLflow tracking sends and where: the target from the setting or an Airflow Connection, and a run's
parameters and metrics as MLflow keeps them. (The export itself runs against a real MLflow server in
e2e/test_mlflow_tracking.py.)"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_mlops.services import runs, tracking
from airflow_mlops.services.airflow_dags import TaskOutputs

CONN = "AIRFLOW_CONN_MLFLOW_DEFAULT"


def test_the_setting_wins_over_the_connection(monkeypatch, airflow_db):
    monkeypatch.setenv("AIRFLOW__MLOPS__MLFLOW_TRACKING_URI", "http://mlflow.example:5000/")
    monkeypatch.setenv("AIRFLOW__MLOPS__MLFLOW_UI_URL", "https://mlflow.example")
    monkeypatch.setenv(CONN, json.dumps({"conn_type": "http", "host": "other"}))
    assert tracking.target() == tracking.Target("http://mlflow.example:5000", ui_url="https://mlflow.example")


@pytest.mark.parametrize(("conn", "uri"), [
    ({"conn_type": "http", "host": "mlflow.internal", "port": 5001}, "http://mlflow.internal:5001"),
    ({"conn_type": "http", "host": "mlflow.internal", "schema": "https"}, "https://mlflow.internal"),
    ({"conn_type": "http", "host": "https://mlflow.example/prefix/"}, "https://mlflow.example/prefix"),
])
def test_the_connection_gives_the_server_and_how_to_sign_in(monkeypatch, airflow_db, conn, uri):
    monkeypatch.delenv("AIRFLOW__MLOPS__MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv(CONN, json.dumps({**conn, "login": "ml", "password": "secret",
                                         "extra": {"ui_url": "https://ui.example"}}))
    assert tracking.target() == tracking.Target(uri, username="ml", password="secret", ui_url="https://ui.example")


def test_without_the_setting_or_the_connection_tracking_is_off(monkeypatch, airflow_db):
    monkeypatch.delenv("AIRFLOW__MLOPS__MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(CONN, raising=False)
    assert tracking.target() is None


def test_a_run_is_sent_with_its_params_as_text_and_every_logged_step():
    ended = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    record = runs.RunRecord(
        id="r1", workflow_id="w1", workflow_name="churn", version=3, dag_id="churn", dag_run_id="manual__1",
        params={"lr": 0.1, "layers": [64, 32], "name": "a b", "fast": True}, description="", state="success",
        triggered_by="ann", source="plugin", created_at=ended, started_at=ended, ended_at=ended,
        metrics={"train": {"loss": 0.2, "accuracy": 0.9}, "eval": {"f1": 0.8}})
    outputs = TaskOutputs(steps={("train", -1): {"loss": [[0, 0.5, 1000], [1, 0.2, 2000]]},
                                 ("fold", 2): {"auc": [[0, 0.7, 3000]]}, ("bad", -1): "not points"})
    assert tracking._params(record) == {"lr": "0.1", "layers": "[64, 32]", "name": "a b", "fast": "true",
                                        "mlops.workflow_version": "3"}
    end = int(ended.timestamp() * 1000)
    sent = tracking._metrics(record, outputs)
    assert len(sent) == 5 and set(sent) == {
        tracking.Metric("train.loss", 0.5, 1000, 0), tracking.Metric("train.loss", 0.2, 2000, 1),
        tracking.Metric("fold.2.auc", 0.7, 3000, 0),
        tracking.Metric("train.accuracy", 0.9, end, 0), tracking.Metric("eval.f1", 0.8, end, 0)}
