"""Where a request is within the app, whatever prefix the app is served under.

Behind a reverse proxy's root path, or on the Ray engine at a route prefix other than ``/``, ASGI
servers put the prefix in ``root_path`` and include it in ``path``. Links and redirects the app sends
start with :func:`root_path`; what the app records and matches (audit subjects, console pages) uses
:func:`app_path`, so that it reads the same however the app is deployed.
"""

from __future__ import annotations

from starlette.requests import Request


def root_path(request: Request) -> str:
    """The prefix the app is served under ('' at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def app_path(request: Request) -> str:
    """The request's path within the app: without the root path."""
    path = request.url.path
    root = root_path(request)
    if root and (path == root or path.startswith(f"{root}/")):
        return path[len(root) :] or "/"
    return path
