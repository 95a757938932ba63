"""The Alembic migrations build exactly the tables the models describe, and the loader's view matches them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from airflow_mlops.models import metadata
from airflow_mlops_dag_factory import store


def test_migrated_schema_equals_the_models(plugin_db):
    engine = create_engine(plugin_db)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": "alembic_version_mlops"})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_loader_columns_exist_in_the_models():
    for view in (store.workflow_table, store.version_table, store.run_table):
        model = metadata.tables[view.name]
        assert set(view.c.keys()) <= set(model.c.keys()), view.name
