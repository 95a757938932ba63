"""airflow-mlops: one distribution with two import packages, named so they cannot clash with others.

* ``airflow_mlops`` (folder ``plugin/``): the Airflow plugin, its tables, services, REST API and pages.
* ``airflow_mlops_dag_factory`` (folder ``dag_factory/``): the pure spec -> DAG library the DAG file uses.
"""

from pathlib import Path

from setuptools import setup

PACKAGE_DIRS = {"airflow_mlops": "plugin", "airflow_mlops_dag_factory": "dag_factory"}


def _packages() -> list[str]:
    """Every folder with an ``__init__.py`` below the two roots, as dotted import names."""
    found = []
    for package, folder in PACKAGE_DIRS.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            relative = init.parent.relative_to(folder).parts
            found.append(".".join((package, *relative)))
    return found


setup(
    name="airflow-mlops",
    version="0.1.0",
    description="Build, version, run and govern ML workflows inside Apache Airflow 3",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=_packages(),
    package_dir=PACKAGE_DIRS,
    package_data={
        "airflow_mlops": [
            "alembic.ini",
            "migrations/script.py.mako",
            "views/templates/mlops/*.html",
            "static/**/*",
            "templates_library/*",
            "py.typed",
        ],
        "airflow_mlops_dag_factory": ["py.typed"],
    },
    install_requires=[
        "apache-airflow>=3.3,<4",
        "apache-airflow-providers-fab>=3.10",
        "apache-airflow-providers-standard>=1.21",
        "apache-airflow-providers-docker>=4.6",
        "apache-airflow-providers-slack>=9.11",
        "apache-airflow-providers-smtp>=3.2",
        "flask-appbuilder>=5",
        "sqlalchemy>=2.0",
        "alembic>=1.13",
        "jinja2>=3.1",
        "pyyaml>=6",
        "pydantic>=2.7",
        "croniter>=2",
        "jsonschema>=4",
        "prometheus-client>=0.20",
        # Airflow's StatsD client: how the dag-processor's and workers' metrics leave those processes.
        "statsd>=3.3",
    ],
    extras_require={
        "postgres": ["apache-airflow-providers-postgres", "psycopg[binary]>=3.2"],
        # The distributed deployment: CeleryExecutor with Redis as the broker (docker-compose.yml).
        "celery": ["apache-airflow-providers-celery>=3.26", "redis>=5"],
        # What the built-in ML templates import in their tasks.
        "ml": ["scikit-learn>=1.5", "pandas>=2.2", "scipy>=1.13"],
        # Only the DAG generation benchmark's comparison (bench/bench_dag_generation.py).
        "bench": ["dag-factory>=1.1"],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2",
            "requests>=2.31",
            "schemathesis>=4.32,<5",
            # Checks real requests and responses against the served OpenAPI document (3.1: JSON Schema 2020-12).
            "jsonschema>=4.18,<5",
            # Drives Debian's Chromium (/usr/bin/chromium); its own browser download is never used.
            "playwright>=1.50",
            "apache-airflow-providers-postgres",
            "psycopg[binary]>=3.2",
            # A real SMTP server on 127.0.0.1 standing in for the mail relay in notification tests.
            "aiosmtpd>=1.4",
            # The distributed path is tested as processes: Celery workers with Redis.
            "apache-airflow-providers-celery>=3.26",
            "redis>=5",
            # `make test` lints and type-checks first (.ci/ruff.toml, .ci/mypy.ini).
            "ruff>=0.15",
            "mypy>=1.18",
        ],
    },
    entry_points={
        "airflow.plugins": ["mlops = airflow_mlops.plugin:MLOpsPlugin"],
        "console_scripts": ["airflow-mlops = airflow_mlops.cli:main"],
        "apache_airflow_provider": ["provider_info = airflow_mlops.provider_info:get_provider_info"],
    },
)
