"""A real MLflow tracking server on 127.0.0.1 for the tracking tests, run from its own venv.

``make mlflow-server`` makes ``.venv-mlflow`` (mlflow's pins fight Airflow's constraints, so it never shares
Airflow's venv). The server keeps its runs in SQLite and serves artifacts itself (``mlflow-artifacts:/``
URIs, files under ``artifacts/``), both in the folder it is given, so :meth:`MlflowServer.stop` and
:meth:`MlflowServer.start` again on the same port find the same runs: a test can take MLflow down and bring
it back. It runs in a process group of its own, and only that group is ever signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
MLFLOW = REPO / ".venv-mlflow" / "bin" / "mlflow"
START_TIMEOUT = 120  # the first start migrates a new SQLite store


def missing_mlflow() -> str | None:
    """Why no server can be started here, or None."""
    if not os.access(MLFLOW, os.X_OK):
        return f"{MLFLOW} missing: run `make mlflow-server` (a venv of its own with the pinned mlflow)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """``mlflow server`` with a SQLite store and proxied artifact storage under ``base``."""

    def __init__(self, base: Path, port: int | None = None, admin: tuple[str, str] | None = None) -> None:
        """``admin`` (user, password) turns on MLflow's basic-auth app: every request then needs credentials."""
        self.base = Path(base)
        self.admin = admin
        self.port = port or _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / "server.log"

    def command(self) -> list[str]:
        hosts = f"127.0.0.1:{self.port},localhost:{self.port}"
        return [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                "--backend-store-uri", f"sqlite:///{self.base / 'mlflow.db'}",
                "--artifacts-destination", str(self.base / "artifacts"),
                # Host-header check (against DNS rebinding) on, allowing exactly the addresses the tests use.
                "--allowed-hosts", hosts, "--cors-allowed-origins", f"http://{hosts.replace(',', ',http://')}",
                *(["--app-name", "basic-auth"] if self.admin else [])]

    def start(self) -> MlflowServer:
        if self.running():
            return self
        self.base.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
               # The job runner (huey consumers for GenAI features) is not needed and would double the processes.
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
        if self.admin:
            config = self.base / "basic_auth.ini"
            config.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{self.base / 'auth.db'}\n"
                              f"admin_username = {self.admin[0]}\nadmin_password = {self.admin[1]}\n"
                              "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
            env.update(MLFLOW_AUTH_CONFIG_PATH=str(config), MLFLOW_FLASK_SERVER_SECRET_KEY="mlops-e2e-mlflow-secret")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                     "MLFLOW_TRACKING_PASSWORD", "VIRTUAL_ENV"):
            env.pop(name, None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), cwd=self.base, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server did not become healthy on {self.uri}:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.uri}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the server's own process group (uvicorn runs as a child), SIGKILL what is left after 20 s;
        returns once nothing of it is left and the port is closed."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group's id is the server's pid
        self._signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while self._group_alive(pgid) and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.1)
        if self._group_alive(pgid):
            self._signal_group(pgid, signal.SIGKILL)
        self.process.wait()
        while self._group_alive(pgid) and time.monotonic() < deadline + 10:
            time.sleep(0.1)
        self.process = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def _group_alive(self, pgid: int) -> bool:
        """Whether a live (not zombie) process of the group is left."""
        if self.process is not None:
            self.process.poll()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
        return False

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Reader:
    """MLflow's REST API read directly, to check what the client wrote."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def get(self, endpoint: str, **params: Any) -> Any:
        resp = requests.get(f"{self.uri}/api/2.0/mlflow/{endpoint}", params=params, timeout=30)
        assert resp.status_code == 200, f"{endpoint} -> {resp.status_code} {resp.text}"
        return resp.json()

    def post(self, endpoint: str, body: dict[str, Any]) -> Any:
        resp = requests.post(f"{self.uri}/api/2.0/mlflow/{endpoint}", json=body, timeout=30)
        assert resp.status_code == 200, f"{endpoint} -> {resp.status_code} {resp.text}"
        return resp.json()

    def run(self, run_id: str) -> dict[str, Any]:
        return self.get("runs/get", run_id=run_id)["run"]

    def data(self, run_id: str, kind: str) -> dict[str, Any]:
        return {e["key"]: e["value"] for e in self.run(run_id)["data"].get(kind, [])}

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every point of a metric, page by page."""
        points: list[dict[str, Any]] = []
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": 1000}
            page = self.get("metrics/get-history", **params, **({"page_token": token} if token else {}))
            points += page.get("metrics", [])
            token = page.get("next_page_token")
            if not token:
                return points

    def artifacts(self, run_id: str, path: str = "") -> dict[str, int]:
        """Every artifact file of the run (recursively) with its size."""
        listed = self.get("artifacts/list", run_id=run_id, **({"path": path} if path else {}))
        files: dict[str, int] = {}
        for entry in listed.get("files", []):
            if entry["is_dir"]:
                files.update(self.artifacts(run_id, entry["path"]))
            else:
                files[entry["path"]] = int(entry.get("file_size", 0))
        return files
