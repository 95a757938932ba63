"""Drafts against a real Airflow: while a draft exists, scheduled and triggered runs execute the published
version; a User's draft reviewed by an Op and published runs as the new version."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from api_client import USERS, Client, ensure_users, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)


def one_task(name: str, value: str, **extra: object) -> dict:
    return {"name": name, "tasks": [{"name": "answer", "code": f"return {value!r}"}], **extra}


@pytest.fixture(scope="module")
def clients(e2e) -> Iterator[dict[str, Client]]:
    before = e2e.workflow_ids()
    ensure_users(e2e.stack.base_url, dict(e2e.api.session.headers))
    yield {name: Client(e2e.stack.base_url, name, USERS[name][0], "bearer") for name in ("user1", "op")}
    e2e.archive_workflows_except(before)


def scheduled_run(e2e, dag_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = e2e.api.get(f"/api/v2/dags/{dag_id}/dagRuns?run_type=scheduled")["dag_runs"]
        if runs:
            return runs[0]["dag_run_id"]
        time.sleep(1)
    raise TimeoutError(f"no scheduled run of {dag_id} within {timeout}s")


def test_runs_during_a_draft_execute_the_published_version(e2e, clients):
    author = clients["user1"]
    name = unique("drafted")
    workflow = author.ok("POST", "/workflows", {**one_task(name, "published", schedule="@once"), "active": False})
    e2e.api.wait_dag(name)
    draft = author.ok("PUT", f"/workflows/{workflow['id']}/draft", one_task(name, "draft", schedule="@once"))
    assert (draft["base_version"], draft["stale"]) == (1, False)

    author.edit("PATCH", f"/workflows/{workflow['id']}", {"active": True})  # the scheduler may now run it
    triggered = author.ok("POST", f"/jobs/trigger/{workflow['id']}", {"description": "during a draft"})
    assert triggered["version"] == 1
    scheduled = scheduled_run(e2e, name)
    for run_id in (triggered["dag_run_id"], scheduled):
        assert e2e.api.wait_run(name, run_id) == "success"
        assert e2e.api.xcom(name, run_id, "answer") == "published"
    assert author.ok("GET", f"/workflows/{workflow['id']}")["version"] == 1
    assert author.ok("GET", f"/workflows/{workflow['id']}/draft")["spec"]["tasks"][0]["code"] == "return 'draft'"


def test_a_reviewed_draft_is_published_and_runs_as_the_new_version(e2e, clients):
    author, reviewer = clients["user1"], clients["op"]
    name = unique("reviewed")
    workflow = author.ok("POST", "/workflows", one_task(name, "v1"))
    e2e.api.wait_dag(name)
    path = f"/workflows/{workflow['id']}/draft"
    draft = author.ok("PUT", path, one_task(name, "v2"))
    bad = author.call("PUT", path, {**one_task(name, "v2"), "tasks": [{"name": "answer", "code": "return ("}]},
                      headers={"If-Match": f'"{draft["revision"]}"'})
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "tasks[0].code"
    assert author.call("PUT", path, one_task(name, "v2b")).status_code == 428  # which draft revision?
    asked = author.ok("POST", f"{path}/review-request", {"comment": "answer v2", "revision": draft["revision"]})
    assert author.call("POST", f"{path}/review", {"decision": "approve", "revision": asked["revision"]}).status_code == 403
    approved = reviewer.ok("POST", f"{path}/review", {"decision": "approve", "comment": "looks right",
                                                      "revision": asked["revision"]})
    assert (approved["review"]["state"], approved["review"]["reviewed_by"]) == ("approved", "op")

    published = author.ok("POST", f"{path}/publish", {"message": "v2 after review", "revision": approved["revision"]})
    assert published["version"] == 2 and author.call("GET", path).status_code == 404
    e2e.wait_dag_version(name, 2)
    run = author.ok("POST", f"/jobs/trigger/{workflow['id']}", {})
    assert run["version"] == 2 and e2e.api.wait_run(name, run["dag_run_id"]) == "success"
    assert e2e.api.xcom(name, run["dag_run_id"], "answer") == "v2"
    admin = Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")  # who reads the audit log
    audit = admin.ok("GET", f"/audit?object_id={workflow['id']}&limit=20")
    draft_steps = [e["action"] for e in audit["items"] if e["action"] != "trigger"]
    assert draft_steps[:4] == ["publish", "review_approved", "review_request", "draft_create"]
