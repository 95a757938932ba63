"""``GET /mlops-metrics/metrics``: the Prometheus text exposition of the plugin's metrics.

Scrapers do not log in to Airflow, so access is its own: with ``[mlops] metrics_token`` set, the request
must carry ``Authorization: Bearer <token>`` (401 otherwise); without it the endpoint is open, for a
deployment where only the internal network reaches the api-server.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from airflow_mlops.monitoring.api_metrics import REGISTRY
from airflow_mlops.monitoring.collector import MLOpsCollector
from airflow_mlops_dag_factory import settings

METRICS_PREFIX = "/mlops-metrics"
REGISTRY.register(MLOpsCollector())
app = FastAPI(title="MLOps metrics", docs_url=None, redoc_url=None, openapi_url=None)


def authorized(header: str) -> bool:
    token = settings.get("metrics_token")
    if not token:
        return True
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@app.get("/metrics")
async def metrics(request: Request) -> Response:
    if not authorized(request.headers.get("authorization", "")):
        return Response("a bearer token is required ([mlops] metrics_token)\n", 401,
                        headers={"WWW-Authenticate": "Bearer"}, media_type="text/plain")
    body = await run_in_threadpool(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
