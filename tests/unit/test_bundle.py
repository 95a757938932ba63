"""The MLOps DAG bundle: its version is the store revision, and a DAG file builds the workflows as of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session
from test_store_and_build import SPEC, add_workflow

from airflow_mlops.models import StoreRevision, Workflow, metadata
from airflow_mlops_dag_factory import bundle, store
from airflow_mlops_dag_factory.build import dags_for_file
from airflow_mlops_dag_factory.database import get_engine

REPO = Path(__file__).resolve().parents[2]
BUNDLES = '[{"name": "mlops", "classpath": "airflow_mlops_dag_factory.bundle.MLOpsDagBundle", "kwargs": {}}]'


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    metadata.create_all(create_engine(url))
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", url)
    monkeypatch.setenv("AIRFLOW__MLOPS__CACHE_DIR", str(tmp_path / "cache"))
    return url


def versioned(url: str, name: str, tasks: list[str]) -> dict:
    return {**SPEC, "name": name, "params": {},
            "tasks": [{"name": t, "code": f"return {t!r}"} for t in tasks]}


def add_version(url: str, workflow_id: str, spec: dict) -> int:
    """A new current version of an existing workflow, at the next store revision; returns that revision."""
    from test_store_and_build import next_revision

    from airflow_mlops.models import WorkflowVersion

    with Session(create_engine(url)) as session, session.begin():
        workflow = session.get(Workflow, workflow_id)
        revision = next_revision(session)
        workflow.current_version += 1
        session.add(WorkflowVersion(workflow_id=workflow_id, number=workflow.current_version, created_by="t",
                                    spec_hash="-", spec=spec, store_revision=revision))
        session.execute(update(StoreRevision).values(value=revision))
        return revision


def tasks_of(result: store.LoadResult) -> dict[str, list[str]]:
    return {w.spec.name: [t.name for t in w.spec.tasks] for w in result.workflows}


def test_each_workflow_is_loaded_as_of_a_store_revision(db, tmp_path):
    a = add_workflow(db, versioned(db, "a", ["x", "y"]))                      # revision 1
    add_workflow(db, versioned(db, "b", ["p"]))                              # revision 2
    add_version(db, a, versioned(db, "a", ["x", "y2", "z"]))                  # revision 3
    cache = tmp_path / "cache"
    assert tasks_of(store.load_workflows(url=db, cache_dir=cache, as_of=1)) == {"a": ["x", "y"]}
    assert tasks_of(store.load_workflows(url=db, cache_dir=cache, as_of=2)) == {"a": ["x", "y"], "b": ["p"]}
    assert tasks_of(store.load_workflows(url=db, cache_dir=cache, as_of=3)) == {"a": ["x", "y2", "z"], "b": ["p"]}
    assert tasks_of(store.load_workflows(url=db, cache_dir=cache)) == {"a": ["x", "y2", "z"], "b": ["p"]}
    # A worker asks for one DAG as of its run's revision.
    assert tasks_of(store.load_workflows(dag_id="a", url=db, cache_dir=cache, as_of=2)) == {"a": ["x", "y"]}
    assert store.version_as_of(a, 2, url=db) == 1 and store.version_as_of(a, 3, url=db) == 2
    assert store.version_as_of(a, 0, url=db) is None


def test_a_worker_still_builds_a_workflow_archived_after_its_run_started(db, tmp_path):
    a = add_workflow(db, versioned(db, "a", ["x"]))
    with Session(create_engine(db)) as session, session.begin():
        session.execute(update(Workflow).where(Workflow.id == a).values(archived_at=store.datetime.now(store.timezone.utc)))
    cache = tmp_path / "cache"
    assert tasks_of(store.load_workflows(url=db, cache_dir=cache, as_of=1)) == {}  # gone from the DAG list
    assert tasks_of(store.load_workflows(dag_id="a", url=db, cache_dir=cache, as_of=1)) == {"a": ["x"]}


def test_store_head_follows_the_counter_and_falls_back_to_the_versions(db):
    assert store.store_head(db) == 0
    add_workflow(db, versioned(db, "a", ["x"]))
    assert store.store_head(db) == 1  # no counter row yet (a store made from the ORM): the newest version
    with get_engine(db).begin() as conn:
        conn.execute(StoreRevision.__table__.insert().values(id=1, value=7))
    assert store.store_head(db) == 7


def test_the_cache_serves_a_worker_only_what_it_knows_held_at_its_revision(db, tmp_path, monkeypatch):
    a = add_workflow(db, versioned(db, "a", ["x"]))                           # revision 1
    add_version(db, a, versioned(db, "a", ["x", "y"]))                        # revision 2
    add_workflow(db, versioned(db, "b", ["p"]))                              # revision 3
    cache = tmp_path / "cache"
    store.load_workflows(url=db, cache_dir=cache, as_of=3)                   # the parse writes the cache at 3
    gone = "sqlite:////nonexistent/dir/mlops.db"
    assert tasks_of(store.load_workflows(dag_id="a", url=gone, cache_dir=cache, as_of=3)) == {"a": ["x", "y"]}
    assert tasks_of(store.load_workflows(dag_id="a", url=gone, cache_dir=cache, as_of=2)) == {"a": ["x", "y"]}
    # At revision 1 "a" had another version than the cached one: the cache cannot tell, so nothing is served.
    assert tasks_of(store.load_workflows(dag_id="a", url=gone, cache_dir=cache, as_of=1)) == {}
    assert tasks_of(store.load_workflows(dag_id="b", url=gone, cache_dir=cache, as_of=4)) == {}


def make_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str | None = None) -> bundle.MLOpsDagBundle:
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "bundles"))
    return bundle.MLOpsDagBundle(name="mlops", version=version)


def test_the_tracking_folder_advances_with_the_store_and_a_version_folder_never_does(db, tmp_path, monkeypatch):
    a = add_workflow(db, versioned(db, "a", ["x"]))
    with get_engine(db).begin() as conn:
        conn.execute(StoreRevision.__table__.insert().values(id=1, value=1))
    tracking = make_bundle(tmp_path, monkeypatch)
    tracking.initialize()
    assert tracking.get_current_version().version == "1"
    assert (tracking.path / "mlops_workflows.py").read_text() == bundle.DAG_FILE_SOURCE
    add_version(db, a, versioned(db, "a", ["x", "y"]))
    assert tracking.get_current_version().version == "1"  # only a refresh moves it
    tracking.refresh()
    assert tracking.get_current_version().version == "2"

    pinned = make_bundle(tmp_path, monkeypatch, version="1")
    pinned.initialize()
    assert pinned.path == tmp_path / "bundles" / "mlops" / "versions" / "1"
    assert pinned.get_current_version().version == "1" and bundle.folder_revision(pinned.path) == 1
    pinned.refresh()
    assert bundle.folder_revision(pinned.path) == 1
    with pytest.raises(ValueError, match="store revision"):
        make_bundle(tmp_path, monkeypatch, version="../../etc")


def test_a_dag_file_in_a_version_folder_builds_that_version(db, tmp_path, monkeypatch):
    a = add_workflow(db, versioned(db, "a", ["x", "y"]))
    add_version(db, a, versioned(db, "a", ["x", "z"]))
    old, new = make_bundle(tmp_path, monkeypatch, "1"), make_bundle(tmp_path, monkeypatch, "2")
    old.initialize()
    new.initialize()
    assert set(dags_for_file(str(old.path / "mlops_workflows.py"))["a"].task_ids) == {"x", "y"}
    assert set(dags_for_file(str(new.path / "mlops_workflows.py"), "a")["a"].task_ids) == {"x", "z"}
    worker_dag = dags_for_file(str(old.path / "mlops_workflows.py"), "a")["a"]
    assert set(worker_dag.task_ids) == {"x", "y"}
    # Its tasks execute exactly the version they were built from, whatever a conf pin says.
    assert worker_dag.get_task("x").op_kwargs == {"workflow_id": a, "task_name": "x", "built_version": 1,
                                                  "pinned_by_bundle": True}
    # Loading an old revision (a run's callbacks) never writes the cache of the newest specs; the parse does.
    cache = tmp_path / "cache" / "specs.json"
    assert not cache.exists()
    tracking = make_bundle(tmp_path, monkeypatch)
    tracking.initialize()
    assert "pinned_by_bundle" not in dags_for_file(str(tracking.path / "mlops_workflows.py"))["a"].get_task("x").op_kwargs
    assert [t["name"] for t in json.loads(cache.read_text())["rows"][0]["spec"]["tasks"]] == ["x", "z"]


def test_shard_files_follow_the_setting(db, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_FILE_SHARDS", "3")
    tracking = make_bundle(tmp_path, monkeypatch)
    tracking.initialize()
    assert sorted(p.name for p in tracking.path.glob("*.py")) == [
        "mlops_test_runs.py", "mlops_workflows.py", "mlops_workflows_shard_1.py", "mlops_workflows_shard_2.py"]
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_FILE_SHARDS", "2")
    tracking.refresh()
    assert sorted(p.name for p in tracking.path.glob("*.py")) == [
        "mlops_test_runs.py", "mlops_workflows.py", "mlops_workflows_shard_1.py"]


def test_the_dags_folder_copy_builds_nothing_once_the_bundle_is_configured(db, tmp_path, monkeypatch):
    add_workflow(db, versioned(db, "a", ["x"]))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "mlops_workflows.py").write_text(bundle.DAG_FILE_SOURCE)
    assert set(dags_for_file(str(folder / "mlops_workflows.py"))) == {"a"}
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", BUNDLES)
    assert dags_for_file(str(folder / "mlops_workflows.py")) == {}
    assert dags_for_file(str(folder / "mlops_workflows.py"), "a") == {}


def test_the_repository_dag_file_is_the_one_the_bundle_writes():
    assert (REPO / "dags" / "mlops_workflows.py").read_text() == bundle.DAG_FILE_SOURCE


def test_the_bundle_name_for_parse_requests_comes_from_the_bundle_list(monkeypatch):
    monkeypatch.delenv("AIRFLOW__MLOPS__DAG_BUNDLE", raising=False)
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", '[{"name": "dags-folder", "classpath": '
                       '"airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}}]')
    assert bundle.dag_bundle_name() == "dags-folder" and not bundle.configured()
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", BUNDLES.replace('"mlops"', '"ml-dags"'))
    assert bundle.dag_bundle_name() == "ml-dags" and bundle.configured()
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_BUNDLE", "chosen")
    assert bundle.dag_bundle_name() == "chosen"


def test_a_forked_child_opens_its_own_connections(db):
    """The dag-processor's manager reads the store revision, then forks each parse: the parse must not share the
    manager's pooled connection (shared sockets corrupt PostgreSQL sessions; a SQLite handle outlives a cut)."""
    import os

    engine = get_engine(db)
    with engine.connect() as conn:
        parent_connection = id(conn.connection.dbapi_connection)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether the pool handed back the parent's connection
        with engine.connect() as conn:
            os.write(write, b"same" if id(conn.connection.dbapi_connection) == parent_connection else b"own")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"own"


def test_a_dag_names_the_workflow_version_it_was_built_from(db):
    """What tells the plugin which of Airflow's DAG versions holds which workflow version (labels can drift)."""
    from airflow_mlops_dag_factory.build import version_in_doc

    a = add_workflow(db, versioned(db, "a", ["x"]))
    add_version(db, a, versioned(db, "a", ["x", "y"]))
    doc = dags_for_file(str(REPO / "dags" / "mlops_workflows.py"))["a"].doc_md
    assert version_in_doc(doc, a) == 2
    assert version_in_doc(doc, "another-workflow") is None and version_in_doc(None, a) is None
