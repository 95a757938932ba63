"""Live run and task states pushed over Server-Sent Events by the real api-server.

A subscriber receives, in order and without repeats, the states of a triggered run and of each of its
tasks, including the ``upstream_failed`` the scheduler sets; one that reconnects with its last event id
receives exactly what it missed; a second api-server process streams the same events with the same ids;
anonymous and unauthorized callers are refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from api_client import USERS, Client, ensure_users, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)
LIVE = "/mlops-live/events"
# The order states can follow within one try; an observer may miss short-lived ones, never reorder them.
RANK = {"scheduled": 1, "queued": 2, "running": 3, "success": 4, "failed": 4, "upstream_failed": 4, "skipped": 4,
        "up_for_retry": 4}
RUN_RANK = {"queued": 1, "running": 2, "success": 3, "failed": 3}


class Subscriber:
    """A streaming HTTP client on its own thread, collecting the SSE frames it receives."""

    def __init__(self, base_url: str, headers: dict[str, str], params: dict[str, Any] | None = None):
        self.events: list[dict[str, Any]] = []
        self.ready: dict[str, Any] | None = None
        self.connected = threading.Event()
        self.response = requests.get(f"{base_url}{LIVE}", headers={**headers, "Accept": "text/event-stream"},
                                     params=params or {}, stream=True, timeout=(10, 60))
        self.status = self.response.status_code
        self.thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self.thread.start()

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    payload = json.loads(data)
                    if kind == "ready":
                        self.ready = payload
                        self.connected.set()
                    elif kind == "state":
                        self.events.append(payload)
                    kind, data = "message", ""
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, AttributeError, ValueError):
            pass

    def close(self) -> None:
        self.response.close()

    def wait_for(self, predicate, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(list(self.events)):
                return
            time.sleep(0.2)
        raise TimeoutError(f"events never matched; got {[(e['task_id'], e['state']) for e in self.events]}")


def run_finished(run_id: str):
    return lambda events: any(e["run_id"] == run_id and e["kind"] == "run" and e["state"] in ("success", "failed")
                              for e in events)


@pytest.fixture(scope="module")
def live(e2e) -> Iterator[dict[str, Any]]:
    before = e2e.workflow_ids()
    admin = Client(e2e.stack.base_url, e2e.api.username, e2e.api.password, "bearer")
    # extract and train stay running for longer than the feed's tick (0.2 s) even on a busy machine, so their
    # "running" must be seen; a task that fails at once can start and end between two reads.
    workflow = admin.ok("POST", "/workflows", {"name": unique("live"), "tasks": [
        {"name": "extract", "code": "import time\ntime.sleep(2)\nreturn 1"},
        {"name": "train", "depends_on": ["extract"], "code": "import time\ntime.sleep(2)\nraise ValueError('diverged')"},
        {"name": "publish", "depends_on": ["train"], "code": "return 'never runs'"},
        {"name": "profile", "depends_on": ["extract"], "code": "return 2"}]})
    e2e.api.wait_dag(workflow["name"])
    e2e.api.request("PATCH", f"/api/v2/dags/{workflow['name']}", json={"is_paused": False})
    yield {"workflow": workflow, "headers": dict(e2e.api.session.headers), "admin": admin}
    e2e.archive_workflows_except(before)


def test_changes_are_recorded_while_no_page_is_open(e2e, live):
    """The feed starts with the api-server, not with the first page: a page that comes later with an old id
    (here: the very first one, 0) still receives the whole history of a run nobody watched."""
    workflow = live["workflow"]
    run_id = e2e.api.trigger_ok(workflow["name"])
    assert e2e.api.wait_run(workflow["name"], run_id) == "failed"
    late = Subscriber(e2e.stack.base_url, live["headers"], {"workflow_id": workflow["id"], "last_event_id": 0})
    try:
        late.wait_for(run_finished(run_id), timeout=30)
    finally:
        late.close()
    states = {(e["task_id"], e["state"]) for e in late.events if e["run_id"] == run_id}
    assert {(None, "running"), (None, "failed"), ("train", "failed"), ("publish", "upstream_failed")} <= states


def test_a_subscriber_gets_every_state_in_order(e2e, live):
    workflow = live["workflow"]
    sub = Subscriber(e2e.stack.base_url, live["headers"], {"workflow_id": workflow["id"]})
    assert sub.status == 200 and sub.response.headers["Content-Type"].startswith("text/event-stream")
    assert sub.connected.wait(30)
    try:
        run_id = e2e.api.trigger_ok(workflow["name"])
        sub.wait_for(run_finished(run_id))
    finally:
        sub.close()
    events = [e for e in sub.events if e["run_id"] == run_id]
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), "ids are unique and increasing"
    assert all(e["workflow_id"] == workflow["id"] and e["dag_id"] == workflow["name"] for e in events)
    run_states = [e["state"] for e in events if e["kind"] == "run"]
    assert run_states[-1] == "failed" and "running" in run_states
    assert [RUN_RANK[s] for s in run_states] == sorted(RUN_RANK[s] for s in run_states) and len(set(run_states)) == len(run_states)
    per_task: dict[str, list[str]] = {}
    for event in events:
        if event["kind"] == "task":
            assert event["state"] != event["previous_state"]
            per_task.setdefault(event["task_id"], []).append(event["state"])
    assert {task: states[-1] for task, states in per_task.items()} == {
        "extract": "success", "train": "failed", "publish": "upstream_failed", "profile": "success"}
    for task, states in per_task.items():
        assert [RANK[s] for s in states] == sorted(RANK[s] for s in states), f"{task}: {states} out of order"
        assert len(states) == len(set(states)), f"{task}: {states} repeats a state"
    assert "running" in per_task["train"] and "running" in per_task["extract"]
    # The run's end comes after every task's end; its start before any task's.
    last_task_id = max(e["id"] for e in events if e["kind"] == "task")
    assert next(e for e in events if e["kind"] == "run" and e["state"] == "failed")["id"] > last_task_id
    for event in events:
        assert event["changed_at"] is not None and event["changed_at"] <= event["seen_at"]


def test_a_reconnect_with_the_last_id_gets_exactly_what_it_missed(e2e, live):
    workflow = live["workflow"]
    steady = Subscriber(e2e.stack.base_url, live["headers"], {"workflow_id": workflow["id"]})
    first = Subscriber(e2e.stack.base_url, live["headers"], {"workflow_id": workflow["id"]})
    assert steady.connected.wait(30) and first.connected.wait(30)
    run_a = e2e.api.trigger_ok(workflow["name"])
    first.wait_for(lambda events: any(e["run_id"] == run_a and e["task_id"] == "extract" for e in events))
    first.close()  # the page goes away mid-run
    last_id = first.events[-1]["id"]
    steady.wait_for(run_finished(run_a))
    run_b = e2e.api.trigger_ok(workflow["name"])
    steady.wait_for(run_finished(run_b))
    back = Subscriber(e2e.stack.base_url, {**live["headers"], "Last-Event-ID": str(last_id)},
                      {"workflow_id": workflow["id"]})
    try:
        back.wait_for(run_finished(run_b), timeout=30)
    finally:
        back.close()
        steady.close()
    missed = [e["id"] for e in steady.events if e["id"] > last_id]
    assert missed and [e["id"] for e in back.events] == missed
    assert [e["id"] for e in first.events] + [e["id"] for e in back.events] == \
        [e["id"] for e in steady.events if e["id"] <= back.events[-1]["id"]]


def test_a_second_api_server_streams_the_same_events(e2e, live):
    port = _free_port()
    log = open(e2e.stack.home / "logs" / "api-server-2.out", "ab")
    env = {**e2e.stack.env, "AIRFLOW__API__PORT": str(port)}
    second = subprocess.Popen(["airflow", "api-server", "--port", str(port)], env=env, cwd=e2e.stack.home,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        other = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{other}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        workflow = live["workflow"]
        subs = [Subscriber(base, live["headers"], {"workflow_id": workflow["id"]}) for base in (e2e.stack.base_url, other)]
        assert all(s.connected.wait(30) for s in subs)
        run_id = e2e.api.trigger_ok(workflow["name"])
        for sub in subs:
            sub.wait_for(run_finished(run_id))
        time.sleep(1)
        for sub in subs:
            sub.close()
        streams = [[(e["id"], e["task_id"], e["state"]) for e in s.events if e["run_id"] == run_id] for s in subs]
        assert streams[0] == streams[1] and len(streams[0]) >= 8
    finally:
        os.killpg(second.pid, 15)
        second.wait(30)
        log.close()


def test_anonymous_and_unauthorized_subscribers_are_refused(e2e, live):
    base = e2e.stack.base_url
    assert requests.get(f"{base}{LIVE}", timeout=10).status_code == 401
    assert requests.get(f"{base}{LIVE}", headers={"Authorization": "Bearer not-a-token"}, timeout=10).status_code == 401
    headers = live["headers"]
    role = unique("no_mlops")
    assert requests.post(f"{base}/auth/fab/v1/roles", headers=headers, json={"name": role, "actions": []},
                         timeout=30).status_code in (200, 201)
    user, password = unique("outsider"), "outsider-pass"
    resp = requests.post(f"{base}/auth/fab/v1/users", headers=headers, timeout=30, json={
        "username": user, "password": password, "first_name": "o", "last_name": "u", "email": f"{user}@example.com",
        "roles": [{"name": role}]})
    assert resp.status_code in (200, 201), resp.text
    token = requests.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
    token.raise_for_status()
    denied = requests.get(f"{base}{LIVE}", headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                          timeout=10)
    assert denied.status_code == 403 and denied.headers["Content-Type"].startswith("application/problem+json")
    ensure_users(base, headers)
    viewer = Client(base, "viewer", USERS["viewer"][0], "bearer")  # reading is enough
    ok = Subscriber(base, dict(viewer.session.headers))
    assert ok.status == 200 and ok.connected.wait(30)
    ok.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
