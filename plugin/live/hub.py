"""One per api-server process: a background thread that keeps the state feed going (when this process holds
the lease) and tails ``mlops_state_event``, handing every new event to this process's subscribers.

Subscribers are asyncio queues of the SSE connections; the thread never blocks on them. A page that
reconnects asks for the events after the last id it saw (:meth:`Hub.events_after`), so nothing is lost
or repeated across reconnects, processes or restarts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from airflow_mlops.db import transaction
from airflow_mlops.models import StateEvent
from airflow_mlops.monitoring.api_metrics import LIVE_SUBSCRIBERS
from airflow_mlops.services import state_feed

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2
RENEW_SECONDS = 1.0  # the lease lasts 5 s; renewing it every tick would be 5 writes a second for nothing
PRUNE_EVERY_SECONDS = 600
QUEUE_LIMIT = 10_000  # a subscriber this far behind is cut off; it reconnects and replays from the table
REPLAY_LIMIT = 5_000


def event_dict(event: StateEvent) -> dict[str, Any]:
    return {"id": event.id, "kind": "run" if event.task_id is None else "task", "workflow_id": event.workflow_id,
            "dag_id": event.dag_id, "run_id": event.run_id, "task_id": event.task_id, "map_index": event.map_index,
            "try_number": event.try_number, "state": event.state, "previous_state": event.previous_state,
            "changed_at": event.changed_at.isoformat() if event.changed_at else None,
            "seen_at": event.seen_at.isoformat()}


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    workflow_ids: frozenset[str]  # empty: every workflow
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def wants(self, event: dict[str, Any]) -> bool:
        return not self.workflow_ids or event["workflow_id"] in self.workflow_ids

    def offer(self, event: dict[str, Any]) -> None:
        """Called on the subscriber's loop."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.lock = threading.Lock()
        self.last_id: int | None = None
        self.feed = state_feed.StateFeed()
        self.holder = state_feed.holder_name()
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.last_prune = 0.0
        self.renewed = 0.0

    def ensure_started(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping.clear()
                self.thread = threading.Thread(target=self._run, name="mlops-live-hub", daemon=True)
                self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def subscribe(self, loop: asyncio.AbstractEventLoop, workflow_ids: frozenset[str]) -> Subscriber:
        """Register before replaying: every event after the hub's position reaches the queue from now on, and
        the replay (read afterwards) covers everything up to it; the stream drops ids it already sent."""
        subscriber = Subscriber(loop, workflow_ids)
        with self.lock:
            if self.last_id is None:
                self.last_id = self.newest_id()
            self.subscribers.add(subscriber)
        LIVE_SUBSCRIBERS.inc()
        self.ensure_started()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self.lock:
            if subscriber not in self.subscribers:
                return
            self.subscribers.discard(subscriber)
        LIVE_SUBSCRIBERS.dec()

    @staticmethod
    def newest_id() -> int:
        with transaction() as session:
            return session.scalar(select(func.max(StateEvent.id))) or 0

    @staticmethod
    def events_after(last_id: int, workflow_ids: frozenset[str], up_to: int | None = None) -> list[dict[str, Any]]:
        """What a reconnecting page missed: the events after ``last_id`` (oldest first)."""
        query = select(StateEvent).where(StateEvent.id > last_id).order_by(StateEvent.id).limit(REPLAY_LIMIT)
        if up_to is not None:
            query = query.where(StateEvent.id <= up_to)
        if workflow_ids:
            query = query.where(StateEvent.workflow_id.in_(workflow_ids))
        with transaction() as session:
            return [event_dict(e) for e in session.scalars(query)]

    @staticmethod
    def oldest_id() -> int | None:
        with transaction() as session:
            return session.scalar(select(func.min(StateEvent.id)))

    def _run(self) -> None:
        leading = False
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                leading = self._feed(leading)
                self._tail()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the live stream for good
                log.exception("MLOps live: tick failed; retrying")
                time.sleep(1)
            self.stopping.wait(max(0.0, TICK_SECONDS - (time.monotonic() - started)))

    def _feed(self, leading: bool) -> bool:
        if time.monotonic() - self.renewed < RENEW_SECONDS:  # leader: keep going; follower: try again later
            if leading:
                self.feed.tick()
            return leading
        self.renewed = time.monotonic()
        if state_feed.hold_lease(self.holder):
            if not leading:
                log.info("MLOps live: this process (%s) now reads Airflow's run and task states", self.holder)
            self.feed.tick()
            if time.monotonic() - self.last_prune > PRUNE_EVERY_SECONDS:
                self.last_prune = time.monotonic()
                state_feed.prune()
            return True
        if leading:
            self.feed.forget()
        return False

    def _tail(self) -> None:
        with self.lock:
            if self.last_id is None:
                self.last_id = self.newest_id()
                return
        rows = self.events_after(self.last_id, frozenset())
        if not rows:
            return
        self.last_id = rows[-1]["id"]
        with self.lock:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            wanted = [e for e in rows if subscriber.wants(e)]
            for event in wanted:
                try:
                    subscriber.loop.call_soon_threadsafe(subscriber.offer, event)
                except RuntimeError:  # its loop is closed: the connection is gone
                    self.unsubscribe(subscriber)
                    break


HUB = Hub()
