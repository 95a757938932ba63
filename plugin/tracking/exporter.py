"""The thread that sends finished runs to MLflow, in the api-server: one process at a time holds its lease.

It starts with the api-server (an ASGI middleware built with Airflow's root app, as the live feed does) and
does nothing until MLflow tracking is configured; the setting and the connection are read again every tick,
so setting either takes effect without a restart.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_mlops.services import state_feed, tracking

log = logging.getLogger(__name__)

LEASE_NAME = "mlflow-export"
LEASE_SECONDS = 120  # longer than the slowest tick (a server that times out stops the tick at once)
TICK_SECONDS = 2.0
IDLE_SECONDS = 15.0  # between looks at the configuration while tracking is off


class Exporter:
    def __init__(self) -> None:
        self.holder = state_feed.holder_name()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.since: datetime | None = None  # when tracking was found configured (None: it is off)

    def ensure_started(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping.clear()
                self.thread = threading.Thread(target=self._run, name="mlops-mlflow-export", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            wait = TICK_SECONDS
            try:
                where = tracking.target()
                if where is None:
                    self.since, wait = None, IDLE_SECONDS
                else:
                    # Switched on at most one idle wait ago: runs that ended since then are sent too.
                    self.since = self.since or datetime.now(timezone.utc) - timedelta(seconds=IDLE_SECONDS)
                    if state_feed.hold_lease(self.holder, name=LEASE_NAME, seconds=LEASE_SECONDS):
                        tracking.tick(where, self.since)
            except Exception:  # noqa: BLE001 - a database hiccup must not end tracking for good
                log.exception("MLOps tracking: tick failed; retrying")
            self.stopping.wait(wait)


EXPORTER = Exporter()


class StartTracking:
    """A pass-through ASGI middleware on the api-server's root app, there to start the exporter with it."""

    def __init__(self, app: Any):
        self.app = app
        EXPORTER.ensure_started()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
