"""Comparing runs with charts, in a real browser against a real Airflow.

A workflow's ``train`` task logs its loss per step (``log_metric``) and returns an accuracy; three runs with
different parameters (the third on a second version with one more task) are selected on the runs page and
compared: the page draws a bar per run in the order of their accuracy, a scatter of a parameter against a
metric, parallel coordinates and learning curves (one line per run, one point per step), all from the page's
own data; "Show differences only" hides the parameter every run shares and leaves only the structural diff of
the versions; "Export CSV" downloads one row per run with its parameters and metrics, numbers as numbers and a
formula-like description neutralised; a description with markup is shown as text; the run's own detail on the
runs page shows its learning curve. Screenshots of the page in light and dark land under ``screenshots/``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from api_client import USERS, Client, unique
from test_ui_browser import browser, login, shoot, site  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)

TRAIN = """for s in range(5):
    log_metric("loss", params["lr"] / (s + 1), step=s)
return {"metrics": {"accuracy": 0.5 + params["lr"]}}"""


def workflow(name: str, *, report: bool = False) -> dict[str, Any]:
    tasks = [{"name": "prep", "code": "return params['layers']"},
             {"name": "train", "depends_on": ["prep"], "code": TRAIN}]
    if report:
        tasks.append({"name": "report", "depends_on": ["train"], "code": "return 'done'"})
    return {"name": name, "params": {"lr": {"type": "number", "default": 0.1, "minimum": 0, "maximum": 1},
                                     "layers": {"type": "integer", "default": 2, "minimum": 1, "maximum": 8},
                                     "optimizer": {"type": "string", "default": "adam"}},
            "tasks": tasks}


@pytest.fixture(scope="module")
def owner(site) -> Client:  # noqa: F811
    return Client(site["base"], "user1", USERS["user1"][0], "bearer")


def finished(e2e, owner: Client, run: dict[str, Any]) -> dict[str, Any]:
    assert e2e.api.wait_run(run["dag_id"], run["dag_run_id"], timeout=240) == "success"
    return owner.ok("GET", f"/jobs/{run['id']}")


def test_runs_are_compared_with_charts_and_exported(e2e, browser, site, owner):  # noqa: F811
    from playwright.sync_api import expect

    name = unique("ui_compare")
    wf = owner.ok("POST", "/workflows", workflow(name))
    e2e.api.wait_dag(name)
    trigger = f"/jobs/trigger/{wf['id']}"
    started = [owner.ok("POST", trigger, {"params": {"lr": 0.3, "layers": 2}, "description": "<b>x</b>"}),
               owner.ok("POST", trigger, {"params": {"lr": 0.1, "layers": 4}, "description": "=1+1"})]
    first, second = (finished(e2e, owner, r) for r in started)
    owner.edit("PUT", f"/workflows/{wf['id']}", workflow(name, report=True))
    third = finished(e2e, owner, owner.ok("POST", trigger, {"params": {"lr": 0.2, "layers": 3}, "description": "v2, deeper"}))
    runs = [first, second, third]
    assert [r["version"] for r in runs] == [1, 1, 2]
    accuracy = {r["id"]: r["metrics"]["train"]["accuracy"] for r in runs}
    assert accuracy == {first["id"]: 0.8, second["id"]: 0.6, third["id"]: pytest.approx(0.7)}
    curves = owner.ok("GET", f"/jobs/{first['id']}/step-metrics")["series"]
    assert [(c["task"], c["name"], len(c["points"])) for c in curves] == [("train", "loss", 5)]

    s = login(browser, site, "user1")
    page = s.open(f"/workflows/{wf['id']}/runs")
    for r in runs:
        page.locator(f"#mlops-runs tr[data-run-id='{r['id']}'] input[type=checkbox]").check()
    page.get_by_role("button", name=re.compile(r"Compare \(3\)")).click()
    page.wait_for_url(re.compile(r".*/pluginsv2/mlops/compare\?ids=.*"))
    expect(page.locator("h1")).to_have_text("Compare 3 runs")
    header = page.locator("#mlops-compare-runs")
    expect(header.locator("tbody tr")).to_have_count(3)
    # A description with markup is text, not markup.
    desc = header.locator(f"tr[data-run-id='{first['id']}'] .mlops-run-desc")
    expect(desc).to_have_text("<b>x</b>")
    expect(desc.locator("b")).to_have_count(0)

    # The bar chart: one bar per run, taller for a higher accuracy.
    bars_card = page.locator("#mlops-bars")
    bars_card.get_by_label("Metric").select_option("train.accuracy")
    chart = page.get_by_role("img", name="Bar chart of train.accuracy by run")
    expect(chart.locator("rect.mlops-bar")).to_have_count(3)
    heights = {r["id"]: float(chart.locator(f"rect.mlops-bar[data-run-id='{r['id']}']").get_attribute("height")) for r in runs}
    assert sorted(heights, key=heights.get) == sorted(accuracy, key=accuracy.get)
    assert chart.locator(f"rect[data-run-id='{first['id']}'] title").text_content().endswith("train.accuracy = 0.8")

    # The scatter: lr (x) against accuracy (y), one point per run, placed by their values.
    page.locator("#mlops-scatter-x").select_option("lr")
    page.locator("#mlops-scatter-y").select_option("train.accuracy")
    scatter = page.get_by_role("img", name="Scatter of train.accuracy against parameter lr")
    points = scatter.locator("circle.mlops-point")
    expect(points).to_have_count(3)
    cx = {r["id"]: float(scatter.locator(f"circle[data-run-id='{r['id']}']").get_attribute("cx")) for r in runs}
    cy = {r["id"]: float(scatter.locator(f"circle[data-run-id='{r['id']}']").get_attribute("cy")) for r in runs}
    by_lr = sorted(runs, key=lambda r: r["params"]["lr"])
    assert [cx[r["id"]] for r in by_lr] == sorted(cx.values())
    assert [cy[r["id"]] for r in by_lr] == sorted(cy.values(), reverse=True)  # higher accuracy is higher up
    # A text parameter is a category on the x axis.
    page.locator("#mlops-scatter-x").select_option("optimizer")
    expect(page.get_by_role("img", name="Scatter of train.accuracy against parameter optimizer").locator("circle.mlops-point")).to_have_count(3)
    page.locator("#mlops-scatter-x").select_option("lr")

    # Parallel coordinates: numeric parameters and metrics as axes, one line per run.
    parallel = page.locator("#mlops-parallel")
    expect(parallel.locator("path.mlops-pc-line")).to_have_count(3)
    for axis in ("lr", "layers", "train.accuracy", "train.loss"):
        expect(parallel.locator(f"g.mlops-axis[data-axis='{axis}']")).to_have_count(1)
    expect(parallel.locator("g.mlops-axis[data-axis='optimizer']")).to_have_count(0)

    # Learning curves: a chart of train.loss, one line per run with its five steps.
    loss = page.locator("#mlops-curves [data-curve='train.loss']")
    expect(loss.get_by_role("img", name="Learning curve of train.loss")).to_be_visible()
    expect(loss.locator("g.mlops-series")).to_have_count(3)
    for r in runs:
        expect(loss.locator(f"g.mlops-series[data-run-id='{r['id']}'] circle")).to_have_count(5)

    # Versions: each version's tasks, and the structural diff v1 -> v2 (a task was added).
    versions = page.locator("#mlops-compare-versions")
    expect(versions.locator("[data-version-change='1->2']")).to_contain_text("added report")
    expect(versions.locator("#mlops-compare-version-list tr[data-version]")).to_have_count(2)
    shoot(page, "compare")

    # Show differences only: the parameter all runs share is hidden, the differing ones stay; versions keep only the diff.
    params = page.locator("#mlops-compare-params")
    expect(params.locator("tr[data-name='optimizer']")).to_have_count(1)
    expect(params.locator("tr.differs[data-name='lr']")).to_have_count(1)
    page.get_by_label("Show differences only").check()
    expect(params.locator("tr[data-name='optimizer']")).to_have_count(0)
    expect(params.locator("tr[data-name='lr']")).to_have_count(1)
    expect(params.locator("tr[data-name='layers']")).to_have_count(1)
    expect(page.locator("#mlops-compare-metrics tr[data-name='train.accuracy']")).to_have_count(1)
    expect(versions.locator("#mlops-compare-version-list")).to_have_count(0)
    expect(versions.locator("[data-version-change='1->2']")).to_have_count(1)
    page.get_by_label("Show differences only").uncheck()
    expect(params.locator("tr[data-name='optimizer']")).to_have_count(1)

    # Export CSV: one row per run, its parameters and metrics; numbers unquoted, a formula neutralised.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = download.value.path().read_bytes().decode("utf-8")  # as written: CRLF kept
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["run_id"] for row in rows] == [r["id"] for r in runs]
    for row, r in zip(rows, runs, strict=True):
        assert row["dag_run_id"] == r["dag_run_id"] and row["workflow"] == name and int(row["version"]) == r["version"]
        assert row["state"] == "success" and float(row["duration_seconds"]) == pytest.approx(r["duration_seconds"])
        assert {p: row[f"params.{p}"] for p in ("lr", "layers", "optimizer")} == \
            {"lr": str(r["params"]["lr"]), "layers": str(r["params"]["layers"]), "optimizer": "adam"}
        assert float(row["metrics.train.accuracy"]) == pytest.approx(r["metrics"]["train"]["accuracy"])
        assert float(row["metrics.train.loss"]) == pytest.approx(r["params"]["lr"] / 5)
    assert rows[0]["description"] == "<b>x</b>"
    assert rows[1]["description"] == "'=1+1"  # would be a formula in a spreadsheet
    assert "\r\n" in text and '"v2, deeper"' in text  # RFC 4180: CRLF, a comma quoted
    assert f"\r\n{second['id']},{second['dag_run_id']},{name},1,success," in text
    assert "'=1+1,4,0.1,adam," in text  # numbers stay numbers (params in name order: layers, lr, optimizer)

    # The run's own detail on the runs page: its learning curve.
    page = s.open(f"/workflows/{wf['id']}/runs")
    page.locator(f"#mlops-runs tr[data-run-id='{first['id']}'] button.link").click()
    detail = page.locator(f".mlops-run-curves[data-run-id='{first['id']}']")
    expect(detail.locator("[data-curve='train.loss'] g.mlops-series circle")).to_have_count(5)
    expect(detail.get_by_role("img", name="Learning curve of train.loss")).to_be_visible()
    assert s.foreign_requests() == []  # nothing from a CDN or any other server
    s.close()
