"""The source of live events: run and task states read from Airflow's database, written as state events.

Airflow has listener hooks for some transitions only (none for queued, scheduled, upstream_failed or skipped
set by the scheduler), and its worker-side hooks cannot reach the database. So one api-server process at a
time (the holder of a lease in the plugin database) reads the states of the MLOps DAGs' active runs a few
times a second, compares them with what it saw last, and appends one ``mlops_state_event`` per change.
The cost follows the number of *running* runs (Airflow's ``dag_id_state`` and ``ti_dag_run`` indexes), not
the size of the history nor a backlog of queued runs, whose tasks are not read until the run starts. Every
api-server process then streams from that one table, so all subscribers see the same events with the same
ids, whichever process serves them.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import IntegrityError

from airflow_mlops.db import transaction
from airflow_mlops.models import Lease, StateEvent, Workflow

log = logging.getLogger(__name__)

LEASE_NAME = "state-feed"
LEASE_SECONDS = 5
ACTIVE_RUN_STATES = ("queued", "running")
RETENTION = timedelta(hours=24)
WORKFLOWS_REFRESH_SECONDS = 2.0
Key = tuple[str, str, str | None, int]  # dag_id, run_id, task_id (None: the run), map_index


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def hold_lease(holder: str, now: datetime | None = None, name: str = LEASE_NAME, seconds: float = LEASE_SECONDS) -> bool:
    """Take or renew the lease ``name`` (the feed's by default) for ``seconds``; True while this process holds it."""
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(seconds=seconds)
    try:
        with transaction() as session:
            taken = _rowcount(session.execute(
                update(Lease).where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
                .values(holder=holder, expires_at=expires)))
            if taken:
                return True
            if session.get(Lease, name) is None:
                session.add(Lease(name=name, holder=holder, expires_at=expires))
                return True
            return False
    except IntegrityError:  # another process created the lease at the same moment
        return False


@dataclass
class Seen:
    state: str | None
    try_number: int


class StateFeed:
    """Diffs Airflow's states against the last ones seen and records each change (used by the lease holder)."""

    def __init__(self) -> None:
        self.seen: dict[Key, Seen] = {}
        self.tracked: set[tuple[str, str]] = set()
        self.workflows: dict[str, str] = {}  # dag_id -> workflow id
        self.workflows_read = 0.0
        self.primed = False

    def tick(self) -> int:
        """One pass: returns the number of events recorded."""
        if time.monotonic() - self.workflows_read > WORKFLOWS_REFRESH_SECONDS:
            self.workflows = self._workflow_ids()
            self.workflows_read = time.monotonic()
        if not self.primed:
            self._prime()
        runs, tis = self._read_airflow()
        events = self._changes(runs, tis)
        if events:
            with transaction() as session:
                session.execute(insert(StateEvent), events)
        return len(events)

    def forget(self) -> None:
        """Lost the lease: the next holder starts from the recorded events, and so will we."""
        self.seen.clear()
        self.tracked.clear()
        self.primed = False

    def _workflow_ids(self) -> dict[str, str]:
        with transaction() as session:
            return dict(session.execute(select(Workflow.name, Workflow.id).where(Workflow.archived_at.is_(None))).all())

    def _prime(self) -> None:
        """Start from the last recorded state of every key, so taking over the lease repeats nothing."""
        newest = select(func.max(StateEvent.id)).group_by(
            StateEvent.dag_id, StateEvent.run_id, StateEvent.task_id, StateEvent.map_index)
        with transaction() as session:
            recent = session.scalars(select(StateEvent).where(
                StateEvent.id.in_(newest), StateEvent.seen_at > datetime.now(timezone.utc) - RETENTION)).all()
        for event in recent:
            self.seen[(event.dag_id, event.run_id, event.task_id, event.map_index)] = Seen(event.state, event.try_number)
            if event.task_id is None and event.state in ACTIVE_RUN_STATES:
                self.tracked.add((event.dag_id, event.run_id))
        self.primed = True

    def _read_airflow(self) -> tuple[list[Any], list[Any]]:
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        if not self.workflows:
            return [], []
        columns = (DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.updated_at)
        with create_session() as session:
            # Every active run, kept if it is a workflow's: an IN list of all workflow names (10,000 bound
            # values five times a second) kept a core busy; active runs are few and their state is indexed.
            runs = [r for r in session.execute(select(*columns).where(DagRun.state.in_(ACTIVE_RUN_STATES)))
                    if r.dag_id in self.workflows]
            active = {(r.dag_id, r.run_id) for r in runs}
            finished = list(self.tracked - active)
            if finished:  # their last transition (success, failed) is read once, then they are dropped
                runs += list(session.execute(select(*columns).where(tuple_(DagRun.dag_id, DagRun.run_id).in_(finished))))
            # A queued run's tasks wait for the scheduler to start the run: only running and just-finished runs'
            # tasks are read, so a backlog of queued runs (thousands of triggers) costs one indexed read.
            keys = [(r.dag_id, r.run_id) for r in runs if _state(r.state) != "queued"]
            tis = list(session.execute(
                select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index,
                       TaskInstance.state, TaskInstance.try_number, TaskInstance.updated_at)
                .where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys)))) if keys else []
        self.tracked = active
        return runs, tis

    def _changes(self, runs: list[Any], tis: list[Any]) -> list[dict[str, Any]]:
        now = datetime.now(timezone.utc)
        starting: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        ending: list[dict[str, Any]] = []
        for ti in sorted(tis, key=lambda t: (_aware(t.updated_at) or now, t.task_id, t.map_index)):
            event = self._diff((ti.dag_id, ti.run_id, ti.task_id, ti.map_index), _state(ti.state), ti.try_number or 0,
                               ti.updated_at, now)
            if event:
                tasks.append(event)
        for run in runs:
            state = _state(run.state)
            event = self._diff((run.dag_id, run.run_id, None, -1), state, 0, run.updated_at, now)
            if event:
                (starting if state in ACTIVE_RUN_STATES else ending).append(event)
        live = {(r.dag_id, r.run_id) for r in runs if _state(r.state) in ACTIVE_RUN_STATES}
        for key in [k for k in self.seen if (k[0], k[1]) not in live and (k[0], k[1]) not in self.tracked]:
            del self.seen[key]  # finished runs: nothing more will change
        return starting + tasks + ending

    def _diff(self, key: Key, state: str | None, try_number: int, changed_at: datetime | None,
              now: datetime) -> dict[str, Any] | None:
        before = self.seen.get(key)
        if state is None or (before and before.state == state and before.try_number == try_number):
            return None
        self.seen[key] = Seen(state, try_number)
        dag_id, run_id, task_id, map_index = key
        return {"seen_at": now, "changed_at": _aware(changed_at), "workflow_id": self.workflows.get(dag_id),
                "dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index,
                "try_number": try_number, "state": state, "previous_state": before.state if before else None}


def prune(before: datetime | None = None) -> int:
    """Drop events older than the retention (a page that was away longer reloads instead of replaying)."""
    with transaction() as session:
        return _rowcount(session.execute(delete(StateEvent).where(
            StateEvent.seen_at < (before or datetime.now(timezone.utc) - RETENTION))))


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (its result is a cursor result; the session's signature says less)."""
    return cast(CursorResult[Any], result).rowcount
