"""Drafts in the workflow editor, in a real browser against the real api-server.

Saving an existing workflow saves its draft: a syntax error is refused at its field, the fixed draft is saved
while the published version (and what runs) stays the same, the editor reopens on the draft with its banner,
"Changes" shows the draft against the published version, Publish (with a version message) makes it the next
version, Discard drops another draft, a draft gone stale is rebased, and someone else's draft save is a conflict
the page explains. With a review required, the author asks for one, a User who is no reviewer is refused with
the server's message and an Op approves. User text in the banner and the diff is escaped. The banner is saved
as a screenshot in light and dark under ``screenshots/``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from api_client import USERS, Client, simple_workflow, unique
from test_ui_browser import browser, login, shoot, site  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def owner(site) -> Client:  # noqa: F811
    return Client(site["base"], "user1", USERS["user1"][0], "bearer")


def draft_of(client: Client, workflow_id: str) -> dict[str, Any] | None:
    resp = client.call("GET", f"/workflows/{workflow_id}/draft")
    assert resp.status_code in (200, 404), resp.text
    return resp.json() if resp.status_code == 200 else None


def type_in_code(page: Any, task: str, *keys: str) -> Any:
    """Click into a task's code editor at its first line and type (``\\n`` presses Enter)."""
    page.locator(f"[data-task-button='{task}']").click()
    form = page.locator(f".mlops-task-form[data-task='{task}']")
    form.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    for text in keys:
        if text in ("Enter", "ArrowUp", "End"):
            page.keyboard.press(text)
        else:
            page.keyboard.type(text)
    return form


def require_review(context: Any) -> None:
    """The test stack does not set ``[mlops] require_review``: answer every draft as if it did (the server still
    decides everything else), so the page's review flow can be driven."""

    def patch(route: Any) -> None:
        response = route.fetch()
        try:
            data = json.loads(response.text() or "null")
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("review"), dict):
            data["review"]["required"] = True
            route.fulfill(response=response, json=data)
        else:
            route.fulfill(response=response)

    context.route(re.compile(r".*/api/v1/workflows/[^/]+/draft(/.*)?(\?.*)?$"), patch)


def test_draft_is_checked_saved_compared_published_and_discarded(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("ui_draft")
    wf = owner.ok("POST", "/workflows", simple_workflow(name))
    s = login(browser, site, "user1")
    page = s.open(f"/workflows/{wf['id']}")
    status = page.locator("#mlops-save-status")
    banner = page.locator("#mlops-draft")
    expect(status).to_have_text("Saved · v1")
    expect(banner).to_have_count(0)

    # Invalid code in task b: the draft save is refused, the error shown at the code field; no draft is stored.
    form = type_in_code(page, "b", "Enter", "ArrowUp", "x = 1 +")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".mlops-banner.error")).to_contain_text("tasks[1].code")
    expect(form.locator("[data-code-error]")).to_contain_text("line 1")
    expect(form.locator(".cm-lint-marker-error")).to_have_count(1)
    assert draft_of(owner, wf["id"]) is None

    # Fixed and saved (Ctrl+S): a draft, not a version; the published version is unchanged.
    page.locator(".mlops-banner.error").get_by_role("button", name="Dismiss").click()
    type_in_code(page, "b", "End", " 41")
    expect(form.locator("[data-code-error]")).to_have_count(0)
    page.keyboard.press("Control+s")
    expect(status).to_have_text("Draft saved · not published")
    expect(banner).to_contain_text("Draft — not published")
    expect(banner).to_contain_text("Based on version 1, saved by user1")
    expect(banner.locator("#mlops-draft-stale")).to_have_count(0)
    published = owner.ok("GET", f"/workflows/{wf['id']}")
    assert published["version"] == 1 and published["tasks"][1]["code"] == "return a"
    assert draft_of(owner, wf["id"])["spec"]["tasks"][1]["code"] == "x = 1 + 41\nreturn a"

    # Reopened, the editor shows the draft (not the published spec), with its banner.
    page = s.open(f"/workflows/{wf['id']}")
    banner = page.locator("#mlops-draft")
    expect(banner).to_contain_text("Draft — not published")
    expect(page.locator("#mlops-save-status")).to_have_text("Draft saved · not published")
    page.locator("[data-task-button='b']").click()
    expect(page.locator(".mlops-task-form[data-task='b'] .cm-content")).to_contain_text("x = 1 + 41")
    shoot(page, "editor-draft")

    # Changes: the draft against the published version, the code side by side.
    banner.get_by_role("button", name="Changes").click()
    changes = page.get_by_role("dialog", name="Changes: the draft vs published version 1")
    task_diff = changes.locator("#mlops-draft-diff [data-task-diff='b']")
    expect(task_diff.locator(".mlops-diff-t.add")).to_have_text(re.compile("x = 1 \\+ 41"))
    expect(task_diff.locator(".mlops-diff-t.del")).to_have_count(0)
    expect(changes.locator("thead").first).to_contain_text("published v1")
    shoot(page, "editor-draft-changes")
    changes.get_by_role("button", name="Close").click()

    # Publish with a version message: version 2, and no draft any more.
    banner.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Publish the draft as version 2?")
    dialog.get_by_label("Version message").fill("b computes x first")
    dialog.get_by_role("button", name="Publish").click()
    expect(page.locator("#mlops-save-status")).to_have_text("Saved · v2")
    expect(page.locator("#mlops-draft")).to_have_count(0)
    published = owner.ok("GET", f"/workflows/{wf['id']}")
    assert published["version"] == 2 and published["tasks"][1]["code"] == "x = 1 + 41\nreturn a"
    assert draft_of(owner, wf["id"]) is None
    assert owner.ok("GET", f"/workflows/{wf['id']}/versions")["items"][0]["message"] == "b computes x first"

    # Another draft, discarded after an in-page confirmation: the form shows version 2 again.
    page.get_by_role("tab", name=re.compile("Settings")).click()
    page.get_by_label("Description").fill("to be discarded")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#mlops-draft")).to_contain_text("Based on version 2")
    assert draft_of(owner, wf["id"])["spec"]["description"] == "to be discarded"
    page.locator("#mlops-draft").get_by_role("button", name="Discard").click()
    page.get_by_role("dialog", name="Discard the draft?").get_by_role("button", name="Discard draft").click()
    expect(page.locator("#mlops-draft")).to_have_count(0)
    expect(page.get_by_label("Description")).to_have_value("")
    expect(page.locator("#mlops-save-status")).to_have_text("Saved · v2")
    assert draft_of(owner, wf["id"]) is None and owner.ok("GET", f"/workflows/{wf['id']}")["version"] == 2
    s.close()


def test_stale_draft_is_rebased_and_a_concurrent_draft_save_is_a_conflict(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("ui_stale")
    wf = owner.ok("POST", "/workflows", simple_workflow(name))
    s = login(browser, site, "user1")
    page = s.open(f"/workflows/{wf['id']}")
    page.get_by_role("tab", name=re.compile("Settings")).click()
    page.get_by_label("Description").fill("from the draft")
    page.keyboard.press("Control+s")
    expect(page.locator("#mlops-save-status")).to_have_text("Draft saved · not published")

    # Someone publishes version 2 meanwhile: the reopened draft is stale, Publish waits for a rebase.
    owner.edit("PATCH", f"/workflows/{wf['id']}", {"retries": 2})
    page = s.open(f"/workflows/{wf['id']}")
    banner = page.locator("#mlops-draft")
    expect(banner.locator("#mlops-draft-stale")).to_have_text("Stale: version 2 was published since.")
    expect(banner.get_by_role("button", name="Publish")).to_be_disabled()
    banner.get_by_role("button", name="Rebase").click()
    page.get_by_role("dialog", name="Rebase the draft on version 2?").get_by_role("button", name="Rebase draft").click()
    expect(banner.locator("#mlops-draft-stale")).to_have_count(0)
    expect(banner).to_contain_text("Based on version 2")
    expect(banner.get_by_role("button", name="Publish")).to_be_enabled()
    draft = draft_of(owner, wf["id"])
    assert (draft["base_version"], draft["stale"]) == (2, False)

    # Someone else saves the draft meanwhile: the page's save is refused and explained; mine can go over it.
    theirs = {**simple_workflow(name), "description": "their draft", "revision": draft["revision"]}
    owner.ok("PUT", f"/workflows/{wf['id']}/draft", theirs)
    page.get_by_role("tab", name=re.compile("Settings")).click()
    page.get_by_label("Description").fill("mine again")
    page.get_by_role("button", name="Save draft").click()
    conflict = page.locator("#mlops-conflict")
    expect(conflict).to_contain_text("Someone else saved this workflow's draft")
    conflict.get_by_role("button", name="Show diff").click()
    dialog = page.get_by_role("dialog", name="Your changes vs their draft")
    expect(dialog.locator(".mlops-diff-t.del")).to_contain_text("their draft")
    expect(dialog.locator(".mlops-diff-t.add")).to_contain_text("mine again")
    dialog.get_by_role("button", name="Close").click()
    conflict.get_by_role("button", name="Save mine over it").click()
    expect(conflict).to_have_count(0)
    expect(page.locator("#mlops-save-status")).to_have_text("Draft saved · not published")
    assert draft_of(owner, wf["id"])["spec"]["description"] == "mine again"
    assert owner.ok("GET", f"/workflows/{wf['id']}")["version"] == 2
    s.close()


def test_review_is_requested_refused_to_a_non_reviewer_and_approved(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("ui_review")
    wf = owner.ok("POST", "/workflows", simple_workflow(name))
    author = login(browser, site, "user1")
    require_review(author.context)
    page = author.open(f"/workflows/{wf['id']}")
    type_in_code(page, "a", "Enter", "ArrowUp", "# reviewed change")
    page.keyboard.press("Control+s")
    banner = page.locator("#mlops-draft")
    review = banner.locator("#mlops-review")
    expect(review).to_have_attribute("data-review-state", "none")
    expect(review).to_contain_text("required to publish")
    expect(banner.get_by_role("button", name="Publish")).to_be_disabled()
    expect(banner.get_by_role("button", name="Approve")).to_have_count(0)  # nobody reviews their own draft
    banner.get_by_role("button", name="Request review").click()
    dialog = page.get_by_role("dialog", name="Request a review")
    dialog.get_by_label("Comment for the reviewer").fill("adds a comment line")
    dialog.get_by_role("button", name="Request review").click()
    expect(review).to_have_attribute("data-review-state", "requested")
    expect(review).to_contain_text("requested by user1")
    expect(banner.get_by_role("button", name="Request review")).to_have_count(0)

    # A User who is no reviewer sees the choice, and the server's refusal in the dialog.
    other = login(browser, site, "user2")
    require_review(other.context)
    page2 = other.open(f"/workflows/{wf['id']}")
    page2.locator("#mlops-draft").get_by_role("button", name="Approve").click()
    dialog = page2.get_by_role("dialog", name="Approve the draft")
    dialog.get_by_label("Comment").fill("fine by me")
    dialog.get_by_role("button", name="Approve draft").click()
    expect(dialog.locator(".mlops-banner.error")).to_contain_text("MLOps Reviews")
    other.close()

    # An Op approves, with a comment.
    reviewer = login(browser, site, "op")
    require_review(reviewer.context)
    page3 = reviewer.open(f"/workflows/{wf['id']}")
    page3.locator("#mlops-draft").get_by_role("button", name="Approve").click()
    dialog = page3.get_by_role("dialog", name="Approve the draft")
    dialog.get_by_label("Comment").fill("looks right")
    dialog.get_by_role("button", name="Approve draft").click()
    review3 = page3.locator("#mlops-review")
    expect(review3).to_have_attribute("data-review-state", "approved")
    expect(review3).to_contain_text("approved by op")
    expect(review3).to_contain_text("looks right")
    shoot(page3, "editor-draft-review")
    reviewer.close()

    # The author, back on the page, publishes the approved draft.
    page = author.open(f"/workflows/{wf['id']}")
    banner = page.locator("#mlops-draft")
    expect(banner.locator("#mlops-review")).to_have_attribute("data-review-state", "approved")
    banner.get_by_role("button", name="Publish").click()
    page.get_by_role("dialog", name="Publish the draft as version 2?").get_by_role("button", name="Publish").click()
    expect(page.locator("#mlops-save-status")).to_have_text("Saved · v2")
    assert owner.ok("GET", f"/workflows/{wf['id']}")["tasks"][0]["code"].startswith("# reviewed change\n")
    author.close()


def test_user_text_in_the_draft_banner_and_diff_is_escaped(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
    name = unique("ui_draft_xss")
    wf = owner.ok("POST", "/workflows", simple_workflow(name))
    spec = simple_workflow(name, code=f"return {evil!r}")
    draft = owner.ok("PUT", f"/workflows/{wf['id']}/draft", {**spec, "description": evil})
    owner.ok("POST", f"/workflows/{wf['id']}/draft/review-request", {"comment": evil, "revision": draft["revision"]})

    s = login(browser, site, "viewer")  # read-only: the banner, without the actions that change the draft
    page = s.open(f"/workflows/{wf['id']}")
    banner = page.locator("#mlops-draft")
    expect(banner.locator(".mlops-review-comment")).to_have_text(evil)
    expect(banner.get_by_role("button", name=re.compile("^(Publish|Discard|Rebase)$"))).to_have_count(0)
    banner.get_by_role("button", name="Changes").click()
    diff = page.locator("#mlops-draft-diff")
    expect(diff.locator("tr[data-setting='description'] td.add")).to_have_text(evil)
    expect(diff.locator("[data-task-diff='a'] .mlops-diff-t.add")).to_contain_text(evil)
    expect(page.locator("img[src='x']")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
    s.close()
