"""``GET /mlops-live/events``: Server-Sent Events of run and task states, served by Airflow's api-server.

A FastAPI sub-application (the plugin's ``fastapi_apps``), so every connection is a cheap coroutine rather
than a WSGI thread. Callers authenticate like Airflow's API (Bearer token or the UI's ``_token`` cookie)
and need read access to MLOps runs and workflows. Each event carries its id; a reconnect with
``Last-Event-ID`` (or ``?last_event_id=``) first replays what was missed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from airflow_mlops import security as sec
from airflow_mlops.live.hub import HUB, REPLAY_LIMIT, Hub

LIVE_PREFIX = "/mlops-live"  # where the plugin mounts this app on the api-server
KEEPALIVE_SECONDS = 15
RETRY_MS = 2000
MAX_WORKFLOW_FILTERS = 200

app = FastAPI(title="MLOps live states", docs_url=None, redoc_url=None, openapi_url=None)


def _problem(status: int, detail: str) -> JSONResponse:
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
    return JSONResponse({"title": titles[status], "status": status, "detail": detail, "errors": []}, status,
                        media_type="application/problem+json")


async def _user(request: Request) -> Any | None:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
    else:
        token = request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")
    if not token.strip():
        return None
    try:
        return await get_auth_manager().get_user_from_token(token.strip())
    except Exception:  # noqa: BLE001 - expired, bad signature, unknown user: all simply "not logged in"
        return None


def _may_read(user: Any) -> bool:
    from airflow_mlops.api.auth import Caller

    caller = Caller(user, "bearer")
    return caller.may(sec.READ, sec.RESOURCE_RUNS) and caller.may(sec.READ, sec.RESOURCE_WORKFLOWS)


def _frame(event: dict[str, Any], kind: str = "state") -> str:
    return f"id: {event['id']}\nevent: {kind}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


@app.get("/events")
async def events(request: Request, workflow_id: list[str] = Query(default=[]),  # noqa: B008 - FastAPI's idiom
                 last_event_id: int | None = Query(default=None, ge=0)) -> Any:
    user = await _user(request)
    if user is None:
        return _problem(401, "authentication required: send 'Authorization: Bearer <token>' or log in to Airflow")
    if not await run_in_threadpool(_may_read, user):
        return _problem(403, f"user {getattr(user, 'username', '?')!r} lacks can_read on MLOps Runs/Workflows")
    if len(workflow_id) > MAX_WORKFLOW_FILTERS:
        return _problem(400, f"at most {MAX_WORKFLOW_FILTERS} workflow_id filters")
    header = request.headers.get("last-event-id", "").strip()
    if last_event_id is None and header:
        if not header.isdigit():
            return _problem(400, "Last-Event-ID must be an event id")
        last_event_id = int(header)
    filters = frozenset(workflow_id)
    subscriber = await run_in_threadpool(HUB.subscribe, asyncio.get_running_loop(), filters)
    return StreamingResponse(_stream(request, HUB, subscriber, filters, last_event_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(request: Request, hub: Hub, subscriber: Any, filters: frozenset[str],
                  last_event_id: int | None) -> AsyncIterator[str]:
    try:
        yield f"retry: {RETRY_MS}\n\n"
        if last_event_id is None:
            sent = await run_in_threadpool(hub.newest_id)
            yield _frame({"id": sent}, "ready")  # the position to resume from; the page loads its state now
        else:
            oldest = await run_in_threadpool(hub.oldest_id)
            missed = await run_in_threadpool(hub.events_after, last_event_id, filters)
            if (oldest is not None and last_event_id + 1 < oldest) or len(missed) >= REPLAY_LIMIT:
                # Older than what is kept, or too much to replay: the page reloads its state instead.
                sent = await run_in_threadpool(hub.newest_id)
                yield _frame({"id": sent}, "reset")
                missed = []
            else:
                sent = last_event_id
            for event in missed:
                yield _frame(event)
                sent = event["id"]
        while not subscriber.overflowed:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            if event["id"] > sent:
                yield _frame(event)
                sent = event["id"]
    finally:
        hub.unsubscribe(subscriber)


class StartLiveFeed:
    """A pass-through ASGI middleware on the api-server's root app, there for its construction: Starlette builds
    it when the api-server serves its first request, which starts this process's hub (and so the state feed)
    without waiting for a page to subscribe. Mounted sub-apps get no startup event; other Airflow processes
    never build the api-server's app, so they never start a hub."""

    def __init__(self, app: Any):
        self.app = app
        HUB.ensure_started()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
