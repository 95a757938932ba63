"""Page guard: anonymous -> Airflow's login page; logged in without the permission -> a plain 403 page.

Airflow's ``has_access_with_pk`` would bounce a logged-in user without permission to the Airflow home page
inside the iframe; this answers with an explicit 403 instead.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import redirect, render_template, request

from airflow_mlops.api.auth import resolve_caller


def page_guard(action: str, resource: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            from airflow.api_fastapi.app import get_auth_manager

            caller = resolve_caller()
            if caller is None:
                return redirect(get_auth_manager().get_url_login(next_url=request.url))
            decision = caller.decide(action, resource)
            if not decision.allowed:
                from airflow_mlops.views.pages import asset_urls

                return render_template("mlops/forbidden.html", username=caller.username, action=action,
                                       resource=resource, unavailable=decision.unavailable, **asset_urls()), 403
            return view(self, caller, *args, **kwargs)

        return guarded

    return decorate
