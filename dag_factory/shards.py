"""Which generated DAGs each MLOps DAG file builds, when they are split over several files (shards).

One file holding every DAG is parsed by one process per cycle; at thousands of workflows that file would
approach Airflow's file processing timeout. With ``[mlops] dag_file_shards = N`` the DAGs are spread over N
files the dag-processor parses in parallel. Shard 0 is ``mlops_workflows.py``; shard i is a copy named
``mlops_workflows_shard_<i>.py`` (``airflow-mlops shards write`` makes them): the index comes from the
file's own name. A workflow's shard is ``crc32(dag_id) % N``, stable across processes and releases
(Python's ``hash()`` is salted per process). A file whose index is >= N builds nothing, and shard 0 also
builds the shards whose file is missing, so a setting raised before the files exist never hides a DAG.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

from airflow_mlops_dag_factory import settings

log = logging.getLogger(__name__)

SHARD_SUFFIX = re.compile(r"_shard_(\d+)$")


def shard_count() -> int:
    """``[mlops] dag_file_shards`` (at least 1; a bad value is logged and read as 1, never raised)."""
    raw = settings.get("dag_file_shards")
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        log.error("[mlops] dag_file_shards: %r is not a whole number; using 1", raw)
        return 1


def shard_of(dag_id: str, shards: int) -> int:
    return zlib.crc32(dag_id.encode()) % shards if shards > 1 else 0


def shard_index(path: str | Path) -> int:
    """The index a DAG file takes from its name: ``<base>_shard_<i>.py`` is i, anything else 0."""
    match = SHARD_SUFFIX.search(Path(path).stem)
    return int(match.group(1)) if match else 0


def base_stem(path: str | Path) -> str:
    return SHARD_SUFFIX.sub("", Path(path).stem)


def shard_file_name(index: int, base: str = "mlops_workflows.py") -> str:
    stem = Path(base).stem
    return f"{stem}.py" if index == 0 else f"{stem}_shard_{index}.py"


def shards_built_by(path: str | Path, shards: int) -> frozenset[int]:
    """The shards the DAG file at ``path`` builds: its own, plus (for shard 0) those without a file."""
    index, path = shard_index(path), Path(path)
    if index >= shards:
        return frozenset()
    if index > 0:
        return frozenset({index})
    stem = base_stem(path)
    missing = {i for i in range(1, shards) if not path.with_name(f"{stem}_shard_{i}.py").exists()}
    if missing:
        log.error("MLOps: dag_file_shards is %d but %s has no file for shard(s) %s; %s builds them "
                  "(run `airflow-mlops shards write`)", shards, path.parent, sorted(missing), path.name)
    return frozenset({0, *missing})


def write_shard_files(main_file: Path, shards: int) -> tuple[list[Path], list[Path]]:
    """Copy ``main_file`` to the files of shards 1..N-1 and remove those of higher shards; (written, removed)."""
    text = main_file.read_text()
    written, removed = [], []
    for i in range(1, shards):
        target = main_file.with_name(shard_file_name(i, main_file.name))
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    for stale in main_file.parent.glob(f"{main_file.stem}_shard_*.py"):
        if shard_index(stale) >= shards:
            stale.unlink()
            removed.append(stale)
    return written, removed
