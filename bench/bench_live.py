"""Live states: how soon a run or task state change reaches the pages, with 1 and with 200 subscribers.

Starts a real Airflow (api-server, scheduler, dag-processor; LocalExecutor; SQLite) with the plugin in a
throw-away home, subscribes N clients to ``/mlops-live/events`` and triggers runs of a 10-task workflow.
Latency of one delivery = the moment a client read the event - the moment Airflow's database recorded the
change (the task instance's or run's ``updated_at``, carried as ``changed_at``). Also measures the
api-server's CPU while idle with the subscribers connected, against idle with none. Compares with
Airflow's own UI refresh interval (``[api] auto_refresh_interval``). Asserts nothing.
Usage: python bench/bench_live.py [--subscribers 1,200] [--transitions 200] [--idle-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "airflow_config"))
from stack import AirflowStack  # noqa: E402

ADMIN = ("admin", "bench-admin-pass")
RESULTS = REPO / "bench" / "results" / "live.json"
TASKS = 10


class Client:
    """One subscriber: an SSE reader recording when each event arrived."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str):
        self.session, self.url, self.token = session, url, token
        self.received: dict[int, tuple[float, dict]] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        async with self.session.get(self.url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            resp.raise_for_status()
            kind, data = "message", ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif not line and data:
                    arrived = time.time()
                    event = json.loads(data)
                    if kind == "ready":
                        self.ready.set()
                    elif kind == "state":
                        self.received[event["id"]] = (arrived, event)
                    kind, data = "message", ""


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the api-server and every process of its group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid:  # process group = the api-server we started
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(stack: AirflowStack, token: str, dag_id: str, subscribers: int, transitions: int,
                  idle_seconds: float) -> dict:
    url = f"{stack.base_url}/mlops-live/events"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = [Client(session, url, token) for _ in range(subscribers)]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 120)
        pid = stack.processes["api-server"].pid
        await asyncio.sleep(3)
        before = cpu_seconds(pid)
        await asyncio.sleep(idle_seconds)
        idle_cpu = (cpu_seconds(pid) - before) / idle_seconds
        runs = 0
        headers = {"Authorization": f"Bearer {token}"}
        while len(clients[0].received) < transitions:
            resp = await asyncio.to_thread(requests.post, f"{stack.base_url}/api/v2/dags/{dag_id}/dagRuns",
                                           headers=headers, json={"logical_date": None}, timeout=30)
            resp.raise_for_status()
            runs += 1
            run_id = resp.json()["dag_run_id"]
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if any(e["run_id"] == run_id and e["task_id"] is None and e["state"] in ("success", "failed")
                       for _, e in clients[0].received.values()):
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # the last deliveries to every subscriber
        for task in tasks:
            task.cancel()
    latencies = []
    worst_per_event: dict[int, float] = {}
    for client in clients:
        for event_id, (arrived, event) in client.received.items():
            delay = arrived - datetime.fromisoformat(event["changed_at"]).timestamp()
            latencies.append(delay)
            worst_per_event[event_id] = max(worst_per_event.get(event_id, 0.0), delay)
    complete = sum(len(c.received) == len(clients[0].received) for c in clients)
    return {"subscribers": subscribers, "runs": runs, "transitions": len(clients[0].received),
            "deliveries": len(latencies), "subscribers_with_every_event": complete,
            "latency_p50_s": round(statistics.median(latencies), 3), "latency_p95_s": round(percentile(latencies, 0.95), 3),
            "latency_max_s": round(max(latencies), 3),
            "slowest_subscriber_p95_s": round(percentile(list(worst_per_event.values()), 0.95), 3),
            "idle_api_server_cpu_percent": round(100 * idle_cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1,200")
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mlops-bench-live-"))
    stack = AirflowStack(home, overrides={"AIRFLOW__API__WORKERS": "1"})
    stack.migrate()
    stack.create_user(*ADMIN, "Admin")
    stack.start(components=("api-server", "scheduler", "dag-processor"))
    try:
        stack.wait_healthy()
        token = requests.post(f"{stack.base_url}/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]},
                              timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        dag_id = "bench_live"
        spec = {"name": dag_id, "tasks": [{"name": "start", "code": "return 1"}] + [
            {"name": f"t{i}", "depends_on": ["start"], "code": f"return {i}"} for i in range(TASKS - 1)]}
        requests.post(f"{stack.base_url}/pluginsv2/mlops/api/v1/workflows", headers=headers, json=spec,
                      timeout=30).raise_for_status()
        deadline = time.monotonic() + 120
        while requests.get(f"{stack.base_url}/api/v2/dags/{dag_id}", headers=headers, timeout=30).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the workflow's DAG did not appear")
            time.sleep(0.5)
        requests.patch(f"{stack.base_url}/api/v2/dags/{dag_id}", headers=headers, json={"is_paused": False},
                       timeout=30).raise_for_status()
        refresh = stack.run_command(["airflow", "config", "get-value", "api", "auto_refresh_interval"]).stdout.strip()
        baseline_cpu = cpu_seconds(stack.processes["api-server"].pid)
        time.sleep(args.idle_seconds)
        idle_none = (cpu_seconds(stack.processes["api-server"].pid) - baseline_cpu) / args.idle_seconds
        results = {"airflow_ui_auto_refresh_interval_s": float(refresh),
                   "idle_api_server_cpu_percent_no_subscribers": round(100 * idle_none, 2), "cases": []}
        for count in (int(n) for n in args.subscribers.split(",")):
            case = asyncio.run(measure(stack, token, dag_id, count, args.transitions, args.idle_seconds))
            case["p95_vs_airflow_refresh"] = round(case["latency_p95_s"] / float(refresh), 3)
            results["cases"].append(case)
            print(json.dumps(case))
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
