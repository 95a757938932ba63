"""`make run` (the README's first command) brings up Airflow with the plugin and prints a working login."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from stack import REPO, free_port


def test_make_run_serves_airflow_with_the_plugin(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    # Reuse this venv (RUN_DEPS= skips the install step, which `make test` has just exercised).
    cmd = ["make", "-s", "run", f"VENV={sys.prefix}", "RUN_DEPS=", f"PORT={port}", f"MLOPS_HOME={tmp_path / 'home'}"]
    out_path = tmp_path / "make_run.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        login = _wait_for_login(proc, out_path)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/v2/monitor/health", timeout=10).status_code == 200
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": login}, timeout=10)
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        plugins = requests.get(f"{base}/api/v2/plugins", headers=headers, timeout=10).json()["plugins"]
        assert "mlops" in [p["name"] for p in plugins]
        assert (tmp_path / "home" / "mlops.db").exists()  # the plugin tables were migrated
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    assert "Airflow with the MLOps plugin is up" in out_path.read_text()


def _wait_for_login(proc: subprocess.Popen, out_path: Path, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"login: admin / (\S+)", out_path.read_text())
        if match:
            return match.group(1)
        assert proc.poll() is None, f"make run exited early:\n{out_path.read_text()}"
        time.sleep(0.5)
    raise TimeoutError(f"make run printed no login within {timeout}s:\n{out_path.read_text()}")
