"""Run a local Airflow with the MLOps plugin: environment, migration, users, and the four processes.

Used by ``make run`` (``python airflow_config/stack.py run``) and by the end-to-end tests, so both start
Airflow the same way. Every server binds 127.0.0.1 only; processes are stopped by the PIDs we started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV_FILE = Path(__file__).resolve().parent / "airflow.env"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_env_file(path: Path, variables: Mapping[str, str]) -> dict[str, str]:
    """``KEY=VALUE`` lines with ``${VAR}`` filled from ``variables``; comments and blanks skipped."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key] = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], value)
    return env


class AirflowStack:
    """One Airflow installation in ``home``: its environment, CLI and processes."""

    def __init__(self, home: Path, *, api_port: int | None = None, log_port: int | None = None,
                 overrides: Mapping[str, str] | None = None, secrets_: Mapping[str, str] | None = None,
                 env_file: Path | None = ENV_FILE):
        """``env_file`` (default: the local stack's settings) may be ``None`` when ``overrides`` say it all."""
        self.home = Path(home).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.api_port = api_port or free_port()
        self.log_port = log_port or free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.processes: dict[str, subprocess.Popen] = {}
        variables = {"AIRFLOW_HOME": str(self.home), "MLOPS_REPO": str(REPO),
                     "MLOPS_API_PORT": str(self.api_port), "MLOPS_LOG_PORT": str(self.log_port)}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        if env_file:
            self.env.update(read_env_file(env_file, variables))
        self.env.update(secrets_ or self._persistent_secrets())
        self.env["AIRFLOW_HOME"] = str(self.home)
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.env.update(overrides or {})

    def _persistent_secrets(self) -> dict[str, str]:
        """Random secrets made once per home, so logins and tokens survive restarts."""
        path = self.home / "secrets.json"
        if not path.exists():
            path.write_text(json.dumps({
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            }))
            path.chmod(0o600)
        return json.loads(path.read_text())

    # -- CLI ---------------------------------------------------------------------------------
    def airflow(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.run_command(["airflow", *args], check=check, timeout=timeout)

    def run_command(self, cmd: list[str], *, check: bool = True, timeout: float = 300,
                    input_text: str | None = None, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(cmd, check=False, env={**self.env, **(env or {})}, cwd=self.home, capture_output=True,
                                text=True, timeout=timeout, input=input_text)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def migrate(self) -> None:
        self.airflow("db", "migrate")
        url = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        if url.startswith("sqlite:///"):
            # WAL (kept in the file): readers stop blocking writers, so the api-server, scheduler and
            # dag-processor wait on each other far less than with SQLite's default rollback journal.
            import sqlite3

            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                conn.execute("PRAGMA journal_mode=WAL")

    def create_user(self, username: str, password: str, role: str) -> None:
        self.airflow("users", "create", "--username", username, "--password", password, "--role", role,
                     "--firstname", username, "--lastname", role, "--email", f"{username}@example.com")

    # -- processes ---------------------------------------------------------------------------
    def start(self, components: tuple[str, ...] = COMPONENTS,
              component_env: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Start ``components``; ``component_env`` adds settings to single ones (e.g. a read-only DB role)."""
        for component in components:
            self.start_process(component, ["airflow", component], (component_env or {}).get(component, {}))

    def start_process(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start ``argv`` in its own session (so :meth:`stop` reaches its children), output in logs/<name>.out."""
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        with open(logs / f"{name}.out", "ab") as out:
            self.processes[name] = subprocess.Popen(
                argv, env={**self.env, **(env or {})}, cwd=self.home, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.processes[name]

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.home}/logs/{name}.out")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"api-server not healthy after {timeout}s; see {self.home}/logs/api-server.out")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM each process group we started, then SIGKILL what is left."""
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()


def run_local(home: Path, port: int) -> None:
    """``make run``: migrate, create the admin (printing the login) and run Airflow until Ctrl-C."""
    stack = AirflowStack(home, api_port=port, log_port=free_port())
    print(f"AIRFLOW_HOME={stack.home}; migrating the databases...", flush=True)
    stack.migrate()
    password_file = stack.home / "admin_password.txt"
    if not password_file.exists():
        password = os.environ.get("MLOPS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        stack.create_user("admin", password, "Admin")
        password_file.write_text(password)
        password_file.chmod(0o600)
    # `airflow db migrate` installed the built-in templates; say what is there.
    print(stack.run_command(["airflow-mlops", "templates", "load"], check=False).stdout, flush=True)
    stack.start()
    try:
        stack.wait_healthy(timeout=120)
        print(f"\nAirflow with the MLOps plugin is up: {stack.base_url}\n"
              f"  login: admin / {password_file.read_text()}\n  logs:  {stack.home}/logs/\n"
              "Press Ctrl-C to stop.", flush=True)
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        print("A component exited; stopping.", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the local stack in the foreground")
    run.add_argument("--home", type=Path, default=REPO / ".airflow")
    run.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.command == "run":
        run_local(args.home, args.port)


if __name__ == "__main__":
    main()
