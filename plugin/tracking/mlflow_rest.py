"""A small typed client of MLflow's documented REST API (``/api/2.0/mlflow/...``), built on ``requests``.

Airflow's venv deliberately does not import the ``mlflow`` package: its pins fight Airflow's constraints, and
the exporter needs only a dozen calls. Every failure (unreachable, timeout, HTTP error, an answer that is not
MLflow's) is a :class:`TrackingError`, so a caller can treat "MLflow is down or said no" as one case and never
let it change an Airflow run's outcome. Nothing is retried here: retrying and catching up is the caller's job.

Choices that MLflow's API leaves open:

- ``experiment_id(name)`` restores an experiment of that name that was deleted (soft-deleted in the UI): its
  name stays taken until purged, so the only other outcome would be failing every later export. Restoring
  also restores the runs deleted with it (MLflow's behaviour).
- Non-finite metric values are sent as MLflow's protobuf JSON encodes them (``"NaN"``, ``"Infinity"``,
  ``"-Infinity"``): the body stays valid JSON, and MLflow keeps NaN as NaN and stores +-inf as +-max double
  (SQL cannot hold infinities). Nothing is dropped.
- Keys longer than 250 characters, param values longer than 6000 and tag values longer than 8000 (MLflow 3.x)
  are cut to those lengths, so an older or stricter server's rejection of long values never loses a batch.
  Two keys that become equal once cut keep the first value. Key characters are not changed: MLflow refuses
  names outside ``[/\\w.\\- :]``, and such an error names the key.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlparse

import requests

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")

# MLflow's limits (mlflow/utils/validation.py, 3.x): per log-batch request, and per key or value.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_BYTES = 900_000  # the server refuses bodies over 1,000,000 bytes; room left for the envelope
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_ERROR_MESSAGE = 500


class TrackingError(Exception):
    """Any failure talking to MLflow: unreachable, timeout, or an HTTP error (message includes MLflow's
    error_code and message)."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code  # MLflow's, e.g. RESOURCE_DOES_NOT_EXIST; None when it never answered
        self.status = status  # the HTTP status; None when there was no answer


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    experiment_id: str
    artifact_uri: str


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp_ms: int
    step: int = 0


class MlflowClient:
    """One MLflow tracking server; basic auth (``username``/``password``) or a bearer ``token``.

    ``timeout`` bounds connecting and each wait for an answer of every request, so a server that hangs
    raises :class:`TrackingError` instead of blocking the caller. ``ui_url`` is where people open MLflow's UI,
    when it differs from the address Airflow's workers use.
    """

    def __init__(self, tracking_uri: str, *, username: str | None = None, password: str | None = None,
                 token: str | None = None, timeout: float = 10.0, ui_url: str | None = None) -> None:
        parsed = urlparse(tracking_uri)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"MLflow tracking URI must be an http(s) URL of a tracking server, not {tracking_uri!r}")
        self.tracking_uri = tracking_uri.rstrip("/")
        self.ui_url = ui_url.rstrip("/") if ui_url else None
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "airflow-mlops"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif username is not None:
            self.session.auth = (username, password or "")

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> MlflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- experiments and runs -------------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        """The id of the experiment ``name``: found, restored when deleted, or created (a concurrent
        creation by another worker is found again)."""
        experiment = self._experiment_by_name(name)
        if experiment is None:
            try:
                return str(self._call("POST", "experiments/create", {"name": name})["experiment_id"])
            except TrackingError as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            experiment = self._experiment_by_name(name)
            if experiment is None:
                raise TrackingError(f"MLflow said experiment {name!r} exists, then did not find it")
        experiment_id = str(experiment["experiment_id"])
        if experiment.get("lifecycle_stage") == "deleted":
            self._call("POST", "experiments/restore", {"experiment_id": experiment_id})
        return experiment_id

    def _experiment_by_name(self, name: str) -> dict[str, Any] | None:
        try:
            found = self._call("GET", "experiments/get-by-name", params={"experiment_name": name})
        except TrackingError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return _field(found, "experiment", dict)

    def create_run(self, experiment_id: str, run_name: str, start_time_ms: int, tags: dict[str, str]) -> MlflowRun:
        body = {"experiment_id": experiment_id, "run_name": run_name, "start_time": int(start_time_ms),
                "tags": [{"key": k, "value": v} for k, v in _cut(tags, MAX_TAG_VALUE_LENGTH).items()]}
        return _run(self._call("POST", "runs/create", body))

    def get_run(self, run_id: str) -> MlflowRun:
        """The run, or :class:`TrackingError` (error_code ``RESOURCE_DOES_NOT_EXIST``) when MLflow has none."""
        return _run(self._call("GET", "runs/get", params={"run_id": run_id}))

    def finish_run(self, run_id: str, status: str, end_time_ms: int) -> None:
        """Set the run's final status (FINISHED / FAILED / KILLED) and end time."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        self._call("POST", "runs/update", {"run_id": run_id, "status": status, "end_time": int(end_time_ms)})

    def run_url(self, run: MlflowRun) -> str:
        """The MLflow UI page of the run."""
        return f"{self.ui_url or self.tracking_uri}/#/experiments/{run.experiment_id}/runs/{run.run_id}"

    # -- params, metrics, tags ------------------------------------------------------------------------------

    def log_batch(self, run_id: str, *, params: dict[str, str] | None = None, metrics: list[Metric] | None = None,
                  tags: dict[str, str] | None = None) -> None:
        """Log everything, in as many ``runs/log-batch`` requests as MLflow's per-request limits need.

        Logging the same param again with the same value is harmless; with another value MLflow refuses it
        (INVALID_PARAMETER_VALUE). Batches already sent stay logged when a later one fails.
        """
        for body in _batches(run_id, params or {}, metrics or [], tags or {}):
            self._call("POST", "runs/log-batch", body)

    # -- artifacts ------------------------------------------------------------------------------------------

    def upload_artifacts(self, run: MlflowRun, folder: pathlib.Path) -> int:
        """Upload every file under ``folder`` (relative paths kept; symlinked folders not followed) through the
        server's proxied artifact API, one streamed PUT per file. Returns how many files were uploaded.

        Uploading again overwrites the same paths (safe to retry). MLflow refuses paths containing ``#``:
        such a folder fails before anything is sent. Files sent before a failure stay uploaded."""
        base = self._artifact_base(run)
        files = _files(pathlib.Path(folder))
        refused = [relative for _, relative in files if "#" in _unquoted(relative)]
        if refused:  # checked before uploading anything, so a run's artifacts are never half sent for this
            raise TrackingError(f"MLflow refuses artifact paths containing '#': {', '.join(refused[:5])}"
                                f"{' ...' if len(refused) > 5 else ''} (under {folder})")
        count = 0
        for path, relative in files:
            url = f"{base}/{quote(relative, safe='/')}"
            try:
                with path.open("rb") as stream:
                    response = self.session.put(url, data=stream, timeout=self.timeout,
                                                headers={"Content-Type": "application/octet-stream"})
            except requests.RequestException as exc:  # before OSError: requests' errors are OSErrors too
                raise _unreachable(self.tracking_uri, exc) from exc
            except OSError as exc:
                raise TrackingError(f"cannot read artifact {path}: {exc}") from exc
            _check(response)
            count += 1
        return count

    def _artifact_base(self, run: MlflowRun) -> str:
        """Where PUTs of the run's artifacts go: ``mlflow-artifacts:/<path>`` is served by the tracking server
        (``mlflow-artifacts://host:port/<path>`` by that host, as MLflow's own client does)."""
        parsed = urlparse(run.artifact_uri)
        if parsed.scheme != "mlflow-artifacts":
            raise TrackingError(
                f"run {run.run_id}'s artifact location {run.artifact_uri!r} is not served by the MLflow tracking "
                "server, so artifacts cannot be uploaded through it: start the server with artifact serving "
                "(`mlflow server --serve-artifacts --artifacts-destination ...`, the default in MLflow 2+ unless "
                "--default-artifact-root points elsewhere)")
        tracking = urlparse(self.tracking_uri)
        root = f"{tracking.scheme}://{parsed.netloc}" if parsed.netloc else self.tracking_uri
        return f"{root}{ARTIFACTS_API}/{quote(parsed.path.strip('/'), safe='/')}"

    # -- the one way to call MLflow -------------------------------------------------------------------------

    def _call(self, method: str, endpoint: str, body: dict[str, Any] | None = None,
              params: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.tracking_uri}{API}/{endpoint}"
        data = None if body is None else json.dumps(body, allow_nan=False)
        try:
            response = self.session.request(method, url, data=data, params=params, timeout=self.timeout,
                                            headers={"Content-Type": "application/json"} if data else None)
        except requests.RequestException as exc:
            raise _unreachable(self.tracking_uri, exc) from exc
        _check(response)
        try:
            answer = response.json() if response.content else {}
        except ValueError as exc:
            raise TrackingError(f"MLflow {endpoint} answered {response.status_code} with a body that is not JSON: "
                                f"{response.text[:200]!r}", status=response.status_code) from exc
        if not isinstance(answer, dict):
            raise TrackingError(f"MLflow {endpoint} answered an unexpected body: {response.text[:200]!r}",
                                status=response.status_code)
        return answer


def _unreachable(uri: str, exc: requests.RequestException) -> TrackingError:
    kind = "timed out" if isinstance(exc, requests.Timeout) else "unreachable"
    return TrackingError(f"MLflow at {uri} {kind}: {type(exc).__name__}: {exc}")


def _check(response: requests.Response) -> None:
    """Raise for an HTTP error, with MLflow's ``error_code`` and ``message`` when it sent them."""
    if response.ok:
        return
    error_code: str | None = None
    message = response.text.strip()
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        error_code = answer.get("error_code") if isinstance(answer.get("error_code"), str) else None
        message = str(answer.get("message") or message)
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[:MAX_ERROR_MESSAGE] + "..."
    what = f"HTTP {response.status_code} {error_code}" if error_code else f"HTTP {response.status_code}"
    raise TrackingError(f"MLflow {response.request.method} {urlparse(response.url).path} -> {what}: {message}",
                        error_code=error_code, status=response.status_code)


def _field(answer: dict[str, Any], name: str, kind: type) -> Any:
    value = answer.get(name)
    if not isinstance(value, kind):
        raise TrackingError(f"MLflow's answer lacks {name!r}: {json.dumps(answer)[:200]}")
    return value


def _run(answer: dict[str, Any]) -> MlflowRun:
    info = _field(_field(answer, "run", dict), "info", dict)
    try:
        return MlflowRun(run_id=str(info["run_id"]), experiment_id=str(info["experiment_id"]),
                         artifact_uri=str(info.get("artifact_uri", "")))
    except KeyError as exc:
        raise TrackingError(f"MLflow's run lacks {exc}: {json.dumps(info)[:200]}") from exc


def _cut(values: dict[str, str], value_limit: int) -> dict[str, str]:
    """Keys and values cut to MLflow's lengths; of keys equal once cut, the first wins."""
    cut: dict[str, str] = {}
    for key, value in values.items():
        cut.setdefault(str(key)[:MAX_KEY_LENGTH], str(value)[:value_limit])
    return cut


def _metric_value(value: float) -> float | str:
    """Protobuf's JSON form of a double: non-finite values as strings, which MLflow parses."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _batches(run_id: str, params: dict[str, str], metrics: list[Metric],
             tags: dict[str, str]) -> Iterator[dict[str, Any]]:
    """log-batch bodies within MLflow's limits on counts per kind, on items and on request size."""
    items: list[tuple[str, dict[str, Any]]] = [
        *(("params", {"key": k, "value": v}) for k, v in _cut(params, MAX_PARAM_VALUE_LENGTH).items()),
        *(("tags", {"key": k, "value": v}) for k, v in _cut(tags, MAX_TAG_VALUE_LENGTH).items()),
        *(("metrics", {"key": m.key[:MAX_KEY_LENGTH], "value": _metric_value(m.value),
                       "timestamp": int(m.timestamp_ms), "step": int(m.step)}) for m in metrics),
    ]
    limits = {"params": MAX_PARAMS_PER_BATCH, "tags": MAX_TAGS_PER_BATCH, "metrics": MAX_METRICS_PER_BATCH}
    body: dict[str, list[dict[str, Any]]] = {"params": [], "tags": [], "metrics": []}
    size = total = 0
    for kind, item in items:
        item_size = len(json.dumps(item, allow_nan=False)) + 2
        if len(body[kind]) >= limits[kind] or total >= MAX_ENTITIES_PER_BATCH or size + item_size > MAX_BATCH_BYTES:
            yield _body(run_id, body)
            body = {"params": [], "tags": [], "metrics": []}
            size = total = 0
        body[kind].append(item)
        size += item_size
        total += 1
    if total:
        yield _body(run_id, body)


def _body(run_id: str, body: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"run_id": run_id, **{kind: entries for kind, entries in body.items() if entries}}


def _unquoted(path: str) -> str:
    """The path as MLflow checks it: %-decoded until it stops changing."""
    for _ in range(10):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    return path


def _files(folder: pathlib.Path) -> list[tuple[pathlib.Path, str]]:
    """Regular files under ``folder`` (and symlinks to files) with their POSIX paths relative to it, sorted."""
    if not folder.is_dir():
        raise TrackingError(f"artifact folder {folder} does not exist or is not a folder")
    found: list[tuple[pathlib.Path, str]] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = pathlib.Path(root, name)
            if path.is_file():
                found.append((path, path.relative_to(folder).as_posix()))
    return found
