"""The MLOps pages in a real browser (Debian's Chromium driven by Playwright) against the real api-server.

What a user does: log in to Airflow, open MLOps from Airflow's navigation, instantiate a template, edit a
task in the code editor, see a syntax error marked, fix it, save the draft with Ctrl+S, publish it with a
version message, find the version in the history and its diff, trigger with a changed parameter and a
description, and watch the run reach success without reloading. Also: read-only pages for a Viewer, login for anonymous visitors, conflicts, the
unsaved-changes guard, the live graph, dark mode following Airflow, escaping, and that no asset comes from
outside the Airflow server. Every page is saved as a screenshot in light and dark under ``screenshots/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from api_client import USERS, Client, ensure_users, unique

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

CHROMIUM = "/usr/bin/chromium"
# As root in a container, with this machine's closed network: no sandbox, no background calls home.
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
TEMPLATE = "Standard training pipeline"
RUN_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(e2e) -> Iterator[dict[str, Any]]:
    """Test users, an admin API client, and the workflows this module made (archived afterwards)."""
    ensure_users(e2e.stack.base_url, dict(e2e.api.session.headers))
    before = e2e.workflow_ids()
    admin = Client(e2e.stack.base_url, e2e.api.username, e2e.api.password, "bearer")
    yield {"base": e2e.stack.base_url, "admin": admin, "admin_password": e2e.api.password}
    e2e.archive_workflows_except(before)


class Session:
    """A logged-in browser context that records every URL it requests."""

    def __init__(self, browser: Any, base: str, username: str | None, password: str | None):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
        self.requests: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        if username:
            self.page.goto(f"{base}/auth/login/")
            self.page.fill("#username", username)
            self.page.fill("#password", password or "")
            self.page.click("input[type=submit], button[type=submit]")
            self.page.wait_for_url(lambda url: "/auth/login" not in url)

    def open(self, path: str) -> Any:
        self.page.goto(f"{self.base}/pluginsv2/mlops{path}")
        self.page.wait_for_selector(".mlops-page")
        return self.page

    def app_frame(self) -> Any:
        """The plugin page inside Airflow's iframe."""
        return next(f for f in self.page.frames if "/pluginsv2/mlops" in f.url)

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base + "/") or u.split(":", 1)[0] in ("data", "blob", "about"))]

    def close(self) -> None:
        self.context.close()


def login(browser: Any, site: dict[str, Any], username: str) -> Session:
    password = site["admin_password"] if username == "admin" else USERS[username][0]
    return Session(browser, site["base"], username, password)


def shoot(page: Any, name: str, *, theme_target: Any = None) -> None:
    """Screenshots in light and dark, switching the OS scheme live: the pages follow Airflow's default theme
    ("follow system"), so this also proves the live switch on every page."""
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(exist_ok=True)
    target = theme_target or page
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        expect(target.locator("html")).to_have_attribute("data-theme", scheme)
        page.wait_for_timeout(150)  # let the CSS transition-free repaint settle
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")


def instantiate(site: dict[str, Any], name: str, **params: Any) -> dict[str, Any]:
    admin = site["admin"]
    template = next(t for t in admin.ok("GET", "/templates?limit=200")["items"] if t["name"] == TEMPLATE)
    return admin.ok("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": name, "params": params})


def publish_draft(page: Any, message: str, version: int) -> None:
    """Publish the draft just saved (Save draft or Ctrl+S) from its banner, with a version message: the page then
    shows the new published version and no draft. Shared by the UI test modules."""
    from playwright.sync_api import expect

    status, banner = page.locator("#mlops-save-status"), page.locator("#mlops-draft")
    expect(status).to_have_text("Draft saved · not published", timeout=30_000)
    expect(banner).to_contain_text("Draft — not published")
    banner.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name=f"Publish the draft as version {version}?")
    dialog.get_by_label("Version message").fill(message)
    dialog.get_by_role("button", name="Publish").click()
    expect(status).to_have_text(f"Saved · v{version}", timeout=30_000)
    expect(banner).to_have_count(0)


def test_user_builds_edits_versions_and_runs_a_workflow(e2e, browser, site):
    from playwright.sync_api import expect

    s = login(browser, site, "user1")
    page = s.page
    # Open MLOps from Airflow's own navigation: Plugins -> MLOps -> Workflows (an iframe page).
    page.goto(f"{s.base}/")
    page.get_by_role("button", name="Plugins").click()
    page.get_by_role("menuitem", name="MLOps").click()
    page.get_by_role("menuitem", name="Workflows").click()
    page.wait_for_url(re.compile(r".*/plugin/mlops-workflows.*"))
    app = page.frame_locator("iframe")
    expect(app.locator("h1")).to_have_text("Workflows")

    # Instantiate a template with a typed parameter changed in the generated form.
    app.locator(".mlops-tabs").get_by_role("link", name="Templates").click()
    card = app.locator(f".mlops-card[data-template-name='{TEMPLATE}']")
    card.get_by_role("button", name="Use template").click()
    dialog = app.get_by_role("dialog")
    name = unique("ui_train")
    dialog.get_by_label("Workflow name").fill(name)
    dialog.get_by_label("n_estimators").fill("5000")  # above the template's maximum: refused at the field
    dialog.get_by_role("button", name="Create workflow").click()
    expect(dialog.locator(".mlops-field.has-error")).to_contain_text("≤ 2000")
    dialog.get_by_label("n_estimators").fill("20")
    dialog.get_by_role("button", name="Create workflow").click()
    expect(app.locator("h1")).to_have_text(name)
    expect(app.locator("#mlops-save-status")).to_have_text("Saved · v1")

    # Edit the train task's code in the editor.
    app.locator("[data-task-button='train']").click()
    form = app.locator(".mlops-task-form[data-task='train']")
    code = form.locator(".cm-content")
    code.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type('print("edited in the browser")')
    page.keyboard.press("Enter")
    expect(app.locator("#mlops-save-status")).to_have_text("Unsaved changes")

    # A syntax error is marked at its line in the editor, and saving is refused with the same message.
    page.keyboard.press("Control+Home")
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    page.keyboard.type("x = 1 +")
    expect(form.locator(".cm-lint-marker-error")).to_have_count(1)
    expect(form.locator(".cm-lintRange-error").first).to_be_visible()
    expect(form.locator("[data-code-error]")).to_contain_text("line 1")
    expect(app.locator("[data-task-button='train'] .mlops-dot")).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(app.locator(".mlops-banner.error")).to_contain_text("tasks[2].code")
    app.locator(".mlops-banner.error").get_by_role("button", name="Dismiss").click()
    # Fix it: remove the broken line again.
    code.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+End")
    page.keyboard.press("Backspace")
    page.keyboard.press("Delete")
    expect(form.locator(".cm-lint-marker-error")).to_have_count(0)
    expect(app.locator("#mlops-save-status")).to_have_text("Unsaved changes")

    # The live graph redraws with a new dependency; a cycle is highlighted on it, then undone.
    graph = app.locator("#mlops-editor-graph")
    app.locator("[data-task-button='load']").click()
    load_form = app.locator(".mlops-task-form[data-task='load']")
    expect(graph.locator("path[data-edge='register->load']")).to_have_count(0)
    load_form.get_by_label("register").check()
    expect(graph.locator("path[data-edge='register->load']")).to_have_count(1)
    expect(graph.locator("path.mlops-edge.cycle")).not_to_have_count(0)
    expect(graph.locator("g.mlops-node.cycle[data-node='register']")).to_have_count(1)
    expect(app.locator(".mlops-editor-side")).to_contain_text("dependency cycle: load -> register")
    load_form.get_by_label("register").uncheck()
    expect(graph.locator("path.mlops-edge.cycle")).to_have_count(0)
    expect(graph.locator("path[data-edge='register->load']")).to_have_count(0)

    # Leaving with unsaved changes asks first (in the page: the iframe sandbox ignores confirm()).
    app.locator(".mlops-tabs").get_by_role("link", name="Workflows").click()
    leave = app.get_by_role("dialog", name="Leave without saving?")
    expect(leave).to_be_visible()
    leave.get_by_role("button", name="Cancel").click()
    expect(app.locator("h1")).to_have_text(name)

    # Ctrl+S saves a draft: runs keep version 1 until the draft is published, with a version message.
    app.locator("[data-task-button='train']").click()
    code.click()
    page.keyboard.press("Control+s")
    expect(app.locator("#mlops-save-status")).to_have_text("Draft saved · not published")
    expect(app.locator("#mlops-draft")).to_contain_text("Draft — not published")
    published = site["admin"].ok("GET", f"/workflows?q={name}")["items"][0]
    assert published["version"] == 1
    assert site["admin"].ok("GET", f"/workflows/{published['id']}/draft")["base_version"] == 1
    app.locator("#mlops-draft").get_by_role("button", name="Publish").click()
    dialog = app.get_by_role("dialog", name="Publish the draft as version 2?")
    dialog.get_by_label("Version message").fill("print from the browser")
    dialog.get_by_role("button", name="Publish").click()
    expect(app.locator("#mlops-save-status")).to_have_text("Saved · v2")
    expect(app.locator("#mlops-draft")).to_have_count(0)
    saved = site["admin"].ok("GET", f"/workflows?q={name}")["items"][0]
    train = next(t for t in saved["tasks"] if t["name"] == "train")
    assert train["code"].startswith('print("edited in the browser")\n') and saved["version"] == 2

    # The version is in the history, with its message and a side-by-side diff of the code.
    app.locator(".mlops-actions").get_by_role("link", name="Versions").click()
    row = app.locator("#mlops-versions tr[data-version='2']")
    expect(row).to_contain_text("print from the browser")
    expect(row).to_contain_text("user1")
    diff = app.locator("#mlops-version-diff")
    expect(diff).to_contain_text("v1 → v2")
    expect(diff.locator("[data-task-diff='train'] .mlops-diff-t.add")).to_contain_text('print("edited in the browser")')

    # Trigger from the runs page with a changed parameter and a description; watch it succeed live.
    app.locator(".mlops-actions").get_by_role("link", name="Runs").click()
    expect(app.locator("h1")).to_have_text(f"Runs of {name}")
    frame = s.app_frame()
    frame.evaluate("window.__sameDocument = true")
    trigger_with_retry(app, page, {"max_depth": "4"}, "depth 4 from the browser")
    run_row = app.locator("#mlops-runs tbody tr[data-run-id]").first
    expect(run_row).to_contain_text("depth 4 from the browser")
    expect(run_row).to_contain_text("max_depth=4")
    expect(run_row).to_contain_text("v2")
    expect(run_row).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT_MS)
    assert frame.evaluate("window.__sameDocument") is True  # reached success without a reload
    grid = run_row.get_by_role("link", name="Grid ↗")
    assert re.fullmatch(rf"/dags/{name}/runs/[^/]+", grid.get_attribute("href"))
    assert grid.get_attribute("target") == "_top"
    run_id = run_row.get_attribute("data-dag-run-id")
    assert e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{quote(run_id, safe='')}")["conf"]["max_depth"] == 4

    assert s.foreign_requests() == [], "the pages loaded something from outside the Airflow server"
    assert any("/pluginsv2/mlops/static/mlops/app.js" in u for u in s.requests)
    s.close()


def trigger_with_retry(app: Any, page: Any, values: dict[str, str], description: str) -> None:
    """The DAG of a just-created workflow shows up in Airflow within seconds; until then the dialog says so."""
    from playwright.sync_api import expect

    app.locator(".mlops-actions").get_by_role("button", name="Trigger").click()
    dialog = app.get_by_role("dialog")
    for label, value in values.items():
        dialog.get_by_label(label).fill(value)
    dialog.get_by_label("Description").fill(description)
    for _ in range(30):
        dialog.get_by_role("button", name="Trigger run").click()
        try:
            expect(dialog).to_have_count(0, timeout=5000)
            return
        except AssertionError:
            expect(dialog.locator(".mlops-banner.error")).to_be_visible()
            page.wait_for_timeout(2000)
    raise AssertionError("the trigger dialog never accepted the run")


def test_viewer_sees_read_only_pages_and_anonymous_is_sent_to_login(e2e, browser, site):
    from playwright.sync_api import expect

    wf = instantiate(site, unique("ui_ro"))
    site["admin"].edit("PATCH", f"/workflows/{wf['id']}", {"description": "second version"})
    s = login(browser, site, "viewer")
    page = s.open("/")
    row = page.locator(f"#mlops-workflows tr[data-workflow-id='{wf['id']}']")
    expect(row).to_be_visible()
    expect(page.get_by_role("link", name="New workflow")).to_have_count(0)
    expect(row.get_by_role("button", name=re.compile("^(Trigger|Clone|Archive)$"))).to_have_count(0)
    expect(row.get_by_role("link", name="Open")).to_be_visible()
    expect(page.locator(".mlops-tabs").get_by_role("link", name="Audit log")).to_have_count(0)

    page = s.open(f"/workflows/{wf['id']}")
    expect(page.locator(".mlops-banner.info")).to_contain_text("Read-only")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("button", name="+ Add task")).to_have_count(0)
    expect(page.get_by_label("Task name")).to_be_disabled()
    expect(page.locator(".cm-content").first).to_have_attribute("contenteditable", "false")
    page = s.open(f"/workflows/{wf['id']}/versions")
    expect(page.get_by_role("button", name="Restore")).to_have_count(0)
    page = s.open("/templates")
    expect(page.get_by_role("button", name="Use template")).to_have_count(0)
    denied = page.goto(f"{s.base}/pluginsv2/mlops/audit")
    assert denied.status == 403
    expect(page.locator("h1")).to_have_text("403 · Forbidden")
    expect(page.locator("nav")).to_have_count(0)  # a plain page: no FAB navbar, no nested Airflow UI
    s.close()

    other = login(browser, site, "user2")  # a User, but not the owner: read-only too
    page = other.open(f"/workflows/{wf['id']}")
    expect(page.locator(".mlops-banner.info")).to_contain_text("belongs to admin")
    other.close()

    anonymous = Session(browser, site["base"], None, None)
    anonymous.page.goto(f"{site['base']}/pluginsv2/mlops/workflows/{wf['id']}")
    anonymous.page.wait_for_url(re.compile(r".*/auth/login/.*"))
    expect(anonymous.page.locator("#username")).to_be_visible()
    anonymous.close()


def test_conflicting_save_is_explained_with_diff_and_reload(e2e, browser, site):
    from playwright.sync_api import expect

    wf = instantiate(site, unique("ui_conflict"))
    s = login(browser, site, "admin")
    page = s.open(f"/workflows/{wf['id']}")
    page.get_by_role("tab", name=re.compile("Settings")).click()
    page.get_by_label("Description").fill("my description")
    # Meanwhile someone else publishes a version: the draft would start from it, so the page says so first.
    site["admin"].edit("PATCH", f"/workflows/{wf['id']}", {"description": "their description"})
    page.get_by_role("button", name="Save draft").click()
    banner = page.locator("#mlops-conflict")
    expect(banner).to_contain_text("Someone else published version 2")
    banner.get_by_role("button", name="Show diff").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".mlops-diff-t.del")).to_contain_text("their description")
    expect(dialog.locator(".mlops-diff-t.add")).to_contain_text("my description")
    dialog.get_by_role("button", name="Close").click()
    banner.get_by_role("button", name="Reload (discard mine)").click()
    expect(page.get_by_label("Description")).to_have_value("their description")
    expect(page.locator("#mlops-save-status")).to_have_text("Saved · v2")
    assert site["admin"].call("GET", f"/workflows/{wf['id']}/draft").status_code == 404

    # Restore v1 from the history, confirmed in the page (confirm() does nothing in Airflow's iframe).
    page.get_by_role("link", name="Versions").click()
    page.locator("#mlops-versions tr[data-version='1']").get_by_role("button", name="Restore").click()
    confirm = page.get_by_role("dialog", name="Restore version 1?")
    confirm.get_by_role("button", name="Restore v1").click()
    expect(page.locator("#mlops-versions tr[data-version='3']")).to_contain_text("restored from v1")
    restored = site["admin"].ok("GET", f"/workflows/{wf['id']}")
    assert restored["version"] == 3 and restored["description"] == wf["description"]
    s.close()


def test_new_workflow_with_a_typed_parameter_schema(e2e, browser, site):
    from playwright.sync_api import expect

    s = login(browser, site, "user1")
    page = s.open("/workflows/new")
    expect(page.locator("[data-task-button='start']")).to_be_visible()
    page.get_by_role("tab", name=re.compile("Settings")).click()
    expect(page.locator(".mlops-settings .mlops-error")).to_contain_text("name")  # empty name, shown at the field
    name = unique("ui_new")
    page.get_by_label("Name (the Airflow DAG id)").fill(name)
    page.get_by_role("tab", name=re.compile("Parameters")).click()
    page.get_by_role("button", name="+ Add parameter").click()
    param = page.locator("fieldset.mlops-param").first
    param.get_by_label("Name", exact=True).fill("alpha")
    param.get_by_label("Type").select_option("number")
    param.get_by_label("Minimum").fill("0")
    param.get_by_label("Maximum").fill("1")
    param.get_by_label("Default").fill("5")
    expect(param.locator(".mlops-error")).to_contain_text("default does not fit")
    param.get_by_label("Default").fill("0.5")
    param.get_by_label("Description").fill("learning rate")
    expect(param.locator(".mlops-error")).to_have_count(0)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/pluginsv2/mlops/workflows/[0-9a-f-]{36}$"))
    expect(page.locator("#mlops-save-status")).to_have_text("Saved · v1")
    created = site["admin"].ok("GET", f"/workflows?q={name}")["items"][0]
    assert created["params"]["alpha"] == {**created["params"]["alpha"], "type": "number", "default": 0.5,
                                          "minimum": 0, "maximum": 1, "description": "learning rate"}
    assert created["created_by"] == "user1" and [t["name"] for t in created["tasks"]] == ["start"]
    s.close()


def test_user_text_is_escaped(e2e, browser, site):
    from playwright.sync_api import expect

    evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
    wf = instantiate(site, unique("ui_xss"))
    site["admin"].edit("PATCH", f"/workflows/{wf['id']}", {"description": evil})
    s = login(browser, site, "admin")
    page = s.open(f"/?q={wf['name']}")
    expect(page.locator(f"tr[data-workflow-id='{wf['id']}']")).to_contain_text(evil)
    assert page.evaluate("window.__xss") is None
    s.close()


def test_theme_follows_airflow_live_and_every_page_is_captured(e2e, browser, site):
    from playwright.sync_api import expect

    admin = site["admin"]
    wf = instantiate(site, unique("ui_shots"), n_estimators=10)
    admin.edit("PATCH", f"/workflows/{wf['id']}", {"description": "Random forest on breast cancer; tuned depth",
                                                   "message": "describe the pipeline"})
    e2e.api.wait_dag(wf["name"])
    runs = [admin.ok("POST", f"/jobs/trigger/{wf['id']}", {"params": {"max_depth": d}, "description": f"depth {d}"})
            for d in (3, 6)]
    for run in runs:
        e2e.api.wait_run(wf["name"], run["dag_run_id"], timeout=RUN_TIMEOUT_MS / 1000)

    succeeded = admin.ok("GET", "/workflows?last_run_state=success&limit=200")["items"]
    assert wf["id"] in {w["id"] for w in succeeded} and all(w["last_run"]["state"] == "success" for w in succeeded)
    assert wf["id"] not in {w["id"] for w in admin.ok("GET", "/workflows?last_run_state=none&limit=200")["items"]}
    s = login(browser, site, "admin")
    page = s.open(f"/?last_run_state=success&q={wf['name']}")
    expect(page.locator(f"tr[data-workflow-id='{wf['id']}'] .mlops-state")).to_have_text("success")
    page.get_by_label("Last run").select_option("failed")
    expect(page.locator(f"tr[data-workflow-id='{wf['id']}']")).to_have_count(0)
    page = s.page
    # Inside Airflow's UI: the default theme follows the system, live, and an explicit choice wins.
    page.goto(f"{s.base}/plugin/mlops-workflows")
    app = page.frame_locator("iframe")
    expect(app.locator("h1")).to_have_text("Workflows")
    shoot(page, "airflow-nav-workflows", theme_target=app)
    # The user's own choice in Airflow (User -> Appearance) is followed live, without reloading the page.
    for choice, expected in (("Dark Mode", "dark"), ("Light Mode", "light"), ("Follow System Setting", "light")):
        page.get_by_role("button", name="User").click()
        page.get_by_role("menuitem", name="Appearance").click()
        page.get_by_role("menuitemradio", name=choice).click()
        expect(app.locator("html")).to_have_attribute("data-theme", expected)
    page.emulate_media(color_scheme="dark")  # back on "follow system": the OS switch is followed again
    expect(app.locator("html")).to_have_attribute("data-theme", "dark")
    page.emulate_media(color_scheme="light")

    pages = {
        "workflows": "/", "editor": f"/workflows/{wf['id']}", "versions": f"/workflows/{wf['id']}/versions",
        "templates": "/templates", "runs": f"/workflows/{wf['id']}/runs", "all-runs": "/runs", "audit": "/audit",
        "new-workflow": "/workflows/new",
    }
    for name, path in pages.items():
        page = s.open(path)
        if name == "runs":
            expect(page.locator("#mlops-runs tr[data-state='success']")).to_have_count(2)
            page.locator("#mlops-runs tbody tr[data-run-id] button.link").first.click()
            expect(page.locator(".mlops-run-detail svg g[data-state='success']").first).to_be_visible()
        if name == "editor":
            expect(page.locator(".cm-editor")).to_be_visible()
        shoot(page, name)
    # Dialogs and overlays.
    page = s.open("/templates")
    page.locator(f".mlops-card[data-template-name='{TEMPLATE}']").get_by_role("button", name="Use template").click()
    shoot(page, "template-instantiate")
    page = s.open(f"/workflows/{wf['id']}/runs")
    expect(page.locator("#mlops-runs tbody tr[data-run-id]")).to_have_count(2)
    for box in page.locator("#mlops-runs tbody input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name=re.compile(r"Compare \(2\)")).click()  # opens the compare page
    expect(page.locator("#mlops-compare-params tr.differs")).to_contain_text("max_depth")
    shoot(page, "runs-compare")
    page = s.open(f"/workflows/{wf['id']}/runs")
    page.get_by_role("button", name="Trigger").click()
    expect(page.get_by_role("dialog").get_by_label("max_depth")).to_have_value("8")
    shoot(page, "runs-trigger")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#mlops-shortcuts")).to_contain_text("Ctrl/⌘ + S")
    shoot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#mlops-shortcuts")).to_have_count(0)
    page.keyboard.press("g")
    page.keyboard.press("t")
    page.wait_for_url(re.compile(r".*/pluginsv2/mlops/templates$"))
    assert s.foreign_requests() == []
    s.close()

    viewer = login(browser, site, "viewer")
    viewer.page.goto(f"{site['base']}/pluginsv2/mlops/audit")
    shoot(viewer.page, "forbidden")
    viewer.close()
    missing = sorted(f"{n}-{scheme}.png" for n in [*pages, "template-instantiate", "runs-compare", "shortcuts"]
                     for scheme in ("light", "dark") if not (SCREENSHOTS / f"{n}-{scheme}.png").exists())
    assert missing == []
