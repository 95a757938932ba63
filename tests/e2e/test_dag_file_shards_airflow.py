"""Real Airflow: with ``[mlops] dag_file_shards = 2`` the dag-processor parses both DAG files, and each
workflow's DAG comes from the file of its shard (one ``airflow dag-processor --num-runs 1`` cycle).

With the MLOps DAG bundle the bundle writes the shard files itself; in a plain dags folder (a deployment
without the bundle) ``airflow-mlops shards write`` makes them."""

from __future__ import annotations

import json
import sqlite3
import sys
import zlib
from pathlib import Path

from stack import REPO, AirflowStack

NAMES = [f"shard_wf_{i}" for i in range(6)]
CREATE = """
import json, sys
from airflow_mlops.services import workflows
from airflow_mlops.services.actors import Actor
for name in json.loads(sys.argv[1]):
    workflows.create_workflow({"name": name, "tasks": [{"name": "t", "code": "return 1"}]}, Actor.system("e2e"))
"""


def parse_once(stack: AirflowStack) -> dict[str, tuple[str, str]]:
    stack.run_command([sys.executable, "-c", CREATE, json.dumps(NAMES)])
    stack.run_command(["airflow", "dag-processor", "--num-runs", "1"], timeout=240)
    with sqlite3.connect(stack.home / "airflow.db") as conn:
        return {dag_id: (bundle, path) for dag_id, bundle, path in
                conn.execute("SELECT dag_id, bundle_name, relative_fileloc FROM dag")}


def expected(bundle: str) -> dict[str, tuple[str, str]]:
    files = {n: "mlops_workflows.py" if zlib.crc32(n.encode()) % 2 == 0 else "mlops_workflows_shard_1.py" for n in NAMES}
    assert set(files.values()) == {"mlops_workflows.py", "mlops_workflows_shard_1.py"}  # both files hold DAGs
    return {n: (bundle, f) for n, f in files.items()}


SECRETS = {"AIRFLOW__API__SECRET_KEY": "shards-e2e-secret", "AIRFLOW__API_AUTH__JWT_SECRET": "shards-e2e-jwt-0123456789"}


def test_dags_spread_over_two_files_of_the_bundle_are_all_parsed(tmp_path: Path):
    stack = AirflowStack(tmp_path / "home", secrets_=SECRETS, overrides={"AIRFLOW__MLOPS__DAG_FILE_SHARDS": "2"})
    stack.migrate()
    # The bundle also writes the DAG file of the editor's test runs.
    assert parse_once(stack) == {**expected("mlops"), "mlops_test_runs": ("mlops", "mlops_test_runs.py")}
    written = sorted(p.name for p in (tmp_path / "home" / "dag_bundles" / "mlops" / "tracking").glob("*.py"))
    assert written == ["mlops_test_runs.py", "mlops_workflows.py", "mlops_workflows_shard_1.py"]


def test_dags_spread_over_two_files_of_a_plain_dags_folder_are_all_parsed(tmp_path: Path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "mlops_workflows.py").write_text((REPO / "dags" / "mlops_workflows.py").read_text())
    stack = AirflowStack(tmp_path / "home", secrets_=SECRETS, overrides={
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__MLOPS__DAG_FILE_SHARDS": "2",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST":
            '[{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}}]'})
    stack.migrate()
    written = json.loads(stack.run_command(["airflow-mlops", "shards", "write"]).stdout)
    assert [Path(p).name for p in written["written"]] == ["mlops_workflows_shard_1.py"]
    assert parse_once(stack) == expected("dags-folder")
