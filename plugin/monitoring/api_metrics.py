"""REST request count and latency, by route template (bounded: never the concrete ids) and status."""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("mlops_api_requests", "MLOps REST API requests", ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("mlops_api_request_duration_seconds", "MLOps REST API request duration", ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
LIVE_SUBSCRIBERS = Gauge("mlops_live_subscribers", "Open live-state streams served by this process",
                         registry=REGISTRY)


def instrument(blueprint: Blueprint) -> None:
    """Time every request of ``blueprint``; the route label is its URL rule, e.g. ``/workflows/<workflow_id>``."""

    @blueprint.before_request
    def _start() -> None:
        g.mlops_started = time.perf_counter()

    @blueprint.after_request
    def _record(response: Response) -> Response:
        started = getattr(g, "mlops_started", None)
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        route = rule.removeprefix(blueprint.url_prefix or "") or "/"
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        return response
