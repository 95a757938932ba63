"""Read-only access to the plugin's tables for the DAG file and the task runtime.

It never raises into the DAG file: a DAG file that raises marks every generated DAG stale at once and
freezes their running runs. When the database cannot be read it serves the last good specs from a
local cache file and logs why. Rows whose spec no longer validates are skipped and reported; the
others load. The whole load is one query, whatever the number of workflows.

Full validation (code compiled, cycles, parameter defaults...) is what the writer already did at save
time, and it is most of a parse's cost. So the loader remembers, next to its cache, the digests of the
stored spec texts it has itself fully validated, under a fingerprint of the validation rules (their
source) and of the settings they read. A row whose digest is in that list is only parsed into the
typed spec; any other row (new, edited by hand, or after a rules or settings change) is validated in
full and skipped if it fails. The cache file is rewritten only when what it would hold changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, and_, cast, column, func, select, table
from sqlalchemy.engine import Engine

from airflow_mlops_dag_factory import settings, stats
from airflow_mlops_dag_factory.database import get_engine
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.shards import shard_of
from airflow_mlops_dag_factory.spec import WorkflowSpec, parse_spec

log = logging.getLogger(__name__)

# The columns this module reads; the plugin's models own the full tables (a test keeps them in step).
workflow_table = table(
    "mlops_workflow",
    column("id", String),
    column("name", String),
    column("active", Boolean),
    column("current_version", Integer),
    column("archived_at", DateTime(timezone=True)),
)
version_table = table(
    "mlops_workflow_version",
    column("workflow_id", String),
    column("number", Integer),
    column("spec", JSON),
    column("created_at", DateTime(timezone=True)),
    column("store_revision", Integer),
)
revision_table = table("mlops_store_revision", column("id", Integer), column("value", Integer))
run_table = table(
    "mlops_run",
    column("dag_id", String),
    column("dag_run_id", String),
    column("description", String),
)

CACHE_FILE = "specs.json"
TRUST_FILE = "validated.json"
NAMES_PER_QUERY = 1000  # a shard's names per IN list (databases limit the bound parameters of one statement)
# The modules whose code decides whether a spec is valid: any change to them invalidates the trusted digests.
RULE_MODULES = ("spec.py", "validate.py", "validate_docker.py", "usercode.py", "params.py", "errors.py")


@dataclass(frozen=True)
class StoredWorkflow:
    """A workflow as the DAG factory needs it: the spec of its current version."""

    workflow_id: str
    version: int
    active: bool
    spec: WorkflowSpec
    # Built from a run's bundle version (a worker or a run's callback): the run executes exactly this version.
    pinned_by_bundle: bool = False


@dataclass(frozen=True)
class SkippedWorkflow:
    workflow_id: str
    name: str
    version: int
    errors: list[FieldError]


@dataclass
class LoadResult:
    workflows: list[StoredWorkflow] = field(default_factory=list)
    skipped: list[SkippedWorkflow] = field(default_factory=list)
    source: Literal["database", "cache", "none"] = "database"
    error: str | None = None


@dataclass(frozen=True)
class ShardFilter:
    """Build only the workflows whose ``crc32(name) % count`` is in ``built`` (see :mod:`shards`)."""

    count: int
    built: frozenset[int]
    index: int = 0

    def keeps(self, name: str) -> bool:
        return shard_of(name, self.count) in self.built


def load_workflows(dag_id: str | None = None, url: str | None = None, cache_dir: Path | None = None,
                   shard: ShardFilter | None = None, as_of: int | None = None, cache: bool = True) -> LoadResult:
    """All workflows (or only ``dag_id``, as a worker needs, or one shard's), from the database or the cache.

    ``as_of``: build each workflow as of that store revision (the MLOps DAG bundle's version), i.e. its newest
    version written at or below it; ``None``: its current version. A worker (``dag_id`` with ``as_of``) also
    finds an archived workflow, so a run in flight when its workflow was deleted can finish. ``cache``: a full
    load refreshes the last-good cache (not when loading an old revision for a run's callbacks).
    """
    started = time.perf_counter()
    result = _load(dag_id, url or settings.database_url(), cache_dir or settings.cache_dir(), shard, as_of, cache)
    if dag_id is None and cache:
        stats.report_load(result.source, len(result.workflows), len(result.skipped), time.perf_counter() - started)
    return result


def _load(dag_id: str | None, url: str, cache_dir: Path, shard: ShardFilter | None = None,
          as_of: int | None = None, cache: bool = True) -> LoadResult:
    try:
        rows = _fetch_current(get_engine(url), dag_id, shard, as_of)
    except Exception as exc:  # any DB failure: unreachable, locked, missing tables, bad URL...
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return _from_cache(cache_dir, dag_id, reason, shard, as_of)
    fingerprint = rules_fingerprint()
    trust_file = TRUST_FILE if shard is None or shard.index == 0 else f"validated_shard_{shard.index}.json"
    trust = _read_trust(cache_dir / trust_file, fingerprint)
    mine = rows if shard is None else [r for r in rows if shard.keeps(r["name"])]
    result, valid = _parse_rows(mine, set(trust.get("digests", ())))
    for skipped in result.skipped:
        log.error(
            "MLOps workflow %r (id %s, version %s) is invalid and was not loaded: %s",
            skipped.name, skipped.workflow_id, skipped.version, "; ".join(str(e) for e in skipped.errors),
        )
    if dag_id is None and cache:
        content = _content_digest(fingerprint, rows)
        if content != trust.get("content") or not (cache_dir / CACHE_FILE).exists():
            if shard is None or shard.index == 0:  # one full cache (all rows) is enough: shard 0 writes it
                _write_cache(cache_dir, rows, result, as_of)
            _write_json(cache_dir, trust_file, {"fingerprint": fingerprint, "content": content,
                                                "digests": sorted(valid)})
    return result


def rules_fingerprint() -> str:
    """Digest of the validation rules' source and of the settings they read (docker bind roots)."""
    digest = hashlib.blake2b(_rules_source_digest(), digest_size=16)
    digest.update(",".join(str(root) for root in settings.docker_bind_roots()).encode())
    return digest.hexdigest()


@functools.cache
def _rules_source_digest() -> bytes:
    """The rules' source, read once per process (it cannot change under a running interpreter)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in RULE_MODULES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.digest()


def _spec_digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _content_digest(fingerprint: str, rows: list[dict[str, Any]]) -> str:
    """What the cache would hold: the rows' identity, state and spec digests (same rules)."""
    digest = hashlib.blake2b(fingerprint.encode(), digest_size=16)
    for row in rows:
        digest.update(f"{row['id']}|{row['name']}|{row['active']}|{row['number']}|{row['digest']}\n".encode())
    return digest.hexdigest()


def _read_trust(path: Path, fingerprint: str) -> dict[str, Any]:
    """The digests this loader validated in full under the same rules (empty if none or changed rules)."""
    try:
        trust = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return trust if isinstance(trust, dict) and trust.get("fingerprint") == fingerprint else {}


def _fetch_current(engine: Engine, dag_id: str | None, shard: ShardFilter | None = None,
                   as_of: int | None = None) -> list[dict[str, Any]]:
    """Current rows (or rows as of a store revision) with the spec as its stored text, whose digest decides trust.
    A shard other than 0 reads the names first and then only its own rows' specs (shard 0 reads all: it writes
    the full cache)."""
    columns = (workflow_table.c.id, workflow_table.c.name, workflow_table.c.active, version_table.c.number,
               version_table.c.store_revision, cast(version_table.c.spec, Text).label("spec"))
    if dag_id is not None and as_of is not None:  # a worker: one workflow, its newest version up to the revision
        query = (select(*columns)
                 .select_from(workflow_table.join(version_table, version_table.c.workflow_id == workflow_table.c.id))
                 .where(workflow_table.c.name == dag_id, version_table.c.store_revision <= as_of)
                 .order_by(version_table.c.store_revision.desc()).limit(1))
        with engine.connect() as conn:
            return [{**row._mapping, "digest": _spec_digest(row.spec or "")} for row in conn.execute(query)]
    if as_of is None:
        source = workflow_table.join(version_table, and_(
            version_table.c.workflow_id == workflow_table.c.id,
            version_table.c.number == workflow_table.c.current_version,
        ))
    else:
        newest = (select(version_table.c.workflow_id, func.max(version_table.c.store_revision).label("revision"))
                  .where(version_table.c.store_revision <= as_of).group_by(version_table.c.workflow_id).subquery())
        source = workflow_table.join(newest, newest.c.workflow_id == workflow_table.c.id).join(version_table, and_(
            version_table.c.workflow_id == newest.c.workflow_id, version_table.c.store_revision == newest.c.revision))
    query = select(*columns).select_from(source).where(workflow_table.c.archived_at.is_(None)).order_by(workflow_table.c.name)
    if dag_id is not None:
        query = query.where(workflow_table.c.name == dag_id)
    with engine.connect() as conn:  # "spec" stays text until a row is parsed (a shard parses only its own)
        if shard is None or shard.index == 0 or dag_id is not None:
            found = list(conn.execute(query))
        else:
            names = [n for n in conn.scalars(select(workflow_table.c.name).where(workflow_table.c.archived_at.is_(None))
                                             .order_by(workflow_table.c.name)) if shard.keeps(n)]
            found = [row for start in range(0, len(names), NAMES_PER_QUERY)
                     for row in conn.execute(query.where(workflow_table.c.name.in_(names[start:start + NAMES_PER_QUERY])))]
        return [{**row._mapping, "digest": _spec_digest(row.spec or "")} for row in found]


def _parse_rows(rows: list[dict[str, Any]], trusted: frozenset[str] | set[str] = frozenset()) -> tuple[LoadResult, set[str]]:
    """Typed specs of the rows (full validation unless the row's digest is trusted) and the valid digests."""
    result, valid = LoadResult(), set()
    for row in rows:
        digest = row.get("digest")  # set on rows read from the database, whose spec is the stored JSON text
        try:
            document = json.loads(row["spec"]) if digest is not None else row["spec"]
        except (TypeError, ValueError) as exc:
            result.skipped.append(SkippedWorkflow(row["id"], row["name"], row["number"],
                                                  [FieldError("spec", f"stored spec is not JSON: {exc}")]))
            continue
        if digest is not None and digest in trusted:
            spec, errors = parse_spec(document)
        else:
            from airflow_mlops_dag_factory.validate import validate_document  # jsonschema, croniter: only if needed

            spec, errors = validate_document(document)
        if spec is not None and spec.name != row["name"]:
            errors = [FieldError("name", f"spec name {spec.name!r} differs from the row's {row['name']!r}")]
            spec = None
        if spec is None:
            result.skipped.append(SkippedWorkflow(row["id"], row["name"], row["number"], errors))
        else:
            result.workflows.append(StoredWorkflow(row["id"], row["number"], bool(row["active"]), spec))
            if digest is not None:
                valid.add(digest)
    return result, valid


def _write_cache(cache_dir: Path, rows: list[dict[str, Any]], result: LoadResult, as_of: int | None = None) -> None:
    """Atomically replace the cache with what was just read (best effort: a failure only costs the fallback)."""
    payload = {
        "written_at": datetime.now(timezone.utc).isoformat(),
        "as_of": as_of,
        "rows": [{**row, "spec": _decoded(row["spec"])} for row in rows],
        "skipped": [
            {"workflow_id": s.workflow_id, "name": s.name, "version": s.version,
             "errors": [e.to_dict() for e in s.errors]}
            for s in result.skipped
        ],
    }
    _write_json(cache_dir, CACHE_FILE, payload)


def _write_json(cache_dir: Path, name: str, payload: dict[str, Any]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".specs-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh)
        os.replace(tmp, cache_dir / name)
    except OSError as exc:
        log.warning("MLOps: could not write %s in %s: %s", name, cache_dir, exc)


def _decoded(spec: Any) -> Any:
    try:
        return json.loads(spec) if isinstance(spec, str) else spec
    except ValueError:
        return spec


def _from_cache(cache_dir: Path, dag_id: str | None, reason: str, shard: ShardFilter | None = None,
                as_of: int | None = None) -> LoadResult:
    path = cache_dir / CACHE_FILE
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.error("MLOps: plugin database unreachable (%s) and no usable spec cache at %s (%s); "
                  "no MLOps workflows can be loaded", reason, path, exc)
        return LoadResult(source="none", error=reason)
    rows = [{k: v for k, v in r.items() if k != "digest"}  # the cache path always validates in full
            for r in payload["rows"]
            if (dag_id is None or r["name"] == dag_id) and (shard is None or shard.keeps(r["name"]))
            and (dag_id is None or as_of is None or _cached_as_of(r, payload.get("as_of"), as_of))]
    result, _ = _parse_rows(rows)
    result.source, result.error = "cache", reason
    log.error("MLOps: plugin database unreachable (%s); serving %d workflow(s) from the last good cache "
              "written at %s (%s)", reason, len(result.workflows), payload.get("written_at"), path)
    return result


def _cached_as_of(row: dict[str, Any], cached_at: int | None, as_of: int) -> bool:
    """Whether a cached row is also the workflow as of ``as_of``: it was written at or below ``as_of`` and the
    cache, taken at a later revision, still held it (so nothing newer up to ``as_of`` exists)."""
    written = row.get("store_revision")
    return written is not None and cached_at is not None and written <= as_of <= cached_at


def store_head(url: str | None = None) -> int:
    """The store's revision now: the MLOps DAG bundle's current version (0 for a store without versions)."""
    with get_engine(url or settings.database_url()).connect() as conn:
        value = conn.scalar(select(revision_table.c.value).where(revision_table.c.id == 1))
        if value is None:  # a store created before its counter row
            value = conn.scalar(select(func.max(version_table.c.store_revision)))
    return int(value or 0)


def version_as_of(workflow_id: str, revision: int, url: str | None = None) -> int | None:
    """Number of the workflow's version in effect at a store revision (``None``: it did not exist yet)."""
    query = (select(version_table.c.number)
             .where(version_table.c.workflow_id == workflow_id, version_table.c.store_revision <= revision)
             .order_by(version_table.c.store_revision.desc()).limit(1))
    with get_engine(url or settings.database_url()).connect() as conn:
        return conn.scalar(query)


def load_version_spec(workflow_id: str, number: int, url: str | None = None) -> WorkflowSpec:
    """The spec of one immutable version (what a pinned run executes). Raises if it is missing or invalid."""
    query = select(version_table.c.spec).where(
        version_table.c.workflow_id == workflow_id, version_table.c.number == number
    )
    with get_engine(url or settings.database_url()).connect() as conn:
        raw = conn.execute(query).scalar_one_or_none()
    if raw is None:
        raise LookupError(f"version {number} of workflow {workflow_id} does not exist")
    from airflow_mlops_dag_factory.validate import validate_document

    spec, errors = validate_document(raw)
    if spec is None:
        raise ValueError(f"version {number} of workflow {workflow_id} is invalid: " + "; ".join(map(str, errors)))
    return spec


def version_in_effect(workflow_id: str, moment: datetime, url: str | None = None) -> int | None:
    """Number of the newest version saved at or before ``moment`` (pins runs that carry no version)."""
    query = (
        select(version_table.c.number, version_table.c.created_at)
        .where(version_table.c.workflow_id == workflow_id)
        .order_by(version_table.c.number.desc())
    )
    with get_engine(url or settings.database_url()).connect() as conn:
        for number, created_at in conn.execute(query):
            if created_at.tzinfo is None:  # SQLite keeps no zone; the plugin always writes UTC
                created_at = created_at.replace(tzinfo=timezone.utc)
            if created_at <= moment:
                return number
    return None


def run_description(dag_id: str, run_id: str, url: str | None = None) -> str | None:
    """The description given when the run was triggered through the plugin (``None``: not triggered there).

    Airflow keeps it as the run's note too, but does not hand notes to callbacks.
    """
    query = select(run_table.c.description).where(run_table.c.dag_id == dag_id, run_table.c.dag_run_id == run_id)
    with get_engine(url or settings.database_url()).connect() as conn:
        return conn.execute(query).scalar_one_or_none()
