"""The Alembic migrations build exactly the tables the models describe, and the loader's view matches them."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from airflow_mlops.models import metadata
from airflow_mlops_dag_factory import store, test_runs


def test_migrated_schema_equals_the_models(plugin_db):
    engine = create_engine(plugin_db)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": "alembic_version_mlops"})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_loader_columns_exist_in_the_models():
    for view in (store.workflow_table, store.version_table, store.run_table, test_runs.test_run_table):
        model = metadata.tables[view.name]
        assert set(view.c.keys()) <= set(model.c.keys()), view.name


def test_the_store_revision_migration_numbers_existing_versions_in_write_order(tmp_path, monkeypatch):
    """Upgrading a store with history: every version gets a revision in the order it was written, and the
    counter continues after the last one."""
    from datetime import datetime, timezone

    from alembic import command
    from sqlalchemy import text

    from airflow_mlops.db_manager import MLOpsDBManager

    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", url)
    config = MLOpsDBManager(session=None).get_alembic_config()
    command.upgrade(config, "0005")
    engine = create_engine(url)
    with engine.begin() as conn:
        for wid, name in (("w1", "first"), ("w2", "second")):
            conn.execute(text("INSERT INTO mlops_workflow (id, name, description, owner, tags, active, revision, "
                              "current_version, created_by, created_at, updated_by, updated_at) VALUES "
                              "(:id, :name, '', 'o', '[]', 1, 1, 2, 'u', :at, 'u', :at)"),
                         {"id": wid, "name": name, "at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
        for vid, wid, number, day in (("v3", "w1", 2, 5), ("v1", "w1", 1, 1), ("v2", "w2", 1, 3), ("v4", "w2", 2, 9)):
            conn.execute(text("INSERT INTO mlops_workflow_version (id, workflow_id, number, spec, spec_hash, message, "
                              "created_by, created_at) VALUES (:id, :wid, :n, '{}', '-', '', 'u', :at)"),
                         {"id": vid, "wid": wid, "n": number, "at": datetime(2026, 1, day, tzinfo=timezone.utc)})
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, store_revision FROM mlops_workflow_version")).all())
        head = conn.execute(text("SELECT value FROM mlops_store_revision WHERE id = 1")).scalar()
    engine.dispose()
    assert rows == {"v1": 1, "v2": 2, "v3": 3, "v4": 4} and head == 4
    assert store.store_head(url) == 4 and store.version_as_of("w1", 2, url) == 1 and store.version_as_of("w1", 3, url) == 2


def test_dropping_the_task_rows_keeps_nothing_behind_and_a_downgrade_refills_them(tmp_path, monkeypatch):
    """0007 drops ``mlops_task`` (written on every save, read by nothing); going back to 0006 refills it
    from each workflow's current version, as the code of that time reads it."""
    from alembic import command
    from sqlalchemy import inspect, text

    from airflow_mlops.db_manager import MLOpsDBManager

    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", url)
    config = MLOpsDBManager(session=None).get_alembic_config()
    command.upgrade(config, "heads")
    engine = create_engine(url)
    assert "mlops_task" not in inspect(engine).get_table_names()
    spec = '{"name": "w", "tasks": [{"name": "a", "code": "1"}, {"name": "b", "code": "2", "depends_on": ["a"]}]}'
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO mlops_workflow (id, name, description, owner, tags, active, revision, "
                          "current_version, created_by, created_at, updated_by, updated_at) VALUES "
                          "('w1', 'w', '', 'o', '[]', 1, 2, 2, 'u', '2026-01-01', 'u', '2026-01-01')"))
        for number, body in ((1, '{"name": "w", "tasks": [{"name": "old", "code": "0"}]}'), (2, spec)):
            conn.execute(text("INSERT INTO mlops_workflow_version (id, workflow_id, number, spec, spec_hash, message, "
                              "created_by, created_at, store_revision) VALUES (:id, 'w1', :n, :spec, '-', '', 'u', "
                              "'2026-01-01', :n)"), {"id": f"v{number}", "n": number, "spec": body})
    command.downgrade(config, "0006")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT position, name, code, depends_on FROM mlops_task ORDER BY position")).all()
    engine.dispose()
    assert [(r.position, r.name, r.code, json.loads(r.depends_on)) for r in rows] == [(0, "a", "1", []),
                                                                                      (1, "b", "2", ["a"])]
