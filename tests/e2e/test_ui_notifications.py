"""Notifications in the workflow editor, in a real browser against the real api-server and real stand-ins.

A User adds on-failure channels (Slack webhook, Slack Web API with a channel, email) by connection id, sees
the missing Slack channel refused at its field, saves the draft and publishes it, sends a test notification
and reads each channel's result in the page; then adds a webhook that answers 500, saves the draft (Ctrl+S) -
a test would still use the published version - publishes it, tests again and sees that one fail with its error
while the others still work. The Slack and SMTP stand-ins really receive the messages; no secret of the
connections ever reaches the page. A Viewer and a User who does not own the workflow see the section
read-only, without the test. Screenshots (light and dark) go to ``screenshots/``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from api_client import USERS, Client, simple_workflow, unique
from notify_sinks import HOOK_500, HOOK_OK, SLACK_API, SMTP, wait_for
from test_ui_browser import browser, login, publish_draft, shoot, site  # noqa: F401 - the module's fixtures, shared

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

RECIPIENT = "ml-team@example.com"


def assert_no_secret(page: Any, sinks: Any) -> None:
    """Neither the markup nor the visible text of the page holds a webhook URL token, bot token or password."""
    html, text = page.content(), page.locator("body").inner_text()
    for secret in sinks.secrets:
        assert secret not in html and secret not in text, "a connection secret reached the page"


def open_notifications(session: Any, workflow_id: str) -> Any:
    page = session.open(f"/workflows/{workflow_id}")
    page.get_by_role("tab", name=re.compile("^Notifications")).click()
    return page


def channel_row(page: Any, event: str, index: int) -> Any:
    return page.locator(f"[data-event='{event}'] fieldset.mlops-channel[data-channel='{index}']")


def test_user_sets_up_tests_and_fixes_notifications(e2e, browser, site):  # noqa: F811 - fixtures imported above
    from playwright.sync_api import expect

    sinks = e2e.sinks
    owner = Client(site["base"], "user1", USERS["user1"][0], "bearer")
    name = unique("ui_notify")
    wf = owner.ok("POST", "/workflows", simple_workflow(name))
    defaults = owner.ok("GET", "/notifications/defaults")

    s = login(browser, site, "user1")
    page = open_notifications(s, wf["id"])
    status = page.locator("#mlops-save-status")
    expect(page.locator("#mlops-notifications")).to_contain_text("Admin → Connections")
    expect(page.locator("#mlops-notifications")).to_contain_text("only the connection id")
    # The deployment's defaults are listed next to the box that keeps them (checked for a new workflow).
    keep_defaults = page.get_by_label("Also send to the deployment's default channels")
    expect(keep_defaults).to_be_checked()
    listing = page.locator("#mlops-notify-defaults-list")
    if defaults["events"] and defaults["channels"]:
        for event in defaults["events"]:
            expect(listing).to_contain_text(f"{event.replace('_', ' ')}:")
        for channel in defaults["channels"]:
            expect(listing).to_contain_text(channel["connection_id"] or channel["channel"] or ", ".join(channel["to"]))
    else:
        expect(listing).to_contain_text("no default channels")

    # Three on-failure channels, by connection id; the Slack (Web API) channel is left empty at first.
    failure = page.locator("[data-event='on_failure']")
    for _ in range(3):
        failure.get_by_role("button", name="+ Add channel").click()
    webhook, slack, mail = (channel_row(page, "on_failure", i) for i in range(3))
    expect(webhook.get_by_label("Connection id")).to_have_attribute("placeholder", re.compile("^default: "))
    webhook.get_by_label("Connection id").fill(HOOK_OK)
    slack.get_by_label("Type").select_option("slack")
    slack.get_by_label("Connection id").fill(SLACK_API)
    mail.get_by_label("Type").select_option("email")
    expect(mail.get_by_label("Slack channel")).to_have_count(0)  # each type shows only its own fields
    mail.get_by_label("Connection id").fill(SMTP)
    mail.get_by_label("Recipients").fill(RECIPIENT)
    expect(webhook.get_by_label("Recipients")).to_have_count(0)
    # Refused at the field, as the user types (the same check a save runs), and listed under Problems.
    expect(slack.get_by_label("Slack channel")).to_have_attribute("aria-invalid", "true")
    expect(slack.locator(".mlops-field.has-error")).to_contain_text("channel to post to")
    expect(page.locator(".mlops-problems")).to_contain_text("notifications.on_failure[1].channel")
    expect(page.get_by_role("tab", name=re.compile("^Notifications")).locator(".mlops-dot")).to_have_count(1)
    expect(status).to_have_text(re.compile("problem"))
    test_button = page.get_by_role("button", name="Send test notification")
    expect(test_button).to_be_disabled()
    expect(page.locator("#mlops-notify-test-hint")).to_contain_text("Save first")
    shoot(page, "editor-notifications-error")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".mlops-banner.error")).to_contain_text("notifications.on_failure[1].channel")
    page.locator(".mlops-banner.error").get_by_role("button", name="Dismiss").click()

    slack.get_by_label("Slack channel").fill("#ml-alerts")
    expect(slack.locator(".mlops-field.has-error")).to_have_count(0)
    expect(status).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Save draft").click()
    publish_draft(page, "tell the team on failure", 2)
    saved = owner.ok("GET", f"/workflows/{wf['id']}")["notifications"]
    assert [(c["type"], c["connection_id"], c.get("channel"), c.get("to") or []) for c in saved["on_failure"]] == [
        ("slack_webhook", HOOK_OK, None, []), ("slack", SLACK_API, "#ml-alerts", []), ("email", SMTP, None, [RECIPIENT])]
    assert saved["use_defaults"] is True

    # A test through the saved channels: each one answers in the page.
    expect(test_button).to_be_enabled()
    expect(page.get_by_label("Event")).to_have_value("on_failure")
    test_button.click()
    results = page.locator("#mlops-notify-results")
    expect(results.locator("tr[data-ok]").first).to_be_visible(timeout=60_000)
    for conn_id in (HOOK_OK, SLACK_API, SMTP):
        row = results.locator(f"tr[data-connection-id='{conn_id}']")
        expect(row).to_have_attribute("data-ok", "true")
        expect(row.locator(".mlops-state")).to_have_text("ok")
    expect(results.locator(f"tr[data-connection-id='{SLACK_API}']")).to_contain_text("#ml-alerts")
    expect(results.locator(f"tr[data-connection-id='{SMTP}']")).to_contain_text(RECIPIENT)
    expect(results.locator("tr[data-ok='false']")).to_have_count(0)
    expect(results).to_contain_text(re.compile(r"(\d+) of \1 channels? ok"))
    # The stand-ins got the messages, naming the workflow.
    wait_for(lambda: sinks.slack.posts("/hook/ok", name), 30)
    posted = wait_for(lambda: sinks.slack.posts("/api/", name), 30)
    assert "#ml-alerts" in json.dumps(posted[-1]["json"])
    mails = wait_for(lambda: sinks.smtp.find(name), 30)
    assert RECIPIENT in str(mails[-1]["To"])
    assert_no_secret(page, sinks)
    shoot(page, "editor-notifications-tested")

    # A webhook whose server fails: saved, tested, and reported as failed with its error; the rest still work.
    failure.get_by_role("button", name="+ Add channel").click()
    channel_row(page, "on_failure", 3).get_by_label("Connection id").fill(HOOK_500)
    expect(test_button).to_be_disabled()
    page.keyboard.press("Control+s")
    expect(page.locator("#mlops-notify-test-hint")).to_contain_text("published version 2 (not the draft)", timeout=30_000)
    publish_draft(page, "and a webhook that fails", 3)
    expect(test_button).to_be_enabled()
    test_button.click()
    broken = results.locator(f"tr[data-connection-id='{HOOK_500}']")
    expect(broken).to_have_attribute("data-ok", "false", timeout=60_000)
    expect(broken.locator(".mlops-state")).to_have_text("failed")
    expect(broken.locator("td.mlops-error")).to_have_text(re.compile(r"\S"))
    for conn_id in (HOOK_OK, SLACK_API, SMTP):
        expect(results.locator(f"tr[data-connection-id='{conn_id}']")).to_have_attribute("data-ok", "true")
    expect(results).to_contain_text(re.compile(r"\d+ of \d+ channels ok"))
    wait_for(lambda: sinks.slack.posts("/hook/fail", name), 30)
    assert_no_secret(page, sinks)
    shoot(page, "editor-notifications-failed")

    # The change reads in the version history: the notifications setting, its JSON side by side.
    page.get_by_role("link", name="Versions").click()
    change = page.locator("#mlops-version-diff tr[data-setting='notifications']")
    expect(page.locator("#mlops-version-diff")).to_contain_text("v2 → v3")
    expect(change.locator(".mlops-diff-t.add", has_text=f'"connection_id": "{HOOK_500}"')).to_have_count(1)
    assert_no_secret(page, sinks)
    s.close()

    # A Viewer, and a User who does not own the workflow: the same section, read-only, no test.
    for username in ("viewer", "user2"):
        other = login(browser, site, username)
        page = open_notifications(other, wf["id"])
        expect(page.locator(".mlops-banner.info")).to_contain_text("Read-only")
        expect(page.locator("[data-event='on_failure'] fieldset.mlops-channel")).to_have_count(4)
        expect(channel_row(page, "on_failure", 0).get_by_label("Connection id")).to_have_value(HOOK_OK)
        expect(channel_row(page, "on_failure", 0).get_by_label("Connection id")).to_be_disabled()
        expect(channel_row(page, "on_failure", 1).get_by_label("Slack channel")).to_have_value("#ml-alerts")
        expect(channel_row(page, "on_failure", 1).get_by_label("Type")).to_be_disabled()
        expect(page.get_by_label("Also send to the deployment's default channels")).to_be_disabled()
        expect(page.get_by_role("button", name="+ Add channel")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("Remove channel"))).to_have_count(0)
        expect(page.get_by_role("button", name="Send test notification")).to_have_count(0)
        assert_no_secret(page, sinks)
        if username == "viewer":
            shoot(page, "editor-notifications-viewer")
        other.close()
