"""Every endpoint x every kind of caller x every way of authenticating, against a real api-server (FAB auth).

The expectation is derived from the rules the product promises (README/issue), not from the code:
anonymous -> 401; a role without the FAB permission -> 403; a User changing another user's workflow ->
403; a private template of someone else is invisible (404) unless the caller is Admin; a browser (cookie)
write without the CSRF token -> 403; otherwise the success status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from api_client import USERS, Client, ensure_users, simple_workflow, unique

from airflow_mlops import security as sec

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

ROLES = {"anonymous": None, "viewer": "Viewer", "user1": "User", "user2": "User", "op": "Op", "admin": "Admin"}
OWNER = "user1"


def granted(role: str | None, action: str, resource: str) -> bool:
    if role is None:
        return False
    if role == "Admin":
        return True
    return (action, resource) in sec.ROLE_GRANTS[role]


@dataclass
class Op:
    method: str
    path: Callable[[Any], str]
    permission: tuple[str, str] | None
    success: int
    body: Callable[[Any], Any] | None = None
    owner_rule: str | None = None  # "workflow" (owner/Op/Admin) or "private_template" (owner/Admin, else 404)
    headers: dict[str, str] | None = None

    @property
    def writes(self) -> bool:
        return self.method != "GET"


WF, TPL, RUNS, AUDIT = sec.RESOURCE_WORKFLOWS, sec.RESOURCE_TEMPLATES, sec.RESOURCE_RUNS, sec.RESOURCE_AUDIT
REVIEWS = sec.RESOURCE_REVIEWS
R, C, E, D = sec.READ, sec.CREATE, sec.EDIT, sec.DELETE
OPS = {
    "list workflows": Op("GET", lambda c: "/workflows", (R, WF), 200),
    "create workflow": Op("POST", lambda c: "/workflows", (C, WF), 201, lambda c: simple_workflow(unique("rbac"))),
    "validate workflow": Op("POST", lambda c: "/validate", (R, WF), 200, lambda c: simple_workflow(unique("check"))),
    "get workflow": Op("GET", lambda c: f"/workflows/{c.shared['id']}", (R, WF), 200),
    "replace workflow": Op("PUT", lambda c: f"/workflows/{c.fresh_workflow()}", (E, WF), 200,
                           lambda c: {**simple_workflow(c.last_name, "return 2"), "revision": 1}, "workflow"),
    "patch workflow": Op("PATCH", lambda c: f"/workflows/{c.fresh_workflow()}", (E, WF), 200,
                         lambda c: {"description": "patched", "revision": 1}, "workflow"),
    "delete workflow": Op("DELETE", lambda c: f"/workflows/{c.fresh_workflow()}", (D, WF), 200, None, "workflow"),
    "clone workflow": Op("POST", lambda c: f"/workflows/{c.shared['id']}/clone", (C, WF), 201,
                         lambda c: {"name": unique("clone")}),
    "get draft": Op("GET", lambda c: f"/workflows/{c.shared_draft}/draft", (R, WF), 200),
    "draft diff": Op("GET", lambda c: f"/workflows/{c.shared_draft}/draft/diff", (R, WF), 200),
    "save draft": Op("PUT", lambda c: f"/workflows/{c.fresh_workflow()}/draft", (E, WF), 200,
                     lambda c: simple_workflow(c.last_name, "return 'draft'"), "workflow"),
    "discard draft": Op("DELETE", lambda c: f"/workflows/{c.fresh_draft()}/draft", (E, WF), 204, None, "workflow",
                        headers={"If-Match": '"1"'}),
    "publish draft": Op("POST", lambda c: f"/workflows/{c.fresh_draft()}/draft/publish", (E, WF), 200,
                        lambda c: {"message": "published", "revision": 1}, "workflow"),
    "request review": Op("POST", lambda c: f"/workflows/{c.fresh_draft()}/draft/review-request", (E, WF), 200,
                         lambda c: {"comment": "please", "revision": 1}, "workflow"),
    "review draft": Op("POST", lambda c: f"/workflows/{c.fresh_review()}/draft/review", (E, REVIEWS), 200,
                       lambda c: {"decision": "approve", "comment": "fine", "revision": 2}),
    "start test run": Op("POST", lambda c: f"/workflows/{c.shared['id']}/tests", (E, WF), 201,
                         lambda c: {"task": "a", "params": {"n": 2}}, "workflow"),
    "list test runs": Op("GET", lambda c: f"/workflows/{c.shared['id']}/tests", (R, WF), 200),
    "get test run": Op("GET", lambda c: f"/tests/{c.shared_test}", (R, WF), 200),
    "list versions": Op("GET", lambda c: f"/workflows/{c.shared['id']}/versions", (R, WF), 200),
    "snapshot version": Op("POST", lambda c: f"/workflows/{c.fresh_workflow()}/versions", (E, WF), 201,
                           lambda c: {"description": "snap"}, "workflow"),
    "get version": Op("GET", lambda c: f"/workflows/{c.shared['id']}/versions/1", (R, WF), 200),
    "diff versions": Op("GET", lambda c: f"/workflows/{c.shared['id']}/diff?from=1", (R, WF), 200),
    "restore version": Op("POST", lambda c: f"/versions/{c.fresh_version()}/restore", (E, WF), 200, None, "workflow"),
    "purge workflow": Op("POST", lambda c: f"/workflows/{c.fresh_archived()}/purge", (D, sec.RESOURCE_ALL_WORKFLOWS), 204),
    "delete version": Op("DELETE", lambda c: f"/workflows/{c.fresh_version_parent()}/versions/1",
                         (D, sec.RESOURCE_ALL_WORKFLOWS), 204),
    "origin diff": Op("GET", lambda c: f"/workflows/{c.shared_clone}/origin-diff", (R, WF), 200),
    "template instances": Op("GET", lambda c: f"/templates/{c.public_template}/workflows", (R, TPL), 200),
    "save as template": Op("POST", lambda c: f"/workflows/{c.shared['id']}/save-as-template", (C, TPL), 201,
                           lambda c: {"name": unique("saved")}),
    "export workflow": Op("GET", lambda c: f"/workflows/{c.shared['id']}/export?format=yaml", (R, WF), 200),
    "export template": Op("GET", lambda c: f"/templates/{c.public_template}/export", (R, TPL), 200),
    "import workflow": Op("POST", lambda c: "/import", (C, WF), 201,
                          lambda c: {"kind": "workflow", "spec": simple_workflow(unique("imported"))}),
    "list templates": Op("GET", lambda c: "/templates", (R, TPL), 200),
    "create template": Op("POST", lambda c: "/templates", (C, TPL), 201,
                          lambda c: {"name": unique("tpl"), "spec": {"tasks": [{"name": "a", "code": "1"}]}}),
    "get template": Op("GET", lambda c: f"/templates/{c.public_template}", (R, TPL), 200),
    "replace template": Op("PUT", lambda c: f"/templates/{c.fresh_template()}", (E, TPL), 200,
                           lambda c: {"name": c.last_name, "description": "changed", "revision": 1,
                                      "spec": {"tasks": [{"name": "a", "code": "2"}]}}, "private_template"),
    "delete template": Op("DELETE", lambda c: f"/templates/{c.fresh_template()}", (D, TPL), 204, None,
                          "private_template"),
    "instantiate template": Op("POST", lambda c: f"/templates/{c.public_template}/instantiate", (C, WF), 201,
                               lambda c: {"workflow_name": unique("inst"), "params": {}}),
    "trigger run": Op("POST", lambda c: f"/jobs/trigger/{c.shared['id']}", (C, RUNS), 201,
                      lambda c: {"params": {"n": 2}, "description": "rbac"}, "workflow"),
    "rerun": Op("POST", lambda c: f"/jobs/{c.runs[0]}/rerun", (C, RUNS), 201, lambda c: {"params": {"n": 4}},
                "workflow"),
    "list presets": Op("GET", lambda c: f"/workflows/{c.shared['id']}/presets", (R, WF), 200),
    "save preset": Op("POST", lambda c: f"/workflows/{c.fresh_workflow()}/presets", (E, WF), 201,
                      lambda c: {"name": "fast", "params": {"n": 2}}, "workflow"),
    "delete preset": Op("DELETE", lambda c: f"/workflows/{c.fresh_preset()}/presets/fast", (E, WF), 204, None,
                        "workflow"),
    "notification defaults": Op("GET", lambda c: "/notifications/defaults", (R, WF), 200),
    "test notification": Op("POST", lambda c: f"/workflows/{c.shared['id']}/notifications/test", (E, WF), 200,
                            lambda c: {"event": "on_failure"}, "workflow"),
    "list runs": Op("GET", lambda c: "/jobs", (R, RUNS), 200),
    "get run": Op("GET", lambda c: f"/jobs/{c.runs[0]}", (R, RUNS), 200),
    "step metrics": Op("GET", lambda c: f"/jobs/{c.runs[0]}/step-metrics", (R, RUNS), 200),
    "compare runs": Op("GET", lambda c: f"/jobs/compare?ids={c.runs[0]},{c.runs[1]}", (R, RUNS), 200),
    "audit log": Op("GET", lambda c: "/audit", (R, AUDIT), 200),
    "openapi document": Op("GET", lambda c: "/openapi.json", None, 200),
    "csrf token": Op("GET", lambda c: "/csrf-token", None, 200),
}


class Context:
    """Objects the matrix acts on; writes get fresh objects owned by user1 so every call starts equal."""

    def __init__(self, base_url: str, admin: Client, owner: Client):
        self.admin, self.owner = admin, owner
        self.last_name = ""
        self.shared = owner.ok("POST", "/workflows", simple_workflow(unique("shared")))
        self.public_template = admin.ok("POST", "/templates", {
            "name": unique("public_tpl"), "public": True,
            "spec": {"params": {"n": {"type": "integer", "default": 1}}, "tasks": [{"name": "a", "code": "1"}]}})["id"]
        self.runs = [self._trigger() for _ in range(2)]
        self.shared_clone = owner.ok("POST", f"/workflows/{self.shared['id']}/clone", {"name": unique("clone")})["id"]
        self.shared_draft = self.fresh_draft()
        self.shared_test = self._test_run()

    def _test_run(self) -> str:
        deadline = time.monotonic() + 60  # the DAG of test runs may still be on its way into Airflow
        while True:
            resp = self.owner.call("POST", f"/workflows/{self.shared['id']}/tests", {"task": "a"})
            if resp.status_code == 201:
                return resp.json()["id"]
            assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
            time.sleep(0.5)

    def _trigger(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            resp = self.owner.call("POST", f"/jobs/trigger/{self.shared['id']}", {"params": {"n": 3}})
            if resp.status_code == 201:
                return resp.json()["id"]
            assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
            time.sleep(0.3)

    def fresh_workflow(self) -> str:
        self.last_name = unique("mine")
        return self.owner.ok("POST", "/workflows", simple_workflow(self.last_name))["id"]

    def fresh_draft(self) -> str:
        """A workflow of the owner's with a draft at revision 1."""
        workflow_id = self.fresh_workflow()
        self.owner.ok("PUT", f"/workflows/{workflow_id}/draft", simple_workflow(self.last_name, "return 'draft'"))
        return workflow_id

    def fresh_review(self) -> str:
        """A workflow of the owner's whose draft awaits review (draft revision 2)."""
        workflow_id = self.fresh_draft()
        self.owner.ok("POST", f"/workflows/{workflow_id}/draft/review-request", {"revision": 1})
        return workflow_id

    def fresh_version_parent(self) -> str:
        """A workflow with versions 1 and 2 (current)."""
        workflow_id = self.fresh_workflow()
        self.owner.edit("PUT", f"/workflows/{workflow_id}", simple_workflow(self.last_name, "return 5"))
        return workflow_id

    def fresh_version(self) -> str:
        return self.owner.ok("GET", f"/workflows/{self.fresh_version_parent()}/versions/1")["id"]

    def fresh_preset(self) -> str:
        workflow_id = self.fresh_workflow()
        self.owner.ok("POST", f"/workflows/{workflow_id}/presets", {"name": "fast", "params": {"n": 2}})
        return workflow_id

    def fresh_archived(self) -> str:
        workflow_id = self.fresh_workflow()
        self.owner.ok("DELETE", f"/workflows/{workflow_id}")
        return workflow_id

    def fresh_template(self) -> str:
        self.last_name = unique("my_tpl")
        return self.owner.ok("POST", "/templates", {"name": self.last_name,
                                                    "spec": {"tasks": [{"name": "a", "code": "1"}]}})["id"]


def expected(op: Op, username: str, channel: str) -> int:
    role = ROLES[username]
    if role is None:
        return 401
    if channel == "cookie-nocsrf" and op.writes:
        return 403
    if op.permission and not granted(role, *op.permission):
        return 403
    if op.owner_rule == "workflow" and username != OWNER and role not in ("Op", "Admin"):
        return 403
    if op.owner_rule == "private_template" and username != OWNER and role != "Admin":
        return 404
    return op.success


@pytest.fixture(scope="module")
def matrix_clients(e2e) -> Iterator[dict[tuple[str, str], Client]]:
    before = e2e.workflow_ids()
    admin_headers = dict(e2e.api.session.headers)
    ensure_users(e2e.stack.base_url, admin_headers)
    passwords = {name: pw for name, (pw, _) in USERS.items()}
    passwords["admin"] = "admin-pass-e2e"
    clients = {}
    for username in ROLES:
        for channel in ("bearer", "cookie", "cookie-nocsrf"):
            if username == "anonymous":
                clients[(username, channel)] = Client(e2e.stack.base_url, None, None, "anonymous")
            else:
                clients[(username, channel)] = Client(e2e.stack.base_url, username, passwords[username], channel)
    yield clients
    e2e.archive_workflows_except(before)


def test_rbac_matrix(e2e, matrix_clients):
    ctx = Context(e2e.stack.base_url, matrix_clients[("admin", "bearer")], matrix_clients[(OWNER, "bearer")])
    mismatches, calls = [], 0
    for name, op in OPS.items():
        for username in ROLES:
            for channel in ("bearer", "cookie", "cookie-nocsrf"):
                if channel == "cookie-nocsrf" and not op.writes:
                    continue
                path = op.path(ctx)
                body = op.body(ctx) if op.body else None
                resp = matrix_clients[(username, channel)].call(op.method, path, body, headers=op.headers or {})
                calls += 1
                want = expected(op, username, channel)
                if resp.status_code != want:
                    mismatches.append(f"{name} as {username} via {channel}: {resp.status_code} != {want} {resp.text[:200]}")
                elif resp.status_code >= 400:
                    assert resp.headers["Content-Type"].startswith("application/problem+json"), name
                    assert resp.json()["status"] == want
    assert not mismatches, "\n".join(mismatches)
    assert calls > 300


def test_denied_write_is_audited(e2e, matrix_clients):
    viewer = matrix_clients[("viewer", "bearer")]
    assert viewer.call("POST", "/workflows", simple_workflow(unique("nope"))).status_code == 403
    events = matrix_clients[("admin", "bearer")].ok("GET", "/audit?actor=viewer&action=permission_denied")
    assert events["items"][0]["object_name"] == "POST /pluginsv2/mlops/api/v1/workflows"
    assert events["items"][0]["details"]["needs"] == ["can_create", "MLOps Workflows"]


def test_every_role_with_mlops_permissions_sees_the_plugin_menu(e2e, matrix_clients):
    for username in ("viewer", "user1", "op", "admin"):
        client = matrix_clients[(username, "bearer")]
        resp = client.session.get(f"{e2e.stack.base_url}/api/v2/plugins", timeout=30)
        assert resp.status_code == 200, username
        assert "mlops" in [p["name"] for p in resp.json()["plugins"]]


def test_generated_dag_carries_access_control(e2e, matrix_clients):
    owner = matrix_clients[(OWNER, "bearer")]
    name = unique("acl")
    owner.ok("POST", "/workflows", simple_workflow(name))
    # By now the stack holds ~270 DAGs, and the dag-processor syncs every new DAG's FAB permissions as it
    # serializes it: one such sync was seen to hold the next parse back for 48 s on a busy machine.
    e2e.api.wait_dag(name, timeout=180)
    deadline = time.monotonic() + 60  # the dag-processor syncs DAG permissions as it serializes the DAG
    wanted = {"Viewer": ("can_read", f"DAG:{name}"), "User": ("can_create", f"DAG Run:{name}")}
    while wanted:
        for role, permission in list(wanted.items()):
            granted_now = {(a["action"]["name"], a["resource"]["name"])
                           for a in e2e.api.get(f"/auth/fab/v1/roles/{role}")["actions"]}
            if permission in granted_now:
                del wanted[role]
        assert time.monotonic() < deadline or not wanted, f"never granted: {wanted}"
        time.sleep(0.5)


def test_mlops_pages_share_the_login_and_check_permission(e2e, matrix_clients):
    """Every page is a plain shell (no legacy FAB navbar or banner); the browser tests drive what it renders."""
    base = f"{e2e.stack.base_url}/pluginsv2/mlops"
    viewer = matrix_clients[("viewer", "cookie")].session
    for path in ("/", "/templates", "/runs", "/compare?ids=a,b"):
        page = viewer.get(base + path, timeout=30)
        assert page.status_code == 200 and 'id="mlops-app"' in page.text, path
        assert "navbar" not in page.text and "deprecated" not in page.text.lower()
    assert viewer.get(base + "/workflows/new", timeout=30).status_code == 403  # may read, not create
    assert viewer.get(base + "/audit", timeout=30).status_code == 403
    asset = viewer.get(base + "/static/mlops/app.js", timeout=30)
    assert asset.status_code == 200 and "javascript" in asset.headers["Content-Type"]
    anonymous = matrix_clients[("anonymous", "bearer")].session
    assert anonymous.get(base + "/static/mlops/app.js", timeout=30).status_code == 401
    for path in ("/", "/templates", "/runs", "/compare?ids=a,b", "/audit", "/workflows/x"):
        redirected = anonymous.get(base + path, allow_redirects=False, timeout=30)
        assert redirected.status_code == 302 and "/auth/login/" in redirected.headers["Location"], path
    page_url = base + "/"

    ensure_users(e2e.stack.base_url, dict(e2e.api.session.headers))
    import requests

    requests.post(f"{e2e.stack.base_url}/auth/fab/v1/users", headers=dict(e2e.api.session.headers), timeout=30, json={
        "username": "nobody", "password": "nobody-pass", "first_name": "n", "last_name": "b",
        "email": "nobody@example.com", "roles": [{"name": "Public"}]})
    nobody = Client(e2e.stack.base_url, "nobody", "nobody-pass", "cookie-nocsrf")
    denied = nobody.session.get(page_url, timeout=30)
    assert denied.status_code == 403 and "MLOps Workflows" in denied.text
    assert "navbar" not in denied.text and "<iframe" not in denied.text  # a plain 403, not a nested Airflow UI
    assert nobody.session.get(base + "/compare?ids=a,b", timeout=30).status_code == 403  # may not read runs

    plugins = matrix_clients[("viewer", "bearer")].session.get(f"{e2e.stack.base_url}/api/v2/plugins", timeout=30).json()
    [mlops] = [p for p in plugins["plugins"] if p["name"] == "mlops"]
    assert mlops["external_views"][0]["href"] == "/pluginsv2/mlops/"
