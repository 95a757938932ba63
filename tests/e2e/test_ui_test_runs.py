"""Test runs in the workflow editor, in a real browser against a real Airflow.

An author changes a task's code, is told to save first, saves the draft, tests that one task (its upstream runs
first) and reads its state, result, metrics and log in the editor, then tests the whole draft, which fails
with the user's traceback in the failed task's log; what the code printed is shown as text, not markup.
Nothing is published. The panel is saved as a screenshot in light and dark under ``screenshots/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_client import USERS, Client, unique
from test_ui_browser import browser, login, shoot, site  # noqa: F401 - shared fixtures
from test_ui_drafts import type_in_code

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def owner(site) -> Client:  # noqa: F811
    return Client(site["base"], "user1", USERS["user1"][0], "bearer")


def workflow(name: str) -> dict[str, Any]:
    return {"name": name, "params": {"n": {"type": "integer", "default": 2, "minimum": 1, "maximum": 9}},
            "tasks": [{"name": "load", "code": "return list(range(params['n']))"},
                      {"name": "train", "depends_on": ["load"], "code": "return {'metrics': {'score': len(load)}}"},
                      {"name": "report", "depends_on": ["train"], "code": "return 'done'"}]}


def test_a_task_and_the_whole_draft_are_tested_from_the_editor(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("ui_test")
    wf = owner.ok("POST", "/workflows", workflow(name))
    e2e.api.wait_dag(name)
    s = login(browser, site, "user1")
    page = s.open(f"/workflows/{wf['id']}")
    panel = page.locator("#mlops-test")
    expect(panel).to_contain_text("published version 1")

    # An unsaved change: testing waits for the save (tests run the saved draft).
    type_in_code(page, "train", "print('<b>seen ' + str(len(load)) + '</b>')", "Enter")
    expect(panel.locator("#mlops-test-task")).to_be_disabled()
    expect(panel).to_contain_text("Save the draft first")
    page.keyboard.press("Control+s")
    expect(page.locator("#mlops-save-status")).to_have_text("Draft saved · not published")
    expect(panel).to_contain_text("saved draft")

    # Test the selected task with n = 3: "load" runs first, then "train"; results, metrics and log in the page.
    panel.locator("#test-n").fill("3")  # the typed parameters form, as the trigger's
    panel.get_by_role("button", name="Test task train").click()
    result = panel.locator("#mlops-test-result")
    expect(result).to_have_attribute("data-state", "success", timeout=120_000)
    expect(result.locator("[data-test-task]")).to_have_count(2)
    train = result.locator("[data-test-task='train']")
    expect(train).to_have_attribute("data-state", "success")
    expect(train.locator(".mlops-test-metrics")).to_have_text("score = 3")
    train.locator("summary", has_text="Log").click()
    expect(train.locator(".mlops-test-log")).to_contain_text("<b>seen 3</b>")  # shown as text
    expect(train.locator(".mlops-test-log b")).to_have_count(0)
    expect(result.locator("[data-test-task='load'] .mlops-test-value")).to_contain_text("2")
    shoot(page, "editor-test-run")

    # Break "report" and test the whole draft: it fails there, with the user's line in its log.
    type_in_code(page, "report", "raise RuntimeError('no report today')", "Enter")
    page.keyboard.press("Control+s")
    expect(page.locator("#mlops-save-status")).to_have_text("Draft saved · not published")
    panel.get_by_role("button", name="Test all").click()
    expect(result).to_have_attribute("data-state", "failed", timeout=120_000)
    report = result.locator("[data-test-task='report']")
    expect(report).to_have_attribute("data-state", "failed")
    expect(report.locator(".mlops-error")).to_have_text("RuntimeError: no report today")
    expect(report.locator(".mlops-test-log")).to_contain_text("line 1")  # the log is open for a failed task
    assert owner.ok("GET", f"/workflows/{wf['id']}")["version"] == 1  # nothing was published
    assert len(owner.ok("GET", f"/workflows/{wf['id']}/tests")["items"]) == 2
