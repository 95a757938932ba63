"""`make run` (the README's first command) brings up Airflow with the plugin and prints a working login;
every way it stops (Ctrl-C, SIGTERM, SIGHUP, a component dying) leaves no process behind, and it refuses to
start on a port or a home that is in use."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from stack import REPO, free_port


class MakeRun:
    """`make run` started by a test, in a session of its own, with every process it started that was seen."""

    def __init__(self, home: Path, port: int, out_path: Path):
        self.home, self.port, self.out_path = home, port, out_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        # Reuse this venv (RUN_DEPS= skips the install step, which `make test` has just exercised).
        cmd = ["make", "-s", "run", f"VENV={sys.prefix}", "RUN_DEPS=", f"PORT={port}", f"MLOPS_HOME={home}"]
        with open(out_path, "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.seen: dict[int, psutil.Process] = {}
        self.sessions = {self.proc.pid}

    @property
    def output(self) -> str:
        return self.out_path.read_text()

    def watch(self) -> None:
        """Remember make's process tree as it is now (the launcher's components start sessions of their own)."""
        try:
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                self.seen.setdefault(proc.pid, proc)
                self.sessions.add(os.getsid(proc.pid))
        except (OSError, psutil.Error):
            pass

    def launcher(self) -> psutil.Process:
        return next(p for p in self.seen.values() if "airflow_config/stack.py" in " ".join(_cmdline(p)))

    def component(self, name: str) -> psutil.Process:
        """The component ``name`` (a child of the launcher: ``airflow <name>``)."""
        return next(p for p in self.launcher().children() if _cmdline(p)[-1:] == [name])

    def leftovers(self) -> list[psutil.Process]:
        """Live processes seen, or in one of the sessions seen (their children started later, or orphaned)."""
        sessions = self.sessions - {os.getsid(0)}
        found = {p.pid: p for p in self.seen.values() if _alive(p)}
        for proc in psutil.process_iter():
            try:
                if proc.pid not in found and os.getsid(proc.pid) in sessions and _alive(proc):
                    found[proc.pid] = proc
            except (OSError, psutil.Error):
                pass
        return list(found.values())

    def wait_for_login(self, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.watch()
            match = re.search(r"login: admin / (\S+)", self.output)
            if match:
                # The scheduler's LocalExecutor workers and the like start around the same time: see them too.
                for _ in range(10):
                    time.sleep(1)
                    self.watch()
                return match.group(1)
            assert self.proc.poll() is None, f"make run exited early:\n{self.output}"
            time.sleep(0.5)
        raise TimeoutError(f"make run printed no login within {timeout}s:\n{self.output}")

    def wait_refused(self, timeout: float = 120) -> int:
        """Wait for a launch that should be refused at once; it must not get as far as starting Airflow."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            self.watch()
            assert time.monotonic() < deadline, f"make run was not refused within {timeout}s:\n{self.output}"
            time.sleep(0.2)
        return self.proc.returncode

    def wait_gone(self, timeout: float = 180) -> None:
        """Wait for make, then for every process it started: none may be left."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still running {timeout}s after being stopped:\n{self.output}")
        deadline = time.monotonic() + 30  # the kernel may take a moment to finish off SIGKILLed ones
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not left, f"left running: {[(p.pid, _cmdline(p)) for p in left]}\n{self.output}"
        assert _port_free(self.port), f"port {self.port} still in use\n{self.output}"

    def kill_all(self) -> None:
        """Cleanup, whatever the test found: SIGKILL what is left (only processes this launch started)."""
        self.watch()
        for proc in self.leftovers():
            try:
                proc.kill()
            except psutil.Error:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass


def test_make_run_serves_airflow_with_the_plugin(tmp_path):
    port = free_port()
    run = MakeRun(tmp_path / "home", port, tmp_path / "make_run.out")
    try:
        login = run.wait_for_login()
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/v2/monitor/health", timeout=10).status_code == 200
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": login}, timeout=10)
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        plugins = requests.get(f"{base}/api/v2/plugins", headers=headers, timeout=10).json()["plugins"]
        assert "mlops" in [p["name"] for p in plugins]
        assert (tmp_path / "home" / "mlops.db").exists()  # the plugin tables were migrated

        # A second `make run` on the same home (another port) is refused while this one runs, and starts nothing.
        other_port = free_port()
        second = MakeRun(tmp_path / "home", other_port, tmp_path / "second.out")
        try:
            assert second.wait_refused() != 0
            pid = run.launcher().pid
            assert f"is in use by a running stack (launcher pid {pid})" in second.output, second.output
            assert _port_free(other_port)
            assert (tmp_path / "home" / "mlops-stack.pid").read_text().split() == [str(pid)]
        finally:
            second.kill_all()

        os.killpg(run.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals make's process group
        run.wait_gone()
    finally:
        run.kill_all()
    assert "Airflow with the MLOps plugin is up" in run.output


@pytest.mark.parametrize("how", ["SIGTERM to the launcher", "SIGHUP to make's process group"])
def test_a_stop_signal_stops_every_process(tmp_path, how):
    """`kill` or a service manager (SIGTERM), or the terminal closing (SIGHUP), stop Airflow like Ctrl-C."""
    port = free_port()
    run = MakeRun(tmp_path / "home", port, tmp_path / "make_run.out")
    try:
        run.wait_for_login()
        assert len([p for p in run.seen.values() if _alive(p)]) > 6  # make, launcher, 4 components, children
        if how.startswith("SIGTERM"):
            run.launcher().send_signal(signal.SIGTERM)
        else:
            os.killpg(run.proc.pid, signal.SIGHUP)
        run.wait_gone()
        name = how.split()[0]
        assert f"{name} received; stopping Airflow" in run.output
    finally:
        run.kill_all()


def test_a_component_that_dies_is_named_and_the_others_are_stopped(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # The pid file of a launcher that died (its lock died with it) does not keep a new one from starting.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (home / "mlops-stack.pid").write_text(f"{dead.pid}\n")
    run = MakeRun(home, free_port(), tmp_path / "make_run.out")
    try:
        run.wait_for_login()
        run.component("triggerer").kill()
        run.wait_gone()
        assert re.search(r"triggerer exited with code -9 \(SIGKILL\); stopping the others", run.output), run.output
        assert run.proc.returncode != 0
    finally:
        run.kill_all()


def test_make_run_refuses_a_port_in_use(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = MakeRun(tmp_path / "home", port, tmp_path / "make_run.out")
        try:
            assert run.wait_refused() != 0
        finally:
            run.kill_all()
    assert f"port {port} on 127.0.0.1 is already in use" in run.output, run.output
    assert not (tmp_path / "home").exists()  # refused before touching anything


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (as Airflow's api-server would, SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True
