"""DAG file shards (which file builds which workflow) and the loader's trust in specs it validated before."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_store_and_build import SPEC, add_workflow

from airflow_mlops.models import metadata
from airflow_mlops_dag_factory import shards, store
from airflow_mlops_dag_factory.build import dags_for_file

MAIN = (Path(__file__).resolve().parents[2] / "dags" / "mlops_workflows.py").read_text()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    metadata.create_all(create_engine(url))
    monkeypatch.setenv("AIRFLOW__MLOPS__SQL_ALCHEMY_CONN", url)
    monkeypatch.setenv("AIRFLOW__MLOPS__CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "mlops_workflows.py").write_text(MAIN)
    return url, folder


def test_shard_function_is_stable_and_spreads():
    assert shards.shard_of("churn_model", 4) == zlib.crc32(b"churn_model") % 4 == shards.shard_of("churn_model", 4)
    assert shards.shard_of("anything", 1) == 0
    counts = [0] * 4
    for i in range(4000):
        counts[shards.shard_of(f"wf_{i}", 4)] += 1
    assert min(counts) > 800  # roughly even


def test_index_comes_from_the_file_name():
    assert shards.shard_index("/d/mlops_workflows.py") == 0
    assert shards.shard_index("/d/mlops_workflows_shard_3.py") == 3
    assert shards.shard_file_name(2) == "mlops_workflows_shard_2.py"
    assert shards.shard_file_name(0, "x.py") == "x.py"


def test_missing_shard_files_are_built_by_shard_0_and_extra_files_build_nothing(tmp_path):
    main = tmp_path / "mlops_workflows.py"
    main.write_text(MAIN)
    assert shards.shards_built_by(main, 3) == {0, 1, 2}
    written, removed = shards.write_shard_files(main, 3)
    assert sorted(p.name for p in written) == ["mlops_workflows_shard_1.py", "mlops_workflows_shard_2.py"]
    assert shards.shards_built_by(main, 3) == {0}
    assert shards.shards_built_by(tmp_path / "mlops_workflows_shard_2.py", 3) == {2}
    assert shards.shards_built_by(tmp_path / "mlops_workflows_shard_2.py", 2) == frozenset()
    written, removed = shards.write_shard_files(main, 2)
    assert not written and [p.name for p in removed] == ["mlops_workflows_shard_2.py"]


def test_every_workflow_is_built_by_exactly_one_shard_file(env, monkeypatch):
    url, folder = env
    names = [f"wf_{i}" for i in range(12)]
    for name in names:
        add_workflow(url, {**SPEC, "name": name})
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_FILE_SHARDS", "3")
    monkeypatch.setattr(store, "NAMES_PER_QUERY", 2)  # shards 1, 2 read their own rows in several queries
    shards.write_shard_files(folder / "mlops_workflows.py", 3)
    built = {f.name: set(dags_for_file(str(f))) for f in sorted(folder.glob("*.py"))}
    assert sorted(n for dag_ids in built.values() for n in dag_ids) == sorted(names)
    for file, dag_ids in built.items():
        assert all(shards.shard_of(n, 3) == shards.shard_index(file) for n in dag_ids)
    # a worker builds only its DAG, whichever file it imports
    assert list(dags_for_file(str(folder / "mlops_workflows_shard_1.py"), dag_id="wf_5")) == ["wf_5"]
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_FILE_SHARDS", "not a number")  # never raises: shard 0 builds all
    assert len(dags_for_file(str(folder / "mlops_workflows.py"))) == 12
    assert dags_for_file(str(folder / "mlops_workflows_shard_1.py")) == {}


def test_a_trusted_row_edited_into_an_invalid_spec_is_validated_again_and_skipped(env, tmp_path):
    url, _ = env
    add_workflow(url, SPEC)
    cache = tmp_path / "cache"
    assert len(store.load_workflows(url=url, cache_dir=cache).workflows) == 1
    trust = json.loads((cache / store.TRUST_FILE).read_text())
    assert len(trust["digests"]) == 1 and trust["fingerprint"] == store.rules_fingerprint()
    # a hand edit that only full validation catches (a dependency cycle): the digest changes, so it is re-checked
    cyclic = {**SPEC, "description": "v1", "tasks": [{"name": "a", "code": "return 1", "depends_on": ["b"]},
                                                     {"name": "b", "code": "return 2", "depends_on": ["a"]}]}
    with create_engine(url).begin() as conn:
        conn.execute(text("UPDATE mlops_workflow_version SET spec = :s"), {"s": json.dumps(cyclic)})
    result = store.load_workflows(url=url, cache_dir=cache)
    assert not result.workflows and "cycle" in str(result.skipped[0].errors)
    with create_engine(url).begin() as conn:
        conn.execute(text("UPDATE mlops_workflow_version SET spec = :s"), {"s": "{not json"})
    assert store.load_workflows(url=url, cache_dir=cache).skipped[0].errors[0].path == "spec"


def test_changed_rules_drop_the_trust(env, tmp_path, monkeypatch):
    url, _ = env
    add_workflow(url, SPEC)
    cache = tmp_path / "cache"
    store.load_workflows(url=url, cache_dir=cache)
    monkeypatch.setattr(store, "rules_fingerprint", lambda: "other rules")
    calls = []
    import airflow_mlops_dag_factory.validate as validate

    original = validate.validate_document
    monkeypatch.setattr(validate, "validate_document", lambda doc: calls.append(1) or original(doc))
    assert len(store.load_workflows(url=url, cache_dir=cache).workflows) == 1 and calls == [1]
    calls.clear()
    store.load_workflows(url=url, cache_dir=cache)  # trusted again under the new rules
    assert calls == []


def test_a_save_asks_for_a_reparse_of_its_shard_file_only(tmp_path, monkeypatch):
    from airflow_mlops.services.airflow_dags import reparse_files

    assert reparse_files("wf") == ["mlops_workflows.py"]  # one file: as before
    monkeypatch.setenv("AIRFLOW__MLOPS__DAG_FILE_SHARDS", "4")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path))
    index = shards.shard_of("wf", 4)
    own = shards.shard_file_name(index)
    expected_missing = [own] if index == 0 else [own, "mlops_workflows.py"]  # no file yet: shard 0 builds it
    assert reparse_files("wf") == expected_missing
    (tmp_path / own).write_text(MAIN)
    assert reparse_files("wf") == [own]
    assert reparse_files(None) == [shards.shard_file_name(i) for i in range(4)]
