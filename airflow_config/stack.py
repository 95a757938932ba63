"""Run a local Airflow with the MLOps plugin: environment, migration, users, and the four processes.

Used by ``make run`` (``python airflow_config/stack.py run``) and by the end-to-end tests, so both start
Airflow the same way. Every server binds 127.0.0.1 only; processes are stopped by the PIDs we started (and
their sessions).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
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
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import TextIO

import psutil  # an Airflow dependency

REPO = Path(__file__).resolve().parent.parent
ENV_FILE = Path(__file__).resolve().parent / "airflow.env"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
LOCK_FILE = "mlops-stack.pid"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
                    raise RuntimeError(f"{name} exited with code {describe_exit(proc.returncode)}; "
                                       f"see {self.home}/logs/{name}.out")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"api-server not healthy after {timeout}s; see {self.home}/logs/api-server.out")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM each process group we started, then SIGKILL what is left in their sessions.

        Dead processes' groups too (their children outlive them), and by session rather than group: a task
        runner makes a group of its own, and only the session still holds it once its parent is gone."""
        for session in self._sessions():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session, signal.SIGTERM)  # a session leader leads its group too
        deadline = time.monotonic() + timeout
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.2)
        deadline = time.monotonic() + timeout
        while (members := self.members()) and time.monotonic() < deadline:  # again: some may fork meanwhile
            for member in members:
                with contextlib.suppress(psutil.Error):
                    member.kill()
            time.sleep(0.1)
        for proc in self.processes.values():
            proc.wait()
        self.processes.clear()

    def members(self) -> list[psutil.Process]:
        """The live processes in the sessions of the processes we started."""
        sessions, found = self._sessions(), []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) in sessions and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (OSError, psutil.Error):
                pass
        return found

    def _sessions(self) -> set[int]:
        """Our processes' session IDs (= their PIDs). A PID stays taken while its session has members, so the
        PID of a reaped process that is in use again names someone else's session, whose members are not ours."""
        return {p.pid for p in self.processes.values() if p.poll() is None or not psutil.pid_exists(p.pid)}


def describe_exit(code: int) -> str:
    """``-9 (SIGKILL)`` for a process killed by a signal (Popen's negative codes), else the code."""
    return f"{code} ({signal.Signals(-code).name})" if code < 0 else str(code)


def claim(home: Path, port: int) -> int:
    """Refuse to start (SystemExit, nothing touched) when a running stack uses ``home`` or anything holds
    ``port``; else lock ``home`` for as long as this process lives and return the lock's descriptor.

    The lock is an ``flock`` on ``<home>/mlops-stack.pid``, which names the launcher's PID for the message. The
    kernel drops it with the process however that ends, so the file of a launcher that died never blocks."""
    fd = _lock(home) if (home / LOCK_FILE).exists() else None
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the api-server does: TIME_WAIT is no bar
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(f"port {port} on 127.0.0.1 is already in use ({exc.strerror}): stop what holds "
                             "it, or pick another port: PORT=<port> make run") from None
    if fd is None:
        home.mkdir(parents=True, exist_ok=True)
        fd = _lock(home)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _lock(home: Path) -> int:
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.read(fd, 32).decode().strip() or "?"
        os.close(fd)
        raise SystemExit(f"{home} is in use by a running stack (launcher pid {pid}): stop that one first, "
                         "or use another home: MLOPS_HOME=<dir> make run") from None
    return fd


class StopRequested(Exception):
    """A stop signal arrived; its name is the message."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Ctrl-C, SIGTERM (``kill``, a service manager) and SIGHUP (the terminal closing) all raise
    :class:`StopRequested`, once: the components run in sessions of their own, so only we can stop them.

    Inside :meth:`deferred` a signal is raised at its end instead: a ``Popen`` cut short would leave a child
    that nobody tracks."""

    def __init__(self) -> None:
        self.deferring, self.pending = False, 0
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None = None) -> None:
        if self.deferring:
            self.pending = signum
            return
        self.ignore()
        raise StopRequested(signum)

    @staticmethod
    def ignore() -> None:
        """While stopping, further signals are ignored: a second Ctrl-C must not cut the stop short."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.pending:
            self._handle(self.pending)


def say(message: str, file: TextIO | None = None) -> None:
    """Print, but never fail: after SIGHUP the terminal may be gone, and the components must still be stopped."""
    with contextlib.suppress(OSError):
        print(message, file=file, flush=True)


def run_local(home: Path, port: int) -> int:
    """``make run``: migrate, create the admin (printing the login) and run Airflow until Ctrl-C, SIGTERM or
    SIGHUP (returns minus the signal's number) or until a component exits (returns 1); stops everything."""
    home = home.resolve()
    claim(home, port)  # the lock stays held until this process ends
    stack = AirflowStack(home, api_port=port, log_port=free_port())
    signals = StopSignals()
    try:
        say(f"AIRFLOW_HOME={stack.home}; migrating the databases...")
        stack.migrate()
        password_file = stack.home / "admin_password.txt"
        if not password_file.exists():
            password = os.environ.get("MLOPS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            stack.create_user("admin", password, "Admin")
            password_file.write_text(password)
            password_file.chmod(0o600)
        # `airflow db migrate` installed the built-in templates; say what is there.
        say(stack.run_command(["airflow-mlops", "templates", "load"], check=False).stdout)
        with signals.deferred():
            stack.start()
        stack.wait_healthy(timeout=120)
        say(f"\nAirflow with the MLOps plugin is up: {stack.base_url}\n"
            f"  login: admin / {password_file.read_text()}\n  logs:  {stack.home}/logs/\n"
            "Press Ctrl-C to stop.")
        while not (exited := [(n, p.returncode) for n, p in stack.processes.items() if p.poll() is not None]):
            time.sleep(1)
        name, code = exited[0]
        say(f"{name} exited with code {describe_exit(code)}; stopping the others. "
            f"See {stack.home}/logs/{name}.out", sys.stderr)
        return 1
    except StopRequested as stop:
        say(f"{stop} received; stopping Airflow...", sys.stderr)
        return -stop.signum
    except (RuntimeError, TimeoutError) as exc:
        say(f"{exc}\nstopping Airflow.", sys.stderr)
        return 1
    finally:
        signals.ignore()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the local stack in the foreground")
    run.add_argument("--home", type=Path, default=REPO / ".airflow")
    run.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.command == "run":
        status = run_local(args.home, args.port)
        if status < 0:  # stopped by a signal: end by it too (status 128+n), as shells and service managers expect
            signal.signal(-status, signal.SIG_DFL)
            os.kill(os.getpid(), -status)
        sys.exit(status)


if __name__ == "__main__":
    main()
