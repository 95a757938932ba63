"""What the services ask of Airflow itself after a commit: re-parse the DAG file now, (un)pause a DAG.

Both need Airflow's database, so they run in the api-server (or CLI) process, after the plugin's own
transaction committed. They are best effort: a failure is logged and the DAG still appears at the next
regular parse.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, tuple_, update

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.bundle import dag_bundle_name
from airflow_mlops_dag_factory.shards import base_stem
from airflow_mlops_dag_factory.step_metrics import XCOM_KEY as STEPS_KEY

log = logging.getLogger(__name__)


FOLLOW_UP_SECONDS = 2.0
_follow_up_lock = threading.Lock()
_follow_up: threading.Timer | None = None
_pending: set[str] = set()  # files the follow-up request re-asks for


def request_reparse(dag_id: str | None = None) -> bool:
    """Ask the dag-processor to parse the MLOps DAG file next, instead of within the parse interval.

    With ``[mlops] dag_file_shards`` > 1 only the file of ``dag_id``'s shard is asked for (every shard file
    when no dag_id is given). Airflow drops a priority request that it claims while the same file is being
    parsed (the parse that is running may have read the database before this save), so a second request
    follows a moment after the last save.
    """
    global _follow_up
    files = reparse_files(dag_id)
    with _follow_up_lock:
        _pending.update(files)
        if _follow_up is not None:
            _follow_up.cancel()
        _follow_up = threading.Timer(FOLLOW_UP_SECONDS, _follow_up_requests)
        _follow_up.daemon = True
        _follow_up.start()
    return all([_insert_parse_request(f) for f in files])


def reparse_files(dag_id: str | None) -> list[str]:
    """Bundle-relative DAG files that build ``dag_id`` (all shard files without one)."""
    from airflow_mlops_dag_factory.shards import shard_count, shard_file_name, shard_of

    main, count = settings.get("dag_file"), shard_count()
    if count == 1:
        return [main]
    from airflow_mlops_dag_factory import bundle

    if dag_bundle_name() == bundle.configured_name():  # the MLOps bundle writes every shard's file itself
        name = Path(main).name
        return [shard_file_name(i, name) for i in range(count)] if dag_id is None else \
            [shard_file_name(shard_of(dag_id, count), name)]
    if dag_id is None:
        return [str(Path(main).with_name(shard_file_name(i, Path(main).name))) for i in range(count)]
    relative = str(Path(main).with_name(shard_file_name(shard_of(dag_id, count), Path(main).name)))
    try:
        from airflow.configuration import conf

        exists = (Path(conf.get("core", "dags_folder")) / relative).exists()
    except Exception:
        exists = False
    return [relative] if exists else [relative, main]  # a shard without its file is built by shard 0


def _follow_up_requests() -> None:
    with _follow_up_lock:
        files = sorted(_pending)
        _pending.clear()
    for relative in files:
        _insert_parse_request(relative)


def _insert_parse_request(relative: str) -> bool:
    from airflow.models.dag import DagModel  # noqa: F401  (mappers must be configured)
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session

    bundle = dag_bundle_name()
    try:
        with create_session() as session:
            pending = session.scalar(
                select(DagPriorityParsingRequest.id).where(
                    DagPriorityParsingRequest.bundle_name == bundle,
                    DagPriorityParsingRequest.relative_fileloc == relative,
                )
            )
            if pending is None:
                session.add(DagPriorityParsingRequest(bundle_name=bundle, relative_fileloc=relative))
        return True
    except Exception:  # a request already queued by a concurrent save, or Airflow's DB unreachable
        log.warning("MLOps: could not request a re-parse of %s/%s", bundle, relative, exc_info=True)
        return False


def set_paused(dag_id: str, paused: bool) -> None:
    """Pause or unpause an existing DAG (a DAG not parsed yet takes ``is_paused_upon_creation`` instead)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))
    except Exception:
        log.warning("MLOps: could not set is_paused=%s on DAG %s", paused, dag_id, exc_info=True)


def foreign_dag_file(dag_id: str) -> str | None:
    """The file of an existing DAG with this id that the MLOps DAG file did not make, if any."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            row = session.execute(
                select(DagModel.relative_fileloc, DagModel.bundle_name).where(DagModel.dag_id == dag_id)
            ).first()
    except Exception:
        log.warning("MLOps: could not check whether DAG id %s is taken", dag_id, exc_info=True)
        return None
    if row is None or (row.bundle_name == dag_bundle_name()
                       and base_stem(row.relative_fileloc or "") == Path(settings.get("dag_file")).stem):
        return None
    return f"{row.bundle_name}/{row.relative_fileloc}"


@dataclass(frozen=True)
class DagStatus:
    exists: bool
    is_paused: bool = False
    is_stale: bool = False
    bundle_version: str | None = None  # the bundle version a run triggered now gets


def dag_status(dag_id: str) -> DagStatus:
    from airflow.models.dag import DagModel
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(select(DagModel.is_paused, DagModel.is_stale, DagModel.bundle_version)
                              .where(DagModel.dag_id == dag_id)).first()
        serialized = session.scalar(select(SerializedDagModel.dag_id).where(SerializedDagModel.dag_id == dag_id).limit(1))
    if row is None or serialized is None:
        return DagStatus(exists=False)
    return DagStatus(exists=True, is_paused=bool(row.is_paused), is_stale=bool(row.is_stale),
                     bundle_version=row.bundle_version)


@dataclass(frozen=True)
class LoadedVersion:
    """One of Airflow's versions of a DAG: its serialized structure and the bundle version it was parsed at."""

    id: str
    number: int
    bundle_version: str | None


def loaded_versions(dag_id: str) -> list[LoadedVersion]:
    """Airflow's DAG versions of ``dag_id``, newest first (a DAG version is one structure Airflow parsed)."""
    from airflow.models.dag_version import DagVersion
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(select(DagVersion.id, DagVersion.version_number, DagVersion.bundle_version)
                               .where(DagVersion.dag_id == dag_id).order_by(DagVersion.version_number.desc()))
        return [LoadedVersion(str(r.id), r.version_number, r.bundle_version) for r in rows]


def built_version(version_id: str, workflow_id: str) -> int | None:
    """The workflow version one of Airflow's DAG versions was built from (its serialized DAG's doc says it).

    The DAG version's bundle version cannot tell for sure: Airflow moves it forward in place while the DAG does
    not change, and labels a parse with the bundle version it holds when it collects the parse's result.
    """
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    from airflow_mlops_dag_factory.build import version_in_doc

    with create_session() as session:
        serialized = session.scalar(select(SerializedDagModel)
                                    .where(SerializedDagModel.dag_version_id == uuid.UUID(version_id)))
        doc = ((serialized.data or {}).get("dag") or {}).get("doc_md") if serialized is not None else None
    return version_in_doc(doc, workflow_id)


def trigger(dag_id: str, conf: dict[str, Any], note: str | None, user: str,
            pin: LoadedVersion | None = None) -> str:
    """Create a manual DAG run (Airflow validates ``conf`` against the DAG's Params); returns its run_id.

    ``pin``: run that DAG version, i.e. its structure, with its bundle version, from which the workers build the
    same structure (Airflow's own trigger takes the DAG's latest parse's bundle version, which can be ahead of
    its latest structure). Airflow re-runs an existing run on its original version ("clear") but has no public
    call that starts a new run on an older one: this uses the trigger's own steps with the version's serialized
    DAG, then points the run and its task instances at the version, as Airflow's versioned runs are.
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    arguments: dict[str, Any] = {"triggered_by": DagRunTriggeredByType.REST_API, "conf": conf, "note": note or None,
                                 "triggering_user_name": user}
    with create_session() as session:
        dag_run = (trigger_dag(dag_id, session=session, **arguments) if pin is None
                   else _trigger_pinned(dag_id, pin, session, arguments))
        if dag_run is None:
            raise LookupError(f"Airflow created no run of {dag_id}")
        return dag_run.run_id


def _trigger_pinned(dag_id: str, pin: LoadedVersion, session: Any, arguments: dict[str, Any]) -> Any:
    from airflow.api.common.trigger_dag import _trigger_dag
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    class OneVersionBag(DBDagBag):
        """A DAG bag whose "latest version" is the pinned one: what ``_trigger_dag`` builds the run from."""

        def get_latest_version_of_dag(self, dag_id: str, *, session: Any) -> Any:
            return dag

    version_id = uuid.UUID(pin.id)
    if (dag := DBDagBag().get_dag(version_id, session=session)) is None:
        raise LookupError(f"Airflow has no serialized DAG for version {pin.number} of {dag_id}")
    dag_run = _trigger_dag(dag_id, OneVersionBag(), session=session, **arguments)
    if dag_run is not None:
        session.execute(update(DagRun).where(DagRun.id == dag_run.id)
                        .values(created_dag_version_id=version_id, bundle_version=pin.bundle_version))
        session.execute(update(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id)
                        .values(dag_version_id=version_id))
    return dag_run


@dataclass(frozen=True)
class LastRun:
    run_id: str
    state: str
    run_after: datetime | None


def latest_runs(dag_ids: list[str]) -> dict[str, LastRun]:
    """The newest run of each DAG (by ``run_after``), for many DAGs in one query."""
    if not dag_ids:
        return {}
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func

    newest = (select(DagRun.dag_id, func.max(DagRun.run_after).label("run_after"))
              .where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id).subquery())
    with create_session() as session:
        rows = session.execute(
            select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_after)
            .join(newest, (DagRun.dag_id == newest.c.dag_id) & (DagRun.run_after == newest.c.run_after))
            .order_by(DagRun.id))
        return {r.dag_id: LastRun(r.run_id, str(r.state), r.run_after) for r in rows}


def task_states(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str | None]]:
    """Per run, the state of each task (a mapped task: its last instance's), for many runs in one query."""
    if not keys:
        return {}
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import tuple_

    out: dict[tuple[str, str], dict[str, str | None]] = {key: {} for key in keys}
    with create_session() as session:
        rows = session.execute(select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state)
                               .where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys))
                               .order_by(TaskInstance.map_index))
        for r in rows:
            out[(r.dag_id, r.run_id)][r.task_id] = str(r.state) if r.state else None
    return out


def log_events(events: list[dict[str, Any]]) -> None:
    """Rows in Airflow's ``log`` table (its audit log); best effort, never fails the caller."""
    import json

    from airflow.models.log import Log
    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            for event in events:
                kwargs = {"dag_id": event["dag_id"]} if event.get("dag_id") else {}
                session.add(Log(event=event["event"], owner=event["owner"],
                                extra=json.dumps(event["extra"], default=str), **kwargs))
    except Exception:
        log.warning("MLOps: could not copy %d audit event(s) to Airflow's audit log", len(events), exc_info=True)


def run_pins(dag_id: str) -> list[tuple[dict[str, Any], datetime | None, str | None]]:
    """``(conf, run_after, bundle_version)`` of every run of a DAG: which workflow version each one ran."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(select(DagRun.conf, DagRun.run_after, DagRun.bundle_version).where(DagRun.dag_id == dag_id))
        return [(r.conf or {}, r.run_after, r.bundle_version) for r in rows]


@dataclass(frozen=True)
class AirflowRun:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    conf: dict[str, Any]
    note: str | None
    user: str | None
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None
    bundle_version: str | None = None
    id: int = 0  # Airflow's key of the run (its XComs are stored under it)


@dataclass(frozen=True)
class RunFilter:
    """Which runs: of these DAGs (``None``: of every DAG the MLOps DAG file made, but ``excluded``), in this
    state, with ``run_after`` from ``since`` until before ``until``."""

    dag_ids: list[str] | None
    excluded: list[str] = field(default_factory=list)
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def page_runs(where: RunFilter, limit: int, offset: int) -> tuple[int, list[AirflowRun]]:
    """How many runs match, and one page of them, newest ``run_after`` first: counted and paged in Airflow's
    database (its ``dag_id`` and ``run_after`` indexes). A page past the middle is read from the oldest end, so
    the deepest costs what the middle one does."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func

    scope, others = _run_conditions(where)
    with create_session() as session:
        # When Airflow holds no run of another DAG (the usual case), the DAG condition is left out: counting and
        # skipping runs then reads the run indexes alone, without looking up the DAG of each run.
        if where.dag_ids is None and not session.scalar(select(_other_dags_ran(where))):
            scope = []
        total = session.scalar(select(func.count()).select_from(DagRun).where(*scope, *others)) or 0
        size = max(0, min(limit, total - offset))
        if not size:
            return total, []
        oldest_first = offset + size > total - offset
        skip = total - offset - size if oldest_first else offset
        if scope or others:
            order = ((DagRun.run_after.asc(), DagRun.id.asc()) if oldest_first
                     else (DagRun.run_after.desc(), DagRun.id.desc()))
            page = select(DagRun.id).where(*scope, *others).order_by(*order).offset(skip).limit(size)
        else:
            page = _unfiltered_page(session, skip, size, oldest_first)
        # The page's keys first, then their rows with conf and note: joining the notes of every skipped run would
        # cost as much as the offset.
        return total, _read_runs(session, DagRun.id.in_(page.scalar_subquery()))


def _other_dags_ran(where: RunFilter) -> Any:
    """Whether a DAG the MLOps DAG file did not make (or an excluded one) has runs: a look at each such DAG's
    runs in the ``dag_id`` index (runs of a DAG Airflow deleted went with it)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from sqlalchemy import exists, or_

    bundle, files = _mlops_files()
    other = or_(DagModel.bundle_name != bundle, DagModel.relative_fileloc.not_in(files),
                DagModel.relative_fileloc.is_(None), DagModel.dag_id.in_(where.excluded))
    return exists().where(other, exists().where(DagRun.dag_id == DagModel.dag_id))


def _unfiltered_page(session: Any, skip: int, size: int, oldest_first: bool) -> Any:
    """The keys of ``size`` runs after the first ``skip`` of all, in ``run_after`` then key order: the
    ``run_after`` of the first of them and how many come before that moment are read from the ``run_after``
    index alone, so the heap is read only around the page, however deep it is."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func

    at = DagRun.run_after
    edge = session.scalar(select(at).order_by(at.asc() if oldest_first else at.desc()).offset(skip).limit(1))
    before = session.scalar(select(func.count()).select_from(DagRun).where(at < edge if oldest_first else at > edge))
    order = (at.asc(), DagRun.id.asc()) if oldest_first else (at.desc(), DagRun.id.desc())
    return (select(DagRun.id).where(at >= edge if oldest_first else at <= edge).order_by(*order)
            .offset(skip - before).limit(size))


def find_runs(where: RunFilter) -> list[AirflowRun]:
    """Every matching run, newest first (for filters that Airflow's database cannot evaluate)."""
    from airflow.utils.session import create_session

    scope, others = _run_conditions(where)
    with create_session() as session:
        return _read_runs(session, *scope, *others)


def runs_by_key(pks: list[int], keys: list[tuple[str, str]]) -> list[AirflowRun]:
    """Runs by Airflow's key or by ``(dag_id, run_id)``, in one query (a page of them: no chunking)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    conditions = ([DagRun.id.in_(pks)] if pks else []) + ([tuple_(DagRun.dag_id, DagRun.run_id).in_(keys)] if keys else [])
    if not conditions:
        return []
    with create_session() as session:
        return _read_runs(session, or_(*conditions))


def stale_mlops_dags() -> list[str]:
    """The DAGs the MLOps DAG file made that are no longer in it: archived, invalid or purged workflows'."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return list(session.scalars(_mlops_dags().where(DagModel.is_stale.is_(True))))


def finished_runs_since(since: datetime, limit: int) -> list[tuple[str, str, datetime]]:
    """(dag_id, run_id, end_date) of the MLOps DAGs' runs that finished (success or failed) at or after
    ``since``, the earliest first: what the MLflow exporter has not seen yet."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(DagRun.dag_id, DagRun.run_id, DagRun.end_date)
            .where(DagRun.dag_id.in_(_mlops_dags().scalar_subquery()), DagRun.state.in_(("success", "failed")),
                   DagRun.end_date >= since)
            .order_by(DagRun.end_date, DagRun.id).limit(limit))
        return [(dag_id, run_id, end_date) for dag_id, run_id, end_date in rows if end_date is not None]


def _mlops_dags() -> Any:
    """The ids of the DAGs the MLOps DAG file (or its shards) made, as Airflow recorded where each came from: a
    subquery, so the runs of 10,000 workflows are not filtered through 10,000 bound names."""
    from airflow.models.dag import DagModel

    bundle, files = _mlops_files()
    return select(DagModel.dag_id).where(DagModel.bundle_name == bundle, DagModel.relative_fileloc.in_(files))


def _mlops_files() -> tuple[str, list[str]]:
    """The bundle and the bundle-relative files the MLOps DAG file's DAGs come from."""
    return dag_bundle_name(), sorted({settings.get("dag_file"), *reparse_files(None)})


def _run_conditions(where: RunFilter) -> tuple[list[Any], list[Any]]:
    """The conditions on a run's DAG, and the others."""
    from airflow.models.dagrun import DagRun

    others = []
    if where.state:
        others.append(DagRun.state == where.state)
    if where.since:
        others.append(DagRun.run_after >= where.since)
    if where.until:
        others.append(DagRun.run_after < where.until)
    return _scope(where, DagRun.dag_id), others


def _scope(where: RunFilter, dag_id: Any) -> list[Any]:
    if where.dag_ids is not None:
        return [dag_id.in_(where.dag_ids)]
    scope = [dag_id.in_(_mlops_dags().scalar_subquery())]
    return scope + [dag_id.not_in(where.excluded)] if where.excluded else scope


def _read_runs(session: Any, *conditions: Any) -> list[AirflowRun]:
    from airflow.models.dagrun import DagRun, DagRunNote

    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.conf, DagRunNote.content,
               DagRun.triggering_user_name, DagRun.run_after, DagRun.start_date, DagRun.end_date,
               DagRun.bundle_version, DagRun.id)
        .outerjoin(DagRunNote, DagRunNote.dag_run_id == DagRun.id)
        .where(*conditions).order_by(DagRun.run_after.desc(), DagRun.id.desc()))
    return [AirflowRun(r[0], r[1], str(r[2]), str(r[3]), r[4] or {}, r[5], r[6], r[7], r[8], r[9], r[10], r[11])
            for r in rows]


@dataclass
class TaskOutputs:
    """What a run's tasks left in XCom for the plugin: unmapped tasks' return values by task, and the step
    metrics each task (each map index of a mapped one) logged, by ``(task, map_index)``."""

    returned: dict[str, Any] = field(default_factory=dict)
    steps: dict[tuple[str, int], Any] = field(default_factory=dict)


def task_outputs(run_ids: list[int]) -> dict[int, TaskOutputs]:
    """The tasks' outputs of many runs (by Airflow's key) in one query."""
    if not run_ids:
        return {}
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    out: dict[int, TaskOutputs] = {}
    with create_session() as session:
        rows = session.execute(
            select(XComModel.dag_run_id, XComModel.task_id, XComModel.map_index, XComModel.key, XComModel.value)
            .where(XComModel.dag_run_id.in_(run_ids),
                   ((XComModel.key == "return_value") & (XComModel.map_index == -1)) | (XComModel.key == STEPS_KEY)))
        for run_id, task_id, map_index, key, value in rows:
            outputs = out.setdefault(run_id, TaskOutputs())
            if key == STEPS_KEY:
                outputs.steps[(task_id, map_index)] = XComModel.deserialize_value(_Row(value))
            else:
                outputs.returned[task_id] = XComModel.deserialize_value(_Row(value))
    return out


def run_keys(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Airflow's key (``dag_run.id``) of each of these (dag_id, run_id) that Airflow has."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    out: dict[tuple[str, str], int] = {}
    with create_session() as session:
        for i in range(0, len(keys), 500):
            rows = session.execute(select(DagRun.dag_id, DagRun.run_id, DagRun.id)
                                   .where(tuple_(DagRun.dag_id, DagRun.run_id).in_(keys[i:i + 500])))
            out.update(((dag_id, run_id), pk) for dag_id, run_id, pk in rows)
    return out


@dataclass(frozen=True)
class TestRunStatus:
    """A run of the test runs' DAG: its state and what its one task has pushed so far."""

    state: str
    start_date: datetime | None
    end_date: datetime | None
    results: dict[str, Any]


def test_run_status(dag_id: str, run_id: str, task_id: str, key: str) -> TestRunStatus | None:
    """The run's state and its task's XCom ``key`` (``None``: Airflow has no such run)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.execute(select(DagRun.state, DagRun.start_date, DagRun.end_date)
                              .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
        if run is None:
            return None
        value = session.scalar(select(XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == task_id,
            XComModel.key == key, XComModel.map_index == -1))
    results = XComModel.deserialize_value(_Row(value)) if value is not None else {}
    return TestRunStatus(str(run.state), run.start_date, run.end_date, results if isinstance(results, dict) else {})


def task_timings(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Per run (dag_id, run_id), per task: state and duration in seconds (mapped tasks summed over their
    instances), in one query."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {key: {} for key in keys}
    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state,
                   TaskInstance.duration)
            .where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys)))
        for dag_id, run_id, task_id, state, duration in rows:
            entry = out.setdefault((dag_id, run_id), {}).setdefault(
                task_id, {"state": str(state) if state else None, "duration_seconds": 0.0, "instances": 0})
            entry["duration_seconds"] += float(duration or 0)
            entry["instances"] += 1
    return out


@dataclass(frozen=True)
class _Row:
    """``XComModel.deserialize_value`` reads ``.value`` from a result row."""

    value: Any
