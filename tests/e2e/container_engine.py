"""A real container engine for ``docker`` tasks: podman serving the Docker API on a unix socket.

This machine has no Docker engine and no reachable registry (see shared/design/container-engine.md):
podman runs with the runc runtime and cgroupfs, its storage in a scratch folder, and the test image is a
static busybox root file system imported locally, never pulled.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import tarfile
import time
from pathlib import Path

IMAGE = "mlops-test-busybox:latest"
REQUIRED = ("podman", "runc", "busybox")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED if shutil.which(tool) is None]


class PodmanEngine:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.socket = self.base / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.base / "containers.conf")}

    def podman(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        root = ["--root", str(self.base / "root"), "--runroot", str(self.base / "run"), "--tmpdir", str(self.base / "tmp")]
        return subprocess.run(["podman", *root, *args], env=self.env, check=True, capture_output=True, **kwargs)

    def start(self) -> PodmanEngine:
        for folder in ("root", "run", "tmp"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)
        files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        procs = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        procs = 32768 if procs == resource.RLIM_INFINITY or procs > 32768 else procs
        (self.base / "containers.conf").write_text(
            f'[containers]\ndefault_ulimits = ["nofile={files}:{files}", "nproc={procs}:{procs}"]\n'
            '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        root = ["--root", str(self.base / "root"), "--runroot", str(self.base / "run"), "--tmpdir", str(self.base / "tmp")]
        log = (self.base / "service.log").open("wb")
        self.process = subprocess.Popen(["podman", *root, "system", "service", "--time=0", self.url],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self._ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman service did not start: {(self.base / 'service.log').read_text()[-2000:]}")
            time.sleep(0.1)
        self.build_image()
        return self

    def _ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
                return b"OK" in sock.recv(1024)
        except OSError:
            return False

    def build_image(self) -> None:
        """A busybox image from a root file system made here (``sh``, ``echo``, ``cat``...): no registry."""
        rootfs = self.base / "rootfs"
        for folder in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "work"):
            (rootfs / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shutil.which("busybox"), rootfs / "bin" / "busybox")
        applets = subprocess.run(["busybox", "--list"], check=True, capture_output=True, text=True).stdout.split()
        for applet in applets:
            link = rootfs / "bin" / applet
            if applet != "busybox" and not link.exists():
                link.symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (rootfs / "etc" / "group").write_text("root:x:0:\n")
        (rootfs / "tmp").chmod(0o1777)
        archive = self.base / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        self.podman("import", "-q", "--change", 'CMD ["/bin/sh"]', str(archive), IMAGE)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.unmount()

    def unmount(self) -> None:
        """podman leaves its storage's overlay mounted; unmount what lies under our folder so it can be deleted."""
        try:
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        except OSError:
            return
        for point in sorted((m for m in mounts if m.startswith(str(self.base) + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
