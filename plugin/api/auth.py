"""Who is calling, and may they: Airflow's own credentials and the plugin's FAB permissions.

A caller is authenticated the way Airflow's REST API does it: ``Authorization: Bearer <JWT>`` from
``POST /auth/token`` first, else the browser's Airflow login (the ``_token`` cookie, or the FAB session
shared through ``[fab] session_backend = securecookie``). Cookie callers are browsers, so their writes
must carry the CSRF token; token callers are not subject to CSRF. ``g.user`` is never trusted on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, cast

from asgiref.sync import async_to_sync
from flask import g, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from airflow_mlops import security
from airflow_mlops.api.authorization import Decision, decide
from airflow_mlops.api.problems import ApiError
from airflow_mlops.services import audit
from airflow_mlops.services.actors import Actor

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE_CHANNELS = frozenset({"cookie", "session"})


@dataclass(frozen=True)
class Caller:
    user: Any
    via: str  # "bearer", "cookie" (the _token JWT cookie) or "session" (the FAB login session)

    @property
    def username(self) -> str:
        return self.user.username

    def decide(self, action: str, resource: str) -> Decision:
        return decide(self.user, action, resource)

    def may(self, action: str, resource: str) -> bool:
        return self.decide(action, resource).allowed

    def actor(self) -> Actor:
        return Actor(
            self.username,
            manage_all_workflows=self.may(security.EDIT, security.RESOURCE_ALL_WORKFLOWS),
            manage_public_templates=self.may(security.EDIT, security.RESOURCE_PUBLIC_TEMPLATES),
            purge_history=self.may(security.DELETE, security.RESOURCE_ALL_WORKFLOWS),
            review_drafts=self.may(security.EDIT, security.RESOURCE_REVIEWS),
        )


def _user_from_jwt(token: str) -> Any | None:
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return async_to_sync(get_auth_manager().get_user_from_token)(token)
    except Exception as exc:  # expired, bad signature, revoked, unknown or inactive user
        log.info("MLOps API: token rejected: %s", exc)
        return None


def resolve_caller() -> Caller | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None  # an explicit but unusable header never falls back to cookies
        user = _user_from_jwt(token.strip())
        return Caller(user, "bearer") if user else None
    if session.get("_user_id") is not None and current_user.is_authenticated:
        return Caller(current_user, "session")
    cookie = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if cookie:
        user = _user_from_jwt(cookie)
        return Caller(user, "cookie") if user else None
    return None


def authenticated_caller() -> Caller:
    """The caller of this request (401 if none); for cookie callers' writes, the CSRF token is checked too."""
    caller = getattr(g, "mlops_caller", None)
    if caller is not None:
        return caller
    caller = resolve_caller()
    if caller is None:
        raise ApiError(401, "authentication required: send 'Authorization: Bearer <token>' from POST /auth/token, "
                            "or log in to Airflow")
    if request.method not in SAFE_METHODS and caller.via in COOKIE_CHANNELS:
        from airflow.providers.fab.www.app import csrf

        try:
            csrf.protect()
        except CSRFError as exc:
            raise ApiError(403, f"CSRF check failed for a cookie-authenticated request: {exc.description}; "
                                "send the X-CSRFToken header (GET /csrf-token)") from exc
    g.mlops_caller = caller
    return caller


def require(action: str, resource: str) -> Callable:
    """Route guard: 401 without credentials, 403 without the FAB permission (a denied write is audited)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            demand(authenticated_caller(), action, resource)
            return view(*args, **kwargs)

        cast(Any, guarded).mlops_permission = (action, resource)  # read by the OpenAPI generator
        return guarded

    return decorate


def demand(caller: Caller, action: str, resource: str) -> None:
    """403 unless the caller holds the permission; a denied write is audited, a fail-closed refusal logged."""
    decision = caller.decide(action, resource)
    if decision.allowed:
        return
    call = f"{request.method} {request.script_root}{request.path}"
    if decision.unavailable:
        log.warning("MLOps: refused %s for %r: %s", call, caller.username, decision.unavailable)
    if request.method not in SAFE_METHODS:
        audit.record_denied(caller.username, call, action, resource)
    raise ApiError(403, decision.unavailable or f"user {caller.username!r} lacks {action} on {resource!r}")
