"""Concurrent edits never lose data: a replace or merge must name the revision it is based on.

A PATCH or PUT without ``If-Match`` (or ``revision``) is refused with 428 and changes nothing; many
writers interleaving read-modify-write cycles, each retrying on 409, end with every one of their
changes in the workflow and one version per change.
"""

from __future__ import annotations

import threading
from collections import Counter

from api_client import Client, simple_workflow, unique

WRITERS, CHANGES_EACH = 6, 4


def _client(e2e) -> Client:
    return Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")


def test_replace_and_merge_without_a_revision_are_refused(e2e):
    admin = _client(e2e)
    workflow = admin.ok("POST", "/workflows", simple_workflow(unique("precondition")))
    template = admin.ok("POST", "/templates", {"name": unique("precondition_tpl"),
                                               "spec": {"tasks": [{"name": "a", "code": "1"}]}})
    blind_writes = [
        ("PATCH", f"/workflows/{workflow['id']}", {"description": "blind"}),
        ("PUT", f"/workflows/{workflow['id']}", {**simple_workflow(workflow["name"], "return 9")}),
        ("PUT", f"/templates/{template['id']}", {"name": template["name"], "description": "blind",
                                                 "spec": {"tasks": [{"name": "a", "code": "2"}]}}),
    ]
    for method, path, body in blind_writes:
        resp = admin.call(method, path, body)
        assert resp.status_code == 428, (method, path, resp.status_code, resp.text)
        problem = resp.json()
        assert problem["title"] == "Precondition Required" and "If-Match" in problem["detail"]
        assert problem["errors"][0]["path"] == "header.If-Match"
    assert admin.ok("GET", f"/workflows/{workflow['id']}")["revision"] == workflow["revision"]
    assert admin.ok("GET", f"/templates/{template['id']}")["revision"] == template["revision"]

    stale = admin.call("PATCH", f"/workflows/{workflow['id']}", {"description": "stale"},
                       headers={"If-Match": f'"{workflow["revision"] + 1}"'})
    assert stale.status_code == 409
    based = admin.call("PATCH", f"/workflows/{workflow['id']}", {"description": "based", "revision": workflow["revision"]})
    assert based.status_code == 200 and based.json()["description"] == "based"


def test_interleaved_writers_lose_no_change(e2e):
    admin = _client(e2e)
    workflow = admin.ok("POST", "/workflows", simple_workflow(unique("interleaved")))
    path = f"/workflows/{workflow['id']}"
    barrier = threading.Barrier(WRITERS)
    retries: Counter[int] = Counter()
    failures: list[str] = []

    def writer(number: int) -> None:
        client = _client(e2e)
        barrier.wait()
        try:
            for change in range(CHANGES_EACH):
                while True:
                    current = client.call("GET", path)
                    patch = {"params": {f"w{number}_c{change}": {"type": "integer", "default": change}},
                             "message": f"writer {number} change {change}"}
                    resp = client.call("PATCH", path, patch, headers={"If-Match": current.headers["ETag"]})
                    if resp.status_code == 200:
                        break
                    assert resp.status_code == 409, resp.text
                    retries[number] += 1
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(f"writer {number}: {exc!r}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures

    final = admin.ok("GET", path)
    expected = {f"w{n}_c{c}" for n in range(WRITERS) for c in range(CHANGES_EACH)}
    assert expected <= set(final["params"]), sorted(expected - set(final["params"]))
    assert final["version"] == 1 + WRITERS * CHANGES_EACH
    versions = admin.ok("GET", f"{path}/versions?limit=100")
    assert versions["total"] == 1 + WRITERS * CHANGES_EACH
    print(f"{sum(retries.values())} conflicts retried by {WRITERS} writers")
