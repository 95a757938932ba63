"""The plugin database for in-process service tests: SQLite and PostgreSQL, migrated with Alembic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command

from airflow_mlops.db_manager import MLOpsDBManager


@pytest.fixture(params=["sqlite", "postgres"])
def plugin_db(request, tmp_path, monkeypatch, airflow_db) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mlops.db'}"
    else:
        pg_admin = request.getfixturevalue("pg_admin")
        url = pg_admin.sqlalchemy_url(pg_admin.create_database("mlops_svc"))
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", url)
    command.upgrade(MLOpsDBManager(session=None).get_alembic_config(), "heads")
    yield url
