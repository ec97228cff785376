"""Rendering console pages: the Jinja2 environment, the labels, and refusals as pages.

Templates are autoescaped and UTF-8. Every page gets the labels of ``Settings.console_language``,
the caller, and the CSRF token of its session (the console's scripts send it with every call to
``/v1`` that changes state). A refused page request is audited like any refusal, then answered as
a redirect to the sign-in page (401) or a 403 page that says why.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from warehouse.auth import audit_refusal, session_signer
from warehouse.paths import app_path, root_path
from warehouse.sessions import CSRF_HEADER, SESSION_COOKIE
from warehouse.webconsole.labels import labels_for

if TYPE_CHECKING:
    from fastapi import Request

    from warehouse.errors import AccessDenied
    from warehouse.identity import Caller
    from warehouse.settings import Settings

TEMPLATES_DIR = Path(__file__).with_name("templates")
CONSOLE_PREFIX = "/console"
UNGUARDED = ("/console/login", "/console/logout", "/console/static")


@functools.cache
def environment() -> Environment:
    """The console's template environment (built on first use)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR, encoding="utf-8"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: Request, template: str, *, caller: Caller | None, status: int = 200, **context: object) -> Response:
    """``template`` rendered for ``caller`` as a UTF-8 HTML page."""
    settings: Settings = request.app.state.settings
    token = request.cookies.get(SESSION_COOKIE)
    page = (
        environment()
        .get_template(template)
        .render(
            t=labels_for(settings.console_language),
            lang="zh-CN" if settings.console_language == "zh" else "en",
            caller=caller,
            csrf=session_signer(request).csrf_token(token) if token else "",
            csrf_header=CSRF_HEADER,
            path=app_path(request),
            root=root_path(request),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def is_console_page(path: str) -> bool:
    """True for a console page whose refusals are answered as pages (not the sign-in page or static files)."""
    on_console = path == CONSOLE_PREFIX or path.startswith(f"{CONSOLE_PREFIX}/")
    return on_console and not path.startswith(UNGUARDED)


async def render_refusal(request: Request, exc: AccessDenied) -> Response:
    """Audit the refusal; send an unauthenticated caller to sign in, show a forbidden one why (403)."""
    await audit_refusal(request, exc)
    if exc.status == 401:
        target = app_path(request) + (f"?{request.url.query}" if request.url.query else "")
        login = f"{root_path(request)}{CONSOLE_PREFIX}/login?next={quote(target, safe='')}"
        return RedirectResponse(login, status_code=303)
    return render(request, "refused.html", caller=None, status=exc.status, message=str(exc))
