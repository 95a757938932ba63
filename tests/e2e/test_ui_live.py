"""Live run and task states in the pages, pushed over the live stream by the real api-server.

The runs page of a workflow comes up while its first stream connections are refused: it says
"Reconnecting…", loads the runs by REST anyway, then reconnects and says "Live". A run triggered through
Airflow's REST API (somewhere else, not in the page) appears, goes running, then failed, with its sleeping
task running, the failing task failed and the one after it upstream_failed in the expanded run's graph and
task list, and its duration once it finished, all without a reload and without the page asking for the run
list on a timer (the only REST calls are the ones events call for). When the browser loses the network the
page says "Reconnecting…"; a run that ran and failed meanwhile is there, complete, as soon as the stream is
back (replayed from the last event id). The Workflows list follows its last run's state the same way.
Screenshots (light and dark) go to ``screenshots/``.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from api_client import unique
from test_ui_browser import RUN_TIMEOUT_MS, browser, login, shoot, site  # noqa: F401 - the module's fixtures, shared

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

LIVE_EVENTS = re.compile(r".*/mlops-live/events(\?.*)?$")
JOBS_LIST = re.compile(r"/mlops/api/v1/jobs$")  # the run list (paths only; the query is the filters)
JOBS_ONE = re.compile(r"/mlops/api/v1/jobs/[^/]+$")
QUIET_SECONDS = 8  # longer than two periods of the old 3 s refresh


class Requests:
    """What the page asks the server for, with the time it asked."""

    def __init__(self, page: Any):
        self.seen: list[tuple[float, str]] = []
        page.on("request", lambda r: self.seen.append((time.monotonic(), r.url)))

    def since(self, start: float, pattern: re.Pattern) -> list[str]:
        return [url for at, url in list(self.seen) if at >= start and pattern.search(urlsplit(url).path)]

    def stream_urls(self, start: float = 0.0) -> list[str]:
        return [url for at, url in list(self.seen) if at >= start and LIVE_EVENTS.match(url)]


def run_row(page: Any, run_id: str) -> Any:
    return page.locator(f"#mlops-runs tbody tr[data-dag-run-id='{run_id}']")


def assert_failed_with_downstream(page: Any, run_id: str) -> None:
    """The expanded run: graph nodes and task list show the sleeping task done, the failure and its consequence."""
    from playwright.sync_api import expect

    detail = page.locator(".mlops-run-detail")
    graph = detail.locator("svg.mlops-graph")
    expect(graph.locator("g[data-node='nap']")).to_have_attribute("data-state", "success")
    expect(graph.locator("g[data-node='boom']")).to_have_attribute("data-state", "failed")
    expect(graph.locator("g[data-node='after']")).to_have_attribute("data-state", "upstream_failed")
    tasks = detail.locator(".mlops-kv")
    expect(tasks.filter(has_text="after").locator(".mlops-state")).to_have_text("upstream_failed")
    expect(tasks.filter(has_text="boom").locator(".mlops-state")).to_have_text("failed")
    # Finished: its record was fetched once more, so the duration is there.
    expect(run_row(page, run_id).locator("td").nth(7)).to_have_text(re.compile(r"\d"))


def test_runs_and_workflows_follow_the_live_stream(e2e, browser, site):  # noqa: F811 - fixtures imported above
    from playwright.sync_api import expect

    admin = site["admin"]
    name = unique("ui_live")
    wf = admin.ok("POST", "/workflows", {"name": name, "description": "sleeps, fails, and skips the rest", "tasks": [
        {"name": "nap", "code": "import time\ntime.sleep(3)\nreturn 1"},
        {"name": "boom", "depends_on": ["nap"], "code": "raise RuntimeError('boom')"},
        {"name": "after", "depends_on": ["boom"], "code": "return 'never runs'"}]})
    e2e.api.wait_dag(name)
    e2e.api.request("PATCH", f"/api/v2/dags/{name}", json={"is_paused": False})

    s = login(browser, site, "admin")
    page = s.page
    seen = Requests(page)
    status = page.locator("#mlops-live")

    # The first stream connections fail: the page says so, shows the runs from REST anyway, then recovers.
    page.route(LIVE_EVENTS, lambda route: route.abort())
    s.open(f"/workflows/{wf['id']}/runs")
    expect(status).to_have_attribute("data-status", "reconnecting")
    expect(status).to_have_text("○ Reconnecting…")
    expect(page.locator("#mlops-runs .mlops-empty")).to_contain_text("No runs yet")
    page.unroute(LIVE_EVENTS)
    expect(status).to_have_attribute("data-status", "live", timeout=40_000)
    expect(status).to_have_text("● Live")
    assert seen.stream_urls()[-1].endswith(f"?workflow_id={wf['id']}"), "a fresh stream, for this workflow only"
    page.evaluate("window.__sameDocument = true")
    page.wait_for_timeout(1000)  # the load the "ready" frame asks for

    # A run triggered elsewhere shows up and is followed, state by state, in the row and in its graph.
    live_since = time.monotonic()
    run_a = e2e.api.trigger_ok(name)
    row = run_row(page, run_a)
    expect(row).to_have_count(1, timeout=30_000)
    row.get_by_role("button", name=run_a).click()
    graph = page.locator(".mlops-run-detail svg.mlops-graph")
    expect(row).to_have_attribute("data-state", "running", timeout=60_000)
    expect(graph.locator("g[data-node='nap']")).to_have_attribute("data-state", "running", timeout=60_000)
    expect(row).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    assert_failed_with_downstream(page, run_a)
    expect(status).to_have_text("● Live")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    shoot(page, "runs-live")

    # No timer: while live, the run list was asked for only when an event called for it (the new run) ...
    lists = seen.since(live_since, JOBS_LIST)
    assert 1 <= len(lists) <= 2, f"run list fetched {len(lists)} times while live: {lists}"
    assert len(seen.since(live_since, JOBS_ONE)) >= 1, "the finished run's record was not fetched again"
    # ... and nothing at all is asked for while nothing happens.
    quiet_since = time.monotonic()
    page.wait_for_timeout(QUIET_SECONDS * 1000)
    assert seen.since(quiet_since, re.compile(r"/mlops/api/v1/")) == [], "the page polls while the stream is up"
    assert len(seen.stream_urls(live_since)) == 0, "the stream reconnected although nothing failed"

    # The network goes: the page says so; a run starts and fails meanwhile; back online, it catches up.
    s.context.set_offline(True)
    expect(status).to_have_attribute("data-status", "reconnecting", timeout=20_000)
    expect(status).to_have_text("○ Reconnecting…")
    shoot(page, "runs-live-reconnecting")
    offline_since = time.monotonic()
    run_b = e2e.api.trigger_ok(name)
    assert e2e.api.wait_run(name, quote(run_b, safe=""), timeout=RUN_TIMEOUT_MS / 1000) == "failed"
    expect(run_row(page, run_b)).to_have_count(0)
    s.context.set_offline(False)
    expect(status).to_have_attribute("data-status", "live", timeout=40_000)
    resumed = [u for u in seen.stream_urls(offline_since) if "last_event_id=" in u]
    assert resumed, f"the stream did not resume from its last event: {seen.stream_urls(offline_since)}"
    row_b = run_row(page, run_b)
    expect(row_b).to_have_attribute("data-state", "failed", timeout=30_000)
    page.locator("#mlops-runs button[aria-expanded='true']").click()  # close run A's detail
    row_b.get_by_role("button", name=run_b).click()
    assert_failed_with_downstream(page, run_b)
    expect(run_row(page, run_a)).to_have_attribute("data-state", "failed")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    # The Workflows list: its last run's state follows the stream too, without polling.
    s.open(f"/?q={name}")
    wf_row = page.locator(f"#mlops-workflows tr[data-workflow-id='{wf['id']}']")
    badge = wf_row.locator(".mlops-state")
    expect(badge).to_have_text("failed")
    expect(status).to_have_attribute("data-status", "live", timeout=30_000)
    page.evaluate("window.__sameDocument = true")
    page.wait_for_timeout(1000)
    live_since = time.monotonic()
    run_c = e2e.api.trigger_ok(name)
    expect(badge).to_have_text(re.compile("^(queued|running)$"), timeout=60_000)
    expect(badge).to_have_text("running", timeout=60_000)
    expect(badge).to_have_text("failed", timeout=RUN_TIMEOUT_MS)
    assert e2e.api.wait_run(name, quote(run_c, safe="")) == "failed"
    lists = seen.since(live_since, re.compile(r"/mlops/api/v1/workflows$"))
    assert 1 <= len(lists) <= 2, f"workflow list fetched {len(lists)} times while live: {lists}"
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    shoot(page, "workflows-live")
    s.close()
