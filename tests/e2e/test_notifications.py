"""Slack and email notifications from real runs, to real servers standing in for Slack and SMTP.

A failed run sends exactly one message per channel (webhook, Web API, email, the deployment default)
naming every failed task with its error; a success sends only when enabled; a Slack that answers 500 or
does not listen changes nothing about the run and is named in the log; "send a test notification"
reports each channel; no secret is ever shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from api_client import USERS, Client, ensure_users, unique
from notify_sinks import HOOK_500, HOOK_DEFAULT, HOOK_DOWN, HOOK_OK, HOOK_SLOW, SENDER, SLACK_API, SMTP, wait_for

SQLITE = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)
BOTH = pytest.mark.parametrize("e2e", ["sqlite", "postgres"], indirect=True)
QUIET_SECONDS = 8  # after the first message: long enough for a duplicate to show up


@pytest.fixture(scope="module")
def owner(e2e) -> Iterator[Client]:
    ensure_users(e2e.stack.base_url, dict(e2e.api.session.headers))
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "user1", USERS["user1"][0], "bearer")
    e2e.archive_workflows_except(before)


def pipeline(name: str, notifications: dict[str, Any], *, fail: bool = True, retries: int = 0) -> dict[str, Any]:
    """prepare -> (train, check_data) -> report; train and check_data fail when ``fail``."""
    train = "lr = params['lr']\nraise ValueError(f'loss diverged at lr={lr}')" if fail else "return params['lr']"
    check = "raise RuntimeError('schema mismatch in column <age>')" if fail else "return 'ok'"
    return {"name": name, "description": "notification e2e", "retries": retries, "retry_delay_seconds": 1,
            "params": {"lr": {"type": "number", "default": 0.1}},
            "tasks": [{"name": "prepare", "code": "return 1"},
                      {"name": "train", "depends_on": ["prepare"], "code": train},
                      {"name": "check_data", "depends_on": ["prepare"], "code": check},
                      {"name": "report", "depends_on": ["train", "check_data"], "code": "return 'done'"}],
            "notifications": notifications}


def run(e2e, client: Client, workflow: dict[str, Any], description: str, params: dict[str, Any]) -> str:
    e2e.api.wait_dag(workflow["name"])
    record = client.ok("POST", f"/jobs/trigger/{workflow['id']}",
                       {"params": params, "description": description, "unpause": True})
    return record["dag_run_id"]


def no_secret_in(text: str, e2e) -> None:
    for secret in e2e.sinks.secrets:
        assert secret not in text


@BOTH
def test_failed_run_sends_one_message_per_channel_with_everything_needed(e2e, owner):
    name = unique("notify_fail")
    workflow = owner.ok("POST", "/workflows", pipeline(name, {"on_failure": [
        {"type": "slack_webhook", "connection_id": HOOK_OK},
        {"type": "slack", "connection_id": SLACK_API, "channel": "#ml-alerts"},
        {"type": "email", "connection_id": SMTP, "to": ["ml-team@example.com", "oncall@example.com"]},
    ]}))
    run_id = run(e2e, owner, workflow, "nightly retrain <b>bold</b> {{ 7*7 }}", {"lr": 0.5})
    assert e2e.api.wait_run(name, run_id) == "failed"
    slack, smtp = e2e.sinks.slack, e2e.sinks.smtp
    wait_for(lambda: slack.posts("/hook/ok", run_id) and slack.posts("/api/", run_id) and smtp.find(run_id)
             and slack.posts("/hook/default", run_id), timeout=90)
    time.sleep(QUIET_SECONDS)
    [hook] = slack.posts("/hook/ok", run_id)
    [api] = slack.posts("/api/chat.postMessage", run_id)
    [mail] = smtp.find(run_id)
    [default] = slack.posts("/hook/default", run_id)  # the deployment's default channel, from [mlops]

    link = f"{e2e.stack.base_url}/dags/{name}/runs/{quote(run_id, safe='')}"
    text = hook["json"]["text"]
    for expected in (f"MLOps workflow {name} failed", f"*Run:* {run_id}", "*Status:* failed", "*Triggered by:* user1",
                     "*Description:* nightly retrain &lt;b&gt;bold&lt;/b&gt; {{ 7*7 }}", '"lr": 0.5', "*Version:* 1",
                     "*Duration:* ", "Failed task train", "ValueError: loss diverged at lr=0.5",
                     "at line 2 of the task code: raise ValueError(f'loss diverged at lr={lr}')",
                     "Failed task check_data", "RuntimeError: schema mismatch in column &lt;age&gt;", f"<{link}|"):
        assert expected in text, f"{expected!r} not in the Slack text:\n{text}"
    assert "Failed task prepare" not in text and "Failed task report" not in text  # upstream_failed is not failed
    blocks = hook["json"]["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": f"MLOps workflow {name} failed"}}
    assert blocks[-1]["elements"][0]["url"] == link
    assert api["json"]["channel"] == "#ml-alerts" and api["json"]["text"] == text
    assert json.loads(api["json"]["blocks"]) == blocks
    assert default["json"]["text"] == text

    assert mail["Subject"] == f"MLOps workflow {name} failed" and mail["From"] == SENDER
    assert mail["To"] == "ml-team@example.com, oncall@example.com"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for expected in (f"Run: {run_id}", "Triggered by: user1", "Description: nightly retrain <b>bold</b> {{ 7*7 }}",
                     "Failed task train:", "ValueError: loss diverged at lr=0.5", "Failed task check_data:",
                     f"Open the run in Airflow: {link}"):
        assert expected in plain, f"{expected!r} not in the email text:\n{plain}"
    for expected in ("nightly retrain &lt;b&gt;bold&lt;/b&gt;", "schema mismatch in column &lt;age&gt;",
                     f'href="{link}"', "<h3>Failed task train</h3>"):
        assert expected in html, f"{expected!r} not in the email HTML"
    for message in (json.dumps(hook["json"]), json.dumps(api["json"]), smtp.readable(mail)):
        no_secret_in(message, e2e)


@SQLITE
def test_success_is_sent_only_when_enabled(e2e, owner):
    quiet = owner.ok("POST", "/workflows", pipeline(unique("notify_quiet"), {
        "on_failure": [{"type": "slack_webhook", "connection_id": HOOK_OK}]}, fail=False))
    loud = owner.ok("POST", "/workflows", pipeline(unique("notify_loud"), {
        "on_success": [{"type": "slack_webhook", "connection_id": HOOK_OK},
                       {"type": "email", "connection_id": SMTP, "to": ["ml-team@example.com"]}]}, fail=False))
    quiet_run = run(e2e, owner, quiet, "quiet", {})
    assert e2e.api.wait_run(quiet["name"], quiet_run) == "success"
    loud_run = run(e2e, owner, loud, "loud", {"lr": 0.2})
    assert e2e.api.wait_run(loud["name"], loud_run) == "success"
    slack, smtp = e2e.sinks.slack, e2e.sinks.smtp
    wait_for(lambda: slack.posts("/hook/ok", loud_run) and smtp.find(loud_run), timeout=90)
    time.sleep(QUIET_SECONDS)
    [post] = slack.posts("/hook/ok", loud_run)
    assert f"MLOps workflow {loud['name']} succeeded" in post["json"]["text"]
    assert "*Status:* success" in post["json"]["text"] and "Failed task" not in post["json"]["text"]
    assert len(smtp.find(loud_run)) == 1
    assert slack.posts(containing=quiet_run) == [] and smtp.find(quiet_run) == []  # not enabled: nothing


@SQLITE
def test_a_broken_slack_changes_nothing_and_is_named_in_the_logs(e2e, owner):
    broken = {"on_failure": [{"type": "slack_webhook", "connection_id": HOOK_500},
                             {"type": "slack_webhook", "connection_id": HOOK_DOWN},
                             {"type": "slack_webhook", "connection_id": "no_such_connection"}],
              "on_success": [{"type": "slack_webhook", "connection_id": HOOK_DOWN}],
              "on_retry": [{"type": "slack_webhook", "connection_id": HOOK_500}], "use_defaults": False}
    cases = {}
    for fail in (True, False):
        with_notes = owner.ok("POST", "/workflows", pipeline(unique("notify_broken"), broken, fail=fail, retries=1))
        without = owner.ok("POST", "/workflows", pipeline(unique("notify_none"), {"use_defaults": False},
                                                          fail=fail, retries=1))
        cases[fail] = [(w["name"], run(e2e, owner, w, "broken slack", {})) for w in (with_notes, without)]
    for fail, pair in cases.items():
        outcomes = []
        for name, run_id in pair:
            state = e2e.api.wait_run(name, run_id, timeout=180)
            tasks = {t["task_id"]: (t["state"], t["try_number"]) for t in
                     e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run_id}/taskInstances")["task_instances"]}
            outcomes.append((state, tasks))
        assert outcomes[0] == outcomes[1], f"notifications changed the outcome: {outcomes}"
        assert outcomes[0][0] == ("failed" if fail else "success")

    name, run_id = cases[True][0]
    retry_log = e2e.api.task_log(name, run_id, "train", try_number=1)
    assert "MLOps on_retry notification" in retry_log and "FAILED (the run is not affected)" in retry_log
    assert "Status Code: 500" in retry_log
    assert "ValueError: loss diverged" in retry_log  # the task's own error is still there
    assert e2e.sinks.slack.posts("/hook/fail", run_id)  # the retry message was attempted

    # Both run-level callbacks run in the dag-processor, each whenever its run ends: wait for both messages.
    expected = (f"MLOps on_failure notification of '{name}'", f"MLOps on_success notification of '{cases[False][0][0]}'",
                "connection 'mlops_test_hook_500'", "Status Code: 500", "connection 'mlops_test_hook_down'",
                "Connection refused", "conn_id `no_such_connection` isn't defined")

    def run_level_errors() -> str:
        log = e2e.dag_processor_log()
        return log if all(s in log for s in expected) else ""
    try:
        log = wait_for(run_level_errors, timeout=120)
    except TimeoutError:
        missing = [s for s in expected if s not in e2e.dag_processor_log()]
        raise AssertionError(f"the dag-processor log lacks {missing}") from None
    for text in (retry_log, log):
        no_secret_in(text, e2e)


@SQLITE
def test_send_a_test_notification(e2e, owner):
    workflow = owner.ok("POST", "/workflows", pipeline(unique("notify_test"), {
        "on_failure": [{"type": "slack_webhook", "connection_id": HOOK_OK},
                       {"type": "slack", "connection_id": SLACK_API, "channel": "#ml-alerts"},
                       {"type": "email", "connection_id": SMTP, "to": ["ml-team@example.com"]},
                       {"type": "slack_webhook", "connection_id": HOOK_500},
                       {"type": "slack_webhook", "connection_id": HOOK_SLOW}]}))
    path = f"/workflows/{workflow['id']}/notifications/test"
    started = time.monotonic()
    result = owner.ok("POST", path, {"event": "on_failure"})
    assert time.monotonic() - started < 20  # the slow channel is given up after [mlops] notification_timeout (5 s)
    assert result["event"] == "on_failure"
    by_conn = {r["connection_id"]: r for r in result["results"]}
    assert set(by_conn) == {HOOK_OK, SLACK_API, SMTP, HOOK_500, HOOK_SLOW, HOOK_DEFAULT}  # + the deployment default
    assert all(by_conn[c]["ok"] and by_conn[c]["error"] is None for c in (HOOK_OK, SLACK_API, SMTP, HOOK_DEFAULT))
    assert by_conn[HOOK_500]["ok"] is False and "Status Code: 500" in by_conn[HOOK_500]["error"]
    assert by_conn[HOOK_SLOW]["ok"] is False and by_conn[HOOK_SLOW]["error"] == "gave up after 5 s (notification_timeout)"
    assert by_conn[SLACK_API]["target"] == "#ml-alerts" and by_conn[SMTP]["target"] == "ml-team@example.com"
    [post] = e2e.sinks.slack.posts("/hook/ok", f"[TEST] MLOps workflow {workflow['name']} failed")
    assert "*Test sent by:* user1" in post["json"]["text"]
    assert e2e.sinks.smtp.find(f"[TEST] MLOps workflow {workflow['name']}")
    no_secret_in(json.dumps(result), e2e)

    none = owner.call("POST", path, {"event": "on_success"})
    assert none.status_code == 400 and none.json()["errors"][0]["path"] == "event"
    bad = owner.call("POST", path, {"event": "on_fire"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "event"
    other = Client(e2e.stack.base_url, "user2", USERS["user2"][0], "bearer")
    assert other.call("POST", path, {"event": "on_failure"}).status_code == 403  # not the owner
    viewer = Client(e2e.stack.base_url, "viewer", USERS["viewer"][0], "bearer")
    assert viewer.call("POST", path, {"event": "on_failure"}).status_code == 403
    assert Client(e2e.stack.base_url, None, None, "anonymous").call("POST", path, {}).status_code == 401

    audit = owner_admin(e2e).ok("GET", f"/audit?object_id={workflow['id']}&action=notification_test")["items"]
    assert audit and audit[0]["actor"] == "user1" and audit[0]["details"]["failed"] == 2
    defaults = viewer.ok("GET", "/notifications/defaults")
    assert defaults == {"events": ["on_failure"], "timeout_seconds": 5, "channels": [
        {"type": "slack_webhook", "connection_id": HOOK_DEFAULT, "channel": None, "to": []}],
        "connections": {"slack_webhook": "slack_default", "slack": "slack_api_default", "email": "smtp_default"}}


@SQLITE
def test_secrets_are_refused_in_settings_and_never_shown(e2e, owner):
    spec = pipeline(unique("notify_secret"), {"on_failure": [
        {"type": "slack_webhook", "connection_id": f"https://hooks.slack.com/services/{e2e.sinks.secret}"},
        {"type": "slack", "connection_id": "xoxb-123-456-abcdef"},
        {"type": "email", "to": ["not-an-address"]}]})
    resp = owner.call("POST", "/workflows", spec)
    assert resp.status_code == 400
    paths = {e["path"] for e in resp.json()["errors"]}
    assert paths == {"notifications.on_failure[0].connection_id", "notifications.on_failure[1].connection_id",
                     "notifications.on_failure[1].channel", "notifications.on_failure[2].to[0]"}
    assert spec["name"] not in {w["name"] for w in owner.ok("GET", "/workflows?limit=500")["items"]}

    workflow = owner.ok("POST", "/workflows", pipeline(spec["name"], {"on_failure": [
        {"type": "slack_webhook", "connection_id": HOOK_OK}]}))
    shown = json.dumps([owner.ok("GET", f"/workflows/{workflow['id']}"),
                        owner.ok("GET", f"/workflows/{workflow['id']}/versions")])
    shown += owner.call("GET", f"/workflows/{workflow['id']}/export?format=yaml").text
    assert HOOK_OK in shown
    no_secret_in(shown, e2e)


def owner_admin(e2e) -> Client:
    return Client(e2e.stack.base_url, e2e.api.username, e2e.api.password, "bearer")
