"""The web console under ``/console``: server-rendered pages for data scientists, reviewers and admins.

Part of the app factory's layer (it may import every package). Pages are Jinja2 templates
(``templates/``) rendered with the caller's roles and clearance; actions are calls from the browser
to the ``/v1`` API (``static/console.js``, with htmx vendored in ``static/`` for polling and the
catalog filter), so the console adds no second way to change state. Sign-in turns a pasted API key
into a session cookie (:mod:`warehouse.sessions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.staticfiles import StaticFiles

from warehouse.webconsole import pages, session_routes

if TYPE_CHECKING:
    from fastapi import FastAPI

STATIC_DIR = Path(__file__).with_name("static")


def mount_console(app: FastAPI) -> None:
    """Add the console's pages, sign-in and static files to ``app``."""
    app.include_router(session_routes.router)
    app.include_router(pages.router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
