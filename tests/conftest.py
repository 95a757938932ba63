"""Shared fixtures: real databases (SQLite files, PostgreSQL on 127.0.0.1:5432) and real Airflow stacks.

PostgreSQL is required in CI (``CI=true``): a missing server fails the run. Elsewhere the PostgreSQL
cases are skipped with a message saying why.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "airflow_config"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The test process itself gets a throw-away Airflow home and database before anything imports Airflow,
# so services called in-process write their parse requests to a real (SQLite) Airflow database.
TEST_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mlops-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(TEST_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{TEST_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"] = f"sqlite:///{TEST_AIRFLOW_HOME / 'mlops.db'}"

PG_ADMIN_URL = os.environ.get("MLOPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[PgAdmin]:
    reason = _pg_available()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (required in CI)")
        pytest.skip(reason)
    admin = PgAdmin(PG_ADMIN_URL)
    yield admin
    admin.drop_all()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the test process's own Airflow database once (a real ``airflow db migrate``)."""
    import subprocess

    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True,
                   capture_output=True, env=os.environ.copy())
    return TEST_AIRFLOW_HOME


class PgAdmin:
    """Creates throw-away databases and roles on the test server, and drops them again."""

    def __init__(self, url: str):
        self.url = url
        self.databases: list[str] = []
        self.roles: list[str] = []

    def execute(self, sql: str, dbname: str | None = None) -> None:
        import psycopg

        url = self.url.rsplit("/", 1)[0] + f"/{dbname}" if dbname else self.url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    def create_role(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.execute(f'CREATE ROLE "{name}" LOGIN')
        self.roles.append(name)
        return name

    def sqlalchemy_url(self, dbname: str, user: str = "postgres") -> str:
        host = self.url.split("@", 1)[1].rsplit("/", 1)[0]
        return f"postgresql+psycopg://{user}@{host}/{dbname}"

    def drop_all(self) -> None:
        for name in self.databases:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for name in self.roles:
            self.execute(f'DROP ROLE IF EXISTS "{name}"')
