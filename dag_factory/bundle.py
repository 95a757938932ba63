"""The MLOps DAG bundle: an Airflow DAG bundle whose version is the plugin's version store, not Git.

Its version is the store revision (``mlops_store_revision``), which every write of a workflow version bumps.
Airflow records the bundle version on each DAG version and each DAG run; a worker asks for the bundle at the
run's version and builds the DAG **as of that revision**: every workflow at its newest version written at or
below it, so a run keeps the whole structure it started with (tasks, dependencies, operators, params, code).

The bundle's folder holds only the DAG file(s), written by the bundle itself, and a marker with the revision
they build: the dag-processor's folder (``tracking``) advances on ``refresh()``, which reads the store's
revision; a version's folder (``versions/<revision>``) never changes. The DAG file reads the marker beside it.

Configure it in ``[dag_processor] dag_bundle_config_list``::

    {"name": "mlops", "classpath": "airflow_mlops_dag_factory.bundle.MLOpsDagBundle",
     "kwargs": {"refresh_interval": 30}}

and set ``[mlops] dag_bundle`` to the same name.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from airflow.dag_processing.bundles.base import BaseDagBundle, BundleVersion

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.shards import SHARD_SUFFIX, shard_count, shard_file_name

log = logging.getLogger(__name__)

CLASSPATH = "airflow_mlops_dag_factory.bundle.MLOpsDagBundle"
MARKER = "mlops_store_revision"
TRACKING = "tracking"

# What the bundle writes as each DAG file (shard i is a copy named mlops_workflows_shard_<i>.py): the text of
# dag_file.py, which the repository's dags/mlops_workflows.py links to (the file for a plain dags folder).
DAG_FILE_SOURCE = Path(__file__).with_name("dag_file.py").read_text()
# The DAG file of the editor's test runs (one fixed DAG, airflow_mlops_dag_factory.test_runs), beside them.
TEST_DAG_FILE = "mlops_test_runs.py"
TEST_DAG_FILE_SOURCE = Path(__file__).with_name("test_dag_file.py").read_text()


def folder_revision(folder: Path) -> int | None:
    """The store revision the DAG files in ``folder`` build, or ``None`` outside the MLOps bundle."""
    try:
        return int((folder / MARKER).read_text().strip())
    except (OSError, ValueError):
        return None


def stray_copy(revision: int | None) -> bool:
    """Whether a DAG file whose folder has this bundle revision (``folder_revision``) is a copy outside the MLOps
    bundle while the bundle is configured: it must build nothing (the same DAG in two bundles would flap)."""
    return revision is None and configured()


def is_version_folder(folder: Path) -> bool:
    """Whether ``folder`` is one bundle version's folder (what a worker or a run's callbacks build from)."""
    return folder.parent.name == "versions" and folder.name.isdigit() and folder_revision(folder) is not None


def configured() -> bool:
    """Whether the MLOps bundle is in ``[dag_processor] dag_bundle_config_list`` (never raises)."""
    return configured_name() is not None


def configured_name() -> str | None:
    """The name the MLOps bundle has in ``[dag_processor] dag_bundle_config_list``, if it is there."""
    try:
        from airflow.configuration import conf

        raw = conf.get("dag_processor", "dag_bundle_config_list", fallback="") or ""
        if CLASSPATH not in raw:  # the DAG file asks on every parse: no JSON parsing in the common case
            return None
        return next((entry["name"] for entry in json.loads(raw) if entry.get("classpath") == CLASSPATH), None)
    except Exception:  # noqa: BLE001 - a DAG file must not raise over configuration
        return None


def dag_bundle_name() -> str:
    """The bundle holding the MLOps DAG files: ``[mlops] dag_bundle`` if set, else the MLOps bundle's configured
    name, else Airflow's ``dags-folder`` (a deployment without the MLOps bundle)."""
    return settings.get("dag_bundle") or configured_name() or "dags-folder"


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic per file, so readers (parses, task processes) never see half a file, and idempotent."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _check_serialized_dag_interval() -> None:
    """Say loudly when Airflow may write a DAG's new structure later than it hands out the new bundle version."""
    from airflow.configuration import conf

    interval = conf.getint("core", "min_serialized_dag_update_interval", fallback=30)
    if interval > 0:
        log.error("MLOps bundle: [core] min_serialized_dag_update_interval is %s; set it to 0. Otherwise Airflow "
                  "can skip writing a saved workflow's new structure for %s s while new runs already get the new "
                  "bundle version, and their workers build a structure their task instances do not have.",
                  interval, interval)


class MLOpsDagBundle(BaseDagBundle):
    """Versioned DAG bundle backed by the plugin's version store (see the module's docstring)."""

    supports_versioning = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.version is not None and not str(self.version).isdigit():
            raise ValueError(f"MLOps bundle version must be a store revision (digits), not {self.version!r}")

    @property
    def path(self) -> Path:
        return self.versions_dir / str(self.version) if self.version else self.base_dir / TRACKING

    def initialize(self) -> None:
        """A version's folder is written once; the tracking folder gets its files, and a first revision only
        if it has none: only the dag-processor's ``refresh()`` advances it (a worker running an unversioned
        run initialises the same folder and must not move the revision under the dag-processor's feet)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.version:
            self._write_dag_files(int(self.version))
            super().initialize()
            return
        _check_serialized_dag_interval()
        if folder_revision(self.path) is None:
            self.refresh()
        else:
            self._write_dag_files(None)
        super().initialize()

    def refresh(self) -> None:
        """Advance the tracking folder to the store's revision now (a pinned version never changes)."""
        if self.version:
            return
        from airflow_mlops_dag_factory.store import store_head

        self.path.mkdir(parents=True, exist_ok=True)
        try:
            head = store_head()
        except Exception as exc:  # noqa: BLE001 - keep the last revision; the loader serves its cache
            log.error("MLOps bundle: cannot read the store revision (%s); staying at %s", exc,
                      folder_revision(self.path))
            head = folder_revision(self.path) or 0
        self._write_dag_files(head)

    def get_current_version(self) -> BundleVersion | None:
        if self.version:
            return BundleVersion(version=str(self.version))
        revision = folder_revision(self.path)
        return None if revision is None else BundleVersion(version=str(revision))

    def _write_dag_files(self, revision: int | None) -> None:
        """The DAG file of every shard and of test runs, then the marker (so a new revision never meets missing files); shard
        files beyond ``[mlops] dag_file_shards`` are removed."""
        base, count = Path(settings.get("dag_file")).name, shard_count()
        for index in range(count):
            _write_if_changed(self.path / shard_file_name(index, base), DAG_FILE_SOURCE)
        _write_if_changed(self.path / TEST_DAG_FILE, TEST_DAG_FILE_SOURCE)
        for stale in self.path.glob(f"{Path(base).stem}_shard_*.py"):
            match = SHARD_SUFFIX.search(stale.stem)
            if match and int(match.group(1)) >= count:
                stale.unlink(missing_ok=True)
        if revision is not None:
            _write_if_changed(self.path / MARKER, f"{revision}\n")
