"""The API keeps its contract: the OpenAPI document is complete and true (fuzzed with schemathesis), bad input
is refused with the field named and nothing written, and concurrent edits never overwrite each other."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
import yaml
from api_client import API, Client, simple_workflow, unique
from hypothesis import HealthCheck, Phase, given, settings
from notify_sinks import HOOK_OK
from schemathesis import GenerationMode

pytestmark = pytest.mark.parametrize("e2e", ["sqlite"], indirect=True)
FUZZ_EXAMPLES = 12  # per operation and generation mode: bounded so CI stays fast


@pytest.fixture(scope="module")
def admin(e2e) -> Iterator[Client]:
    before = e2e.workflow_ids()
    yield Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
    e2e.archive_workflows_except(before)


def plugin_db_counts(e2e) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(e2e.stack.env["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"])
    tables = ("mlops_workflow", "mlops_workflow_version", "mlops_template", "mlops_run")
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}
    engine.dispose()
    return counts


def test_openapi_documents_every_route(e2e, admin):
    document = admin.ok("GET", "/openapi.json")
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    from flask import Flask

    from airflow_mlops.api.routes import blueprint

    app = Flask("probe")
    app.register_blueprint(blueprint)
    import re

    served = {(method, re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/mlops/api/v1")))
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("mlops_api.") and rule.endpoint != "mlops_api.not_found"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_fuzz_the_openapi_document(e2e, admin, capsys):
    """Positive and negative inputs for every operation: never a 5xx, every response as documented."""
    raw = admin.ok("GET", "/openapi.json")
    raw["servers"] = [{"url": f"{e2e.stack.base_url}{API}"}]
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=f"{e2e.stack.base_url}{API}")
    token = admin.session.headers["Authorization"]
    seed = admin.ok("POST", "/workflows", simple_workflow(unique("fuzz_seed")))
    before = {w["id"] for w in admin.ok("GET", "/workflows?limit=500")["items"]}
    requests_made = 0
    statuses: Counter[int] = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            path_parameters = {"workflow_id": seed["id"]} if "{workflow_id}" in operation.path and mode == GenerationMode.POSITIVE else None

            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            def check(case: Any) -> None:
                nonlocal requests_made
                requests_made += 1
                response = case.call(headers={"Authorization": token}, timeout=30)
                statuses[response.status_code] += 1
                assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
                case.validate_response(response, checks=[
                    schemathesis.checks.not_a_server_error,
                    schemathesis.checks.status_code_conformance,
                    schemathesis.checks.content_type_conformance,
                    schemathesis.checks.response_schema_conformance,
                ])

            check()
    # Fuzzed workflows may be scheduled (e.g. "@continuous"): archive them so they stop using the executor.
    for workflow in admin.ok("GET", "/workflows?limit=500")["items"]:
        if workflow["id"] not in before:
            admin.call("DELETE", f"/workflows/{workflow['id']}")
    with capsys.disabled():  # the count is part of the report CI prints
        print(f"\nschemathesis made {requests_made} requests; statuses: {dict(sorted(statuses.items()))}")
    assert requests_made > 100
    assert sum(n for code, n in statuses.items() if code < 300) > 50  # authenticated, and often accepted


BAD_WORKFLOW_BODIES = {
    "malformed JSON": ('{"name": "x", "tasks": [', "$", "malformed JSON"),
    "wrong type": ({"name": "x", "retries": "three", "tasks": [{"name": "a", "code": "1"}]}, "retries", "valid integer"),
    "unknown field": ({"name": "x", "colour": "red", "tasks": [{"name": "a", "code": "1"}]}, "colour", "unknown field"),
    "cycle": ({"name": "x", "tasks": [{"name": "a", "code": "1", "depends_on": ["b"]},
                                      {"name": "b", "code": "1", "depends_on": ["a"]}]},
              "tasks[0].depends_on", "dependency cycle: a -> b -> a"),
    "code syntax error": ({"name": "x", "tasks": [{"name": "a", "code": "x = (1,"}]}, "tasks[0].code", "line 1"),
}


@pytest.mark.parametrize("case", list(BAD_WORKFLOW_BODIES))
def test_bad_workflow_input_names_the_field_and_writes_nothing(e2e, admin, case):
    existing = admin.ok("POST", "/workflows", simple_workflow(unique("target")))
    before = plugin_db_counts(e2e)
    body, path, message = BAD_WORKFLOW_BODIES[case]
    for method, url in (("POST", "/workflows"), ("PUT", f"/workflows/{existing['id']}"),
                        ("PATCH", f"/workflows/{existing['id']}")):
        payload = body if isinstance(body, str) else {**body, "name": existing["name"]} if method != "POST" else body
        if method == "PATCH" and not isinstance(body, str):
            payload = {k: v for k, v in payload.items() if k != "name"}
        resp = admin.session.request(method, f"{e2e.stack.base_url}{API}{url}", timeout=30,
                                     data=payload if isinstance(payload, str) else None,
                                     json=None if isinstance(payload, str) else payload,
                                     headers={"Content-Type": "application/json",
                                              **({"If-Match": f'"{existing["revision"]}"'} if method != "POST" else {})})
        assert resp.status_code == 400, (method, resp.text)
        problem = resp.json()
        assert any(e["path"] == path and message in e["message"] for e in problem["errors"]), (method, problem)
    assert plugin_db_counts(e2e) == before
    assert admin.ok("GET", f"/workflows/{existing['id']}")["revision"] == existing["revision"]


def test_other_write_endpoints_refuse_bad_input(e2e, admin):
    workflow = admin.ok("POST", "/workflows", simple_workflow(unique("other")))
    template = admin.ok("POST", "/templates", {"name": unique("tpl"), "spec": {
        "params": {"n": {"type": "integer", "required": True, "minimum": 1}}, "tasks": [{"name": "a", "code": "1"}]}})
    before = plugin_db_counts(e2e)
    cases = [
        ("POST", f"/workflows/{workflow['id']}/clone", {"name": 5}, "name"),
        ("POST", f"/workflows/{workflow['id']}/clone", {"name": "bad name!"}, "name"),
        ("POST", f"/workflows/{workflow['id']}/versions", {"description": 7}, "description"),
        ("POST", "/templates", {"name": "t", "spec": {"tasks": [{"name": "a", "code": "def"}]}}, "spec.tasks[0].code"),
        ("POST", "/templates", {"name": "t", "spec": {"tasks": []}, "extra": 1}, "extra"),
        ("PUT", f"/templates/{template['id']}", {"name": template["name"], "category": "nope", "spec": template["spec"]}, "category"),
        ("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": unique("i"), "params": {"n": 0}}, "params.n"),
        ("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": unique("i"), "params": {}}, "params.n"),
        ("POST", f"/templates/{template['id']}/instantiate", {"workflow_name": unique("i"), "params": {"n": 2, "zz": 1}}, "params.zz"),
        ("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"n": "ten"}}, "params.n"),
        ("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"n": 99}}, "params.n"),
        ("POST", f"/jobs/trigger/{workflow['id']}", {"params": {}, "colour": 1}, "colour"),
    ]
    for method, url, body, path in cases:
        resp = admin.call(method, url, body)
        assert resp.status_code == 400, (url, body, resp.text)
        assert path in [e["path"] for e in resp.json()["errors"]], (url, body, resp.json())
    assert plugin_db_counts(e2e) == before


def test_size_and_media_type_limits(e2e, admin):
    url = f"{e2e.stack.base_url}{API}/workflows"
    huge = '{"name": "x", "description": "' + "y" * (1024 * 1024 + 10) + '", "tasks": []}'
    resp = admin.session.post(url, data=huge, headers={"Content-Type": "application/json"}, timeout=60)
    assert resp.status_code == 413 and resp.json()["status"] == 413
    resp = admin.session.post(url, data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert resp.status_code == 415 and "application/json" in resp.json()["detail"]
    resp = admin.call("GET", "/workflows?limit=0")
    assert resp.status_code == 400 and resp.json()["errors"][0]["path"] == "query.limit"


def test_concurrent_updates_with_the_same_etag_one_wins(e2e, admin):
    created = admin.call("POST", "/workflows", simple_workflow(unique("race")))
    etag = created.headers["ETag"]
    workflow = created.json()
    results: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def put(label: str) -> None:
        client = Client(e2e.stack.base_url, "admin", "admin-pass-e2e", "bearer")
        barrier.wait()
        results[label] = client.call("PUT", f"/workflows/{workflow['id']}",
                                     simple_workflow(workflow["name"], f"return '{label}'"), headers={"If-Match": etag})

    threads = [threading.Thread(target=put, args=(label,)) for label in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 409], {k: (r.status_code, r.text[:200]) for k, r in results.items()}
    winner = next(label for label, r in results.items() if r.status_code == 200)
    final = admin.ok("GET", f"/workflows/{workflow['id']}")
    assert final["tasks"][0]["code"] == f"return '{winner}'"
    assert (final["version"], final["revision"]) == (2, 2)
    assert admin.ok("GET", f"/workflows/{workflow['id']}/versions")["total"] == 2
    stale = admin.call("DELETE", f"/workflows/{workflow['id']}", headers={"If-Match": etag})
    assert stale.status_code == 409 and admin.ok("GET", f"/workflows/{workflow['id']}")["archived_at"] is None


def test_trigger_through_the_api_passes_params_and_description(e2e, admin):
    name = unique("triggered")
    doc = {"name": name, "params": {"lr": {"type": "number", "default": 0.1}, "tag": {"type": "string", "default": "a"}},
           "tasks": [{"name": "echo", "code": "return dict(params)"}]}
    workflow = admin.ok("POST", "/workflows", doc)
    e2e.api.wait_dag(name)
    weird = 'x {y} "z"\n{{ ds }}'
    run = admin.ok("POST", f"/jobs/trigger/{workflow['id']}", {"params": {"tag": weird},
                                                                 "description": "Experiment #42 - lower lr"})
    assert run["version"] == 1 and run["triggered_by"] == "admin"
    assert e2e.api.wait_run(name, run["dag_run_id"]) == "success"
    assert e2e.api.xcom(name, run["dag_run_id"], "echo") == {"lr": 0.1, "tag": weird}
    airflow_run = e2e.api.get(f"/api/v2/dags/{name}/dagRuns/{run['dag_run_id']}")
    assert airflow_run["note"] == "Experiment #42 - lower lr"
    record = admin.ok("GET", f"/jobs/{run['id']}")
    assert record["state"] == "success" and record["params"] == {"lr": 0.1, "tag": weird}


def test_list_filters_sorting_and_paging(e2e, admin):
    prefix = unique("flt")
    made = []
    for i, (tag, active) in enumerate([("vision", True), ("nlp", False), ("vision", False)]):
        doc = {**simple_workflow(f"{prefix}_{i}"), "tags": [tag], "description": f"{prefix} model {i}"}
        made.append(admin.ok("POST", "/workflows", {**doc, "active": active}))
    everything = admin.ok("GET", f"/workflows?q={prefix}")
    assert everything["total"] == 3
    assert [w["name"] for w in everything["items"]] == [f"{prefix}_0", f"{prefix}_1", f"{prefix}_2"]
    assert [w["name"] for w in admin.ok("GET", f"/workflows?q={prefix}&sort=-name")["items"]][0] == f"{prefix}_2"
    vision = admin.ok("GET", f"/workflows?q={prefix}&tag=vision")
    assert {w["name"] for w in vision["items"]} == {f"{prefix}_0", f"{prefix}_2"}
    inactive_vision = admin.ok("GET", f"/workflows?q={prefix}&tag=vision&active=false")
    assert [w["name"] for w in inactive_vision["items"]] == [f"{prefix}_2"]
    page = admin.ok("GET", f"/workflows?q={prefix}&limit=2&offset=2")
    assert (page["total"], len(page["items"]), page["offset"]) == (3, 1, 2)
    assert admin.ok("GET", f"/workflows?q={prefix}&owner=nobody_at_all")["total"] == 0
    assert admin.call("GET", "/workflows?sort=colour").status_code == 400
    admin.ok("DELETE", f"/workflows/{made[0]['id']}")
    assert admin.ok("GET", f"/workflows?q={prefix}")["total"] == 2
    assert admin.ok("GET", f"/workflows?q={prefix}&include_archived=true")["total"] == 3


# -- every operation of the served document, called for real and checked against it ---------------------------
DOC_URI = "urn:mlops-openapi"
METHODS = {"get", "put", "post", "patch", "delete"}


def _pointer(*parts: str) -> str:
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """Real requests checked against the served OpenAPI document: path, query and header parameters and the body
    against what the operation documents, the response against the schema documented for its status and media
    type. Records which operations were exercised, so a new operation without a test here fails."""

    def __init__(self, client: Client, document: dict[str, Any]):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.client, self.document, self.validator = client, document, Draft202012Validator
        self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))
        self.exercised: set[tuple[str, str]] = set()

    def documented(self) -> set[tuple[str, str]]:
        return {(m.upper(), p) for p, ops in self.document["paths"].items() for m in ops if m in METHODS}

    def errors(self, instance: Any, *where: Any) -> list[str]:
        validator = self.validator({"$ref": f"{DOC_URI}#/{_pointer(*where)}"}, registry=self.registry,
                                   format_checker=self.validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, instance: Any, *where: Any) -> None:
        errors = self.errors(instance, *where)
        assert not errors, f"{'/'.join(map(str, where))}: {errors[:5]}"

    def call(self, method: str, template: str, body: Any = None, *, status: int, query: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, raw: str | None = None, media: str = "application/json",
             valid: bool = True, **path: str) -> Any:
        """One request; ``valid=False`` sends a body the document must refuse (and so must the server)."""
        here: tuple[Any, ...] = ("paths", template, method.lower())
        operation = self.document["paths"][template][method.lower()]
        params = {(p["in"], p["name"]): i for i, p in enumerate(operation.get("parameters", []))}
        values = [("path", k, v) for k, v in path.items()] + [("query", k, v) for k, v in (query or {}).items()]
        values += [("header", k, v) for k, v in (headers or {}).items()]
        for where, name, value in values:
            assert (where, name) in params, f"{method} {template}: {where} parameter {name!r} is not documented"
            schema = operation["parameters"][params[(where, name)]]["schema"]
            typed = int(value) if schema.get("type") == "integer" else value
            self.check(typed, *here, "parameters", params[(where, name)], "schema")
        assert {n for (w, n), i in params.items() if w == "path"} == set(path), f"{method} {template}: path parameters"
        sent = raw if raw is not None else body
        if sent is not None:
            content = operation.get("requestBody", {}).get("content", {})
            assert media in content, f"{method} {template}: no {media} request body documented"
            errors = self.errors(sent, *here, "requestBody", "content", media, "schema")
            assert (not errors) if valid else errors, f"{method} {template}: request {'refused' if valid else 'accepted'} " \
                                                       f"by the document: {errors[:5] or sent}"
        else:
            assert not operation.get("requestBody", {}).get("required"), f"{method} {template} needs a body"
        url = template.format(**path) + (f"?{urlencode(query)}" if query else "")
        if raw is not None:
            resp = self.client.session.request(method, f"{self.client.base_url}{API}{url}", data=raw.encode(),
                                               headers={"Content-Type": media, **(headers or {})}, timeout=60)
        else:
            resp = self.client.call(method, url, body, headers=headers or {})
        code = str(resp.status_code)
        assert code in operation["responses"], f"{method} {url} -> undocumented {code}: {resp.text[:300]}"
        content = operation["responses"][code].get("content")
        if resp.content:
            got = resp.headers.get("Content-Type", "").split(";")[0].strip()
            assert content and got in content, f"{method} {url} -> {code} {got!r}: not a documented media type"
            parsed = resp.json() if got.endswith("json") else yaml.safe_load(resp.text)
            self.check(parsed, *here, "responses", code, "content", got, "schema")
        else:
            assert not content, f"{method} {url} -> {code} without the documented body"
        assert resp.status_code == status, f"{method} {url} -> {code}, expected {status}: {resp.text[:300]}"
        self.exercised.add((method, template))
        return resp


def test_every_operation_is_exercised_and_keeps_its_documented_contract(e2e, admin):
    """Each operation of the served document, with real requests and responses checked against it; PATCH and PUT
    take what clients really send (notifications, a version message, a GET document sent back)."""
    api = Contract(admin, admin.ok("GET", "/openapi.json"))
    W, T = "/workflows/{workflow_id}", "/templates/{template_id}"
    api.call("GET", "/openapi.json", status=200)
    api.call("GET", "/csrf-token", status=200)
    name = unique("contract")
    api.call("POST", "/validate", simple_workflow(name), status=200)
    created = api.call("POST", "/workflows", {**simple_workflow(name), "message": "first"}, status=201)
    wid = created.json()["id"]
    e2e.api.wait_dag(name)
    run_a = api.call("POST", "/jobs/trigger/{workflow_id}", {"params": {"n": 2}, "description": "contract"}, status=201,
                     workflow_id=wid).json()

    # PUT: the GET document sent back whole, read-only fields included; PATCH: notifications and a version message.
    current = api.call("GET", W, status=200, workflow_id=wid)
    replaced = api.call("PUT", W, {**current.json(), "description": "replaced"}, status=200,
                        headers={"If-Match": current.headers["ETag"]}, workflow_id=wid)
    patch = {"description": "patched", "message": "patched by the contract test",
             "notifications": {"on_retry": [{"type": "slack_webhook", "connection_id": HOOK_OK}]}}
    api.call("PATCH", W, {"retries": "three"}, status=400, headers={"If-Match": replaced.headers["ETag"]}, valid=False,
             workflow_id=wid)
    patched = api.call("PATCH", W, patch, status=200, headers={"If-Match": replaced.headers["ETag"]}, workflow_id=wid)
    assert patched.json()["notifications"]["on_retry"][0]["connection_id"] == HOOK_OK
    api.call("GET", W, status=404, workflow_id=str(uuid.uuid4()))
    api.call("GET", "/workflows", status=200, query={"q": name, "limit": 10})
    api.call("GET", "/notifications/defaults", status=200)
    tested = api.call("POST", W + "/notifications/test", {"event": "on_retry"}, status=200, workflow_id=wid).json()
    assert [r["ok"] for r in tested["results"]] == [True]

    # Versions: v1 created (run A), v2 put, v3 patched (run B), v4 snapshot, v5 restored from v1.
    e2e.wait_dag_version(name, 3)
    run_b = api.call("POST", "/jobs/{run_id}/rerun", {"params": {"n": 3}}, status=201, run_id=run_a["id"]).json()
    versions = api.call("GET", W + "/versions", status=200, query={"limit": 10}, workflow_id=wid).json()
    assert versions["items"][0]["message"] == patch["message"]
    api.call("POST", W + "/versions", {"description": "snapshot"}, status=201, workflow_id=wid)
    v1 = api.call("GET", W + "/versions/{number}", status=200, workflow_id=wid, number="1").json()
    diff = api.call("GET", W + "/diff", status=200, query={"from": 2, "to": 3}, workflow_id=wid).json()
    assert {c["field"] for c in diff["settings"]} == {"description", "notifications"}
    api.call("POST", "/versions/{version_id}/restore", status=200, version_id=v1["id"])
    api.call("DELETE", W + "/versions/{number}", status=204, workflow_id=wid, number="2")

    # Runs and presets.
    api.call("GET", "/jobs", status=200, query={"workflow_id": wid})
    api.call("GET", "/jobs/{run_id}", status=200, run_id=run_b["id"])
    api.call("GET", "/jobs/{run_id}/step-metrics", status=200, run_id=run_b["id"])
    compared = api.call("GET", "/jobs/compare", status=200, query={"ids": f"{run_a['id']},{run_b['id']}"}).json()
    assert compared["version_diffs"]["v1->v3"]["identical"] is False
    api.call("POST", W + "/presets", {"name": "fast", "params": {"n": 3}}, status=201, workflow_id=wid)
    api.call("GET", W + "/presets", status=200, workflow_id=wid)
    api.call("DELETE", W + "/presets/{preset_name}", status=204, workflow_id=wid, preset_name="fast")

    # Clones: diff with the origin, archive, purge.
    clone = api.call("POST", W + "/clone", {"name": unique("contract_clone")}, status=201, workflow_id=wid)
    clone_id = clone.json()["id"]
    api.call("GET", W + "/origin-diff", status=200, workflow_id=clone_id)
    api.call("DELETE", W, status=200, headers={"If-Match": clone.headers["ETag"]}, workflow_id=clone_id)
    api.call("POST", W + "/purge", status=204, workflow_id=clone_id)

    # Templates.
    template_doc = {"name": unique("contract_tpl"), "description": "d", "category": "ml_training", "public": False,
                    "spec": {"params": {"n": {"type": "integer", "default": 1}}, "tasks": [{"name": "a", "code": "return 1"}]}}
    template = api.call("POST", "/templates", template_doc, status=201)
    tid = template.json()["id"]
    api.call("GET", "/templates", status=200, query={"q": template_doc["name"], "category": "ml_training"})
    api.call("GET", T, status=200, template_id=tid)
    api.call("PUT", T, {**template_doc, "description": "changed", "revision": template.json()["revision"]}, status=200,
             headers={"If-Match": template.headers["ETag"]}, template_id=tid)
    api.call("POST", T + "/instantiate", {"workflow_name": unique("contract_inst"), "params": {"n": 2}}, status=201,
             template_id=tid)
    api.call("GET", T + "/workflows", status=200, template_id=tid)
    saved = api.call("POST", W + "/save-as-template", {"name": unique("contract_saved")}, status=201, workflow_id=wid)
    api.call("DELETE", T, status=204, headers={"If-Match": saved.headers["ETag"]}, template_id=saved.json()["id"])

    # Drafts: save, read, diff, ask for a review (an author never reviews their own), publish; another discarded.
    draft = api.call("PUT", W + "/draft", simple_workflow(name, "return 'draft'"), status=200, workflow_id=wid)
    api.call("GET", W + "/draft", status=200, workflow_id=wid)
    assert api.call("GET", W + "/draft/diff", status=200, workflow_id=wid).json()["identical"] is False
    asked = api.call("POST", W + "/draft/review-request", {"comment": "please"}, status=200,
                     headers={"If-Match": draft.headers["ETag"]}, workflow_id=wid)
    api.call("POST", W + "/draft/review", {"decision": "approve", "comment": "mine"}, status=403,
             headers={"If-Match": asked.headers["ETag"]}, workflow_id=wid)
    published = api.call("POST", W + "/draft/publish", {"message": "from the draft"}, status=200,
                         headers={"If-Match": asked.headers["ETag"]}, workflow_id=wid).json()
    assert published["tasks"][0]["code"] == "return 'draft'"
    again = api.call("PUT", W + "/draft", simple_workflow(name, "return 'again'"), status=200, workflow_id=wid)
    api.call("DELETE", W + "/draft", status=428, workflow_id=wid)
    api.call("DELETE", W + "/draft", status=204, headers={"If-Match": again.headers["ETag"]}, workflow_id=wid)

    # Test runs: one task (its upstream first), read back, listed; a task the workflow lacks is refused.
    e2e.api.wait_dag("mlops_test_runs")
    test = api.call("POST", W + "/tests", {"task": "b", "params": {"n": 3}}, status=201, workflow_id=wid).json()
    assert test["tasks"] == ["a", "b"] and test["source"] == "published"
    api.call("POST", W + "/tests", {"task": "nope"}, status=400, workflow_id=wid)
    api.call("GET", "/tests/{test_id}", status=200, test_id=test["id"])
    api.call("GET", W + "/tests", status=200, query={"limit": 5}, workflow_id=wid)

    # Files: export as JSON and YAML, import both (under new names).
    exported = api.call("GET", W + "/export", status=200, workflow_id=wid).json()
    exported["spec"]["name"] = unique("contract_imported")
    api.call("POST", "/import", exported, status=201)
    exported_template = yaml.safe_load(api.call("GET", T + "/export", status=200, query={"format": "yaml"},
                                                template_id=tid).text)
    exported_template["name"] = unique("contract_tpl_imported")
    api.call("POST", "/import", raw=yaml.safe_dump(exported_template), media="application/yaml", status=201)

    api.call("GET", "/audit", status=200, query={"object_id": wid, "limit": 5})
    final = admin.call("GET", W.format(workflow_id=wid))
    api.call("DELETE", W, status=200, headers={"If-Match": final.headers["ETag"]}, workflow_id=wid)

    missing = api.documented() - api.exercised
    assert not missing, f"operations of the document this test never called: {sorted(missing)}"
