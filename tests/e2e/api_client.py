"""Callers of the MLOps REST API as real clients are: bearer-token scripts and logged-in browsers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import requests

API = "/pluginsv2/mlops/api/v1"
USERS = {  # username -> (password, role)
    "viewer": ("viewer-pass", "Viewer"),
    "user1": ("user1-pass", "User"),
    "user2": ("user2-pass", "User"),
    "op": ("op-pass", "Op"),
}


def ensure_users(base_url: str, admin_headers: dict[str, str]) -> None:
    """Create the test users through the FAB REST API (idempotent)."""
    for username, (password, role) in USERS.items():
        resp = requests.post(f"{base_url}/auth/fab/v1/users", headers=admin_headers, timeout=30, json={
            "username": username, "password": password, "first_name": username, "last_name": role,
            "email": f"{username}@example.com", "roles": [{"name": role}]})
        assert resp.status_code in (200, 409), resp.text


class Client:
    """One caller. ``channel`` is "bearer" (token from /auth/token), "cookie" (browser login, sends the CSRF
    token on writes), "cookie-nocsrf" (browser login, forgets the CSRF token) or "anonymous"."""

    def __init__(self, base_url: str, username: str | None, password: str | None, channel: str):
        self.base_url, self.username, self.channel = base_url, username, channel
        self.session = requests.Session()
        self.csrf: str | None = None
        if channel == "bearer":
            resp = requests.post(f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30)
            resp.raise_for_status()
            self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        elif channel.startswith("cookie"):
            self._browser_login(password)
            if channel == "cookie":
                self.csrf = self.session.get(f"{base_url}{API}/csrf-token", timeout=30).json()["csrf_token"]

    def _browser_login(self, password: str | None) -> None:
        page = self.session.get(f"{self.base_url}/auth/login/", timeout=30).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        resp = self.session.post(f"{self.base_url}/auth/login/", allow_redirects=False, timeout=30,
                                 data={"csrf_token": token, "username": self.username, "password": password})
        assert resp.status_code == 302 and "_token" in self.session.cookies, f"login failed for {self.username}"

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.csrf and method not in ("GET", "HEAD"):
            headers["X-CSRFToken"] = self.csrf
        if body is not None:
            kwargs["json"] = body
        return self.session.request(method, f"{self.base_url}{API}{path}", headers=headers, timeout=60, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        resp = self.call(method, path, body, **kwargs)
        assert resp.status_code < 300, f"{method} {path} -> {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def edit(self, method: str, path: str, body: Any) -> Any:
        """PUT or PATCH as a careful client does: based on the revision it has just read (If-Match)."""
        current = self.call("GET", path)
        assert current.status_code == 200, f"GET {path} -> {current.status_code} {current.text}"
        return self.ok(method, path, body, headers={"If-Match": current.headers["ETag"]})


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def simple_workflow(name: str, code: str = "return 1") -> dict[str, Any]:
    return {"name": name, "params": {"n": {"type": "integer", "default": 1, "minimum": 0, "maximum": 10}},
            "tasks": [{"name": "a", "code": code}, {"name": "b", "code": "return a", "depends_on": ["a"]}]}
