"""A StatsD server on 127.0.0.1 (UDP) standing in for statsd-exporter: records every metric line it gets."""

from __future__ import annotations

import socket
import threading


class StatsdSink:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.lines += data.decode(errors="replace").splitlines()

    def names(self, prefix: str = "") -> set[str]:
        """Metric names seen (``name:value|type`` lines), those starting with ``prefix``."""
        with self.lock:
            return {line.split(":", 1)[0] for line in self.lines if line.startswith(prefix)}

    def stop(self) -> None:
        self.running = False
        self.sock.close()

    def env(self) -> dict[str, str]:
        return {"AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(self.port), "AIRFLOW__METRICS__STATSD_PREFIX": "airflow"}
