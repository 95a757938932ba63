"""Alembic environment of the MLOps tables: its own database URL and its own version table."""

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from airflow_mlops.db_manager import VERSION_TABLE
from airflow_mlops.models import metadata

config = context.config


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only our tables: the plugin database may be Airflow's own."""
    return type_ != "table" or (name or "").startswith("mlops_")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, version_table=VERSION_TABLE,
        literal_binds=True, render_as_batch=True, include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
            render_as_batch=True, include_object=_include_object, compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
