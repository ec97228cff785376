"""HTTP authentication and authorisation: who calls (``CallerDep``) and what each route allows.

A caller is known by its bearer API key or by the web console's session cookie
(:mod:`warehouse.sessions`, re-checked against the key on every request); a state-changing request
made with the cookie must carry the session's CSRF token. Every route declares one permission,
``Depends(require(Permission.X))``; the app factory refuses to build an app with a route that
declares none (:func:`check_declared_permissions`), except the health probes, the OpenAPI documents
and the console's sign-in page and static files in :data:`OPEN_PATHS`. Model routes add
:func:`require_grant` and :func:`require_clearance` once they know the model. Every refusal
(401 ``unauthenticated``, 403 ``forbidden``) is appended to the audit chain by
:func:`render_access_denied`, the app's handler for :class:`~warehouse.errors.AccessDenied`;
a 401 carries ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warehouse.audit import AuditDetail
from warehouse.db import utc_now
from warehouse.errors import AccessDenied, ConfigurationError, Forbidden, Unauthenticated
from warehouse.identity import Caller, IdentityStore
from warehouse.paths import app_path
from warehouse.permissions import Permission, Role
from warehouse.security import ClassificationLevel, clears
from warehouse.sessions import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, SessionSigner

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.dependencies.models import Dependant

logger = logging.getLogger(__name__)

HEALTH_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})
"""Routes anyone may call: probes of load balancers and the KServe / Triton clients."""
DOCUMENT_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""FastAPI's OpenAPI schema and documentation pages: open, they describe the API and serve no data."""
CONSOLE_OPEN_PATHS = frozenset({"/console/login", "/console/logout", "/console/static"})
"""The web console's sign-in and sign-out pages and its static files (scripts, styles): no data."""
OPEN_PATHS = HEALTH_PATHS | DOCUMENT_PATHS | CONSOLE_OPEN_PATHS
MAX_SUBJECT_CHARS = 300
REALM = 'Bearer realm="warehouse"'

bearer_scheme = HTTPBearer(
    auto_error=False, description="An API key of a department or application: `Authorization: Bearer wh_...`."
)


def identity_store(request: Request) -> IdentityStore:
    """The app's identity store."""
    store: IdentityStore = request.app.state.identity
    return store


def session_signer(request: Request) -> SessionSigner:
    """The app's signer of web-console sessions."""
    signer: SessionSigner = request.app.state.session_signer
    return signer


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Caller:
    """The caller whose bearer API key, or console session cookie, came with the request; 401 without one.

    A request made with the cookie that may change state must carry the session's CSRF token. A key
    the identity store has just authenticated is answered on the event loop; anything that reads the
    database runs in the thread pool.
    """
    if credentials is not None:
        store = identity_store(request)
        cached = store.cached_caller(credentials.credentials)
        if cached is not None:
            return cached
        return await run_in_threadpool(store.authenticate, credentials.credentials)
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        raise Unauthenticated("this endpoint needs an API key: send 'Authorization: Bearer <key>'", reason="no_key")
    return await run_in_threadpool(_session_caller, request, token)


def _session_caller(request: Request, token: str) -> Caller:
    """The caller of a console session cookie (signature, expiry, key still valid, CSRF for writes)."""
    signer = session_signer(request)
    session = signer.verify(token, now=utc_now())
    if session is None:
        raise Unauthenticated("the console session is invalid or has expired; sign in again", reason="bad_session")
    caller = identity_store(request).authenticate_session(session.key_id)
    if request.method not in SAFE_METHODS and not signer.csrf_matches(token, request.headers.get(CSRF_HEADER)):
        raise Forbidden(
            f"a request made with the console session needs its {CSRF_HEADER} header",
            actor=caller.principal,
            reason="csrf",
            key_id=caller.key_id,
        )
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


class PermissionCheck:
    """The dependency :func:`require` returns: the caller, if one of its roles grants the permission."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, caller: CallerDep) -> Caller:
        if not caller.may(self.permission):
            roles = ", ".join(sorted(caller.roles))
            raise Forbidden(
                f"{caller.principal} ({roles}) lacks the permission {self.permission}",
                actor=caller.principal,
                reason=f"permission {self.permission}",
                key_id=caller.key_id,
            )
        return caller


_CHECKS = {permission: PermissionCheck(permission) for permission in Permission}


def require(permission: Permission) -> PermissionCheck:
    """The dependency declaring that a route needs ``permission``."""
    return _CHECKS[permission]


def require_grant(caller: Caller, model_name: str) -> None:
    """An ``app`` caller reaches only the models granted to it."""
    if Role.APP in caller.roles and model_name not in caller.granted_models:
        raise Forbidden(
            f"{caller.principal} is not granted the model {model_name!r}",
            actor=caller.principal,
            reason=f"not granted {model_name}",
            key_id=caller.key_id,
        )


def require_clearance(caller: Caller, model_name: str, classification: ClassificationLevel) -> None:
    """The caller's clearance must reach the model's classification level."""
    if not clears(caller.clearance, classification):
        raise Forbidden(
            f"{model_name!r} is classified {classification}; the clearance of {caller.principal} is {caller.clearance}",
            actor=caller.principal,
            reason=f"clearance {caller.clearance} below {classification} of {model_name}",
            key_id=caller.key_id,
        )


def require_model_access(caller: Caller, model_name: str, classification: ClassificationLevel) -> None:
    """Both the grant (for ``app``) and the clearance."""
    require_grant(caller, model_name)
    require_clearance(caller, model_name, classification)


async def audit_refusal(request: Request, exc: AccessDenied) -> None:
    """Append a refused request to the audit chain (a failure to do so is logged, never raised)."""
    action = "key.expired_use" if exc.reason == "expired" else "access.denied"
    subject = f"{request.method} {app_path(request)}"[:MAX_SUBJECT_CHARS]
    detail: AuditDetail = {"status": exc.status, "code": exc.code, "reason": exc.reason, "key_id": exc.key_id}
    try:
        await run_in_threadpool(
            identity_store(request).record_refusal, actor=exc.actor, action=action, subject=subject, detail=detail
        )
    except Exception:
        logger.exception("could not audit a refused request to %s", subject)


async def render_access_denied(request: Request, exc: AccessDenied) -> JSONResponse:
    """Audit the refusal, then answer it as ``{"error": {"code", "message"}}`` (401 with WWW-Authenticate)."""
    await audit_refusal(request, exc)
    headers = {"WWW-Authenticate": _challenge(exc)} if exc.status == 401 else None
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)


def _challenge(exc: AccessDenied) -> str:
    return REALM if exc.reason == "no_key" else f'{REALM}, error="invalid_token"'


def declared_permission(dependant: Dependant | None) -> Permission | None:
    """The permission a route's dependency tree declares through :func:`require`, if any."""
    for dependency in dependant.dependencies if dependant else ():
        if isinstance(dependency.call, PermissionCheck):
            return dependency.call.permission
        found = declared_permission(dependency)
        if found is not None:
            return found
    return None


def route_permissions(app: FastAPI) -> dict[tuple[str, str], Permission | None]:
    """Every (method, path) the app serves and the permission it declares (None: open or undeclared)."""
    table: dict[tuple[str, str], Permission | None] = {}
    for route in iter_route_contexts(app.routes):
        is_api_route = isinstance(route.original_route, APIRoute)
        permission = declared_permission(route.dependant) if is_api_route else None
        for method in sorted(route.methods or {"*"}):
            table[(method, route.path or repr(route.original_route))] = permission
    return table


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that are neither open nor declare a permission (each as ``METHOD path``)."""
    return [
        f"{method} {path}"
        for (method, path), permission in route_permissions(app).items()
        if permission is None and path not in OPEN_PATHS
    ]


def check_declared_permissions(app: FastAPI) -> None:
    """Fail closed: refuse an app with a route that declares no permission."""
    missing = undeclared_routes(app)
    if missing:
        raise ConfigurationError(f"routes without a declared permission: {'; '.join(missing)}")
