"""Templates on real databases: the built-in library, instantiation, save-as-template, files in and out."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_mlops.db import writer_engine
from airflow_mlops.db_manager import MLOpsDBManager
from airflow_mlops.models import Template, Workflow
from airflow_mlops.services import portable, templates, workflows
from airflow_mlops.services.actors import Actor
from airflow_mlops.services.errors import InvalidInput
from airflow_mlops.services.template_library import builtin_documents, content_hash, sync_builtin_templates

ADMIN = Actor.system("admin")
ALICE = Actor("alice")
TEMPLATE = {
    "name": "Tiny", "category": "ml_training", "spec": {
        "params": {"n": {"type": "integer", "required": True, "minimum": 1, "maximum": 10},
                   "mode": {"type": "enum", "enum": ["a", "b"], "default": "a"},
                   "label": {"type": "string", "default": "x"}},
        "tasks": [{"name": "t", "code": "return params['n'], params['mode'], params['label']"}]},
}


def test_every_shipped_template_is_valid_and_there_are_at_least_five():
    documents = builtin_documents()
    assert len(documents) >= 5
    assert {d["category"] for d in documents} >= {"ml_training", "inference", "tuning", "data_pipeline", "monitoring"}
    for document in documents:
        assert templates.validate_template({**document, "public": True})[1] == [], document["name"]


def test_library_sync_installs_upgrades_and_never_overwrites_edits(plugin_db):
    first = sync_builtin_templates()
    assert set(first.values()) == {"created"} and len(first) == len(builtin_documents())
    assert set(sync_builtin_templates().values()) == {"unchanged"}
    training, inference = "Standard training pipeline", "Batch inference"
    with Session(writer_engine()) as session, session.begin():
        # inference: looks like an older shipped version -> upgraded; training: edited by a user -> kept
        old = session.scalar(select(Template).where(Template.name == inference))
        old.spec = {**old.spec, "description": "old shipped text"}
        old.shipped_hash = content_hash(old.description, old.category, old.spec)
        edited = session.scalar(select(Template).where(Template.name == training))
        edited.description = "our team's version"
    outcome = sync_builtin_templates()
    assert outcome[inference] == "updated" and outcome[training] == "kept: edited by a user"
    with Session(writer_engine()) as session:
        assert session.scalar(select(Template.description).where(Template.name == training)) == "our team's version"
        assert session.scalar(select(Template.spec).where(Template.name == inference))["description"] != "old shipped text"


def test_instantiate_reports_every_bad_parameter_and_creates_nothing(plugin_db):
    template = templates.create_template(TEMPLATE, ALICE)
    with pytest.raises(InvalidInput) as exc:
        templates.instantiate(template.id, "tiny_wf", {"mode": "c", "label": 5, "zz": 1}, ALICE)
    assert {(e.path, e.message) for e in exc.value.errors} == {
        ("params.zz", "unknown parameter"),
        ("params.n", "required parameter is missing"),
        ("params.mode", "'c' is not one of ['a', 'b', None]"),
        ("params.label", "5 is not of type 'string', 'null'"),
    }
    with pytest.raises(InvalidInput) as exc:
        templates.instantiate(template.id, "tiny_wf", {"n": 11}, ALICE)
    assert [e.path for e in exc.value.errors] == ["params.n"]
    assert workflows.list_workflows().total == 0
    assert templates.get_template(template.id, ALICE).usage_count == 0


def test_instantiate_sets_defaults_and_never_touches_code(plugin_db):
    template = templates.create_template(TEMPLATE, ALICE)
    tricky = 'a {b} "c"\n{{ d }} %s'
    record = templates.instantiate(template.id, "tiny_wf", {"n": 3, "label": tricky}, ALICE)
    assert record.spec["params"]["n"]["default"] == 3 and record.spec["params"]["label"]["default"] == tricky
    assert record.spec["tasks"] == [{**TEMPLATE["spec"]["tasks"][0], "type": "python", "depends_on": [], "retries": None,
                                     "timeout_seconds": None, "description": "", "map_over": None, "trigger_rule": None,
                                     "docker": None}]
    assert (record.template_id, record.template_revision) == (template.id, 1)
    assert templates.get_template(template.id, ALICE).usage_count == 1
    templates.update_template(template.id, {**TEMPLATE, "description": "v2"}, ALICE)
    [instance] = templates.instances(template.id, ALICE)
    assert (instance["name"], instance["outdated"]) == ("tiny_wf", True)


def test_save_as_template_keeps_chosen_parameters_and_refuses_to_drop_used_ones(plugin_db):
    workflow = workflows.create_workflow({
        "name": "source_wf", "params": {"lr": {"type": "number", "default": 0.1}, "unused": {"type": "string"}},
        "tasks": [{"name": "t", "code": "return params.get('lr')"}]}, ALICE)
    with pytest.raises(InvalidInput) as exc:
        templates.save_as_template(workflow.id, {"name": "From wf", "parameters": ["unused"]}, ALICE)
    assert [(e.path, e.message) for e in exc.value.errors] == [
        ("tasks[0].code", "reads parameter(s) ['lr'] that the template would drop")]
    saved = templates.save_as_template(workflow.id, {"name": "From wf", "parameters": ["lr"]}, ALICE)
    assert list(saved.spec["params"]) == ["lr"] and saved.created_by == "alice"


def test_export_then_import_on_a_fresh_database_gives_equal_specs(plugin_db, tmp_path, monkeypatch):
    template = templates.create_template(TEMPLATE, ADMIN)
    workflow = workflows.create_workflow({"name": "exported_wf", "tags": ["x"], "schedule": "@daily",
                                          "tasks": [{"name": "t", "code": "return {'a': '{'}"}]}, ADMIN)
    files = {"workflow": portable.dumps(portable.export_workflow(workflow.id), "yaml"),
             "template": portable.dumps(portable.export_template(template.id, ADMIN), "json")}
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path / 'fresh.db'}")
    command.upgrade(MLOpsDBManager(session=None).get_alembic_config(), "heads")
    assert workflows.list_workflows().total == 0
    kind, imported = portable.import_document(portable.loads(files["workflow"]), ADMIN)
    assert kind == "workflow" and imported.spec == workflow.spec
    kind, imported_template = portable.import_document(portable.loads(files["template"]), ADMIN)
    assert kind == "template" and imported_template.spec == template.spec
    with Session(writer_engine()) as session:
        assert session.scalar(select(Workflow.name)) == "exported_wf"
    with pytest.raises(InvalidInput) as exc:
        portable.import_document({"kind": "workflow", "spec": {"name": "bad name", "tasks": []}}, ADMIN)
    assert {e.path for e in exc.value.errors} == {"name", "tasks"}
