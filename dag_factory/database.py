"""SQLAlchemy engines for the plugin database, tuned for the backends we support.

Shared by the read-only loader and the plugin's services so both see SQLite the same way:
foreign keys on, WAL (readers never block the writer), a busy timeout, and real transactions
(``BEGIN IMMEDIATE`` for writers, so two concurrent saves queue instead of failing half-way).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from airflow_mlops_dag_factory import settings

_engines: list[Engine] = []


def _forget_connections_after_fork() -> None:
    """A forked child must not use its parent's pooled connections (the MLOps bundle's ``refresh()`` opens one in
    the dag-processor, which forks every parse): the child opens its own; the parent's stay the parent's."""
    for engine in _engines:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_connections_after_fork)


@lru_cache(maxsize=8)
def get_engine(url: str, writer: bool = False) -> Engine:
    """One engine per URL, role and process; a short connect timeout so a dead database cannot stall parsing."""
    timeout = int(settings.get("db_connect_timeout"))
    backend = make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = timeout
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":
        _tune_sqlite(engine, busy_timeout_ms=timeout * 1000, begin="BEGIN IMMEDIATE" if writer else "BEGIN")
    _engines.append(engine)
    return engine


def _tune_sqlite(engine: Engine, busy_timeout_ms: int, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" hook below own transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)
