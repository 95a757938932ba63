"""Docker tasks in the workflow editor, in a real browser against the real api-server and a real container engine.

A User adds a docker task between two python tasks of a workflow: picks "Docker container" as the type (the code
editor gives way to the container's settings), types an image that is not an image reference and sees it
refused at the image field, fixes it, gives the command as argv lines, an environment variable (a name that
looks like a secret is refused at its row first), secrets from an Airflow Connection and Variable by reference,
a mount with a relative target (refused, then removed) and exit codes; saves the draft and publishes it as
version 2, finds the docker badge on the task's node in the graph, triggers a run from the runs page and watches
it succeed; the last python task got the container's JSON output, and the version history shows the new task's
settings. Switching a task's type and back changes nothing. A Viewer sees the settings read-only.
Screenshots (light and dark) go to ``screenshots/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any

import pytest
from api_client import USERS, Client, unique
from conftest import CONTAINER_SECRETS
from container_engine import IMAGE, missing_tools
from test_ui_browser import (  # noqa: F401 - shared fixtures
    RUN_TIMEOUT_MS,
    browser,
    login,
    publish_draft,
    shoot,
    site,
    trigger_with_retry,
)

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

DB_PASSWORD = json.loads(CONTAINER_SECRETS["AIRFLOW_CONN_MLOPS_TEST_DB"])["password"]
API_TOKEN = CONTAINER_SECRETS["AIRFLOW_VAR_MLOPS_TEST_TOKEN"]
# The script line of ``sh -c``: params and the upstream result from MLOPS_* variables, MODE from a Jinja
# environment value, the secrets only as hashes (a task result is not a place for a password).
SCRIPT = ('db=$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64); token=$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64); '
          'echo "{\\"epochs\\": $MLOPS_PARAM_EPOCHS, \\"mode\\": \\"$MODE\\", \\"upstream\\": $MLOPS_UPSTREAM_PREPARE, '
          '\\"db_sha\\": \\"$db\\", \\"token_sha\\": \\"$token\\"}"')


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def engine(e2e) -> Any:
    if e2e.engine is None:
        message = f"no container engine: install {', '.join(missing_tools())} (apt-get install podman runc busybox-static)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return e2e.engine


def wait_for_task(e2e: Any, dag_id: str, task_id: str, timeout: float = 90) -> None:
    """The saved version's DAG (with the new task) is parsed within seconds; a run created before would lack it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = e2e.api.request("GET", f"/api/v2/dags/{dag_id}/tasks")
        if resp.status_code == 200 and task_id in {t["task_id"] for t in resp.json()["tasks"]}:
            return
        time.sleep(0.5)
    raise TimeoutError(f"task {task_id} did not appear in DAG {dag_id} within {timeout}s")


def test_user_adds_a_docker_task_runs_it_and_a_viewer_reads_it(e2e, engine, browser, site):  # noqa: F811
    from playwright.sync_api import expect

    owner = Client(site["base"], "user1", USERS["user1"][0], "bearer")
    name = unique("ui_docker")
    wf = owner.ok("POST", "/workflows", {
        "name": name, "params": {"epochs": {"type": "integer", "default": 3}, "mode": {"type": "string", "default": "slow"}},
        "tasks": [{"name": "prepare", "code": "return {'rows': 42}"},
                  {"name": "report", "depends_on": ["prepare"], "code": "return upstream"}]})

    s = login(browser, site, "user1")
    page = s.open(f"/workflows/{wf['id']}")
    status = page.locator("#mlops-save-status")
    graph = page.locator("#mlops-editor-graph")
    expect(status).to_have_text("Saved · v1")

    # A new task, renamed and placed between prepare and report, becomes a docker container.
    page.get_by_role("button", name="+ Add task").click()
    form = page.locator(".mlops-task-form")
    form.get_by_label("Task name").fill("train")
    expect(form).to_have_attribute("data-task", "train")
    form.get_by_label("report", exact=True).uncheck()
    form.get_by_label("prepare", exact=True).check()
    type_select = form.get_by_label("Type", exact=True)
    expect(type_select.locator("option")).to_have_text(["Python", "Branch", "Docker container"])
    expect(form.locator(".cm-content")).to_have_count(1)
    type_select.select_option("docker")
    expect(form.locator(".cm-content")).to_have_count(0)  # the code editor gives way to the container settings
    docker = form.locator("[data-docker-form]")
    expect(docker).to_contain_text("MLOPS_PARAM_")
    expect(docker).to_contain_text("MLOPS_UPSTREAM_")
    expect(docker).to_contain_text("last line of output")
    expect(docker.get_by_label("Engine URL")).to_have_attribute("placeholder", "default: [mlops] docker_url")

    # Not an image reference: refused at the image field as the user types, listed under Problems.
    image = docker.get_by_label("Image", exact=True)
    image.fill("Not An Image")
    expect(image).to_have_attribute("aria-invalid", "true")
    expect(docker.locator(".mlops-field.has-error", has=page.get_by_label("Image", exact=True))).to_contain_text("is not an image reference")
    expect(page.locator(".mlops-problems")).to_contain_text("tasks[2].docker.image")
    expect(page.locator("[data-task-button='train'] .mlops-dot")).to_have_count(1)
    expect(status).to_have_text(re.compile("problem"))
    shoot(page, "editor-docker-error")
    image.fill(IMAGE)
    expect(image).not_to_have_attribute("aria-invalid", "true")

    # The command as argv lines: sh, -c, the script.
    argv = docker.get_by_label("Arguments, one per line")
    argv.fill(f"sh\n-c\n{SCRIPT}")

    # An environment variable whose name says "secret" is refused at its row; renamed, it is fine.
    docker.get_by_role("button", name="+ Add variable").click()
    env = docker.locator("[data-env-row='0']")
    env.get_by_label("Name of environment variable 1").fill("API_TOKEN")
    env.get_by_label("Value of environment variable 1").fill("{{ params.mode }}")
    expect(env.get_by_label("Name of environment variable 1")).to_have_attribute("aria-invalid", "true")
    expect(env.locator(".mlops-error")).to_contain_text("looks like a secret")
    env.get_by_label("Name of environment variable 1").fill("MODE")
    expect(env.locator(".mlops-error")).to_have_count(0)

    # Secrets by reference: a Connection's password and a Variable.
    docker.get_by_role("button", name="+ Add secret").click()
    docker.get_by_role("button", name="+ Add secret").click()
    db, token = docker.locator("[data-secret-row='0']"), docker.locator("[data-secret-row='1']")
    db.get_by_label("Name of secret variable 1").fill("DB_PASSWORD")
    expect(db.get_by_label("Source of secret variable 1")).to_have_value("connection")
    db.get_by_label("Connection id of secret variable 1").fill("mlops_test_db")
    db.get_by_label("Connection field of secret variable 1").select_option("password")
    token.get_by_label("Name of secret variable 2").fill("API_TOKEN")
    token.get_by_label("Source of secret variable 2").select_option("variable")
    expect(token.get_by_label("Connection field of secret variable 2")).to_have_count(0)  # a variable has no field
    token.get_by_label("Variable key of secret variable 2").fill("mlops_test_token")

    # A mount with a relative target: refused at the target; removed again.
    docker.get_by_role("button", name="+ Add mount").click()
    mount = docker.locator("[data-mount-row='0']")
    mount.get_by_label("Type of mount 1").select_option("tmpfs")
    expect(mount.get_by_label("Source of mount 1")).to_be_disabled()
    mount.get_by_label("Target of mount 1").fill("scratch")
    expect(mount.locator(".mlops-error")).to_contain_text("must be an absolute path")
    expect(page.locator(".mlops-problems")).to_contain_text("tasks[2].docker.mounts[0].target")
    mount.get_by_role("button", name="Remove mount 1").click()
    expect(docker.locator("[data-mount-row]")).to_have_count(0)

    # Exit codes that skip: not numbers is refused in the page (and blocks a save); 99 is fine.
    skip = docker.get_by_label("Skip on exit codes")
    skip.fill("99, nine")
    expect(docker.locator(".mlops-field.has-error", has=page.get_by_label("Skip on exit codes"))).to_contain_text("whole numbers from 0 to 255")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".mlops-banner.error")).to_contain_text("tasks[2].docker.skip_on_exit_code")
    page.locator(".mlops-banner.error").get_by_role("button", name="Dismiss").click()
    skip.fill("99")
    docker.get_by_label("Network mode").fill("none")

    # Python and back: the code editor returns (with the task's code) and the container settings stay.
    type_select.select_option("python")
    expect(form.locator(".cm-content")).to_contain_text("hello from")
    expect(form.locator("[data-docker-form]")).to_have_count(0)
    type_select.select_option("docker")
    expect(image).to_have_value(IMAGE)
    expect(argv).to_have_value(f"sh\n-c\n{SCRIPT}")

    # report now reads train's result.
    page.locator("[data-task-button='report']").click()
    report = page.locator(".mlops-task-form[data-task='report']")
    report.get_by_label("prepare", exact=True).uncheck()
    report.get_by_label("train", exact=True).check()
    expect(graph.locator("path[data-edge='prepare->train']")).to_have_count(1)
    expect(graph.locator("path[data-edge='train->report']")).to_have_count(1)
    expect(page.locator(".mlops-problems")).to_have_count(0)
    expect(status).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Save draft").click()
    publish_draft(page, "train in a container", 2)

    saved = owner.ok("GET", f"/workflows/{wf['id']}")
    train = next(t for t in saved["tasks"] if t["name"] == "train")
    assert train["type"] == "docker" and train["code"] == "" and train["depends_on"] == ["prepare"]
    assert train["docker"] == {
        "image": IMAGE, "command": ["sh", "-c", SCRIPT], "environment": {"MODE": "{{ params.mode }}"},
        "secret_environment": {"DB_PASSWORD": {"connection": "mlops_test_db", "field": "password", "variable": None},
                               "API_TOKEN": {"connection": None, "field": "password", "variable": "mlops_test_token"}},
        "mounts": [], "working_dir": None, "cpus": None, "mem_limit": None, "network_mode": "none", "auto_remove": "success",
        "skip_on_exit_code": 99, "docker_url": None}
    assert all(t["docker"] is None for t in saved["tasks"] if t["name"] != "train")
    assert next(t for t in saved["tasks"] if t["name"] == "report")["depends_on"] == ["train"]

    # The graph and the task list say which task is a container (in text, not only in colour).
    node = graph.locator("g[data-node='train']")
    expect(node.locator("[data-badge='docker']")).to_have_text("docker")
    expect(node).to_have_attribute("aria-label", re.compile("docker container"))
    expect(graph.locator("g[data-node='prepare'] [data-badge]")).to_have_count(0)
    expect(page.locator("[data-task-button='train'] .mlops-type-badge")).to_have_text("docker")

    # Reopened, the form shows what was saved, and an untouched draft is not "unsaved"; a python task switched to
    # docker and back is unchanged too.
    page = s.open(f"/workflows/{wf['id']}")
    expect(status).to_have_text("Saved · v2")
    page.locator("[data-task-button='train']").click()
    docker = page.locator(".mlops-task-form[data-task='train'] [data-docker-form]")
    expect(docker.get_by_label("Image", exact=True)).to_have_value(IMAGE)
    expect(docker.get_by_label("Arguments, one per line")).to_have_value(f"sh\n-c\n{SCRIPT}")
    expect(docker.get_by_label("Value of environment variable 1")).to_have_value("{{ params.mode }}")
    # (the saved maps come back in the server's order: find the rows by their source)
    variable_row = docker.locator("[data-secret-row][data-source='variable']")
    expect(variable_row.get_by_label(re.compile("^Name of secret"))).to_have_value("API_TOKEN")
    expect(variable_row.get_by_label(re.compile("^Variable key of secret"))).to_have_value("mlops_test_token")
    connection_row = docker.locator("[data-secret-row][data-source='connection']")
    expect(connection_row.get_by_label(re.compile("^Name of secret"))).to_have_value("DB_PASSWORD")
    expect(connection_row.get_by_label(re.compile("^Connection id of secret"))).to_have_value("mlops_test_db")
    expect(connection_row.get_by_label(re.compile("^Connection field of secret"))).to_have_value("password")
    expect(docker.get_by_label("Skip on exit codes")).to_have_value("99")
    expect(status).to_have_text("Saved · v2")
    shoot(page, "editor-docker-task")
    # The argv list as one shell-style string (quoted so that it splits back into the same arguments), and back.
    docker.get_by_role("radio", name="shell string").check()
    expect(docker.get_by_label("Command line")).to_have_value(re.compile(r"^sh -c 'db=\$\(printf %s \"\$DB_PASSWORD\""))
    expect(status).to_have_text("Unsaved changes")
    docker.get_by_role("radio", name=re.compile("^argv list")).check()
    expect(docker.get_by_label("Arguments, one per line")).to_have_value(f"sh\n-c\n{SCRIPT}")
    expect(status).to_have_text("Saved · v2")
    page.locator("[data-task-button='prepare']").click()
    prepare = page.locator(".mlops-task-form[data-task='prepare']")
    prepare.get_by_label("Type", exact=True).select_option("docker")
    expect(prepare.locator(".cm-content")).to_have_count(0)
    expect(status).to_have_text(re.compile("problem|Unsaved changes"))
    prepare.get_by_label("Type", exact=True).select_option("python")
    expect(prepare.locator(".cm-content")).to_contain_text("return {'rows': 42}")
    expect(status).to_have_text("Saved · v2")

    # Trigger from the runs page with changed params; the run succeeds live; report got the container's JSON.
    wait_for_task(e2e, name, "train")
    page.locator(".mlops-actions").get_by_role("link", name="Runs").click()
    expect(page.locator("h1")).to_have_text(f"Runs of {name}")
    trigger_with_retry(page, page, {"epochs": "7", "mode": "fast"}, "train in a container from the browser")
    run_row = page.locator("#mlops-runs tbody tr[data-run-id]").first
    expect(run_row).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT_MS)
    run_id = run_row.get_attribute("data-dag-run-id")
    assert e2e.api.xcom(name, run_id, "report") == {"train": {
        "epochs": 7, "mode": "fast", "upstream": {"rows": 42}, "db_sha": sha(DB_PASSWORD), "token_sha": sha(API_TOKEN)}}
    assert e2e.api.get(f"/api/v2/dags/{name}/tasks/train")["operator_name"] == "MLOpsDockerOperator"
    log = e2e.api.task_log(name, run_id, "train")
    assert DB_PASSWORD not in log and API_TOKEN not in log
    run_row.get_by_role("button", name=run_id).click()
    detail = page.locator("tr.mlops-run-detail")
    expect(detail.locator("g[data-node='train'][data-state='success'] [data-badge='docker']")).to_have_count(1)
    html = page.content()
    assert DB_PASSWORD not in html and API_TOKEN not in html
    shoot(page, "runs-docker-success")

    # The version history shows the new task's container settings.
    page = s.open(f"/workflows/{wf['id']}/versions")
    diff = page.locator("#mlops-version-diff")
    expect(diff).to_contain_text("v1 → v2")
    added = diff.locator("[data-task-diff='train']")
    expect(added).to_contain_text("Task train (new, docker container)")
    expect(added.locator(".mlops-diff-t.add", has_text=f'"image": "{IMAGE}"')).to_have_count(1)
    expect(added.locator(".mlops-diff-t.add", has_text='"connection": "mlops_test_db"')).to_have_count(1)
    s.close()

    # A Viewer: the same settings, read-only.
    viewer = login(browser, site, "viewer")
    page = viewer.open(f"/workflows/{wf['id']}")
    expect(page.locator(".mlops-banner.info")).to_contain_text("Read-only")
    page.locator("[data-task-button='train']").click()
    form = page.locator(".mlops-task-form[data-task='train']")
    docker = form.locator("[data-docker-form]")
    expect(form.get_by_label("Type", exact=True)).to_be_disabled()
    expect(form.get_by_label("Type", exact=True)).to_have_value("docker")
    expect(docker.get_by_label("Image", exact=True)).to_have_value(IMAGE)
    for label in ("Image", "Arguments, one per line", "Name of environment variable 1", "Value of environment variable 1",
                  "Name of secret variable 1", "Source of secret variable 1", "Name of secret variable 2",
                  "Source of secret variable 2", "Skip on exit codes", "Network mode", "Engine URL"):
        expect(docker.get_by_label(label, exact=True)).to_be_disabled()
    connection_row = docker.locator("[data-secret-row][data-source='connection']")
    expect(connection_row.get_by_label(re.compile("^Connection id of secret"))).to_have_value("mlops_test_db")
    expect(connection_row.get_by_label(re.compile("^Connection id of secret"))).to_be_disabled()
    expect(connection_row.get_by_label(re.compile("^Connection field of secret"))).to_be_disabled()
    expect(docker.locator("[data-secret-row][data-source='variable']").get_by_label(re.compile("^Variable key"))).to_be_disabled()
    expect(docker.get_by_role("radio")).to_have_count(2)
    for radio in docker.get_by_role("radio").all():
        expect(radio).to_be_disabled()
    expect(docker.get_by_role("button")).to_have_count(0)  # no add or remove
    expect(page.locator("#mlops-editor-graph g[data-node='train'] [data-badge='docker']")).to_have_text("docker")
    shoot(page, "editor-docker-viewer")
    viewer.close()
