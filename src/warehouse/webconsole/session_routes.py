"""Signing in to the console with an API key, and signing out.

``POST /console/login`` checks the pasted key with the identity store, exactly as a bearer key is
checked, and answers with the session cookie (HttpOnly, SameSite=Strict, never the key itself) that
:mod:`warehouse.sessions` signs; a refused key is audited like any refused request. Signing out
only clears the cookie. Both pages are open: they show and hold no data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warehouse.auth import audit_refusal, identity_store, session_signer
from warehouse.db import utc_now
from warehouse.errors import Forbidden, Unauthenticated
from warehouse.paths import root_path
from warehouse.sessions import SESSION_COOKIE
from warehouse.settings import Settings
from warehouse.webconsole.rendering import render

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console"
MAX_KEY_CHARS = 200


def _refuse_cross_site(request: Request) -> None:
    """Another site's page may not sign a visitor in or out (browsers name the page's origin)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden(f"signing in or out from another site ({origin[:100]}) is refused", reason="cross_site")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(HOME) and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    """The sign-in form."""
    return render(request, "login.html", caller=None, next_path=safe_next(next_path))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=MAX_KEY_CHARS)],
    next_path: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    """Check the pasted key; set the session cookie and go on, or show the form again (401)."""
    _refuse_cross_site(request)
    try:
        caller = await run_in_threadpool(identity_store(request).authenticate, key.strip())
    except Unauthenticated as exc:
        await audit_refusal(request, exc)
        page = render(request, "login.html", caller=None, next_path=safe_next(next_path), error=True)
        page.status_code = 401
        return page
    settings: Settings = request.app.state.settings
    expires_at = utc_now() + dt.timedelta(hours=settings.console_session_hours)
    key_expiry = await run_in_threadpool(identity_store(request).key_expiry, caller.key_id)
    if key_expiry is not None:
        expires_at = min(expires_at, key_expiry)
    token = session_signer(request).issue(caller.key_id, expires_at=expires_at)
    response = RedirectResponse(root_path(request) + safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(1, int((expires_at - utc_now()).total_seconds())),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """Clear the session cookie and go back to the sign-in form."""
    _refuse_cross_site(request)
    response = RedirectResponse(f"{root_path(request)}{HOME}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
