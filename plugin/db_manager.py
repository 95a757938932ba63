"""Lets ``airflow db migrate`` create and upgrade the plugin's tables, in the plugin's own database.

Airflow's ``BaseDBManager`` assumes Airflow's database everywhere; the overrides below point the
Alembic config, the migration context and the ORM create at ``[mlops] sql_alchemy_conn`` instead
(which may of course be the same URL as Airflow's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.utils.db_manager import BaseDBManager
from alembic.config import Config
from sqlalchemy import insert, inspect

from airflow_mlops.db import writer_engine
from airflow_mlops.models import StoreRevision, metadata
from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.database import get_engine

PACKAGE_DIR = Path(__file__).parent
VERSION_TABLE = "alembic_version_mlops"


class MLOpsDBManager(BaseDBManager):
    metadata = metadata
    migration_dir = str(PACKAGE_DIR / "migrations")
    alembic_file = str(PACKAGE_DIR / "alembic.ini")
    version_table_name = VERSION_TABLE
    supports_table_dropping = True

    def get_alembic_config(self) -> Config:
        config = super().get_alembic_config()
        config.set_main_option("sqlalchemy.url", settings.database_url().replace("%", "%%"))
        return config

    def get_current_revision(self) -> str | None:
        from alembic.migration import MigrationContext

        with get_engine(settings.database_url()).connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

    def initdb(self, *args: Any, **kwargs: Any) -> None:
        super().initdb(*args, **kwargs)
        self._sync_builtin_templates()

    def upgradedb(self, *args: Any, **kwargs: Any) -> None:
        super().upgradedb(*args, **kwargs)
        if not kwargs.get("show_sql_only"):
            self._sync_builtin_templates()

    def _sync_builtin_templates(self) -> None:
        """``airflow db migrate`` also installs and upgrades the built-in templates (never over user edits)."""
        from airflow_mlops.services.template_library import sync_builtin_templates

        for name, outcome in sync_builtin_templates().items():
            self.log.info("MLOps built-in template %r: %s", name, outcome)

    def create_db_from_orm(self) -> None:
        from alembic import command

        self.log.info("Creating the MLOps tables from the ORM in %s", writer_engine().url.render_as_string())
        self.metadata.create_all(writer_engine())
        with writer_engine().begin() as conn:  # the store revision counter starts at 0 (no version yet)
            conn.execute(insert(StoreRevision).values(id=1, value=0))
        command.stamp(self.get_alembic_config(), "head")

    def _has_existing_manager_tables(self) -> bool:
        existing = set(inspect(writer_engine()).get_table_names())
        return bool(existing & set(self.metadata.tables))

    def drop_tables(self, connection: Any) -> None:
        with writer_engine().begin() as conn:
            self.metadata.drop_all(conn)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
