"""Under an auth manager other than FAB's, the plugin cannot evaluate its permissions: it must fail closed.

Airflow 3's default SimpleAuthManager answers ``is_authorized_custom_view`` for any action by the user's
role alone (every Viewer passes). A real api-server runs here with SimpleAuthManager and two users, a
Viewer and an Admin: reads of workflows stay open to them, every write and the audit log are refused
with a problem body that says why, the refusal is in the api-server log, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from api_client import simple_workflow
from conftest import PINNED_SECRETS
from stack import AirflowStack

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
USERS = {"viewer": ("viewer", "viewer-pass-e2e"), "admin": ("admin", "admin-pass-e2e")}
API = "/pluginsv2/mlops/api/v1"
REASON = "MLOps permissions need Airflow's FAB auth manager"


@pytest.fixture(scope="module")
def simple_stack(tmp_path_factory) -> Iterator[AirflowStack]:
    home = tmp_path_factory.mktemp("airflow-simple-auth")
    passwords = home / "simple_auth_passwords.json"
    passwords.write_text(json.dumps({name: password for name, password in USERS.values()}))
    stack = AirflowStack(home, secrets_=PINNED_SECRETS, overrides={
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'mlops.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for role, (name, _) in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    })
    stack.migrate()
    stack.start(components=("api-server",))
    try:
        stack.wait_healthy()
        yield stack
    finally:
        stack.stop()


def _session(stack: AirflowStack, role: str) -> requests.Session:
    username, password = USERS[role]
    resp = requests.post(f"{stack.base_url}/auth/token", json={"username": username, "password": password}, timeout=30)
    resp.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    return session


def _api_server_log(stack: AirflowStack) -> str:
    return Path(stack.home, "logs", "api-server.out").read_text(errors="replace")


def test_simple_auth_manager_reads_only_and_refuses_every_write(simple_stack: AirflowStack) -> None:
    seeded = simple_workflow("fail_closed_seeded", "return 1")
    simple_stack.run_command(["airflow-mlops", "create", "-"], input_text=json.dumps(seeded))
    base = f"{simple_stack.base_url}{API}"
    for role in ("viewer", "admin"):
        client = _session(simple_stack, role)
        listed = client.get(f"{base}/workflows", timeout=30)
        assert listed.status_code == 200, listed.text
        assert [w["name"] for w in listed.json()["items"]] == ["fail_closed_seeded"]
        workflow_id, revision = listed.json()["items"][0]["id"], listed.json()["items"][0]["revision"]

        writes = [
            ("POST", "/workflows", simple_workflow(f"fail_closed_by_{role}", "return 2")),
            ("PATCH", f"/workflows/{workflow_id}", {"description": f"changed by {role}"}),
            ("DELETE", f"/workflows/{workflow_id}", None),
            ("POST", f"/jobs/trigger/{workflow_id}", {"params": {}}),
            ("POST", "/templates", {"name": f"t_{role}", "category": "training", "spec": seeded}),
        ]
        for method, path, body in writes:
            resp = client.request(method, f"{base}{path}", json=body, headers={"If-Match": '"1"'}, timeout=30)
            assert resp.status_code == 403, (role, method, path, resp.status_code, resp.text)
            assert resp.headers["Content-Type"].startswith("application/problem+json")
            assert REASON in resp.json()["detail"] and "SimpleAuthManager" in resp.json()["detail"]
        audit = client.get(f"{base}/audit", timeout=30)
        assert audit.status_code == 403 and REASON in audit.json()["detail"]

        after = client.get(f"{base}/workflows/{workflow_id}", timeout=30).json()
        assert (after["revision"], after["active"]) == (revision, True)
        names = [w["name"] for w in client.get(f"{base}/workflows", timeout=30).json()["items"]]
        assert names == ["fail_closed_seeded"], names
    assert REASON in _api_server_log(simple_stack)


def test_simple_auth_manager_anonymous_is_still_401(simple_stack: AirflowStack) -> None:
    resp = requests.post(f"{simple_stack.base_url}{API}/workflows", json=simple_workflow("anon", "return 1"),
                         timeout=30)
    assert resp.status_code == 401
