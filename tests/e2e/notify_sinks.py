"""Real servers on 127.0.0.1 standing in for Slack (incoming webhooks and the Web API) and for SMTP.

The Slack stand-in answers like Slack: ``POST /hook/ok/<secret>`` -> 200 ``ok``; ``/hook/fail/<secret>``
-> 500; ``/hook/slow/<secret>`` -> waits ``SLOW_SECONDS`` first; ``POST /api/chat.postMessage`` (bearer
token) -> ``{"ok": true}``. Every request is recorded. SMTP is aiosmtpd, recording each message.
The Airflow connections pointing at them are given by :func:`connection_env`.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOOK_OK = "mlops_test_hook"
HOOK_500 = "mlops_test_hook_500"
HOOK_DOWN = "mlops_test_hook_down"
HOOK_SLOW = "mlops_test_hook_slow"
HOOK_DEFAULT = "mlops_test_hook_default"
SLACK_API = "mlops_test_slack_api"
SMTP = "mlops_test_smtp"
SLOW_SECONDS = 30
SECRET = "T0SECRET/B0SECRET/webhook-token-1c3f5e7a"
BOT_TOKEN = "xoxb-test-bot-token-9d8c7b6a5f"
SMTP_PASSWORD = "smtp-pass-4e3d2c1b"
SENDER = "mlops-alerts@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


class SlackStandIn:
    """Records ``{"path", "json", "headers"}`` per request; ``requests`` is safe to read while it runs."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body) if body else None
                except ValueError:
                    payload = None
                with outer.lock:
                    outer.requests.append({"path": self.path, "json": payload, "body": body.decode(errors="replace"),
                                           "headers": dict(self.headers)})
                if self.path.startswith("/hook/slow/"):
                    time.sleep(SLOW_SECONDS)
                if self.path.startswith("/hook/fail/"):
                    self._answer(500, b"internal error", "text/plain")
                elif self.path.startswith("/api/"):
                    self._answer(200, json.dumps({"ok": True, "channel": "C1", "ts": "1.0"}).encode(), "application/json")
                else:
                    self._answer(200, b"ok", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SlackStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def posts(self, kind: str | None = None, containing: str = "") -> list[dict[str, Any]]:
        """Recorded posts (``kind``: a path prefix like ``/hook/ok``) whose JSON mentions ``containing``."""
        with self.lock:
            found = list(self.requests)
        return [r for r in found if (kind is None or r["path"].startswith(kind))
                and containing in json.dumps(r["json"])]


class SmtpStandIn:
    """aiosmtpd on 127.0.0.1 (AUTH over plain SMTP allowed: it is a local test server)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.envelopes: list[dict[str, Any]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                outer.envelopes.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos)})
                outer.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult

            return AuthResult(success=auth_data.login == b"mlops" and auth_data.password == SMTP_PASSWORD.encode())

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                     auth_require_tls=False)

    def start(self) -> SmtpStandIn:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def find(self, containing: str) -> list[EmailMessage]:
        """Messages whose subject or any decoded text part contains ``containing``."""
        return [m for m in list(self.messages) if containing in self.readable(m)]

    @staticmethod
    def readable(message: EmailMessage) -> str:
        parts = [str(message["Subject"])]
        parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
        return "\n".join(parts)


class Sinks:
    def __init__(self) -> None:
        self.slack = SlackStandIn().start()
        self.smtp = SmtpStandIn().start()
        self.down_port = _free_port()  # nothing listens here
        self.secret = SECRET
        self.secrets = (SECRET, BOT_TOKEN, SMTP_PASSWORD)

    def stop(self) -> None:
        self.slack.stop()
        self.smtp.stop()

    def connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables for every process of an Airflow stack (JSON form)."""
        base = f"http://127.0.0.1:{self.slack.port}"

        def hook(path: str, port: int | None = None) -> str:
            url = f"http://127.0.0.1:{port}/hook/{path}/{SECRET}" if port else f"{base}/hook/{path}/{SECRET}"
            return json.dumps({"conn_type": "slackwebhook", "password": url})

        connections = {
            HOOK_OK: hook("ok"), HOOK_500: hook("fail"), HOOK_SLOW: hook("slow"), HOOK_DEFAULT: hook("default"),
            HOOK_DOWN: hook("ok", self.down_port),
            SLACK_API: json.dumps({"conn_type": "slack", "password": BOT_TOKEN,
                                   "extra": {"base_url": f"{base}/api/"}}),
            SMTP: json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.smtp.port, "login": "mlops",
                              "password": SMTP_PASSWORD,
                              "extra": {"disable_ssl": True, "disable_tls": True, "from_email": SENDER,
                                        "timeout": 10, "retry_limit": 0}}),
        }
        return {f"AIRFLOW_CONN_{conn_id.upper()}": value for conn_id, value in connections.items()}
