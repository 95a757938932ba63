"""Sessions on the plugin database for the services (the only writers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from airflow_mlops.services.audit import PENDING_KEY, mirror_to_airflow
from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.database import get_engine


def writer_engine(url: str | None = None) -> Engine:
    return get_engine(url or settings.database_url(), writer=True)


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls everything back on any error.

    Audit events recorded in it are mirrored to Airflow's audit log only after the commit succeeded.
    """
    session = sessionmaker(bind=writer_engine(url), expire_on_commit=False)()
    try:
        with session.begin():
            yield session
        committed = session.info.pop(PENDING_KEY, [])
    finally:
        session.close()
    if committed:
        mirror_to_airflow(committed)
